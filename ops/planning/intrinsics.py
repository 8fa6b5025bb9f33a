"""Evaluate a template's intrinsics offline, as CloudFormation would at deploy, where it can.

`ops plan` compares the *effective* value of every property, so both sides of a plan go through
`resolve_template` first. What CloudFormation evaluates from the template alone is evaluated
here; what needs the deployed world (a resource's Ref/GetAtt, an import, an SSM parameter,
Fn::GetAZs, the account id of an environment-agnostic stack) stays as written and is compared
as text, which is what a plan of two templates can do.

Sources (CloudFormation User Guide, "Intrinsic function reference" and "Pseudo parameters
reference"; "Conditions syntax": a resource whose Condition is false is not created, and one
whose Condition turns false on update is deleted):

- Conditions: Fn::Equals, Fn::And, Fn::Or, Fn::Not and {"Condition": name}; three-valued here
  (True, False, unknown), so an unknown operand never fakes a verdict.
- Fn::If [condition, a, b] with a known condition picks a branch; AWS::NoValue removes the
  property (or the list element).
- Fn::FindInMap [map, top, second(, {DefaultValue})] with literal keys reads Mappings.
- Fn::Select [index, list] and Fn::Split [delimiter, text] on literals; Fn::Join of literals;
  Fn::Sub of literals and pseudo parameters.
- Ref to a parameter: its Default (CDK deploys pass no parameter values); SSM parameter types
  resolve at deploy, so they stay unknown.
- Pseudo parameters: AWS::Region and AWS::AccountId from the manifest environment (unless
  "unknown-..."), AWS::Partition and AWS::URLSuffix from the region, AWS::StackName from the
  stack; AWS::StackId and AWS::NotificationARNs stay unknown.
"""

from __future__ import annotations

import json
import re
from collections.abc import Mapping
from typing import Any

NO_VALUE = object()  # AWS::NoValue: the property or list element is removed
UNKNOWN = None  # a condition that cannot be evaluated offline
_PLAIN = frozenset({str, int, float, bool, type(None)})  # values that resolve to themselves

_SUB_VAR = re.compile(r"\$\{([^!}][^}]*)\}")

# Resource metadata that never reaches a deploy decision: the CLI adds aws:cdk:path (and asset
# metadata) and a CDKMetadata resource that `python app.py` alone does not (DESIGN.md, "Two ways
# to synthesize differ in metadata"); CloudFormation stores metadata but calls no API for it.
CLI_ONLY_METADATA_PREFIXES = ("aws:cdk:path", "aws:asset:")
CDK_METADATA_RESOURCE = "AWS::CDK::Metadata"
CDK_METADATA_CONDITION = "CDKMetadataAvailable"


def partition_of(region: str) -> str:
    if region.startswith("cn-"):
        return "aws-cn"
    if region.startswith("us-gov-"):
        return "aws-us-gov"
    if region.startswith("us-iso-"):
        return "aws-iso"
    if region.startswith("us-isob-"):
        return "aws-iso-b"
    return "aws"


def pseudo_parameters(stack_name: str, environment: str | None) -> dict[str, Any]:
    """Known pseudo parameter values from the manifest's "aws://account/region"."""
    values: dict[str, Any] = {"AWS::StackName": stack_name, "AWS::NoValue": NO_VALUE}
    account, region = "unknown-account", "unknown-region"
    if environment and environment.startswith("aws://"):
        parts = environment.removeprefix("aws://").split("/")
        if len(parts) == 2:
            account, region = parts
    if not account.startswith("unknown"):
        values["AWS::AccountId"] = account
    if not region.startswith("unknown"):
        values["AWS::Region"] = region
        partition = partition_of(region)
        values["AWS::Partition"] = partition
        values["AWS::URLSuffix"] = "amazonaws.com.cn" if partition == "aws-cn" else "amazonaws.com"
    return values


def _literal(value: Any) -> bool:
    """A value with no intrinsic left in it."""
    if isinstance(value, dict):
        if len(value) == 1 and (
            next(iter(value)) in ("Ref", "Condition") or "::" in next(iter(value))
        ):
            return False
        return all(_literal(v) for v in value.values())
    if isinstance(value, list):
        return all(_literal(v) for v in value)
    return value is not NO_VALUE


def _scalar(value: Any) -> str | None:
    if isinstance(value, bool):
        return "true" if value else "false"
    if isinstance(value, int | float | str):
        return str(value)
    return None


class Resolver:
    """Evaluates one template's intrinsics; `resolve_template` is the entry point."""

    def __init__(self, template: Mapping[str, Any], pseudo: Mapping[str, Any]) -> None:
        self.template = template
        self.values: dict[str, Any] = dict(pseudo)
        for name, parameter in (template.get("Parameters") or {}).items():
            kind = str(parameter.get("Type", "String"))
            if "Default" not in parameter or kind.startswith("AWS::SSM::Parameter::Value"):
                continue
            default = parameter["Default"]
            if kind.startswith("List<") or kind == "CommaDelimitedList":
                default = [s.strip() for s in str(default).split(",")]
            self.values[name] = default
        self.mappings: Mapping[str, Any] = template.get("Mappings") or {}
        self.conditions: Mapping[str, Any] = template.get("Conditions") or {}
        self._condition_cache: dict[str, bool | None] = {}

    # -- conditions ---------------------------------------------------------------------------

    def condition(self, name: str, _seen: frozenset[str] = frozenset()) -> bool | None:
        if name in self._condition_cache:
            return self._condition_cache[name]
        if name not in self.conditions or name in _seen:
            return UNKNOWN
        result = self._truth(self.conditions[name], _seen | {name})
        self._condition_cache[name] = result
        return result

    def _truth(self, node: Any, seen: frozenset[str] = frozenset()) -> bool | None:
        if isinstance(node, bool):
            return node
        if isinstance(node, str) and node.lower() in ("true", "false"):
            return node.lower() == "true"
        if not isinstance(node, dict) or len(node) != 1:
            return UNKNOWN
        ((key, args),) = node.items()
        if key == "Condition" and isinstance(args, str):
            return self.condition(args, seen)
        if key == "Fn::Equals" and isinstance(args, list) and len(args) == 2:
            left, right = (self.resolve(a) for a in args)
            if _literal(left) and _literal(right):
                a, b = _scalar(left), _scalar(right)
                if a is not None and b is not None:
                    return a == b
                return json.dumps(left, sort_keys=True) == json.dumps(right, sort_keys=True)
            if json.dumps(left, sort_keys=True, default=str) == json.dumps(
                right, sort_keys=True, default=str
            ):
                return True  # the same unresolved expression on both sides
            return UNKNOWN
        if key == "Fn::Not" and isinstance(args, list) and len(args) == 1:
            inner = self._truth(args[0], seen)
            return None if inner is None else not inner
        if key in ("Fn::And", "Fn::Or") and isinstance(args, list):
            values = [self._truth(a, seen) for a in args]
            decisive = key == "Fn::Or"  # True decides an Or, False decides an And
            if decisive in values:
                return decisive
            if None in values:
                return UNKNOWN
            return not decisive
        return UNKNOWN

    # -- values -------------------------------------------------------------------------------

    def resolve(self, node: Any) -> Any:
        # Most of a template is plain text and numbers: those are taken as they are, without a
        # call each (a template has tens of thousands of them).
        if isinstance(node, list):
            items = [v if type(v) in _PLAIN else self.resolve(v) for v in node]
            return [v for v in items if v is not NO_VALUE]
        if not isinstance(node, dict):
            return node
        if len(node) == 1:
            ((key, args),) = node.items()
            handler = _FUNCTIONS.get(key)
            if handler is not None:
                return handler(self, args)
        result = {}
        for key, value in node.items():
            if type(value) in _PLAIN:
                result[key] = value
                continue
            resolved = self.resolve(value)
            if resolved is not NO_VALUE:
                result[key] = resolved
        return result

    def _ref(self, args: Any) -> Any:
        if isinstance(args, str) and args in self.values:
            return self.values[args]
        return {"Ref": args}

    def _if(self, args: Any) -> Any:
        if not (isinstance(args, list) and len(args) == 3 and isinstance(args[0], str)):
            return {"Fn::If": self.resolve(args)}
        truth = self.condition(args[0])
        if truth is None:
            return {"Fn::If": [args[0], self.resolve(args[1]), self.resolve(args[2])]}
        return self.resolve(args[1] if truth else args[2])

    def _find_in_map(self, args: Any) -> Any:
        resolved = self.resolve(args) if isinstance(args, list) else args
        if isinstance(resolved, list) and len(resolved) in (3, 4):
            name, top, second = resolved[:3]
            if all(isinstance(x, str) for x in (name, top, second)):
                found = (self.mappings.get(name) or {}).get(top, {})
                if isinstance(found, dict) and second in found:
                    return found[second]
                default = resolved[3] if len(resolved) == 4 else None
                if isinstance(default, dict) and "DefaultValue" in default:
                    return default["DefaultValue"]
        return {"Fn::FindInMap": resolved}

    def _select(self, args: Any) -> Any:
        resolved = self.resolve(args) if isinstance(args, list) else args
        if isinstance(resolved, list) and len(resolved) == 2 and isinstance(resolved[1], list):
            index = _scalar(resolved[0])
            if index is not None and index.isdigit() and int(index) < len(resolved[1]):
                return resolved[1][int(index)]
        return {"Fn::Select": resolved}

    def _split(self, args: Any) -> Any:
        resolved = self.resolve(args) if isinstance(args, list) else args
        if (
            isinstance(resolved, list)
            and len(resolved) == 2
            and isinstance(resolved[0], str)
            and isinstance(resolved[1], str)
        ):
            return resolved[1].split(resolved[0])
        return {"Fn::Split": resolved}

    def _join(self, args: Any) -> Any:
        resolved = self.resolve(args) if isinstance(args, list) else args
        if (
            isinstance(resolved, list)
            and len(resolved) == 2
            and isinstance(resolved[0], str)
            and isinstance(resolved[1], list)
            and all(_scalar(v) is not None for v in resolved[1])
        ):
            return resolved[0].join(str(_scalar(v)) for v in resolved[1])
        return {"Fn::Join": resolved}

    def _sub(self, args: Any) -> Any:
        if isinstance(args, str):
            text, variables = args, {}
        elif isinstance(args, list) and len(args) == 2 and isinstance(args[0], str):
            text, variables = args[0], self.resolve(args[1])
            if not isinstance(variables, dict):
                return {"Fn::Sub": [text, variables]}
        else:
            return {"Fn::Sub": self.resolve(args)}

        def replace(match: re.Match[str]) -> str:
            name = match.group(1)
            value = variables.get(name) if name in variables else self.values.get(name)
            text_value = _scalar(value) if value is not NO_VALUE else None
            return text_value if text_value is not None else match.group(0)

        result = _SUB_VAR.sub(replace, text)
        unresolved = {m.group(1) for m in _SUB_VAR.finditer(result)}
        if not unresolved:
            return result.replace("${!", "${")
        remaining = {k: v for k, v in variables.items() if k in unresolved}
        return {"Fn::Sub": [result, remaining] if remaining else result}


_FUNCTIONS = {
    "Ref": Resolver._ref,
    "Fn::If": Resolver._if,
    "Fn::FindInMap": Resolver._find_in_map,
    "Fn::Select": Resolver._select,
    "Fn::Split": Resolver._split,
    "Fn::Join": Resolver._join,
    "Fn::Sub": Resolver._sub,
}


def _strip_cli_metadata(definition: dict[str, Any]) -> None:
    metadata = definition.get("Metadata")
    if not isinstance(metadata, dict):
        return
    kept = {k: v for k, v in metadata.items() if not k.startswith(CLI_ONLY_METADATA_PREFIXES)}
    if kept:
        definition["Metadata"] = kept
    else:
        definition.pop("Metadata")


def resolve_template(
    template: Mapping[str, Any], *, stack_name: str, environment: str | None = None
) -> dict[str, Any]:
    """The template as deployed: conditions applied, intrinsics evaluated, CLI metadata gone.

    Resources and outputs whose Condition is false are left out (CloudFormation does not
    create them, or deletes them on update). An unknown condition stays on the resource as
    `Condition: {"Condition": name, "evaluates": <resolved expression>}`, so a changed
    definition shows as a change of that resource.
    """
    resolver = Resolver(template, pseudo_parameters(stack_name, environment))
    result: dict[str, Any] = {}
    for section, body in template.items():
        if section in ("Resources", "Outputs") and isinstance(body, dict):
            kept: dict[str, Any] = {}
            for logical_id, definition in body.items():
                if not isinstance(definition, dict):
                    kept[logical_id] = definition
                    continue
                if definition.get("Type") == CDK_METADATA_RESOURCE:
                    continue
                condition = definition.get("Condition")
                truth = resolver.condition(condition) if isinstance(condition, str) else None
                if truth is False:
                    continue
                resolved = {
                    k: (v if k in ("Type", "Condition", "DependsOn") else resolver.resolve(v))
                    for k, v in definition.items()
                }
                if truth is True:
                    resolved.pop("Condition")
                elif isinstance(condition, str):
                    expression = resolver.resolve(template.get("Conditions", {}).get(condition))
                    resolved["Condition"] = {"Condition": condition, "evaluates": expression}
                _strip_cli_metadata(resolved)
                kept[logical_id] = resolved
            result[section] = kept
        elif section == "Conditions" and isinstance(body, dict):
            result[section] = {k: v for k, v in body.items() if k != CDK_METADATA_CONDITION}
            if not result[section]:
                result.pop(section)
        elif section == "Metadata" and isinstance(body, dict):
            holder = {"Metadata": dict(body)}
            _strip_cli_metadata(holder)
            if "Metadata" in holder:
                result[section] = holder["Metadata"]
        else:
            result[section] = body
    return result
