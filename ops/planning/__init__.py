"""Where replacement detection is decided: `ops plan` and the judged diff of two assemblies.

`plan` is the command (synthesize base and head, render, exit code), `planner` compares templates
resource by resource, `update_rules` says which property changes replace a resource (from the
CloudFormation resource schemas that `schemas` reads offline from cfn-lint), and `intrinsics`
evaluates conditions and intrinsic functions so both sides compare as deployed; `waves` turns a
plan into the stacks to deploy, in order and in waves (the rollout's plan, no AWS). It may import
`ops.assembly`, `stacks.naming` and (optionally, at run time) `ops.costing`; it must never import
`ops.lifecycle`, which is built on it, nor app.py (a plan synthesizes in a subprocess).
"""
