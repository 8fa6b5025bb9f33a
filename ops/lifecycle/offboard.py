"""`python -m ops offboard <slug> --env ENV`: check and print the steps that remove a restaurant.

Removing a restaurant is a config change, but the order matters and the data must survive as a
snapshot. This command checks, offline, what it can: deletion protection is off in the config,
the plan of "config without the restaurant" deletes exactly one stack (the tenant's), every
database in it leaves a final snapshot (DeletionPolicy Snapshot), every KMS key is retained (the
snapshot stays restorable), and the stack is not termination-protected. Then it prints the steps,
and where the restaurant's archived logs are and when they expire (docs/log-archive.md).

Exit codes: 0 every check passes (ready to remove), 1 a check fails (the output says which step
comes next), 2 bad input.
"""

from __future__ import annotations

import argparse
import json
import sys
from dataclasses import asdict, dataclass
from pathlib import Path
from typing import Any

from config.schema import LOG_KINDS
from ops.cli import add_command
from ops.lifecycle import config_change as cc
from ops.wording import CDK, plural
from stacks import naming


@dataclass
class Check:
    ok: bool
    text: str


def _template_checks(template: dict[str, Any]) -> list[Check]:
    """What the base template says happens to the data when the stack is deleted."""
    checks: list[Check] = []
    resources = template.get("Resources", {})
    for lid, resource in resources.items():
        kind, policy = resource.get("Type"), resource.get("DeletionPolicy", "Delete")
        props = resource.get("Properties") or {}
        if kind == "AWS::RDS::DBInstance":
            checks.append(
                Check(
                    policy == "Snapshot",
                    f"{lid}: DeletionPolicy {policy} (a final snapshot is taken on delete)"
                    if policy == "Snapshot"
                    else f"{lid}: DeletionPolicy {policy}: NO final snapshot would be taken",
                )
            )
            protected = str(props.get("DeletionProtection", "false")).lower() == "true"
            checks.append(
                Check(
                    not protected,
                    f"{lid}: DeletionProtection is "
                    + ("true: the delete would fail" if protected else "false in the template"),
                )
            )
        elif kind == "AWS::KMS::Key":
            retained = policy in ("Retain", "RetainExceptOnCreate")
            checks.append(
                Check(
                    retained,
                    f"{lid}: KMS key DeletionPolicy {policy}"
                    + (
                        " (kept: the final snapshot stays restorable)"
                        if retained
                        else ": the key would be scheduled for deletion and the snapshot lost"
                    ),
                )
            )
    return checks


def offboard(slug: str, env: str, config_dir: Path | None = None) -> dict[str, Any]:
    path, environment = cc.load(env, slug, config_dir)
    restaurant = environment.restaurant(slug)
    stack = naming.tenant_stack_name(env, slug)
    shown = cc.shown(path)
    checks: list[Check] = []

    protection_off = restaurant.deletion_protection is False
    checks.append(
        Check(
            protection_off,
            f"{shown}: {slug}: deletion_protection: false"
            if protection_off
            else f"{shown}: {slug}: deletion protection is on; set `deletion_protection: false`, "
            "review and deploy first",
        )
    )
    result: dict[str, Any] = {"restaurant": slug, "environment": env, "stack": stack}
    if protection_off:
        text = path.read_text(encoding="utf-8")
        after = cc.validate_text(path, cc.remove_restaurant_text(text, slug, path))
        judgement = cc.judge(
            environment, after, focus_stack=stack, allow=[f"{stack}/*"], with_nag=False
        )
        plan = judgement.plan
        removed = [s.name for s in plan.stacks if s.action == "remove"]
        checks.append(
            Check(
                removed == [stack],
                f"plan of the config without {slug}: deletes {', '.join(removed) or 'nothing'}"
                + ("" if removed == [stack] else f" (expected exactly {stack})"),
            )
        )
        for other in plan.changed:
            if other.name == stack:
                continue
            what = "; ".join(other.other) or plural(len(other.resources), "resource change")
            checks.append(
                Check(
                    other.impact in ("none", "no-interruption") and not other.resources,
                    f"also changes {other.name} ({what}): deploy it after step 2"
                    if not other.resources
                    else f"also changes resources of {other.name}: review `ops plan` first",
                )
            )
        checks += _template_checks(judgement.base_template)
        tenant = next((s for s in plan.stacks if s.name == stack), None)
        protected = tenant is not None and any("termination protection" in n for n in tenant.notes)
        checks.append(
            Check(
                not protected,
                f"{stack}: termination protection "
                + ("is ON: `cdk destroy` fails until it is off" if protected else "is off"),
            )
        )
        if tenant is not None:
            result["data"] = [
                f"{r.logical_id} ({r.type}): {r.outcome}" for r in tenant.resources if r.stateful
            ]
    db_id = naming.db_instance_identifier(env, slug)
    result["archived_logs"] = archive = archived_logs(environment, slug)
    prefixes = ", ".join(archive["prefixes"])
    result["checks"] = [asdict(c) for c in checks]
    result["ready"] = all(c.ok for c in checks)
    result["steps"] = [
        f"1. In {shown}, set `deletion_protection: false` for {slug}; review "
        f"(`python -m ops plan --base main`), merge, then `{CDK} deploy {stack}` "
        "(turns off deletion protection and termination protection)",
        f"2. `{CDK} destroy {stack}` while {slug} is still in the config (the CLI only "
        "destroys stacks the app still defines); CloudFormation takes the final snapshot",
        f"3. Verify it: `aws rds describe-db-snapshots --db-instance-identifier {db_id} "
        "--snapshot-type manual` (the tenant KMS key is retained, so it stays restorable)",
        f"4. Remove {slug} from {shown}; `python -m ops plan --base main --allow "
        f"'{stack}/*'` shows exactly this stack's deletion; merge",
        f"5. Only if the restaurant's logs must go before the archive expires them (e.g. an "
        f"erasure request): delete every version under {prefixes} in {archive['bucket']} "
        '(docs/log-archive.md, "Offboarding")',
    ]
    return result


def archived_logs(environment: Any, slug: str) -> dict[str, Any]:
    """Where the restaurant's logs are archived and until when (docs/log-archive.md).

    Deleting the stack removes its subscription filters, so nothing new arrives; what is in the
    archive stays until its kind's lifecycle expiration, days after each object was written.
    """
    logs = environment.logs
    owner = naming.log_archive_owner(slug)
    bucket = naming.log_archive_bucket_name(
        environment.name, environment.account or "<account>", environment.region
    )
    days = {kind: logs.archive_days(kind) for kind in LOG_KINDS}
    return {
        "bucket": bucket,
        "prefixes": [f"{kind}/{owner}/" for kind in LOG_KINDS],
        "kept_days": days,
        "text": (
            f"archived logs stay in s3://{bucket}/<kind>/{owner}/ and expire by the archive's "
            "lifecycle: "
            + ", ".join(f"{kind} {d} days" for kind, d in days.items())
            + " after each was written; the stack's deletion stops new ones"
        ),
    }


def render(result: dict[str, Any]) -> str:
    lines = [
        f"Offboard {result['restaurant']} from {result['environment']} ({result['stack']})",
        "",
    ]
    lines.append("Checks:")
    for check in result["checks"]:
        lines.append(f"  [{'ok' if check['ok'] else 'NO'}] {check['text']}")
    if result.get("data"):
        lines += ["", "What happens to the data when the stack is deleted:"]
        lines.extend(f"  - {d}" for d in result["data"])
    archived = result.get("archived_logs")
    if archived:
        lines += ["", "Archived logs:", f"  - {archived['text']}"]
    lines += ["", "Steps:"]
    lines.extend(f"  {s}" for s in result["steps"])
    lines.append("")
    lines.append(
        "Ready: the checks pass; run the steps in order."
        if result["ready"]
        else "Not ready: fix the checks marked NO (step 1 first)."
    )
    return "\n".join(lines)


def run(args: argparse.Namespace) -> int:
    try:
        result = offboard(args.slug, args.env, args.config_dir)
    except cc.ChangeError as exc:
        print(f"ops offboard: {exc}", file=sys.stderr)
        return cc.EXIT_INPUT
    print(json.dumps(result, indent=2) if args.json else render(result))
    return cc.EXIT_OK if result["ready"] else cc.EXIT_BLOCKED


def register(subparsers: argparse._SubParsersAction) -> None:  # type: ignore[type-arg]
    parser = add_command(
        subparsers,
        "offboard",
        "check and print the steps that remove a restaurant (final snapshot kept)",
        __doc__,
    )
    parser.add_argument("slug", help="the restaurant's slug")
    parser.add_argument("--env", required=True, help="environment name")
    parser.add_argument("--json", action="store_true", help="machine-readable output")
    parser.add_argument("--config-dir", type=Path, help=argparse.SUPPRESS)
    parser.set_defaults(func=run)
