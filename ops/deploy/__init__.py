"""Around a real deploy: what to check before `cdk deploy` and how to tell it worked afterwards.

`deploy_check` makes the read-only AWS calls the CDK CLI would make (credentials, account,
region, the bootstrap roles) before a deploy; `smoke` probes a deployed environment (HTTP through
the load balancer, and the in-VPC probe Lambda); `rollout` deploys the stacks a change touches in
waves (`cdk deploy` of named stacks, the probe after each wave). These are the only ops modules
that talk to AWS (boto3 or the CDK CLI, when a command runs); they may import `ops.assembly`,
`ops.planning` (the wave planner, `ops.planning.waves`), config/, stacks/ and
`constructs.rds_ca_bundle` (the RDS CA bundle the probe ships; it imports no CDK), and must never
be imported by synthesis code (app.py, stacks/, constructs/) nor by the offline tools.
"""
