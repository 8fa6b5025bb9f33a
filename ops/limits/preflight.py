"""`python -m ops preflight --env ENV`: the synthesized app against the limits that break at scale.

CloudFormation, RDS, IAM, VPC, ELB, Route 53 and CloudWatch all have limits that a template can
exceed long before anything is deployed: a 501st resource, a 41st database, a 61st rule on one
security group, an 11th kilobyte of inline policy on a role. This command reads `cdk.out` (no AWS
call, no credentials) and prints, per check, the worst value, the limit and the headroom.

    hard limit exceeded         -> error   (exit code 1): redesign, AWS will not raise it
    default quota exceeded      -> warning (exit 0, or 1 with --strict): request the named quota
    above NEAR_FRACTION of one  -> note

The checks are one table (`CHECKS`); each row names the limit, its kind, the Service Quotas quota
to request and a measure function over the assembly. Measures work by resource type and
properties only, so they keep working as the templates grow.

Account- and Region-wide quotas are counted per account and Region, from the environment each
stack's manifest entry names (`aws://<account>/<region>`): a disaster-recovery stack in a second
Region counts against that Region's quotas, while IAM (global) counts every Region of an account
together. Within `--env` the selected environment's stacks are counted; `--all` adds a combined
report per account and Region, where environments that share one add up. Every count comes from
the synthesized templates: `ops preflight --scale-doc` (ops/limits/scale_model.py) fits them over
generated environments into the per-restaurant table of docs/scale.md.
"""

from __future__ import annotations

import argparse
import json
import re
import sys
from collections import Counter, defaultdict
from collections.abc import Callable, Iterable, Iterator
from dataclasses import asdict, dataclass, field
from pathlib import Path
from typing import Any, Literal

from ops.assembly import AssemblyError, StackArtifact, read_assembly
from ops.output import print_result

NEAR_FRACTION = 0.8
DEFAULT_ASSEMBLY = Path("cdk.out")

Kind = Literal["hard", "quota", "info"]
_STATUS_ORDER: dict[str, int] = {"info": 0, "ok": 1, "note": 2, "warning": 3, "error": 4}

# Resources whose own (nested, serverless-repo) templates create more than the parent template
# shows. The secrets rotation application (`secretsmanager.SecretRotation`) is one nested stack
# with one Lambda function and its execution role.
IMPLIED_RESOURCES: dict[str, dict[str, int]] = {
    "AWS::Serverless::Application": {
        "AWS::CloudFormation::Stack": 1,
        "AWS::Lambda::Function": 1,
        "AWS::IAM::Role": 1,
    },
}

# Placeholder lengths for values only known at deploy time, used to estimate policy sizes.
_PSEUDO_LENGTHS = {
    "AWS::Partition": 3,  # aws
    "AWS::AccountId": 12,
    "AWS::URLSuffix": 13,  # amazonaws.com
    "AWS::Region": 14,  # ap-southeast-3, the longest common one
    "AWS::NoValue": 0,
}
_ARN_ESTIMATE = 100  # a resolved ARN (GetAtt ...Arn, imported ARN)
_ID_ESTIMATE = 64  # a resolved Ref / name / id


# --------------------------------------------------------------------------- the assembly view


@dataclass(frozen=True)
class ResourceRef:
    stack: str
    logical_id: str


class EnvironmentView:
    """The stacks of one environment, with cross-stack reference resolution through exports."""

    def __init__(self, stacks: dict[str, StackArtifact]) -> None:
        self.stacks = stacks
        self.exports: dict[str, tuple[str, Any]] = {}
        for name, artifact in stacks.items():
            for output in artifact.template.get("Outputs", {}).values():
                export = output.get("Export", {}).get("Name")
                if isinstance(export, str):
                    self.exports[export] = (name, output.get("Value"))

    def resources(self, *types: str) -> Iterator[tuple[str, str, dict[str, Any]]]:
        """(stack, logical id, resource) of every resource of the given types (all if none)."""
        for name, artifact in self.stacks.items():
            for logical_id, resource in artifact.template.get("Resources", {}).items():
                if not types or resource.get("Type") in types:
                    yield name, logical_id, resource

    def resource(self, ref: ResourceRef) -> dict[str, Any] | None:
        artifact = self.stacks.get(ref.stack)
        if artifact is None:
            return None
        resources: dict[str, Any] = artifact.template.get("Resources", {})
        return resources.get(ref.logical_id)

    def count(self, resource_type: str) -> int:
        """Resources of a type, including those implied by nested applications."""
        total = 0
        for _, _, resource in self.resources():
            kind = resource.get("Type", "")
            total += kind == resource_type
            total += IMPLIED_RESOURCES.get(kind, {}).get(resource_type, 0)
        return total

    def references(self, stack: str, value: Any, depth: int = 0) -> set[ResourceRef]:
        """Every resource `value` refers to: Ref, GetAtt, Sub, and ImportValue across stacks."""
        found: set[ResourceRef] = set()
        if depth > 8:
            return found
        resources = self.stacks[stack].template.get("Resources", {}) if stack in self.stacks else {}
        if isinstance(value, list):
            for item in value:
                found |= self.references(stack, item, depth)
        elif isinstance(value, dict):
            if "Ref" in value and isinstance(value["Ref"], str):
                if value["Ref"] in resources:
                    found.add(ResourceRef(stack, value["Ref"]))
            elif "Fn::GetAtt" in value:
                target = value["Fn::GetAtt"]
                logical = target[0] if isinstance(target, list) else str(target).split(".")[0]
                if logical in resources:
                    found.add(ResourceRef(stack, logical))
            elif "Fn::ImportValue" in value:
                name = value["Fn::ImportValue"]
                if isinstance(name, str) and name in self.exports:
                    owner, exported = self.exports[name]
                    found |= self.references(owner, exported, depth + 1)
            elif "Fn::Sub" in value:
                body = value["Fn::Sub"]
                text = body[0] if isinstance(body, list) else body
                for match in re.findall(r"\$\{([^}!.]+)", str(text)):
                    if match in resources:
                        found.add(ResourceRef(stack, match))
                if isinstance(body, list) and len(body) > 1:
                    found |= self.references(stack, body[1], depth)
            else:
                for item in value.values():
                    found |= self.references(stack, item, depth)
        return found

    def estimate_length(self, stack: str, value: Any) -> str:
        """`value` rendered as a string, deploy-time values replaced by placeholders of a
        typical length (pseudo parameters, ARNs, ids). Used for size limits."""
        if isinstance(value, str):
            return value
        if isinstance(value, bool):
            return "true" if value else "false"
        if isinstance(value, int | float):
            return str(value)
        if isinstance(value, list):
            return "".join(self.estimate_length(stack, item) for item in value)
        if isinstance(value, dict):
            if "Ref" in value:
                return "x" * _PSEUDO_LENGTHS.get(str(value["Ref"]), _ID_ESTIMATE)
            if "Fn::Join" in value:
                delimiter, items = value["Fn::Join"]
                if isinstance(items, list):
                    return str(delimiter).join(self.estimate_length(stack, i) for i in items)
                return "x" * _ARN_ESTIMATE
            if "Fn::Sub" in value:
                body = value["Fn::Sub"]
                text = str(body[0] if isinstance(body, list) else body)
                return re.sub(
                    r"\$\{([^}]+)\}",
                    lambda m: "x" * _PSEUDO_LENGTHS.get(m.group(1), _ARN_ESTIMATE),
                    text,
                )
            if "Fn::GetAtt" in value:
                target = value["Fn::GetAtt"]
                attribute = target[1] if isinstance(target, list) and len(target) > 1 else ""
                return "x" * (_ARN_ESTIMATE if str(attribute).endswith("Arn") else _ID_ESTIMATE)
            if "Fn::ImportValue" in value:
                return "x" * _ARN_ESTIMATE
            if any(key.startswith("Fn::") for key in value):
                return "x" * _ID_ESTIMATE
        return json.dumps(value, separators=(",", ":"))

    def render(self, stack: str, value: Any) -> Any:
        """`value` with every intrinsic function replaced by its estimated string."""
        if isinstance(value, dict):
            if len(value) == 1 and (
                next(iter(value)) == "Ref" or next(iter(value)).startswith("Fn::")
            ):
                return self.estimate_length(stack, value)
            return {key: self.render(stack, item) for key, item in value.items()}
        if isinstance(value, list):
            return [self.render(stack, item) for item in value]
        return value


# --------------------------------------------------------------------------- measurements


@dataclass(frozen=True)
class Measurement:
    subject: str  # what was measured: a stack, a role, a security group, "environment", ...
    value: int
    detail: str = ""
    limit: int | None = None  # when the limit depends on the subject (e.g. a subnet's size)


Measure = Callable[[EnvironmentView], list[Measurement]]

UNKNOWN_ACCOUNT = "unknown-account"  # the manifest's word for "the deploying credentials' account"


def placement(artifact: StackArtifact) -> tuple[str, str]:
    """(account, region) of a stack, from its manifest environment `aws://account/region`."""
    environment = artifact.environment or ""
    parts = environment.removeprefix("aws://").split("/")
    if not environment.startswith("aws://") or len(parts) != 2:
        return (UNKNOWN_ACCOUNT, "unknown-region")
    return (parts[0], parts[1])


def region_subject(account: str, region: str) -> str:
    return f"aws://{account}/{region}"


def account_subject(account: str) -> str:
    return f"account {account}" + (" (the deploying one)" if account == UNKNOWN_ACCOUNT else "")


def _per_stack(count: Callable[[StackArtifact], int]) -> Measure:
    def measure(view: EnvironmentView) -> list[Measurement]:
        return [Measurement(name, count(artifact)) for name, artifact in view.stacks.items()]

    return measure


def _section(name: str) -> Measure:
    return _per_stack(lambda artifact: len(artifact.template.get(name, {})))


def _template_bytes(artifact: StackArtifact) -> int:
    """The size CloudFormation receives: the template file exactly as CDK uploads it."""
    try:
        return artifact.template_path.stat().st_size
    except OSError:
        return len(json.dumps(artifact.template, indent=1).encode())


def _large_templates(view: EnvironmentView) -> list[Measurement]:
    large = [name for name, artifact in view.stacks.items() if _template_bytes(artifact) > 51_200]
    return [Measurement("environment", len(large), ", ".join(large[:3]))]


def _dynamic_references(artifact: StackArtifact) -> int:
    return json.dumps(artifact.template).count("{{resolve:")


def _grouped(view: EnvironmentView, per: Literal["region", "account"]) -> dict[str, list[str]]:
    """The view's stacks grouped by account and Region (`per="region"`) or by account alone."""
    groups: dict[str, list[str]] = defaultdict(list)
    for name, artifact in view.stacks.items():
        account, region = placement(artifact)
        key = region_subject(account, region) if per == "region" else account_subject(account)
        groups[key].append(name)
    return dict(groups)


def _count_per(per: Literal["region", "account"], *types: str) -> Measure:
    """Resources of `types` (nested applications' implied ones included), one measurement per
    account and Region, or per account for global services (IAM)."""

    def measure(view: EnvironmentView) -> list[Measurement]:
        found = []
        for subject, names in _grouped(view, per).items():
            counts: Counter[str] = Counter()
            for name in names:
                for resource in view.stacks[name].template.get("Resources", {}).values():
                    kind = resource.get("Type", "")
                    for wanted in types:
                        counts[wanted] += kind == wanted
                        counts[wanted] += IMPLIED_RESOURCES.get(kind, {}).get(wanted, 0)
            detail = ", ".join(f"{kind}: {n}" for kind, n in counts.items() if len(types) > 1)
            found.append(Measurement(subject, sum(counts.values()), detail))
        return found

    return measure


def _log_groups(view: EnvironmentView) -> list[Measurement]:
    """Log groups per account and Region: the templates' own, plus the one Lambda creates at a
    function's first run (/aws/lambda/<name>) for every function that names none in its
    `LoggingConfig` (CDK's singleton providers, the nested rotation applications' functions)."""
    found = []
    for subject, names in _grouped(view, "region").items():
        declared = implicit = 0
        for name in names:
            for resource in view.stacks[name].template.get("Resources", {}).values():
                kind = resource.get("Type", "")
                if kind == "AWS::Logs::LogGroup":
                    declared += 1
                elif kind == "AWS::Lambda::Function":
                    logging = resource.get("Properties", {}).get("LoggingConfig") or {}
                    implicit += "LogGroup" not in logging
                implicit += IMPLIED_RESOURCES.get(kind, {}).get("AWS::Lambda::Function", 0)
        found.append(
            Measurement(subject, declared + implicit, f"declared {declared}, by Lambda {implicit}")
        )
    return found


def _stacks(view: EnvironmentView) -> list[Measurement]:
    found = []
    for subject, names in _grouped(view, "region").items():
        nested = EnvironmentView({n: view.stacks[n] for n in names}).count(
            "AWS::CloudFormation::Stack"
        )
        found.append(
            Measurement(
                subject,
                len(names) + nested,
                f"{len(names)} app stacks + {nested} nested (rotation applications)",
            )
        )
    return found


def _exports(view: EnvironmentView) -> list[Measurement]:
    found = []
    for subject, names in _grouped(view, "region").items():
        by_stack = Counter(owner for owner, _ in view.exports.values() if owner in names)
        detail = ", ".join(f"{stack}: {n}" for stack, n in by_stack.most_common())
        found.append(Measurement(subject, sum(by_stack.values()), detail))
    return found


def _imports_per_export(view: EnvironmentView) -> list[Measurement]:
    """Informational: each importing stack locks the export (strong cross-stack reference)."""
    importers: dict[str, set[str]] = defaultdict(set)
    for name, artifact in view.stacks.items():
        for match in re.findall(r'"Fn::ImportValue": "([^"]+)"', json.dumps(artifact.template)):
            importers[match].add(name)
    return [Measurement(export, len(stacks)) for export, stacks in importers.items()]


def _storage_gb(view: EnvironmentView) -> list[Measurement]:
    found = []
    for subject, names in _grouped(view, "region").items():
        total = 0
        for name, _, resource in view.resources("AWS::RDS::DBInstance"):
            if name not in names:
                continue
            properties = resource.get("Properties", {})
            size = properties.get("MaxAllocatedStorage") or properties.get("AllocatedStorage") or 0
            total += int(size) if str(size).isdigit() else 0
        found.append(Measurement(subject, total, "sum of max (or allocated) storage, GiB"))
    return found


def _subnet_addresses(view: EnvironmentView) -> list[Measurement]:
    """IP addresses the databases of each DB subnet group need (two for Multi-AZ: primary and
    standby) against what its subnets hold (AWS reserves 5 per subnet). Subnet sizes are fixed
    once deployed: a full subnet group stops onboarding until larger subnets are added."""
    measurements = []
    groups = list(view.resources("AWS::RDS::DBSubnetGroup"))
    demand: Counter[ResourceRef] = Counter()
    for stack, _, resource in view.resources("AWS::RDS::DBInstance"):
        properties = resource.get("Properties", {})
        for group in view.references(stack, properties.get("DBSubnetGroupName")):
            demand[group] += 2 if properties.get("MultiAZ") is True else 1
    for stack, logical, resource in groups:
        capacity = 0
        for subnet in view.references(stack, resource.get("Properties", {}).get("SubnetIds")):
            cidr = (view.resource(subnet) or {}).get("Properties", {}).get("CidrBlock")
            if isinstance(cidr, str) and "/" in cidr:
                capacity += 2 ** (32 - int(cidr.split("/")[1])) - 5
        if capacity:
            ref = ResourceRef(stack, logical)
            measurements.append(
                Measurement(f"{stack}/{logical}", demand[ref], "addresses needed", capacity)
            )
    return measurements


def _load_balancer_children(view: EnvironmentView) -> dict[ResourceRef, dict[str, set[Any]]]:
    """Per load balancer: its listeners, their non-default rules and every target group used."""
    balancers: dict[ResourceRef, dict[str, set[Any]]] = {
        ResourceRef(stack, logical): {"listeners": set(), "rules": set(), "target_groups": set()}
        for stack, logical, _ in view.resources("AWS::ElasticLoadBalancingV2::LoadBalancer")
    }
    listener_owner: dict[ResourceRef, ResourceRef] = {}
    for stack, logical, resource in view.resources("AWS::ElasticLoadBalancingV2::Listener"):
        properties = resource.get("Properties", {})
        for balancer in view.references(stack, properties.get("LoadBalancerArn")):
            if balancer in balancers:
                listener = ResourceRef(stack, logical)
                listener_owner[listener] = balancer
                balancers[balancer]["listeners"].add(listener)
                balancers[balancer]["target_groups"] |= _target_groups(
                    view, stack, properties.get("DefaultActions", [])
                )
    for stack, logical, resource in view.resources("AWS::ElasticLoadBalancingV2::ListenerRule"):
        properties = resource.get("Properties", {})
        for listener in view.references(stack, properties.get("ListenerArn")):
            balancer_ref = listener_owner.get(listener)
            if balancer_ref is not None:
                balancers[balancer_ref]["rules"].add(ResourceRef(stack, logical))
                balancers[balancer_ref]["target_groups"] |= _target_groups(
                    view, stack, properties.get("Actions", [])
                )
    return balancers


def _target_groups(view: EnvironmentView, stack: str, actions: Any) -> set[ResourceRef]:
    return {
        ref
        for ref in view.references(stack, actions)
        if (view.resource(ref) or {}).get("Type") == "AWS::ElasticLoadBalancingV2::TargetGroup"
    }


def _per_load_balancer(part: str) -> Measure:
    def measure(view: EnvironmentView) -> list[Measurement]:
        return [
            Measurement(f"{ref.stack}/{ref.logical_id}", len(children[part]))
            for ref, children in _load_balancer_children(view).items()
        ]

    return measure


def _security_group_rules(direction: Literal["Ingress", "Egress"]) -> Measure:
    """Rules per security group: inline rules plus standalone rule resources from ANY stack of
    the environment that target the group (tenant stacks add rules to platform groups)."""

    def measure(view: EnvironmentView) -> list[Measurement]:
        rules: Counter[ResourceRef] = Counter()
        groups = {
            ResourceRef(stack, logical): resource
            for stack, logical, resource in view.resources("AWS::EC2::SecurityGroup")
        }
        for ref, resource in groups.items():
            rules[ref] += len(resource.get("Properties", {}).get(f"SecurityGroup{direction}", []))
        for stack, _, resource in view.resources(f"AWS::EC2::SecurityGroup{direction}"):
            for target in view.references(stack, resource.get("Properties", {}).get("GroupId")):
                if target in groups:
                    rules[target] += 1
        return [Measurement(f"{ref.stack}/{ref.logical_id}", rules[ref]) for ref in groups]

    return measure


class RoleIndex:
    """Every IAM role of the environment and how other resources name it: by Ref/GetAtt in the
    same stack, through an imported ARN or name from another stack, or by a literal role name."""

    def __init__(self, view: EnvironmentView) -> None:
        self.view = view
        self.roles: dict[ResourceRef, dict[str, Any]] = {
            ResourceRef(stack, logical): resource
            for stack, logical, resource in view.resources("AWS::IAM::Role")
        }
        self.by_name = {
            resource.get("Properties", {}).get("RoleName"): ref
            for ref, resource in self.roles.items()
            if isinstance(resource.get("Properties", {}).get("RoleName"), str)
        }

    @staticmethod
    def key(ref: ResourceRef) -> str:
        return f"{ref.stack}/{ref.logical_id}"

    def resolve(self, stack: str, value: Any) -> list[str]:
        """The roles `value` (an item of a `Roles` list or a `RoleName`) designates."""
        if isinstance(value, str):
            return [self.key(self.by_name[value])] if value in self.by_name else [f"name:{value}"]
        matched = [ref for ref in self.view.references(stack, value) if ref in self.roles]
        return [self.key(ref) for ref in matched] or [f"unresolved:{stack}"]

    def targets(self, stack: str, resource: dict[str, Any]) -> list[str]:
        """The roles a policy resource is attached to."""
        properties = resource.get("Properties", {})
        values = properties.get("Roles", []) or []
        if resource.get("Type") == "AWS::IAM::RolePolicy":
            values = [properties.get("RoleName")]
        return [role for value in values for role in self.resolve(stack, value)]


def _document_size(view: EnvironmentView, stack: str, document: Any) -> int:
    """Characters of a policy document as IAM counts them (no whitespace), estimated."""
    return len(json.dumps(view.render(stack, document), separators=(",", ":")))


def role_inline_policy_sizes(view: EnvironmentView) -> dict[str, tuple[int, list[str]]]:
    """Estimated inline policy characters per role (IAM ignores whitespace), from every stack:
    the role's own `Policies`, `AWS::IAM::Policy` naming it in `Roles` (by Ref, by imported ARN
    or name) and `AWS::IAM::RolePolicy`. Returns {role: (characters, [policy sources])}."""
    index = RoleIndex(view)
    sizes: dict[str, tuple[int, list[str]]] = {}

    def add(role: str, stack: str, document: Any, source: str) -> None:
        size, sources = sizes.get(role, (0, []))
        sizes[role] = (size + _document_size(view, stack, document), [*sources, source])

    for ref, resource in index.roles.items():
        key = index.key(ref)
        sizes.setdefault(key, (0, []))
        for policy in resource.get("Properties", {}).get("Policies", []) or []:
            add(key, ref.stack, policy.get("PolicyDocument"), f"{key} (inline)")
    for stack, logical, resource in view.resources("AWS::IAM::Policy", "AWS::IAM::RolePolicy"):
        for role in index.targets(stack, resource):
            document = resource.get("Properties", {}).get("PolicyDocument")
            add(role, stack, document, f"{stack}/{logical}")
    return sizes


def role_managed_policies(view: EnvironmentView) -> dict[str, list[str]]:
    """Managed policies attached per role: the role's `ManagedPolicyArns` (AWS-managed or
    customer) plus every `AWS::IAM::ManagedPolicy` of any stack whose `Roles` names it."""
    index = RoleIndex(view)
    attached: dict[str, list[str]] = {}
    for ref, resource in index.roles.items():
        arns = resource.get("Properties", {}).get("ManagedPolicyArns", []) or []
        attached[index.key(ref)] = [view.estimate_length(ref.stack, arn) for arn in arns]
    for stack, logical, resource in view.resources("AWS::IAM::ManagedPolicy"):
        for role in index.targets(stack, resource):
            attached.setdefault(role, []).append(f"{stack}/{logical}")
    return attached


def _role_policy_characters(view: EnvironmentView) -> list[Measurement]:
    return [
        Measurement(role, size, f"{len(sources)} policies" if sources else "")
        for role, (size, sources) in role_inline_policy_sizes(view).items()
    ]


def _role_managed_policy_count(view: EnvironmentView) -> list[Measurement]:
    return [
        Measurement(role, len(policies)) for role, policies in role_managed_policies(view).items()
    ]


def _managed_policy_size(view: EnvironmentView) -> list[Measurement]:
    return [
        Measurement(
            f"{stack}/{logical}",
            _document_size(view, stack, resource.get("Properties", {}).get("PolicyDocument")),
        )
        for stack, logical, resource in view.resources("AWS::IAM::ManagedPolicy")
    ]


def _records_per_zone(view: EnvironmentView) -> list[Measurement]:
    zones: Counter[str] = Counter()
    for stack, _, resource in view.resources(
        "AWS::Route53::RecordSet", "AWS::Route53::RecordSetGroup"
    ):
        properties = resource.get("Properties", {})
        records = properties.get("RecordSets", [properties])
        for record in records:
            zone = record.get("HostedZoneId", properties.get("HostedZoneId"))
            zone = zone or record.get("HostedZoneName", properties.get("HostedZoneName"))
            zone_key = zone if isinstance(zone, str) else view.estimate_length(stack, zone)[:40]
            zones[zone_key] += 1
    return [Measurement(zone, n) for zone, n in zones.items()]


def _dashboard_widgets(view: EnvironmentView) -> list[tuple[str, list[dict[str, Any]]]]:
    """Widgets of every dashboard; the body is JSON with deploy-time tokens substituted."""
    dashboards = []
    for stack, logical, resource in view.resources("AWS::CloudWatch::Dashboard"):
        body = resource.get("Properties", {}).get("DashboardBody", "{}")
        text = view.estimate_length(stack, body)
        try:
            widgets = json.loads(text).get("widgets", [])
        except (json.JSONDecodeError, AttributeError):
            widgets = [{}] * text.count('"type":')  # unparseable: count widget declarations
        dashboards.append((f"{stack}/{logical}", list(widgets)))
    return dashboards


def _widgets_per_dashboard(view: EnvironmentView) -> list[Measurement]:
    return [Measurement(name, len(widgets)) for name, widgets in _dashboard_widgets(view)]


def _metrics_per_widget(view: EnvironmentView) -> list[Measurement]:
    return [
        Measurement(f"{name} widget {index}", len(widget.get("properties", {}).get("metrics", [])))
        for name, widgets in _dashboard_widgets(view)
        for index, widget in enumerate(widgets)
    ]


def _metrics_per_dashboard(view: EnvironmentView) -> list[Measurement]:
    return [
        Measurement(name, sum(len(w.get("properties", {}).get("metrics", [])) for w in widgets))
        for name, widgets in _dashboard_widgets(view)
    ]


def _alarm_actions(view: EnvironmentView) -> list[Measurement]:
    measurements = []
    for stack, logical, resource in view.resources(
        "AWS::CloudWatch::Alarm", "AWS::CloudWatch::CompositeAlarm"
    ):
        properties = resource.get("Properties", {})
        worst = max(
            len(properties.get(kind, []) or [])
            for kind in ("AlarmActions", "OKActions", "InsufficientDataActions")
        )
        measurements.append(Measurement(f"{stack}/{logical}", worst))
    return measurements


def _alarm_metrics(view: EnvironmentView) -> list[Measurement]:
    return [
        Measurement(f"{stack}/{logical}", len(resource.get("Properties", {}).get("Metrics", [])))
        for stack, logical, resource in view.resources("AWS::CloudWatch::Alarm")
        if resource.get("Properties", {}).get("Metrics")
    ]


def _vpc_functions(view: EnvironmentView) -> Iterator[tuple[str, Any, Any]]:
    """(stack, security groups, subnets) of every function in a VPC, the nested rotation
    applications' functions included (their VPC settings are the application's parameters)."""
    for stack, _, resource in view.resources(
        "AWS::Lambda::Function", "AWS::Serverless::Application"
    ):
        properties = resource.get("Properties", {})
        if resource["Type"] == "AWS::Lambda::Function":
            vpc = properties.get("VpcConfig") or {}
            groups, subnets = vpc.get("SecurityGroupIds"), vpc.get("SubnetIds")
        else:
            parameters = properties.get("Parameters") or {}
            groups = parameters.get("vpcSecurityGroupIds")
            subnets = parameters.get("vpcSubnetIds")
        if groups and subnets:
            yield stack, groups, subnets


def lambda_interfaces(view: EnvironmentView) -> dict[str, set[tuple[str, str]]]:
    """Per account and Region: the distinct (subnet, security groups) combinations of the
    functions in a VPC. The rule (AWS Lambda Developer Guide, "Giving Lambda functions access to
    resources in an Amazon VPC"): Lambda creates one Hyperplane ENI for each unique combination
    of subnet and security groups, shared by every function with that combination; so a function
    with its own security group in two subnets adds two ENIs, and a second function with the
    same group and subnets adds none. An idle function (no invocation for weeks) becomes
    inactive and its ENIs are reclaimed; the count is the worst case, every function active."""
    by_place: dict[str, set[tuple[str, str]]] = defaultdict(set)
    for stack, groups, subnets in _vpc_functions(view):
        subject = region_subject(*placement(view.stacks[stack]))
        group_key = json.dumps(_qualify(stack, groups), sort_keys=True)
        for subnet in _split_list(subnets):
            by_place[subject].add((json.dumps(_qualify(stack, subnet), sort_keys=True), group_key))
    return by_place


def _lambda_vpc_interfaces(view: EnvironmentView) -> list[Measurement]:
    by_place = lambda_interfaces(view)
    return [
        Measurement(
            subject, len(by_place.get(subject, set())), "distinct (subnet, security groups)"
        )
        for subject in _grouped(view, "region")
    ]


def _max_tasks(view: EnvironmentView, stack: str, logical: str, service: dict[str, Any]) -> int:
    """The most tasks a service runs at once: its scaling maximum (else the desired count),
    times the deployment's maximum percent (new tasks start before old ones stop)."""
    properties = service.get("Properties", {})
    most = properties.get("DesiredCount", 1)
    for target_stack, _, target in view.resources("AWS::ApplicationAutoScaling::ScalableTarget"):
        target_properties = target.get("Properties", {})
        refs = view.references(target_stack, target_properties.get("ResourceId"))
        if ResourceRef(stack, logical) in refs:
            most = target_properties.get("MaxCapacity", most)
    percent = (properties.get("DeploymentConfiguration") or {}).get("MaximumPercent", 200)
    return -(-int(most) * int(percent) // 100) if str(most).isdigit() else 0


LOAD_BALANCER_FREE_ADDRESSES = 8  # per subnet of an ALB (Elastic Load Balancing User Guide)


def _subnet_demand(view: EnvironmentView) -> dict[ResourceRef, Counter[str]]:
    """Per subnet, the addresses app-side resources take, by kind: one per Lambda Hyperplane ENI
    (see `lambda_interfaces`), Fargate tasks at their maximum spread over the service's subnets,
    one per NAT gateway, and the free addresses a load balancer needs in each of its subnets.
    Databases are counted against their DB subnet group (`_subnet_addresses`)."""
    parts: dict[ResourceRef, Counter[str]] = defaultdict(Counter)
    combinations: set[tuple[ResourceRef, str]] = set()
    for stack, groups, subnets in _vpc_functions(view):
        group_key = json.dumps(_qualify(stack, groups), sort_keys=True)
        for subnet in view.references(stack, subnets):
            combinations.add((subnet, group_key))
    for subnet, _ in combinations:
        parts[subnet]["Lambda ENIs"] += 1
    for stack, logical, service in view.resources("AWS::ECS::Service"):
        network = (service.get("Properties", {}).get("NetworkConfiguration") or {}).get(
            "AwsvpcConfiguration"
        ) or {}
        subnets = view.references(stack, network.get("Subnets"))
        tasks = _max_tasks(view, stack, logical, service)
        for subnet in subnets:
            parts[subnet]["Fargate tasks"] += -(-tasks // len(subnets))
    for stack, _, resource in view.resources("AWS::EC2::NatGateway"):
        for subnet in view.references(stack, resource.get("Properties", {}).get("SubnetId")):
            parts[subnet]["NAT gateways"] += 1
    for stack, _, resource in view.resources("AWS::ElasticLoadBalancingV2::LoadBalancer"):
        for subnet in view.references(stack, resource.get("Properties", {}).get("Subnets")):
            parts[subnet]["load balancer"] += LOAD_BALANCER_FREE_ADDRESSES
    return dict(parts)


def _app_subnet_addresses(view: EnvironmentView) -> list[Measurement]:
    """Addresses needed in each subnet (see `_subnet_demand`) against what it holds (AWS
    reserves 5 per subnet): a subnet's size is fixed once created."""
    found = []
    for ref, parts in _subnet_demand(view).items():
        cidr = (view.resource(ref) or {}).get("Properties", {}).get("CidrBlock")
        if isinstance(cidr, str) and "/" in cidr:
            capacity = 2 ** (32 - int(cidr.split("/")[1])) - 5
            detail = ", ".join(f"{what} {n}" for what, n in parts.items())
            found.append(
                Measurement(f"{ref.stack}/{ref.logical_id}", sum(parts.values()), detail, capacity)
            )
    return found


def _network_interfaces(view: EnvironmentView) -> list[Measurement]:
    """Network interfaces per account and Region (an EC2 quota): Lambda Hyperplane ENIs, Fargate
    tasks at their maximum, NAT gateways, one load balancer node per subnet (more under load)
    and the databases (two when Multi-AZ), each counted in the Region of its stack."""
    totals: dict[str, Counter[str]] = {subject: Counter() for subject in _grouped(view, "region")}
    for ref, parts in _subnet_demand(view).items():
        subject = region_subject(*placement(view.stacks[ref.stack]))
        for what, count in parts.items():
            nodes = count // LOAD_BALANCER_FREE_ADDRESSES if what == "load balancer" else count
            totals[subject][what] += nodes
    for stack, _, resource in view.resources("AWS::RDS::DBInstance"):
        subject = region_subject(*placement(view.stacks[stack]))
        totals[subject]["databases"] += 2 if resource.get("Properties", {}).get("MultiAZ") else 1
    return [
        Measurement(
            subject,
            sum(parts.values()),
            ", ".join(f"{what} {n}" for what, n in sorted(parts.items())),
        )
        for subject, parts in totals.items()
    ]


def _poc_restaurants_in_production(view: EnvironmentView) -> list[Measurement]:
    """PoC-tier databases in a production-profile environment (issue 15): single-AZ, and kept
    to the production minimum of backups (config.schema.PRODUCTION_ENVIRONMENT_MIN_BACKUP_DAYS)."""
    production = any(
        "(production profile)" in str(artifact.template.get("Description", ""))
        for artifact in view.stacks.values()
    )
    found = []
    for stack, _, resource in view.resources("AWS::RDS::DBInstance"):
        props = resource.get("Properties", {})
        tags = {t.get("Key"): t.get("Value") for t in props.get("Tags", [])}
        if production and tags.get("Tier") == "poc":
            found.append(f"{stack} ({props.get('BackupRetentionPeriod')}-day backups)")
    return [Measurement("environment", len(found), ", ".join(found[:3]))]


def _qualify(stack: str, value: Any) -> Any:
    """Make a same-stack reference unique across stacks; imports and literals stay as they are."""
    if isinstance(value, dict) and ("Ref" in value or "Fn::GetAtt" in value):
        return {"stack": stack, **value}
    if isinstance(value, list):
        return [_qualify(stack, item) for item in value]
    return value


def _split_list(value: Any) -> list[Any]:
    """The items of a list property given as a list, a comma-joined Fn::Join or a string."""
    if isinstance(value, list):
        return value
    if isinstance(value, dict) and "Fn::Join" in value:
        delimiter, items = value["Fn::Join"]
        if delimiter == "," and isinstance(items, list):
            return items
        if delimiter == "" and isinstance(items, list):
            # ["a", ",", {"Ref": ...}]: literal commas between the elements
            groups: list[list[Any]] = [[]]
            for item in items:
                if isinstance(item, str) and "," in item:
                    head, *rest = item.split(",")
                    groups[-1].append(head)
                    groups.extend([part] for part in rest)
                else:
                    groups[-1].append(item)
            cleaned = [[part for part in group if part != ""] for group in groups]
            return [group[0] if len(group) == 1 else group for group in cleaned if group]
    if isinstance(value, str):
        return value.split(",")
    return [value]


# --------------------------------------------------------------------------- the table of checks


@dataclass(frozen=True)
class Check:
    id: str
    title: str
    scope: str  # what one measured value belongs to
    limit: int
    kind: Kind
    measure: Measure = field(repr=False)
    quota: str = ""  # the Service Quotas name to request (kind == "quota")
    quota_code: str = ""  # only where verified
    advice: str = ""
    # The most AWS grants on request, where it publishes one (IAM roles: 5,000); a hard limit is
    # its own maximum. None: raised on request with no published ceiling.
    maximum: int | None = None

    @property
    def ceiling(self) -> int | None:
        return self.limit if self.kind == "hard" else self.maximum


# fmt: off
CHECKS: tuple[Check, ...] = (
    # CloudFormation, per stack: hard limits
    Check("cfn-resources", "CloudFormation resources", "per stack", 500, "hard",
          _section("Resources"), advice="split the stack"),
    Check("cfn-outputs", "CloudFormation outputs", "per stack", 200, "hard", _section("Outputs"),
          advice="fewer exports: reference platform values by naming convention"),
    Check("cfn-parameters", "CloudFormation parameters", "per stack", 200, "hard",
          _section("Parameters")),
    Check("cfn-mappings", "CloudFormation mappings", "per stack", 200, "hard",
          _section("Mappings")),
    Check("cfn-template-size", "Template size in S3, bytes", "per stack", 1_000_000, "hard",
          _per_stack(_template_bytes), advice="split the stack or shorten descriptions/metadata"),
    Check("cfn-dynamic-references", "Dynamic references ({{resolve:}})", "per stack", 60,
          "hard", _per_stack(_dynamic_references)),
    Check("cfn-template-inline", "Stacks over 51,200 bytes (direct upload limit)",
          "per environment", 0, "info", _large_templates,
          advice="CDK uploads these through the bootstrap bucket, where the 1 MB limit applies"),
    # CloudFormation, per account and Region
    Check("cfn-stacks", "CloudFormation stacks, nested included", "per account and Region",
          2000, "quota", _stacks, quota="AWS CloudFormation: Stack count"),
    Check("cfn-exports", "CloudFormation exports", "per account and Region", 5000, "quota",
          _exports, quota="AWS CloudFormation: exports per account and Region"),
    Check("cfn-imports", "Stacks importing one export", "per export", 0, "info",
          _imports_per_export,
          advice="each importer locks the export: a platform change that alters it needs every "
          "importing tenant stack updated first"),
    # RDS, per account and Region
    Check("rds-instances", "RDS DB instances", "per account and Region", 40, "quota",
          _count_per("region", "AWS::RDS::DBInstance"), quota="Amazon RDS: DB instances"),
    Check("rds-subnet-groups", "RDS DB subnet groups", "per account and Region", 50, "quota",
          _count_per("region", "AWS::RDS::DBSubnetGroup"),
          quota="Amazon RDS: DB subnet groups"),
    Check("rds-parameter-groups", "RDS DB parameter groups", "per account and Region", 50,
          "quota", _count_per("region", "AWS::RDS::DBParameterGroup"),
          quota="Amazon RDS: Parameter groups",
          advice="or share one parameter group per engine version from the platform stack"),
    Check("rds-subnet-addresses", "IP addresses in a DB subnet group's subnets",
          "per DB subnet group", 0, "hard", _subnet_addresses,
          advice="add larger data subnets to the shared subnet group (subnet sizes are fixed)"),
    Check("rds-storage", "RDS storage for all DB instances, GiB", "per account and Region",
          100_000, "quota", _storage_gb, quota="Amazon RDS: Total storage for all DB instances"),
    # Load balancing
    Check("alb-rules", "ALB listener rules (excluding default rules)", "per load balancer", 100,
          "quota", _per_load_balancer("rules"),
          quota="Elastic Load Balancing: Rules per Application Load Balancer"),
    Check("alb-target-groups", "ALB target groups", "per load balancer", 100, "hard",
          _per_load_balancer("target_groups"), advice="route by host name to fewer target groups"),
    # VPC
    Check("sg-inbound-rules", "Security group inbound rules", "per security group", 60, "quota",
          _security_group_rules("Ingress"),
          quota="Amazon VPC: Inbound or outbound rules per security group",
          quota_code="L-0EA8095F",
          advice="rules x security groups per network interface may not exceed 1,000; or admit "
          "one shared source group instead of one rule per tenant"),
    Check("sg-outbound-rules", "Security group outbound rules", "per security group", 60,
          "quota", _security_group_rules("Egress"),
          quota="Amazon VPC: Inbound or outbound rules per security group",
          quota_code="L-0EA8095F"),
    Check("vpc-security-groups", "VPC security groups", "per account and Region", 2500,
          "quota", _count_per("region", "AWS::EC2::SecurityGroup"),
          quota="Amazon VPC: VPC security groups per Region", quota_code="L-E79EC296"),
    Check("lambda-vpc-enis", "Lambda Hyperplane ENIs (subnet x security groups)",
          "per VPC (one per environment and Region)", 500, "quota", _lambda_vpc_interfaces,
          quota="AWS Lambda: Elastic network interfaces per VPC",
          advice="or share one security group between the per-restaurant functions"),
    Check("ec2-network-interfaces", "EC2 network interfaces (Lambda, tasks, NAT, ALB, RDS)",
          "per account and Region", 5000, "quota", _network_interfaces,
          quota="Amazon EC2: Network interfaces per Region"),
    Check("app-subnet-addresses", "IP addresses in a subnet (Lambda ENIs, tasks, NAT, ALB)",
          "per subnet", 0, "hard", _app_subnet_addresses,
          advice="add subnets to the VPC (a subnet's size is fixed), or share security groups "
          "between the per-restaurant functions"),
    # IAM
    Check("iam-role-inline-policy", "IAM inline policy characters (estimated)", "per role",
          10_240, "hard", _role_policy_characters,
          advice="one statement scoped by tag/prefix, or a per-tenant role the app assumes"),
    Check("iam-managed-policies-per-role", "IAM managed policies attached", "per role", 10,
          "quota", _role_managed_policy_count, quota="AWS IAM: Managed policies per role",
          maximum=20,
          advice="(20 at most); or merge statements into fewer policies"),
    Check("iam-managed-policy-size", "IAM managed policy characters (estimated)",
          "per managed policy", 6_144, "hard", _managed_policy_size,
          advice="split the policy or scope statements by tag/prefix"),
    Check("iam-customer-managed-policies", "IAM customer managed policies", "per account",
          1500, "quota", _count_per("account", "AWS::IAM::ManagedPolicy"),
          quota="AWS IAM: Customer managed policies per account", maximum=5000),
    Check("iam-roles", "IAM roles (nested applications included)", "per account", 1000,
          "quota", _count_per("account", "AWS::IAM::Role"), quota="AWS IAM: Roles per account",
          maximum=5000, advice="(5,000 at most: then a second account)"),
    # Secrets, keys, DNS
    Check("secrets", "Secrets Manager secrets", "per account and Region", 500_000, "quota",
          _count_per("region", "AWS::SecretsManager::Secret"),
          quota="AWS Secrets Manager: Secrets per Region"),
    Check("ssm-parameters", "SSM parameters (standard tier)", "per account and Region", 10_000,
          "hard", _count_per("region", "AWS::SSM::Parameter"),
          advice="the advanced tier allows 100,000 ($0.05 per parameter-month)"),
    Check("log-groups", "CloudWatch Logs log groups", "per account and Region", 1_000_000,
          "quota", _log_groups,
          quota="Amazon CloudWatch Logs: Log groups"),
    Check("kms-keys", "KMS customer managed keys", "per account and Region", 100_000, "quota",
          _count_per("region", "AWS::KMS::Key"), quota="AWS KMS: Customer Master Keys (CMKs)"),
    Check("route53-records", "Route 53 records", "per hosted zone", 10_000, "quota",
          _records_per_zone, quota="Amazon Route 53: Records per hosted zone"),
    # CloudWatch: dashboard limits cannot be changed; the number of alarms is unlimited
    Check("cw-dashboard-widgets", "CloudWatch widgets", "per dashboard", 500, "hard",
          _widgets_per_dashboard, advice="use SEARCH expressions instead of one widget per tenant"),
    Check("cw-widget-metrics", "CloudWatch metrics", "per dashboard widget", 500, "hard",
          _metrics_per_widget),
    Check("cw-dashboard-metrics", "CloudWatch metrics", "per dashboard", 2500, "hard",
          _metrics_per_dashboard, advice="use SEARCH expressions instead of one metric per tenant"),
    Check("cw-alarm-actions", "CloudWatch alarm actions", "per alarm and state", 5, "hard",
          _alarm_actions),
    Check("cw-alarm-math-metrics", "CloudWatch metrics in a metric-math alarm", "per alarm", 10,
          "hard", _alarm_metrics),
    Check("poc-in-production", "PoC-tier restaurants in a production environment",
          "per environment", 0, "info", _poc_restaurants_in_production,
          advice="single-AZ with at least 7 days of backups; `ops promote` for Multi-AZ"),
    Check("cw-alarms", "CloudWatch alarms", "per account and Region", 0, "info",
          _count_per("region", "AWS::CloudWatch::Alarm", "AWS::CloudWatch::CompositeAlarm"),
          advice="no limit on the number of alarms; each standard alarm costs $0.10/month"),
)
# fmt: on


# --------------------------------------------------------------------------- evaluation


@dataclass(frozen=True)
class Result:
    id: str
    title: str
    scope: str
    kind: str
    limit: int | None
    subject: str
    detail: str
    value: int
    headroom: int | None
    status: str
    measured: int  # how many subjects were measured
    offenders: list[str]
    message: str


def _limit(check: Check, measurement: Measurement) -> int:
    return check.limit if measurement.limit is None else measurement.limit


def _status(check: Check, value: int, limit: int) -> str:
    if check.kind == "info":
        return "info"
    if value > limit:
        return "error" if check.kind == "hard" else "warning"
    if value > NEAR_FRACTION * limit:
        return "note"
    return "ok"


def evaluate(check: Check, view: EnvironmentView) -> Result:
    """The worst measurement of one check (closest to or furthest over its limit), with every
    subject over the limit listed."""
    measurements = check.measure(view)

    def fill(m: Measurement) -> float:
        return m.value / max(1, _limit(check, m)) if check.kind != "info" else m.value

    worst = max(measurements, key=fill, default=Measurement("(none)", 0))
    limit_value = _limit(check, worst)
    status = _status(check, worst.value, limit_value)
    over = [m for m in measurements if check.kind != "info" and m.value > _limit(check, m)]
    limit = None if check.kind == "info" else limit_value
    headroom = None if limit is None else limit - worst.value
    message = ""
    if status == "error":
        message = f"hard limit: {len(over)} over the limit {check.scope}; {check.advice}"
    elif status == "warning":
        code = f" ({check.quota_code})" if check.quota_code else ""
        message = (
            f"request a quota increase before deploying: '{check.quota}'{code} to at least "
            f"{worst.value:,} for this environment alone"
            + (f"; {check.advice}" if check.advice else "")
        )
    elif status == "note":
        hint = check.advice or f"quota '{check.quota}'"
        message = f"{worst.value / limit_value:.0%} of the limit; {hint}"
    elif status == "info":
        message = check.advice
    return Result(
        id=check.id,
        title=check.title,
        scope=check.scope,
        kind=check.kind,
        limit=limit,
        subject=worst.subject,
        detail=worst.detail,
        value=worst.value,
        headroom=headroom,
        status=status,
        measured=len(measurements),
        offenders=[f"{m.subject}: {m.value:,} > {_limit(check, m):,}" for m in over],
        message=message.strip().rstrip(";"),
    )


def environment_stacks(
    stacks: dict[str, StackArtifact], environment: str
) -> dict[str, StackArtifact]:
    """The stacks of one environment, by this project's naming convention."""
    from stacks import naming  # the single source of stack names

    return {
        name: artifact
        for name, artifact in stacks.items()
        if (parsed := naming.parse_stack_name(name)) and parsed.environment == environment
    }


def preflight(
    stacks: dict[str, StackArtifact], environment: str, checks: Iterable[Check] = CHECKS
) -> list[Result]:
    selected = environment_stacks(stacks, environment)
    if not selected:
        raise AssemblyError(f"no stacks of environment {environment!r} in the assembly")
    view = EnvironmentView(selected)
    return [evaluate(check, view) for check in checks]


COMBINED = "(all environments)"


def shared_quotas(stacks: dict[str, StackArtifact], environments: Iterable[str]) -> list[Result]:
    """The account- and Region-wide checks over the stacks of several environments together:
    environments deployed to one account and Region share its quotas, so their demands add up
    (IAM, global, adds up over every Region of an account)."""
    selected: dict[str, StackArtifact] = {}
    for environment in environments:
        selected |= environment_stacks(stacks, environment)
    view = EnvironmentView(selected)
    return [evaluate(c, view) for c in CHECKS if c.scope.startswith("per account")]


# --------------------------------------------------------------------------- output


def _fmt(value: int | None) -> str:
    return "-" if value is None else f"{value:,}"


def _plural(count: int, noun: str) -> str:
    return f"{count:,} {noun}" if count == 1 else f"{count:,} {noun}s"


def format_table(
    environment: str, stack_count: int, results: list[Result], *, verbose: bool = False
) -> str:
    """One row per check that needs a look; the all-ok rows fold into one line (unless
    `verbose`), so `make synth` ends with what matters."""
    headers = ("check", "scope", "worst", "value", "limit", "headroom", "status")
    shown = results if verbose else [r for r in results if r.status != "ok"]
    rows = [
        (
            r.title,
            r.scope + ("" if r.kind == "info" else f" ({r.kind})"),
            _short(r.subject, 44),
            _fmt(r.value),
            _fmt(r.limit),
            _fmt(r.headroom),
            r.status,
        )
        for r in shown
    ]
    widths = [max(len(str(row[i])) for row in (headers, *rows)) for i in range(len(headers))]
    right = {3, 4, 5}

    def line(row: tuple[str, ...]) -> str:
        return "  ".join(
            str(cell).rjust(widths[i]) if i in right else str(cell).ljust(widths[i])
            for i, cell in enumerate(row)
        ).rstrip()

    what = "account- and Region-wide quotas of" if environment == COMBINED else "environment"
    out = [f"preflight: {what} {environment}, {_plural(stack_count, 'stack')}"]
    if rows:
        out += [line(headers), *(line(row) for row in rows)]
    ok_count = len(results) - len(shown) if not verbose else 0
    if ok_count:
        out.append(f"ok: {_plural(ok_count, 'check')} within limits (--verbose lists them)")
    messages = [r for r in results if r.status in ("error", "warning", "note") and r.message]
    for result in sorted(messages, key=lambda r: -_STATUS_ORDER[r.status]):
        out.append(f"{result.status.upper()}: {result.title} {result.scope}: {result.message}")
        out += [f"    {offender}" for offender in result.offenders[:10]]
        if len(result.offenders) > 10:
            out.append(f"    ... and {len(result.offenders) - 10} more")
    counts = Counter(r.status for r in results)
    out.append(
        f"summary: {_plural(counts['error'], 'error')}, {_plural(counts['warning'], 'warning')}, "
        f"{_plural(counts['note'], 'note')}"
    )
    return "\n".join(out)


def _short(text: str, width: int) -> str:
    """Shorten in the middle: both the stack and the logical id stay recognizable."""
    if len(text) <= width:
        return text
    keep = (width - 3) // 2
    return text[:keep] + "..." + text[-(width - 3 - keep) :]


def _environment_names(all_environments: bool, env: str | None) -> list[str]:
    if env:
        return [env]
    from config import load_environments

    return [environment.name for environment in load_environments()] if all_environments else []


def _unknown_environment(stacks: dict[str, StackArtifact], name: str, assembly: str) -> str:
    """Why `name` has no stacks, and which names would work."""
    from config import ConfigError, load_environments

    try:
        configured = sorted(e.name for e in load_environments())
    except ConfigError:
        configured = []
    from stacks import naming

    parsed = (naming.parse_stack_name(stack) for stack in stacks)
    held = sorted({p.environment for p in parsed if p and p.kind == naming.PLATFORM})
    if name not in configured:
        return (
            f"--env {name}: no config/environments/{name}.yaml "
            f"(known environments: {', '.join(configured) or 'none'})"
        )
    return (
        f"--env {name}: no stacks of {name} in {assembly} (it holds: {', '.join(held) or 'none'});"
        " run `make synth` to synthesize every environment"
    )


def run(args: argparse.Namespace) -> int:
    if args.scale_doc:
        from ops.limits import scale_model  # synthesizes in process: only for this option

        return scale_model.run(args)
    if args.check or args.output:
        print("preflight: --check and --output go with --scale-doc", file=sys.stderr)
        return 2
    names = _environment_names(args.all, args.env)
    if not names:
        print("preflight: give --env ENV or --all", file=sys.stderr)
        return 2
    try:
        stacks = read_assembly(Path(args.assembly))
        reports = {}
        for name in names:
            if not environment_stacks(stacks, name):
                print(f"preflight: {_unknown_environment(stacks, name, args.assembly)}",
                      file=sys.stderr)  # fmt: skip
                return 2
            reports[name] = preflight(stacks, name)
        if len(reports) > 1:
            reports[COMBINED] = shared_quotas(stacks, names)
    except AssemblyError as exc:
        print(f"preflight: {exc}", file=sys.stderr)
        return 2
    failed = any(
        r.status == "error" or (args.strict and r.status == "warning")
        for results in reports.values()
        for r in results
    )
    counted = {name: len(environment_stacks(stacks, name)) for name in names}
    counted[COMBINED] = sum(counted.values())
    print_result(
        args.json,
        lambda: {
            name: {
                "stacks": counted[name],
                "results": [asdict(r) for r in results],
                "summary": dict(Counter(r.status for r in results)),
            }
            for name, results in reports.items()
        },
        lambda: "\n\n".join(
            format_table(name, counted[name], results, verbose=args.verbose)
            for name, results in reports.items()
        ),
    )
    return 1 if failed else 0


def register(subparsers: Any) -> None:
    parser = subparsers.add_parser(
        "preflight",
        help="check the synthesized app against CloudFormation and AWS limits",
        description=__doc__.split("\n\n")[0] if __doc__ else None,
    )
    target = parser.add_mutually_exclusive_group()
    target.add_argument("--env", help="environment name (config/environments/<env>.yaml)")
    target.add_argument("--all", action="store_true", help="every environment in config/")
    parser.add_argument(
        "--assembly",
        default=str(DEFAULT_ASSEMBLY),
        help="synthesized cloud assembly directory (default: cdk.out)",
    )
    parser.add_argument("--json", action="store_true", help="machine-readable output")
    parser.add_argument("--verbose", action="store_true", help="list every check, the ok ones too")
    parser.add_argument(
        "--strict", action="store_true", help="exit non-zero on warnings (quotas to request) too"
    )
    parser.add_argument(
        "--scale-doc",
        action="store_true",
        help="synthesize generated environments, fit each count per restaurant and write the "
        "quota table of docs/scale.md (ops/limits/scale_model.py)",
    )
    parser.add_argument("--check", action="store_true", help="with --scale-doc: exit 1 if stale")
    parser.add_argument("--output", help="with --scale-doc: the document (default docs/scale.md)")
    parser.set_defaults(func=run)
