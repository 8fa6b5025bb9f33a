"""A restaurant's life after onboarding: config edits that go through a plan before they land.

`config_change` is the shared engine (edit an environment YAML in place, synthesize before and
after, judge the difference with `ops.planning`, write only when it is safe); `promote`, `resize`
and `offboard` are the commands built on it. It may import `ops.planning`, `ops.assembly`,
config/, stacks/, constructs/ and app.py (to synthesize in process); `ops.planning` must never
import it back, and app.py, stacks/ and constructs/ must never import it.
"""
