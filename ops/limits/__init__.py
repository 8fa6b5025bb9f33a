"""How far the app scales: AWS limits before a deploy, and synthesis time as it grows.

`preflight` checks a synthesized assembly against the AWS limits that break at scale (resources
per stack, databases, security-group rules, policy sizes) so a deploy does not fail half way;
`bench` measures synthesis time and peak memory for 1 to 1,000 generated restaurants. They may
import `ops.assembly`, config/, stacks/, constructs/ and (bench in its worker process,
`scale_model` for `preflight --scale-doc`) app.py;
they must never import another ops sub-package, so a limit check does not depend on how plans or
costs are made.
"""
