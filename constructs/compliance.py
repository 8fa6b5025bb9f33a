"""cdk-nag 3 registration and the one way this project acknowledges a finding.
Must never import stacks/, ops/, config/ or another construct module (others build on it).

Every acknowledgment goes through `acknowledge()`, which refuses empty or generic reasons, so that
the audit trail a security reviewer reads (the template metadata written by the packs) always says
why a rule does not apply to that one construct.
"""

from __future__ import annotations

import json
from collections.abc import Callable, Iterable, Sequence
from pathlib import Path
from typing import Any

import aws_cdk as cdk
import cdk_nag

from constructs import IConstruct

MIN_REASON_LENGTH = 40
_GENERIC_REASONS = {"ok", "n/a", "not needed", "suppressed", "false positive", "todo", "fine"}

NagPackFactory = Callable[..., cdk.IPolicyValidationPlugin]

# Issue 2 requires AwsSolutions; the compliance packs prove the seed 7.2 controls (issue 3).
NAG_PACKS: dict[str, NagPackFactory] = {
    "AwsSolutions": cdk_nag.AwsSolutionsChecks,
    "HIPAA.Security": cdk_nag.HIPAASecurityChecks,
    "NIST.800.53.R5": cdk_nag.NIST80053R5Checks,
    "PCI.DSS.321": cdk_nag.PCIDSS321Checks,
}
DEFAULT_NAG_PACKS: tuple[str, ...] = tuple(NAG_PACKS)


def acknowledge(scope: IConstruct, rule_id: str, reason: str) -> None:
    """Acknowledge one cdk-nag finding on `scope`, the narrowest construct that needs it."""
    acknowledge_all(scope, (rule_id,), reason)


def _checked_reason(scope: IConstruct, rule_id: str, reason: str) -> str:
    cleaned = " ".join(reason.split())
    if len(cleaned) < MIN_REASON_LENGTH or cleaned.lower().strip(".") in _GENERIC_REASONS:
        raise ValueError(
            f"acknowledgment of {rule_id} on {scope.node.path} needs a specific reason "
            f"(at least {MIN_REASON_LENGTH} characters); got {reason!r}"
        )
    return cleaned


def _acknowledge_on(scope: IConstruct, acknowledgments: Sequence[cdk.Acknowledgment]) -> None:
    """Record `acknowledgments` on `scope`'s CloudFormation resource in one call to the jsii
    kernel (`Validations.acknowledge` takes any number, in order; each call is a round trip)."""
    # An L2 construct passes its acknowledgments down to every child; aim at its CloudFormation
    # resource instead, so the acknowledgment covers that one resource and nothing beside it.
    # A CfnResource has no default child: it is its own target (and the lookup is skipped).
    target = scope
    if not isinstance(scope, cdk.CfnResource):
        child = scope.node.default_child
        if isinstance(child, cdk.CfnResource):
            target = child
    cdk.Validations.of(target).acknowledge(*acknowledgments)


def nag_reference(scope: IConstruct, value: str) -> str:
    """How cdk-nag names `value` in a finding id, e.g. `arn:<AWS::Partition>:s3:::bucket/*`.

    Mirrors cdk-nag's flattenCfnReference over the value as `scope`'s stack resolves it, so an
    acknowledgment names exactly the resource it accepts and nothing wider.
    """

    def visit(node: Any) -> str:
        if node is None:
            return ""
        if isinstance(node, str):
            return node.replace("${", "<").replace("}", ">")
        if isinstance(node, dict) and "Fn::Join" in node:
            delimiter, items = node["Fn::Join"]
            return str(delimiter).join(visit(item) for item in items)
        if isinstance(node, dict) and "Fn::Sub" in node:
            return visit(node["Fn::Sub"])
        if isinstance(node, dict) and "Fn::GetAtt" in node:
            resource, attribute = node["Fn::GetAtt"]
            return f"<{visit(resource)}.{visit(attribute)}>"
        if isinstance(node, dict) and "Fn::ImportValue" in node:
            return visit(node["Fn::ImportValue"])
        if isinstance(node, dict) and "Ref" in node:
            return f"<{visit(node['Ref'])}>"
        return json.dumps(node, separators=(",", ":"))

    return visit(cdk.Stack.of(scope).resolve(value))


def acknowledge_all(scope: IConstruct, rule_ids: Sequence[str], reason: str) -> None:
    """The same reason for the same finding reported by several packs (one kernel call)."""
    acknowledgments = [
        cdk.Acknowledgment(id=rule_id, reason=_checked_reason(scope, rule_id, reason))
        for rule_id in rule_ids
    ]
    if acknowledgments:
        _acknowledge_on(scope, acknowledgments)


def acknowledge_each(scope: IConstruct, findings: Sequence[tuple[str, str]]) -> None:
    """Several (rule id, reason) acknowledgments on one construct, in order, in one kernel call:
    the same metadata as one `acknowledge` per finding."""
    acknowledgments = [
        cdk.Acknowledgment(id=rule_id, reason=_checked_reason(scope, rule_id, reason))
        for rule_id, reason in findings
    ]
    if acknowledgments:
        _acknowledge_on(scope, acknowledgments)


COMPLIANCE_PACKS = ("HIPAA.Security", "NIST.800.53.R5", "PCI.DSS.321")


def in_packs(rule: str, packs: Sequence[str] = COMPLIANCE_PACKS) -> tuple[str, ...]:
    """The ids one rule has in each compliance pack: `in_packs("X")` -> HIPAA/NIST/PCI `-X`."""
    return tuple(f"{pack}-{rule}" for pack in packs)


INLINE_POLICY_RULES = in_packs("IAMNoInlinePolicy")
# A secret without a rotation schedule, as AwsSolutions and the compliance packs report it.
SECRET_ROTATION_RULES = ("AwsSolutions-SMG4", *in_packs("SecretsManagerRotationEnabled"))


def acknowledge_generated_policies(scope: IConstruct) -> None:
    """Acknowledge IAMNoInlinePolicy on the `DefaultPolicy` children CDK generates for roles.

    Policies this project writes itself are customer-managed; the ones CDK writes for its own
    roles (VPC flow logs, ECS task execution, CloudTrail delivery) are generated from grants
    on single resources and attached to exactly one role. Call once, after the stack is built.
    """
    from aws_cdk import aws_iam as iam  # local: keeps this module light for non-stack users

    for node in scope.node.find_all():
        if isinstance(node, iam.Policy) and node.node.id == "DefaultPolicy":
            acknowledge_all(
                node,
                INLINE_POLICY_RULES,
                "Generated by CDK from resource-level grants (no wildcard actions) for the single "
                "service role that owns it; it cannot be attached to another principal, which "
                "is the reuse risk the rule guards against.",
            )


# A reserved concurrency takes from the account's unreserved pool, which Lambda keeps at 100 or
# more; new accounts start with a quota of 10 and cannot reserve any, so the deploy would fail.
RESERVED_CONCURRENCY_REASON = (
    "Invoked only by {caller} a few times a month, one call at a time, so it cannot exhaust the "
    "account's concurrency; reserving concurrency would take from the unreserved pool that "
    "Lambda keeps at 100 or more, and fails the deploy in new accounts (quota 10)."
)
PROVIDER_DLQ_REASON = (
    "CloudFormation waits for this handler's response to each custom-resource request: a "
    "failed call fails that deploy, which rolls back, so there is no lost event for a "
    "dead-letter queue to keep."
)


def acknowledge_cdk_providers(app: IConstruct) -> None:
    """Acknowledge, in their own metadata, the findings on CDK's singleton providers.

    CDK's core custom-resource providers (e.g. the one behind the VPC's
    `restrictDefaultSecurityGroup`) are plain `CfnResource`s: the packs skip them in the
    construct tree, but a scan of the synthesized templates reports them. Each finding is
    acknowledged on the provider's role or handler, so the template carries its own reason.
    """
    from aws_cdk import aws_ec2 as ec2  # local: keeps this module light for non-stack users

    for node in app.node.find_all():
        if isinstance(node, cdk.CustomResourceProviderBase):
            _acknowledge_provider(node)
        elif isinstance(node, ec2.CfnVPC) and node.node.scope is not None:
            parent = node.node.scope
            remedy = parent.node.try_find_child("RestrictDefaultSecurityGroupCustomResource")
            resource = remedy.node.default_child if remedy is not None else None
            if isinstance(resource, cdk.CfnElement):
                # The rule looks for the remedy beside the VPC in the construct tree; a
                # template has no tree, so a template scan cannot see it without this note.
                acknowledge_all(
                    node,
                    in_packs("VPCDefaultSecurityGroupClosed"),
                    "The default security group is closed by the Custom::VpcRestrictDefaultSG "
                    f"resource {cdk.Stack.of(node).get_logical_id(resource)} "
                    "(CDK restrictDefaultSecurityGroup) in this template, which revokes its "
                    "default ingress and egress rules at deploy.",
                )


def _acknowledge_provider(provider: cdk.CustomResourceProviderBase) -> None:
    name = provider.node.id
    role = provider.node.try_find_child("Role")
    handler = provider.node.try_find_child("Handler")
    if isinstance(role, cdk.CfnResource):
        acknowledge(
            role,
            "AwsSolutions-IAM4[Policy::arn:<AWS::Partition>:iam::aws:policy/service-role/"
            "AWSLambdaBasicExecutionRole]",
            f"CDK's own provider {name} attaches this AWS managed policy to its handler's role; "
            "it grants only log-group, log-stream and log-event writes, and the provider "
            "framework offers no way to replace it.",
        )
        acknowledge_all(
            role,
            INLINE_POLICY_RULES,
            f"Generated by CDK for its provider {name}: the inline policy belongs to this one "
            "role, used only by the provider's handler, and names only the resources the "
            "provider changes; it cannot be attached to another principal.",
        )
    if isinstance(handler, cdk.CfnResource):
        caller = "CloudFormation (custom resource create, update and delete)"
        acknowledge_all(
            handler,
            in_packs("LambdaInsideVPC"),
            f"CDK's provider {name} calls only AWS control-plane APIs during deploys and reads "
            "no data; it reaches nothing inside the VPC, and running it there would add ENI "
            "permissions on every resource.",
        )
        acknowledge_all(
            handler,
            in_packs("LambdaConcurrency", ("HIPAA.Security", "NIST.800.53.R5")),
            RESERVED_CONCURRENCY_REASON.format(caller=caller),
        )
        acknowledge_all(
            handler,
            in_packs("LambdaDLQ", ("HIPAA.Security", "NIST.800.53.R5")),
            PROVIDER_DLQ_REASON,
        )


def scan_templates(
    templates: Iterable[Path], packs: Sequence[str] = DEFAULT_NAG_PACKS
) -> list[str]:
    """Findings of the packs over synthesized templates, as a template reviewer sees them.

    Each template is loaded with `CfnInclude` into a fresh app (so every resource is judged,
    CDK-generated or not), and the only acknowledgments honoured are the ones written into the
    template's own `Metadata.cdk_nag.rules_to_suppress`. Returns `rule @ template:logical id`.
    """
    from aws_cdk import cloudformation_include as cfn_include

    app = cdk.App()
    for index, path in enumerate(sorted(templates)):
        stack = cdk.Stack(app, f"Scan{index}", stack_name=path.name.split(".")[0])
        included = cfn_include.CfnInclude(stack, path.name, template_file=str(path))
        template = json.loads(path.read_text(encoding="utf-8"))
        for logical_id, resource in template.get("Resources", {}).items():
            nag = (resource.get("Metadata") or {}).get("cdk_nag") or {}
            for rule in nag.get("rules_to_suppress", []):
                cdk.Validations.of(included.get_resource(logical_id)).acknowledge(
                    cdk.Acknowledgment(id=rule["id"], reason=rule.get("reason", ""))
                )
    findings = []
    for name in packs:
        pack: Any = NAG_PACKS[name]()  # a cdk_nag.NagPack: validate_scope lists findings
        for violation in pack.validate_scope(app).violations:
            for resource in violation.violating_resources:
                _, template_name, logical_id = resource.construct_path.split("/", 2)
                findings.append(f"{violation.rule_name} @ {template_name}:{logical_id}")
    return sorted(findings)


def check_nag_packs(packs: Sequence[str]) -> None:
    """ValueError naming the packs that are not NAG_PACKS' (build_app checks before building)."""
    unknown = [p for p in packs if p not in NAG_PACKS]
    if unknown:
        raise ValueError(f"unknown nag pack(s) {unknown}; allowed: {sorted(NAG_PACKS)}")


def register_nag_packs(app: cdk.App, packs: Sequence[str] = DEFAULT_NAG_PACKS) -> None:
    """Register the packs on the whole app: synth fails on any unacknowledged finding.

    Also acknowledges the findings on CDK's own providers (`acknowledge_cdk_providers`), so a
    scan of the templates agrees with synth.
    """
    check_nag_packs(packs)
    acknowledge_cdk_providers(app)
    plugins = [NAG_PACKS[name](app, write_suppressions_to_cloud_formation=True) for name in packs]
    if plugins:
        cdk.Validations.of(app).add_plugins(*plugins)
