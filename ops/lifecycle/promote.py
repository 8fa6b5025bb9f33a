"""`python -m ops promote <slug> --env ENV [--write]`: PoC to production tier (seed 5).

Dry run by default: the config change, the judged plan (it must be in place only), the expected
interruption and when it happens, the monthly cost difference, the cdk-nag result for the new
tier and the commands to run next. `--write` edits the environment file (comments and layout
kept) and validates what it wrote. Any replacement in the plan refuses the change.

Exit codes: 0 done / dry run OK, 1 refused (replacement or blocker), 2 bad input,
3 nothing to do (the restaurant is already on the production tier).
"""

from __future__ import annotations

import argparse
import json
import sys
from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from config.schema import Restaurant
from ops.cli import add_command
from ops.lifecycle import config_change as cc
from ops.planning.plan import cost_lines, render_text
from ops.planning.planner import Plan, ResourceChange
from ops.planning.update_rules import REPLACEMENT, apply_immediately
from ops.wording import CDK, plural


@dataclass
class ChangeRequest:
    """What a lifecycle command wants: a verb, a restaurant and the YAML edits."""

    verb: str  # "promote" | "resize"
    env: str
    slug: str
    edits: Mapping[str, Any]
    summary: str
    rerun: str  # the command line that writes it
    config_dir: Path | None = None


@dataclass
class ChangeReport:
    request: ChangeRequest
    path: Path
    diff: str
    plan: Plan
    interruption: list[str] = field(default_factory=list)
    nag: list[str] = field(default_factory=list)
    cost: Any = None
    cost_note: str = ""
    refused: list[str] = field(default_factory=list)
    written: bool = False
    next_steps: list[str] = field(default_factory=list)

    def to_dict(self) -> dict[str, Any]:
        return {
            "command": self.request.verb,
            "environment": self.request.env,
            "restaurant": self.request.slug,
            "summary": self.request.summary,
            "config_file": str(self.path),
            "config_diff": self.diff,
            "plan": self.plan.to_dict(),
            "in_place_only": not self.refused,
            "refused": self.refused,
            "interruption": self.interruption,
            "nag_findings": self.nag,
            "cost": self.cost,
            "cost_note": self.cost_note,
            "written": self.written,
            "next_steps": self.next_steps,
        }


# ---------------------------------------------------------------------------------------------
# Interruption: what the judged RDS changes mean for the restaurant, and when


def _rds_interruption(resource: ResourceChange, base_props: Mapping[str, Any]) -> list[str]:
    changes = {c.path: c for c in resource.changes}
    lines: list[str] = []
    was_multi_az = str(base_props.get("MultiAZ", "false")).lower() == "true"
    multi = changes.get("MultiAZ")
    if multi is not None and str(multi.after).lower() == "true":
        lines.append(
            "Multi-AZ conversion: no downtime. RDS snapshots the primary and builds the standby "
            "in a second AZ from it; I/O latency is higher until the standby is in sync "
            "(minutes for a 20 GiB database, longer with more data)."
        )
    klass = changes.get("DBInstanceClass")
    if klass is not None:
        if was_multi_az:
            lines.append(
                f"Instance class {klass.before} -> {klass.after}: RDS modifies the standby, then "
                "fails over: about 1-2 minutes of dropped connections (the app reconnects)."
            )
        else:
            lines.append(
                f"Instance class {klass.before} -> {klass.after} on a single-AZ primary: the "
                "instance restarts on the new class: an outage of several minutes. To reduce it "
                "to a failover, first deploy `multi_az: true` alone, then this change."
            )
    for change in resource.changes:
        if change.impact == "interruption" and change.path not in ("DBInstanceClass",):
            lines.append(f"{change.path}: {change.reason}")
    return lines


def interruption_notes(plan: Plan, stack_name: str, base_templates: Mapping[str, Any]) -> list[str]:
    """Human notes for every interrupting change in `stack_name`, with when it happens."""
    try:
        stack = plan.stack(stack_name)
    except KeyError:
        return []
    notes: list[str] = []
    resources = base_templates.get("Resources", {})
    for resource in stack.resources:
        if resource.action != "modify":
            continue
        base_props = (resources.get(resource.logical_id) or {}).get("Properties") or {}
        if resource.type == "AWS::RDS::DBInstance":
            lines = _rds_interruption(resource, base_props)
            if lines:
                head_props = {c.path: c.after for c in resource.changes}
                merged = {**base_props, **head_props}
                when = (
                    "WHEN: immediately, while `cdk deploy` runs (the template does not set "
                    "ApplyImmediately; CloudFormation's default is true)"
                    if apply_immediately(merged)
                    else "WHEN: in the instance's next maintenance window (ApplyImmediately: false)"
                )
                notes.extend([*lines, when])
        else:
            notes.extend(
                f"{resource.logical_id}.{c.path}: {c.reason}"
                for c in resource.changes
                if c.impact == "interruption"
            )
    if not notes and stack.resources:
        notes.append("None expected: every change is applied without an interruption.")
    return notes


# ---------------------------------------------------------------------------------------------
# The shared flow of promote and resize


def evaluate(request: ChangeRequest, *, write: bool, with_nag: bool = True) -> ChangeReport:
    """Judge (and with `write`, apply) one request. Raises ChangeError / NothingToDo."""
    path, before = cc.load(request.env, request.slug, request.config_dir)
    original = cc.read_original(path)  # the write refuses if the file changes after this
    text = cc.decode_text(path, original)
    before = cc.validate_text(path, text)
    new_text = cc.edit_text(text, request.slug, request.edits, path)
    after = cc.validate_text(path, new_text)
    if after == before:
        raise cc.NothingToDo(f"{path}: {request.slug}: {request.summary}: already so")
    stack_name = cc.tenant_stack(before, request.slug)
    judgement = cc.judge(before, after, focus_stack=stack_name, with_nag=with_nag)
    plan = judgement.plan
    report = ChangeReport(
        request=request,
        path=path,
        diff=cc.unified_diff(path, text, new_text),
        plan=plan,
        nag=judgement.nag,
        cost=judgement.cost,
        cost_note=judgement.cost_note,
    )
    report.interruption = interruption_notes(plan, stack_name, judgement.base_template)
    report.refused = refusals(plan)
    if write and not report.refused:
        cc.write_atomically(path, new_text, original)
        written_bytes = cc.read_original(path)
        written = cc.validate_text(path, cc.decode_text(path, written_bytes))
        if written != after:  # pragma: no cover - would be a ruamel bug
            cc.write_atomically(path, cc.decode_text(path, original), written_bytes)
            raise cc.ChangeError(
                f"{path}: the written file does not read back as planned; restored"
            )
        report.written = True
    report.next_steps = _next_steps(request, stack_name, report)
    return report


def refusals(plan: Plan) -> list[str]:
    """Everything that makes a lifecycle change unsafe: any replacement or deletion, any blocker."""
    refused: list[str] = []
    keys: list[str] = []
    for stack in plan.stacks:
        for resource in stack.resources:
            if resource.action not in ("replace", "remove"):
                continue
            key = f"{stack.name}/{resource.logical_id}"
            keys.append(key)
            causes = [f"{c.path} ({c.reason})" for c in resource.changes if c.impact == REPLACEMENT]
            detail = f": {'; '.join(causes)}" if causes else ""
            refused.append(f"{key} ({resource.type}): {resource.action}{detail}")
    refused += [b for b in plan.blockers if not any(b.startswith(k + " ") for k in keys)]
    return refused


def _next_steps(request: ChangeRequest, stack_name: str, report: ChangeReport) -> list[str]:
    if report.refused:
        return ["Do not deploy this change: it replaces or deletes resources (see above)."]
    steps = []
    if not report.written:
        steps.append(request.rerun)
    steps += [
        f"git commit {cc.shown(report.path)} -m '{request.summary}'",
        f"{CDK} diff {stack_name}    # against the deployed stack (needs AWS credentials)",
        f"{CDK} deploy {stack_name}",
    ]
    return steps


def render(report: ChangeReport) -> str:
    request = report.request
    lines = [f"{request.verb.title()} {request.slug} in {request.env}: {request.summary}", ""]
    lines += ["Config change:", report.diff.rstrip() or "  (none)", ""]
    lines.append(render_text(report.plan))
    lines.append("")
    if report.refused:
        lines.append("REFUSED: the plan is not in place only:")
        lines.extend(f"  - {r}" for r in report.refused)
    else:
        lines.append("In place only: no resource is replaced or deleted.")
        lines.append("Expected interruption:")
        lines.extend(f"  - {n}" for n in report.interruption or ["none"])
    lines.append("")
    lines.append("Monthly cost difference:")
    lines.extend(cost_lines(report.cost, report.cost_note) or ["  (none)"])
    lines.append("")
    from constructs.compliance import DEFAULT_NAG_PACKS  # imports aws_cdk: only when rendering

    packs = ", ".join(DEFAULT_NAG_PACKS)
    if report.nag:
        lines.append(
            f"cdk-nag ({packs}) on the new configuration: {plural(len(report.nag), 'finding')}:"
        )
        lines.extend(f"  - {f}" for f in report.nag)
    else:
        lines.append(f"cdk-nag ({packs}) on the new configuration: no unacknowledged findings")
    if report.written:
        lines.append(f"Written: {cc.shown(report.path)} (validated after writing)")
    lines.append("")
    lines.append("Next:")
    lines.extend(f"  {s}" for s in report.next_steps)
    return "\n".join(lines)


def execute(request: ChangeRequest, *, write: bool, as_json: bool) -> int:
    try:
        report = evaluate(request, write=write)
    except cc.NothingToDo as exc:
        message = f"nothing to do: {exc}"
        print(json.dumps({"nothing_to_do": True, "message": message}) if as_json else message)
        return cc.EXIT_NOTHING
    except cc.ChangeError as exc:
        print(f"ops {request.verb}: {exc}", file=sys.stderr)
        return cc.EXIT_INPUT
    if as_json:
        print(json.dumps(report.to_dict(), indent=2, sort_keys=True, default=str))
    else:
        print(render(report))
    return cc.EXIT_BLOCKED if report.refused else cc.EXIT_OK


# ---------------------------------------------------------------------------------------------
# promote


def promotion_edits(restaurant: Restaurant) -> dict[str, Any]:
    """poc -> production, plus what the production tier requires of explicit settings."""
    edits: dict[str, Any] = {"tier": "production"}
    if restaurant.multi_az is False:
        edits["multi_az"] = cc.REMOVE  # production is always Multi-AZ (seed 3.1)
    if restaurant.backup_retention_days is not None and restaurant.backup_retention_days < 7:
        edits["backup_retention_days"] = 7  # production keeps at least 7 days (seed 3.1)
    return edits


def promote_request(slug: str, env: str, config_dir: Path | None = None) -> ChangeRequest:
    _, environment = cc.load(env, slug, config_dir)
    restaurant = environment.restaurant(slug)
    if restaurant.tier == "production":
        raise cc.NothingToDo(
            f"restaurant {slug!r} in {env!r} is already on the production tier "
            f"({restaurant.instance_class}, Multi-AZ)"
        )
    return ChangeRequest(
        verb="promote",
        env=env,
        slug=slug,
        edits=promotion_edits(restaurant),
        summary=f"promote {slug} to the production tier",
        rerun=f"python -m ops promote {slug} --env {env} --write",
        config_dir=config_dir,
    )


def run_request(verb: str, build: Callable[[], ChangeRequest], args: argparse.Namespace) -> int:
    """Build the change (exit 3 when there is nothing to do, 2 on bad input), then execute it."""
    try:
        request = build()
    except cc.NothingToDo as exc:
        message = f"nothing to do: {exc}"
        print(json.dumps({"nothing_to_do": True, "message": message}) if args.json else message)
        return cc.EXIT_NOTHING
    except cc.ChangeError as exc:
        print(f"ops {verb}: {exc}", file=sys.stderr)
        return cc.EXIT_INPUT
    return execute(request, write=args.write, as_json=args.json)


def run(args: argparse.Namespace) -> int:
    return run_request(
        "promote", lambda: promote_request(args.slug, args.env, args.config_dir), args
    )


def add_common_arguments(parser: argparse.ArgumentParser) -> None:
    parser.add_argument("slug", help="the restaurant's slug")
    parser.add_argument(
        "--env", required=True, help="environment name (config/environments/ENV.yaml)"
    )
    parser.add_argument(
        "--write", action="store_true", help="edit the config file (default: dry run)"
    )
    parser.add_argument("--json", action="store_true", help="machine-readable output")
    parser.add_argument("--config-dir", type=Path, help=argparse.SUPPRESS)


def register(subparsers: argparse._SubParsersAction) -> None:  # type: ignore[type-arg]
    parser = add_command(
        subparsers,
        "promote",
        "PoC -> production tier for one restaurant, judged before it is written",
        __doc__,
    )
    add_common_arguments(parser)
    parser.set_defaults(func=run)
