"""Command-line tools for what the CDK CLI does not do: `python -m ops <command> --help`.

The tools are grouped by concern, one sub-package each: `planning` (where replacement detection is
decided: `ops plan`), `lifecycle` (config edits that go through a plan: promote, resize, offboard),
`costing` (`ops cost` and the cost model), `limits` (CloudFormation quotas and synthesis time:
preflight, bench), `docs` (generated reference pages: architecture, config-reference), `deploy`
(before and after a deploy: deploy-check, rollout, smoke) and `disaster_recovery` (the standby
region: failover, failback). Top level keeps `__main__` (the command walker),
`assembly` (reading a synthesized cdk.out, shared by all of them), `output` (a result as text or
`--json`; a generated page written or `--check`ed) and `wording` (counts and the CDK command).
Nothing in app.py, stacks/, constructs/, config/ or runtime/ may import ops: the tools read what
the app synthesizes, never the other way round.
"""
