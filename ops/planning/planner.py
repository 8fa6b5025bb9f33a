"""Compare two synthesized assemblies and judge every change: in place, interruption, replacement.

Works on templates only (no AWS calls): per stack, resources added, removed and modified, the
changed top-level properties, and an impact per change from the provider schemas
(schemas.py) and the documented rules (update_rules.py). Replacement propagates: a
property that references (Ref / Fn::GetAtt / Fn::Sub) a replaced resource, or imports a changed
export, changes too, so a replaced KMS key replaces the database encrypted with it. A changed
logical id is a delete plus a create. Deleting or replacing a stateful resource, or weakening
its DeletionPolicy / UpdateReplacePolicy, blocks unless the caller allows it by name.

Both templates are first resolved (ops/planning/intrinsics.py): conditions, Fn::If, Fn::FindInMap,
Fn::Select/Split/Join/Sub over literals and pseudo parameters, so the effective values are
compared, a resource whose condition turns false is a deletion, and metadata that only the CDK
CLI writes (aws:cdk:path, CDKMetadata) never shows as a change.
"""

from __future__ import annotations

import fnmatch
import json
import re
from collections.abc import Callable, Iterable, Mapping, Sequence
from dataclasses import asdict, dataclass, field
from typing import Any

from ops.assembly import StackArtifact, imported_names
from ops.planning.intrinsics import resolve_template
from ops.planning.schemas import DEFAULT_REGION, resource_schema
from ops.planning.update_rules import (
    INTERRUPTION,
    INTERRUPTION_PROPERTIES,
    NO_CHANGE,
    NO_INTERRUPTION,
    REPLACEMENT,
    RULES,
    STATEFUL_TYPES,
    effective_policy,
    physical_name_property,
    weakened_policy,
    worst,
)

RESOURCE_ATTRIBUTES = (
    "DeletionPolicy",
    "UpdateReplacePolicy",
    "DependsOn",
    "Metadata",
    "Condition",
    "UpdatePolicy",
    "CreationPolicy",
)
_SUB_REF = re.compile(r"\$\{([A-Za-z0-9]+)(?:\.[A-Za-z0-9.]+)?\}")
_ABSENT = None


@dataclass
class PropertyChange:
    path: str
    before: Any
    after: Any
    impact: str
    reason: str
    blocker: str | None = None


@dataclass
class ResourceChange:
    logical_id: str
    type: str
    action: str  # add | remove | modify | replace
    impact: str
    changes: list[PropertyChange] = field(default_factory=list)
    stateful: bool = False
    policy: str | None = None  # DeletionPolicy (remove) or UpdateReplacePolicy (replace)
    outcome: str = ""  # what happens to the data
    notes: list[str] = field(default_factory=list)
    at_risk: bool = False  # stateful data deleted or swapped for an empty resource
    allowed: bool = False
    failures: list[str] = field(default_factory=list)  # the deploy itself would fail
    policy_warnings: list[str] = field(default_factory=list)  # weakened deletion/replace policy

    @property
    def blockers(self) -> list[str]:
        return [c.blocker for c in self.changes if c.blocker] + self.failures


@dataclass
class StackPlan:
    name: str
    action: str  # add | remove | modify | unchanged
    resources: list[ResourceChange] = field(default_factory=list)
    other: list[str] = field(default_factory=list)  # outputs, parameters, conditions...
    notes: list[str] = field(default_factory=list)
    region: str | None = None  # from the manifest's environment (aws://account/region)

    @property
    def impact(self) -> str:
        return worst(*(r.impact for r in self.resources)) if self.resources else NO_CHANGE

    def counts(self) -> dict[str, int]:
        result = {"add": 0, "remove": 0, "modify": 0, "replace": 0}
        for resource in self.resources:
            result[resource.action] += 1
        return result


@dataclass
class Plan:
    base: str
    head: str
    stacks: list[StackPlan]
    blockers: list[str] = field(default_factory=list)
    unmatched_allows: list[str] = field(default_factory=list)
    cost: Any = None
    cost_note: str | None = None
    dns: list[str] = field(default_factory=list)  # record changes and their DNS impact

    def regions(self) -> dict[str, list[str]]:
        """Region -> the changed stacks in it (a disaster-recovery plan spans two)."""
        found: dict[str, list[str]] = {}
        for stack in self.changed:
            found.setdefault(stack.region or "unknown region", []).append(stack.name)
        return found

    @property
    def changed(self) -> list[StackPlan]:
        return [s for s in self.stacks if s.action != "unchanged"]

    @property
    def blocked(self) -> bool:
        return bool(self.blockers)

    def stack(self, name: str) -> StackPlan:
        for stack in self.stacks:
            if stack.name == name:
                return stack
        raise KeyError(name)

    def replacements(self) -> list[tuple[str, ResourceChange]]:
        return [(s.name, r) for s in self.stacks for r in s.resources if r.action in ("replace",)]

    def to_dict(self) -> dict[str, Any]:
        stacks = []
        for stack in self.stacks:
            data = asdict(stack)
            data["impact"] = stack.impact
            data["counts"] = stack.counts()
            stacks.append(data)
        return {
            "base": self.base,
            "head": self.head,
            "changed": bool(self.changed),
            "blocked": self.blocked,
            "blockers": self.blockers,
            "unmatched_allows": self.unmatched_allows,
            "stacks": stacks,
            "cost": self.cost,
            "cost_note": self.cost_note,
            "dns": self.dns,
            "regions": self.regions(),
        }


# ---------------------------------------------------------------------------------------------
# Template helpers


def _canon(value: Any) -> str:
    """Compare templates as CloudFormation does: scalars by their string form."""

    def norm(node: Any) -> Any:
        if isinstance(node, dict):
            return {k: norm(v) for k, v in node.items()}
        if isinstance(node, list):
            return [norm(v) for v in node]
        if isinstance(node, bool):
            return "true" if node else "false"
        if node is None:
            return None
        return str(node)

    return json.dumps(norm(value), sort_keys=True)


def _find(value: Any, pick: Callable[[str, Any], tuple[Iterable[str], bool]]) -> set[str]:
    """The names `pick` finds in a template value. `pick(key, inner)` is asked of every key of
    every mapping: it returns the names under that key and whether to look inside it too."""
    found: set[str] = set()

    def visit(node: Any) -> None:
        if isinstance(node, dict):
            for key, inner in node.items():
                names, inside = pick(key, inner)
                found.update(names)
                if inside:
                    visit(inner)
        elif isinstance(node, list):
            for inner in node:
                visit(inner)

    visit(value)
    return found


def _first(inner: Any) -> Any:
    """The first argument of an intrinsic that takes a list or a single value."""
    return inner[0] if isinstance(inner, list) and inner else inner


def _referenced(key: str, inner: Any) -> tuple[Iterable[str], bool]:
    if key == "Ref" and isinstance(inner, str):
        return (inner,), False
    if key == "Fn::GetAtt":
        target = _first(inner)
        return ((target.split(".")[0],) if isinstance(target, str) else ()), False
    if key == "Fn::Sub":
        text = _first(inner)
        return (_SUB_REF.findall(text) if isinstance(text, str) else ()), True
    return (), True


def references(value: Any) -> set[str]:
    """Logical ids a value depends on (Ref, Fn::GetAtt, ${X} in Fn::Sub)."""
    return {name for name in _find(value, _referenced) if not name.startswith("AWS::")}


def _at(value: Any, path: Sequence[str]) -> Any:
    for part in path:
        if part == "*":
            return value  # arrays: compare the rest as a whole
        if not isinstance(value, dict):
            return _ABSENT
        value = value.get(part)
    return value


# ---------------------------------------------------------------------------------------------
# Judging one resource


def _property_verdict(
    type_name: str,
    key: str,
    before: Any,
    after: Any,
    base_props: Mapping[str, Any],
    head_props: Mapping[str, Any],
    region: str,
) -> PropertyChange:
    rule = RULES.get(type_name, {}).get(key)
    if rule is not None:
        verdict = rule(before, after, base_props, head_props)
        return PropertyChange(key, before, after, verdict.impact, verdict.reason, verdict.blocker)
    schema = resource_schema(type_name, region)
    if key in schema.update_fails:
        return PropertyChange(
            key,
            before,
            after,
            REPLACEMENT,
            "CFN docs / provider schema: changing it on an existing resource makes the update "
            "request fail (CloudFormation will not replace it)",
            blocker=f"{key} {_short_json(before)} -> {_short_json(after)}: CFN docs: 'If you "
            f"change the value of the {key} property on an existing {type_name.split('::')[-1]}, "
            "the update request fails'; the deploy rolls back",
        )
    if (key,) in schema.create_only:
        return PropertyChange(key, before, after, REPLACEMENT, "create-only (provider schema)")
    for path in schema.create_only:
        if (
            len(path) > 1
            and path[0] == key
            and _canon(_at(before, path[1:])) != _canon(_at(after, path[1:]))
        ):
            shown = "/".join(path)
            return PropertyChange(key, before, after, REPLACEMENT, f"{shown} is create-only")
    # A documented interruption wins over the schema's "conditionally create-only" (e.g.
    # DBParameterGroupName of an RDS instance: CFN docs say "Some interruptions").
    interruption = INTERRUPTION_PROPERTIES.get(type_name, {}).get(key)
    if interruption:
        return PropertyChange(key, before, after, INTERRUPTION, interruption)
    if any(path[0] == key for path in schema.conditional_create_only):
        return PropertyChange(
            key,
            before,
            after,
            REPLACEMENT,
            "conditionally create-only (provider schema) and no documented rule here: "
            "assumed to replace",
        )
    if not schema.known:
        return PropertyChange(
            key, before, after, NO_INTERRUPTION, "no provider schema for this type: assumed update"
        )
    return PropertyChange(key, before, after, NO_INTERRUPTION, "updatable (provider schema)")


def _short_json(value: Any) -> str:
    text = "(absent)" if value is None else json.dumps(value, sort_keys=True)
    return text if len(text) <= 60 else text[:57] + "..."


def _attribute_change(
    attribute: str,
    before: Any,
    after: Any,
    type_name: str,
    base: Mapping[str, Any],
    head: Mapping[str, Any],
) -> PropertyChange:
    """Resource attributes: no API call, except a Condition CloudFormation may evaluate false."""
    if attribute in ("DeletionPolicy", "UpdateReplacePolicy"):
        weaker = weakened_policy(
            attribute,
            before,
            after,
            type_name,
            base.get("Properties") or {},
            head.get("Properties") or {},
        )
        if weaker:
            return PropertyChange(
                attribute,
                before,
                after,
                NO_INTERRUPTION,
                f"template attribute, no API call, but WEAKER ({weaker}): a later "
                f"{'delete' if attribute == 'DeletionPolicy' else 'replacement'} keeps less data",
            )
    if attribute == "Condition":
        return PropertyChange(
            attribute,
            before,
            after,
            REPLACEMENT,
            "a condition that cannot be evaluated offline (it depends on the deployed "
            "environment): if it is false at deploy, CloudFormation deletes the resource",
        )
    return PropertyChange(
        attribute, before, after, NO_INTERRUPTION, "template attribute, no API call"
    )


def _compare_resource(
    logical_id: str,
    base: Mapping[str, Any],
    head: Mapping[str, Any],
    replaced: set[str],
    changed_exports: set[str],
    region: str,
) -> ResourceChange:
    type_name = str(head.get("Type"))
    if base.get("Type") != head.get("Type"):
        change = PropertyChange(
            "Type", base.get("Type"), type_name, REPLACEMENT, "a new resource type"
        )
        return ResourceChange(logical_id, type_name, "replace", REPLACEMENT, [change])
    base_props = base.get("Properties") or {}
    head_props = head.get("Properties") or {}
    if base == head and not _moves(head_props, replaced, changed_exports):
        # Most resources of a plan: nothing to judge (what the loop below concludes, key by key).
        return ResourceChange(logical_id, type_name, "modify", worst(), [])
    changes: list[PropertyChange] = []
    for key in sorted(set(base_props) | set(head_props)):
        before, after = base_props.get(key), head_props.get(key)
        moved = sorted(references(after) & replaced) + sorted(
            imported_names(after) & changed_exports
        )
        if _canon(before) == _canon(after) and not moved:
            continue
        if _canon(before) == _canon(after):
            # Same text, new value at deploy time: the referenced resource or export changes.
            after_value: Any = {"changes-with": moved}
            change = _property_verdict(
                type_name, key, before, after_value, base_props, head_props, region
            )
            change.after = after
            change.reason = f"references {', '.join(moved)}, which changes: {change.reason}"
        else:
            change = _property_verdict(
                type_name, key, before, after, base_props, head_props, region
            )
        changes.append(change)
    warnings: list[str] = []
    for attribute in RESOURCE_ATTRIBUTES:
        before, after = base.get(attribute), head.get(attribute)
        if _canon(before) != _canon(after):
            change = _attribute_change(attribute, before, after, type_name, base, head)
            if "WEAKER" in change.reason:
                warnings.append(f"{attribute} {change.reason.split('(')[1].split(')')[0]}")
            changes.append(change)
    impact = worst(*(c.impact for c in changes))
    action = "replace" if impact == REPLACEMENT else "modify"
    resource = ResourceChange(logical_id, type_name, action, impact, changes)
    resource.policy_warnings = warnings
    name = _physical_name(type_name, head_props)
    if (
        action == "replace"
        and name is not None
        and _canon(name) == _canon(_physical_name(type_name, base_props))
    ):
        resource.failures.append(
            f"{physical_name_property(type_name)} {_canon(name)} stays the same: CloudFormation "
            "cannot replace a custom-named resource (the new one is created first and the name "
            "is taken); the deploy fails and rolls back"
        )
    return resource


def _moves(props: Mapping[str, Any], replaced: set[str], changed_exports: set[str]) -> bool:
    """Whether `props` reference a replaced resource or import an export whose value changes."""
    return bool(replaced and references(props) & replaced) or bool(
        changed_exports and imported_names(props) & changed_exports
    )


def _physical_name(type_name: str, props: Mapping[str, Any]) -> Any:
    """The fixed physical name of a resource (derived from the provider schema), if set."""
    key = physical_name_property(type_name)
    return props.get(key) if key else None


def _mark_stateful(resource: ResourceChange, definition: Mapping[str, Any]) -> None:
    """Stateful resources: what happens to the data on delete / replace, from the policies."""
    if resource.type not in STATEFUL_TYPES:
        return
    resource.stateful = True
    if resource.action == "modify":
        if resource.policy_warnings:
            resource.outcome = (
                f"{'; '.join(resource.policy_warnings)}: a later delete or replacement of this "
                f"{STATEFUL_TYPES[resource.type]} keeps less (data risk)"
            )
            resource.at_risk = True
        return
    if resource.action == "remove":
        policy = effective_policy(
            "DeletionPolicy",
            definition.get("DeletionPolicy"),
            resource.type,
            definition.get("Properties") or {},
        )
        resource.policy = policy
        if policy == "Retain" or policy == "RetainExceptOnCreate":
            resource.outcome = "retained (removed from the stack, not deleted)"
        elif policy == "Snapshot":
            resource.outcome = "DELETED after a final snapshot"
            resource.at_risk = True
        else:
            resource.outcome = "DELETED, no snapshot"
            resource.at_risk = True
        props = definition.get("Properties") or {}
        if str(props.get("DeletionProtection", "false")).lower() == "true":
            resource.failures.append(
                "DeletionProtection is true in the base template: the delete FAILS until a "
                "deploy turns it off (config deletion_protection: false)"
            )
    elif resource.action == "replace":
        policy = str(definition.get("UpdateReplacePolicy", "Delete"))
        resource.policy = policy
        kept = {"Retain": "the old one is retained", "Snapshot": "the old one is snapshotted"}
        resource.outcome = (
            f"REPLACED by a new, empty {STATEFUL_TYPES[resource.type]}; "
            f"{kept.get(policy, 'the old one is DELETED')}"
        )
        resource.at_risk = True


def _rename_notes(removed: dict[str, Any], added: dict[str, Any]) -> dict[str, str]:
    """Removed/added pairs of one type with an equal create-only value: a changed logical id."""
    pairs: dict[str, str] = {}
    for old_id, old in removed.items():
        for new_id, new in added.items():
            if new_id in pairs.values() or old.get("Type") != new.get("Type"):
                continue
            schema = resource_schema(str(old.get("Type")))
            old_props, new_props = old.get("Properties") or {}, new.get("Properties") or {}
            same = [
                "/".join(path)
                for path in schema.create_only
                if _at(old_props, path) is not None
                and _canon(_at(old_props, path)) == _canon(_at(new_props, path))
            ]
            if same or _canon(old_props) == _canon(new_props):
                pairs[old_id] = new_id
    return pairs


def _exports(template: Mapping[str, Any]) -> dict[str, tuple[str, Any]]:
    result: dict[str, tuple[str, Any]] = {}
    for output_id, output in (template.get("Outputs") or {}).items():
        name = (output.get("Export") or {}).get("Name")
        if isinstance(name, str):
            result[name] = (output_id, output.get("Value"))
    return result


def plan_stack(
    name: str,
    base: Mapping[str, Any] | None,
    head: Mapping[str, Any] | None,
    *,
    changed_imports: set[str] | frozenset[str] = frozenset(),
    region: str = DEFAULT_REGION,
) -> tuple[StackPlan, set[str]]:
    """Judge one stack; returns its plan and the export names whose value changes."""
    base_resources: dict[str, Any] = dict((base or {}).get("Resources") or {})
    head_resources: dict[str, Any] = dict((head or {}).get("Resources") or {})
    action = "add" if base is None else "remove" if head is None else "modify"
    stack = StackPlan(name, action)

    removed = {k: v for k, v in base_resources.items() if k not in head_resources}
    added = {k: v for k, v in head_resources.items() if k not in base_resources}
    common = [k for k in head_resources if k in base_resources]

    replaced: set[str] = set()
    compared: dict[str, ResourceChange] = {}
    while True:  # propagate replacement through references until nothing new is replaced
        compared = {
            lid: _compare_resource(
                lid,
                base_resources[lid],
                head_resources[lid],
                replaced,
                set(changed_imports),
                region,
            )
            for lid in common
        }
        now = {lid for lid, change in compared.items() if change.action == "replace"}
        if now == replaced:
            break
        replaced = now

    renames = _rename_notes(removed, added) if action == "modify" else {}
    for lid, definition in removed.items():
        resource = ResourceChange(lid, str(definition.get("Type")), "remove", REPLACEMENT)
        if lid in renames:
            resource.notes.append(
                f"logical id changed to {renames[lid]} (construct renamed or moved): "
                "CloudFormation creates the new resource and deletes this one"
            )
        _mark_stateful(resource, definition)
        stack.resources.append(resource)
    for lid, definition in added.items():
        type_name = str(definition.get("Type"))
        resource = ResourceChange(lid, type_name, "add", NO_INTERRUPTION)
        if lid in renames.values():
            old = next(k for k, v in renames.items() if v == lid)
            resource.notes.append(f"replaces {old} (logical id change)")
            name = _physical_name(type_name, definition.get("Properties") or {})
            if name is not None and _canon(name) == _canon(
                _physical_name(type_name, removed[old].get("Properties") or {})
            ):
                resource.failures.append(
                    f"{physical_name_property(type_name)} {_canon(name)} is still used by {old}, "
                    "which CloudFormation deletes only after creating this one: the create fails"
                )
        stack.resources.append(resource)
    for lid in common:
        resource = compared[lid]
        if resource.changes:
            _mark_stateful(resource, base_resources[lid])
            stack.resources.append(resource)

    for section in ("Outputs", "Parameters", "Conditions", "Rules", "Mappings", "Transform"):
        old_section = (base or {}).get(section) or {}
        new_section = (head or {}).get(section) or {}
        if action == "modify" and _canon(old_section) != _canon(new_section):
            if isinstance(old_section, dict) and isinstance(new_section, dict):
                keys = sorted(
                    k
                    for k in set(old_section) | set(new_section)
                    if _canon(old_section.get(k)) != _canon(new_section.get(k))
                )
                stack.other.append(f"{section}: {', '.join(keys)}")
            else:
                stack.other.append(section)

    base_exports, head_exports = _exports(base or {}), _exports(head or {})
    changed_exports: set[str] = set()
    for export, (_, value) in base_exports.items():
        new = head_exports.get(export)
        if new is None or _canon(new[1]) != _canon(value) or references(new[1]) & replaced:
            changed_exports.add(export)
    if action == "modify" and not stack.resources and not stack.other:
        stack.action = "unchanged"
    return stack, changed_exports


def _allowed(patterns: Sequence[str], stack: str, logical_id: str) -> str | None:
    for pattern in patterns:
        if fnmatch.fnmatchcase(logical_id, pattern) or fnmatch.fnmatchcase(
            f"{stack}/{logical_id}", pattern
        ):
            return pattern
    return None


def plan_assemblies(
    base: Mapping[str, StackArtifact],
    head: Mapping[str, StackArtifact],
    *,
    allow: Sequence[str] = (),
    stacks: Sequence[str] | None = None,
    base_label: str = "base",
    head_label: str = "head",
    region: str = DEFAULT_REGION,
) -> Plan:
    """The whole plan: every stack of either assembly (or those matching `stacks` globs)."""
    names = list(dict.fromkeys([*base, *head]))
    if stacks:
        names = [n for n in names if any(fnmatch.fnmatchcase(n, p) for p in stacks)]

    resolved: dict[tuple[int, str], dict[str, Any]] = {}

    def template(assembly: Mapping[str, StackArtifact], name: str) -> dict[str, Any] | None:
        """The stack's template as deployed (ops/planning/intrinsics.py), resolved once per side."""
        artifact = assembly.get(name)
        if artifact is None:
            return None
        key = (id(assembly), name)
        if key not in resolved:
            # A stack the change leaves alone (most of them) has the same template on both
            # sides: resolved once. The resolved templates are only read, never changed.
            other = head if assembly is base else base
            twin, twin_key = other.get(name), (id(other), name)
            if (
                twin_key in resolved
                and twin is not None
                and twin.name == artifact.name
                and twin.environment == artifact.environment
                and twin.template == artifact.template
            ):
                resolved[key] = resolved[twin_key]
            else:
                resolved[key] = resolve_template(
                    artifact.template, stack_name=artifact.name, environment=artifact.environment
                )
        return resolved[key]

    regions = {name: stack_region(head.get(name) or base.get(name)) for name in names}

    # Exports first: a changed export changes every importer (fixpoint over stacks).
    changed_exports: set[str] = set()
    plans: dict[str, StackPlan] = {}
    for _ in range(len(names) + 1):
        before = set(changed_exports)
        for name in names:
            plan, exported = plan_stack(
                name,
                template(base, name),
                template(head, name),
                changed_imports=changed_exports,
                region=schema_region(regions[name], region),
            )
            plan.region = regions[name]
            plans[name] = plan
            changed_exports |= exported
        if changed_exports == before:
            break

    result = Plan(base=base_label, head=head_label, stacks=[plans[n] for n in names])
    used: set[str] = set()
    for stack in result.stacks:
        if stack.action == "remove":
            artifact = base.get(stack.name)
            if artifact is not None and _termination_protected(artifact):
                message = (
                    "termination protection is on in the base assembly: `cdk destroy` fails "
                    "until a deploy turns it off (config deletion_protection: false)"
                )
                stack.notes.append(message)
                result.blockers.append(f"{stack.name}: {message}")
        for resource in stack.resources:
            for blocker in resource.blockers:
                result.blockers.append(f"{stack.name}/{resource.logical_id}: {blocker}")
            if not resource.at_risk:
                continue
            pattern = _allowed(allow, stack.name, resource.logical_id)
            if pattern is not None:
                resource.allowed = True
                used.add(pattern)
                continue
            result.blockers.append(
                f"{stack.name}/{resource.logical_id} ({resource.type}): {resource.action}: "
                f"{resource.outcome}; pass --allow {stack.name}/{resource.logical_id} if intended"
            )
    # Importers from the base: the deployed stacks hold the imports while the exporter updates
    # (CFN docs, Fn::ImportValue: "You can't modify or remove an output value that is
    # referenced by another stack"); CDK deploys the exporting stack first.
    base_resolved = {n: t for n in base if (t := template(base, n)) is not None}
    head_resolved = {n: t for n in head if (t := template(head, n)) is not None}
    importers = _importers(base_resolved)
    for stack in result.stacks:
        exporter = base_resolved.get(stack.name)
        if exporter is None:
            continue
        for export in sorted(_exports(exporter)):
            users = sorted(importers.get(export, set()) - {stack.name})
            if export in changed_exports and users:
                message = (
                    f"export {export} changes while imported by the deployed (base) "
                    f"{', '.join(users)}: CloudFormation refuses the update (deploy or destroy "
                    "those stacks without the import first)"
                )
                stack.notes.append(message)
                result.blockers.append(f"{stack.name}: {message}")
    # An import of a name no stack exports any more fails at deploy (CFN docs, Fn::ImportValue).
    exported = {name for t in head_resolved.values() for name in _exports(t)}
    for stack in result.stacks:
        if stack.action in ("remove", "unchanged") or stack.name not in head_resolved:
            continue
        body = head_resolved[stack.name]
        missing = imported_names(body.get("Resources")) | imported_names(body.get("Outputs"))
        for export in sorted(missing - exported):
            message = f"imports {export}, which no stack of the head assembly exports"
            stack.notes.append(message)
            result.blockers.append(f"{stack.name}: {message}: the deploy fails")
    _failover_records(result, base_resolved, head_resolved)
    result.unmatched_allows = [p for p in allow if p not in used]
    return result


def stack_region(artifact: StackArtifact | None) -> str | None:
    """`aws://account/region` of the manifest -> region (None when environment-agnostic)."""
    environment = artifact.environment if artifact else None
    if not environment or not environment.startswith("aws://"):
        return None
    region = environment.rsplit("/", 1)[-1]
    return None if region.startswith("unknown") else region


def schema_region(region: str | None, default: str) -> str:
    """The region whose provider schemas judge a stack (cfn-lint ships one index per region)."""
    from ops.planning.schemas import SchemaUnavailable, _index

    if region is None:
        return default
    try:
        _index(region)
    except SchemaUnavailable:
        return default
    return region


RECORD = "AWS::Route53::RecordSet"


def _records(templates: Mapping[str, Mapping[str, Any]]) -> dict[tuple[str, str, str], list]:
    """(zone, name, type) -> [(stack, logical id, failover role or None)] of every record."""
    found: dict[tuple[str, str, str], list] = {}
    for stack, body in templates.items():
        for logical_id, resource in (body.get("Resources") or {}).items():
            if resource.get("Type") != RECORD:
                continue
            props = resource.get("Properties") or {}
            name = str(props.get("Name", "")).rstrip(".")
            zone = _canon(props.get("HostedZoneId") or props.get("HostedZoneName"))
            key = (zone, name, str(props.get("Type")))
            found.setdefault(key, []).append((stack, logical_id, props.get("Failover")))
    return found


def _failover_records(
    plan: Plan,
    base: Mapping[str, Mapping[str, Any]],
    head: Mapping[str, Mapping[str, Any]],
) -> None:
    """DNS impact of records that become (or are created as) failover records.

    Route 53 refuses a failover record beside a simple record of the same name and type (CFN
    docs, AWS::Route53::RecordSet Failover), and CloudFormation creates a replacement before it
    deletes the old resource: a failover record added while a simple record of its name stays
    (or is removed in the same deploy) fails. Across stacks the order matters: the stack whose
    record becomes PRIMARY deploys before the one that creates the SECONDARY.
    """
    before, after = _records(base), _records(head)
    by_name = {s.name: s for s in plan.stacks}
    why: list[str] = []  # each distinct reason once, after the entries
    for key, records in sorted(after.items()):
        _, name, kind = key
        old = {(stack, lid): role for stack, lid, role in before.get(key, [])}
        for stack, lid, role in records:
            stack_plan = by_name.get(stack)
            if stack_plan is None:
                continue
            was = old.get((stack, lid), "absent")
            if was == role:
                continue
            where = f" ({stack_plan.region})" if stack_plan.region else ""
            if was == "absent" and role:
                now = {(s, i): r for s, i, r in records}
                simple = [(s, i) for (s, i), r in old.items() if r is None]
                still = [x for x in simple if x in now and now[x] is None]
                converted = sorted({s for s, i in simple if now.get((s, i)) and s != stack})
                removed = [x for x in simple if x not in now]
                if still:
                    kept = ", ".join(f"{s}/{i}" for s, i in still)
                    message = (
                        f"creates {role} failover record {name} ({kind}) while the simple record "
                        f"{kept} stays: Route 53 refuses a failover record beside a simple one of "
                        "the same name and type, so the create FAILS"
                    )
                    _block_record(plan, stack_plan, lid, where, message)
                    continue
                if removed:
                    gone = ", ".join(f"{s}/{i}" for s, i in removed)
                    message = (
                        f"creates {role} failover record {name} ({kind}) in place of the simple "
                        f"record {gone}: CloudFormation creates before it deletes and Route 53 "
                        "refuses a failover record beside a simple one, so the create FAILS; keep "
                        "the record's logical id and change its routing instead"
                    )
                    _block_record(plan, stack_plan, lid, where, message)
                    continue
                if converted:
                    message = (
                        f"creates {role} failover record {name} ({kind}): deploy "
                        f"{', '.join(converted)} first, where the simple record of that name "
                        "becomes the PRIMARY (Route 53 refuses a failover record beside a simple "
                        "one: in the other order this create fails)"
                    )
                    stack_plan.notes.append(message)
                    plan.dns.append(
                        f"{stack}{where}: new {role} record {name} ({kind}), deploy after "
                        f"{', '.join(converted)}"
                    )
                    continue
                plan.dns.append(
                    f"{stack}{where}: new {role} failover record {name} ({kind})"
                    + (
                        ": answers only when the PRIMARY's health check fails"
                        if role == "SECONDARY"
                        else ""
                    )
                )
            elif was == "absent":
                continue
            else:
                change = next(
                    (
                        c
                        for r in stack_plan.resources
                        if r.logical_id == lid
                        for c in r.changes
                        if c.path == "Failover"
                    ),
                    None,
                )
                impact = f": {change.impact}" if change else ""
                plan.dns.append(
                    f"{stack}{where}: {name} ({kind}) {was or 'simple'} -> {role or 'simple'} "
                    f"record{impact}"
                )
                if change is not None and change.reason not in why:
                    why.append(change.reason)
    plan.dns += [f"why: {reason}" for reason in why]


def _importers(templates: Mapping[str, Mapping[str, Any]]) -> dict[str, set[str]]:
    """Export name -> the stacks (of every stack in the assembly) that import it."""
    result: dict[str, set[str]] = {}
    for name, body in templates.items():
        for export in imported_names(body.get("Resources")) | imported_names(body.get("Outputs")):
            result.setdefault(export, set()).add(name)
    return result


def _termination_protected(artifact: StackArtifact) -> bool:
    manifest = artifact.template_path.parent / "manifest.json"
    try:
        data = json.loads(manifest.read_text(encoding="utf-8"))
    except (OSError, json.JSONDecodeError):
        return False
    for entry in data.get("artifacts", {}).values():
        props = entry.get("properties", {})
        if props.get("stackName", "") == artifact.name or (
            entry.get("type") == "aws:cloudformation:stack"
            and props.get("templateFile") == artifact.template_path.name
        ):
            return bool(props.get("terminationProtection"))
    return False


def _block_record(plan: Plan, stack_plan: StackPlan, lid: str, where: str, message: str) -> None:
    """A record change Route 53 would refuse: a failure of the resource, a blocker of the plan,
    and a line of its DNS summary."""
    resource = next((r for r in stack_plan.resources if r.logical_id == lid), None)
    if resource is not None:
        resource.failures.append(message)
    plan.blockers.append(f"{stack_plan.name}/{lid}: {message}")
    plan.dns.append(f"{stack_plan.name}{where}: {message}")
