"""`python -m ops rollout --env E --base-assembly DIR`: deploy only what changed, in waves.

Compares the assembly to deploy with the one deployed last (`--base-assembly DIR`, a directory:
`make deploy` keeps it in `.deployed/<env>`, the deploy workflow as an artifact) and deploys only
the stacks the change touches (ops/planning/waves.py), each wave one or two `cdk deploy --app
ASSEMBLY --exclusively <stacks> --require-approval never --concurrency N` calls:

1. the platform, then the standby platform (disaster recovery), when changed;
2. one canary restaurant (`--canary SLUG`; default: the first production-tier restaurant the
   change touches), then its probe (`python -m ops smoke --env E --probe --restaurant SLUG`);
3. waves of growing size (`--waves 1,10%`: one restaurant, then 10% of the touched ones, then the
   rest), each followed by the probe of its restaurants and `--bake-seconds` of waiting.

A platform-only change deploys the platform and then probes the canary before it reports
success. The first failure (a deploy or a probe) stops the rollout: later waves never start, and
the command prints which restaurants have the new version and the commands that redeploy their
previous templates from the base assembly. `--all` keeps the deploy of before: every stack of the
environment in one call, then the probe of every restaurant. `--dry-run` prints the waves only;
`--diff` also runs `cdk diff --app ASSEMBLY --exclusively <those stacks>` against the account.

After a complete rollout, `--record DIR` keeps the deployed assembly (and the merged stack outputs,
`deployed-outputs.json`) as the next rollout's base; `--outputs-file` receives the outputs of every
stack of the environment, this rollout's merged over the base's (what `ops smoke` reads).

Exit codes: 0 deployed (or nothing to deploy), 1 a wave failed (rollout stopped), 2 bad input.
"""

from __future__ import annotations

import argparse
import json
import shlex
import shutil
import subprocess
import sys
import tempfile
import time
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, TextIO

from ops.assembly import AssemblyError, read_assembly
from ops.cli import add_command, add_env
from ops.planning.waves import (
    DEFAULT_WAVES,
    Rollout,
    RolloutError,
    Wave,
    parse_wave_sizes,
    rollout_between,
    rollout_everything,
)
from stacks import naming

EXIT_OK, EXIT_FAILED, EXIT_INPUT = 0, 1, 2
DEFAULT_CONCURRENCY = 10
OUTPUTS_NAME = "deployed-outputs.json"  # kept next to the recorded assembly's manifest.json


@dataclass(frozen=True)
class StepResult:
    passed: bool
    detail: str = ""
    outputs: dict[str, Any] = field(default_factory=dict)  # cdk --outputs-file, per stack


# A deploy step: (stacks) -> result; a probe step: (restaurants) -> result.
Deployer = Callable[[Sequence[str]], StepResult]
Prober = Callable[[Sequence[str]], StepResult]


def deploy_command(
    cdk: Sequence[str], assembly: Path, stacks: Sequence[str], *, concurrency: int, outputs: Path
) -> list[str]:
    """One wave's `cdk deploy`: the named stacks only (`--exclusively`: the platform is a wave of
    its own, not redeployed as a dependency of each), no prompt, concurrency bounded."""
    return [
        *cdk,
        "deploy",
        "--app",
        str(assembly),
        "--exclusively",
        *stacks,
        "--require-approval",
        "never",
        "--concurrency",
        str(concurrency),
        "--outputs-file",
        str(outputs),
    ]


def diff_command(cdk: Sequence[str], assembly: Path, stacks: Sequence[str]) -> list[str]:
    """`cdk diff` of exactly the stacks a rollout would deploy, against the account."""
    return [*cdk, "diff", "--app", str(assembly), "--exclusively", *stacks]


def cdk_deployer(
    cdk: Sequence[str], assembly: Path, *, concurrency: int, log: TextIO | None = None
) -> Deployer:
    """Deploy named stacks of the assembly with the CDK CLI; its output goes to `log` (default:
    ours), the stacks' outputs are read back from its `--outputs-file`."""

    def deploy(stacks: Sequence[str]) -> StepResult:
        with tempfile.TemporaryDirectory(prefix="ops-rollout-") as tmp:
            outputs_file = Path(tmp) / "outputs.json"
            command = deploy_command(
                cdk, assembly, stacks, concurrency=concurrency, outputs=outputs_file
            )
            try:
                done = _run(command, log)
            except OSError as exc:
                return StepResult(False, f"cannot run {cdk[0]}: {exc}")
            outputs = _read_json(outputs_file)
            if done.returncode != 0:
                return StepResult(False, f"cdk deploy exited {done.returncode}", outputs)
            return StepResult(True, "deployed", outputs)

    return deploy


def command_prober(
    command: Sequence[str],
    environment: str,
    *,
    extra: Sequence[str] = (),
    log: TextIO | None = None,
) -> Prober:
    """The probe of some restaurants: `<command> --env E --restaurant S ... <extra>`."""

    def probe(restaurants: Sequence[str]) -> StepResult:
        argv = [*command, "--env", environment]
        for slug in restaurants:
            argv += ["--restaurant", slug]
        try:
            done = _run([*argv, *extra], log)
        except OSError as exc:
            return StepResult(False, f"cannot run {command[0]}: {exc}")
        if done.returncode != 0:
            return StepResult(False, f"probe exited {done.returncode}")
        return StepResult(True, "passed")

    return probe


def _run(argv: Sequence[str], log: TextIO | None) -> subprocess.CompletedProcess[str]:
    """Run a step; its output goes to `log` (None: our stdout), copied when `log` is no file."""
    if log is None:
        return subprocess.run(argv, check=False, text=True)
    try:
        log.fileno()
    except (AttributeError, OSError, ValueError):  # io.UnsupportedOperation is an OSError
        done = subprocess.run(argv, check=False, text=True, capture_output=True)
        log.write(done.stdout + done.stderr)
        return done
    return subprocess.run(argv, check=False, text=True, stdout=log, stderr=log)


def _read_json(path: Path) -> dict[str, Any]:
    try:
        data = json.loads(path.read_text(encoding="utf-8"))
    except (OSError, json.JSONDecodeError):
        return {}
    return data if isinstance(data, dict) else {}


# ---------------------------------------------------------------------------------------------
# Running the waves


@dataclass
class Outcome:
    rollout: Rollout
    completed: list[Wave] = field(default_factory=list)
    failed: Wave | None = None
    failed_step: str = ""  # "deploy" or "probe"
    failure: str = ""
    outputs: dict[str, Any] = field(default_factory=dict)

    @property
    def passed(self) -> bool:
        return self.failed is None

    @property
    def started(self) -> list[Wave]:
        """Waves whose stacks may have the new version (the failed one included)."""
        return self.completed + ([self.failed] if self.failed else [])

    @property
    def updated(self) -> list[str]:
        """Restaurants that certainly have the new version: the completed waves', and the failed
        wave's when its deploy succeeded and its probe failed."""
        waves = self.completed + (
            [self.failed] if self.failed and self.failed_step == "probe" else []
        )
        return [slug for wave in waves for slug in wave.restaurants]

    @property
    def not_started(self) -> list[Wave]:
        started = {id(w) for w in self.started}
        return [w for w in self.rollout.waves if id(w) not in started]


def run_waves(
    rollout: Rollout,
    deploy: Deployer,
    probe: Prober,
    *,
    bake_seconds: float = 0.0,
    outputs: dict[str, Any] | None = None,
    say: Callable[[str], None] = print,
    sleep: Callable[[float], None] = time.sleep,
) -> Outcome:
    """Each wave: its deploy calls in order, then the probe of its restaurants, then the bake
    time (not after the last wave); the first failure ends the rollout."""
    outcome = Outcome(rollout, outputs=dict(outputs or {}))
    for index, wave in enumerate(rollout.waves):
        say(f"== {wave.name}: {_wave_summary(wave)}")
        for phase in wave.phases:
            say(f"   cdk deploy {' '.join(phase)}")
            result = deploy(phase)
            outcome.outputs.update(result.outputs)
            if not result.passed:
                outcome.failed, outcome.failed_step = wave, "deploy"
                outcome.failure = f"deploy of {', '.join(phase)} failed: {result.detail}"
                return outcome
        if wave.probe:
            say(f"   probe {' '.join(wave.probe)}")
            result = probe(wave.probe)
            if not result.passed:
                outcome.failed, outcome.failed_step = wave, "probe"
                outcome.failure = f"probe of {', '.join(wave.probe)} failed: {result.detail}"
                return outcome
        outcome.completed.append(wave)
        if bake_seconds > 0 and index < len(rollout.waves) - 1:
            say(f"   baking {bake_seconds:g} s before the next wave")
            sleep(bake_seconds)
    return outcome


def _wave_summary(wave: Wave) -> str:
    restaurants = f"{len(wave.restaurants)} restaurant(s)" if wave.restaurants else ""
    stacks = f"{len(wave.stacks)} stack(s)"
    probe = f"probe {len(wave.probe)}" if wave.probe else "no probe"
    return ", ".join(x for x in (stacks, restaurants, probe) if x)


def rollback_commands(
    outcome: Outcome, base_dir: Path | None, base_stacks: Sequence[str], concurrency: int
) -> list[str]:
    """Redeploy the previous templates of every stack that may have the new version, the
    restaurants first (they import from the platform), then the shared stacks in reverse."""
    if base_dir is None:
        return []
    previous = set(base_stacks)
    started = [name for wave in outcome.started for name in wave.stacks if name in previous]
    parsed = [naming.parse_stack_name(name) for name in started]
    restaurants = [p.name for p in parsed if p and p.kind in (naming.TENANT, naming.STANDBY)]
    shared = [p.name for p in parsed if p and p.kind not in (naming.TENANT, naming.STANDBY)]
    app = shlex.quote(str(base_dir))
    commands = []
    if restaurants:
        commands.append(
            f"cdk deploy --app {app} --exclusively {' '.join(restaurants)} "
            f"--require-approval never --concurrency {concurrency}"
        )
    for name in reversed(shared):
        commands.append(f"cdk deploy --app {app} --exclusively {name} --require-approval never")
    return commands


def failure_report(
    outcome: Outcome, base_dir: Path | None, base_stacks: Sequence[str], concurrency: int
) -> list[str]:
    """What a person needs when a rollout stops: where, who has the new version, how back."""
    rollout = outcome.rollout
    failed = outcome.failed
    assert failed is not None
    lines = [f"ROLLOUT STOPPED in {rollout.environment}, {failed.name}: {outcome.failure}"]
    probed = outcome.failed_step == "probe"
    done_waves = outcome.completed + ([failed] if probed else [])
    shared = [n for w in done_waves for n in w.stacks if n not in _restaurant_stacks(w)]
    lines.append(
        "Have the new version"
        + (f" (the completed waves and {failed.name}, deployed but failing its probe):" if probed
           else " (the completed waves):")
    )  # fmt: skip
    lines.append(f"  shared stacks: {', '.join(shared) or 'none'}")
    lines.append(f"  restaurants ({len(outcome.updated)}): {', '.join(outcome.updated) or 'none'}")
    if not probed and failed.stacks:
        shown = ", ".join(failed.restaurants or failed.stacks)
        lines.append(
            f"May have it ({failed.name} failed to deploy: CloudFormation rolled back the stack "
            f"that failed; others of the wave may have completed): {shown}"
        )
    later = outcome.not_started
    if later:
        count = sum(len(w.restaurants) for w in later)
        names = ", ".join(f"{w.name} ({len(w.restaurants)})" for w in later)
        lines.append(f"Not started: {names}: {count} restaurant(s) keep the previous version")
    commands = rollback_commands(outcome, base_dir, base_stacks, concurrency)
    if commands:
        lines.append("Roll back (redeploy the previous assembly's templates of those stacks):")
        lines.extend(f"  {c}" for c in commands)
    elif base_dir is None:
        lines.append(
            "Roll back: redeploy the assembly deployed before (no --base-assembly was given)"
        )
    added = [n for w in outcome.started for n in w.stacks if n not in set(base_stacks)]
    if base_dir is not None and added:
        lines.append(
            f"New in this change (no previous version to go back to: fix forward, or destroy "
            f"after offboarding): {', '.join(added)}"
        )
    lines.append(
        "Or fix forward: correct the change and run the rollout again; stacks that already "
        "have the new version deploy as no-ops."
    )
    return lines


def _restaurant_stacks(wave: Wave) -> set[str]:
    return {
        name
        for name in wave.stacks
        if (p := naming.parse_stack_name(name)) and p.kind in (naming.TENANT, naming.STANDBY)
    }


def render_plan(rollout: Rollout) -> list[str]:
    if not rollout.waves:
        return [f"Nothing to deploy in {rollout.environment}: no stack changed."]
    what = "every stack (--all)" if rollout.everything else "the stacks this change touches"
    lines = [
        f"Rollout of {rollout.environment}: {len(rollout.stacks)} stack(s), "
        f"{len(rollout.restaurants)} restaurant(s), {what}; canary: {rollout.canary or '-'}"
    ]
    for wave in rollout.waves:
        if wave.restaurants:
            shown = ", ".join(wave.restaurants)
            if len(wave.restaurants) > 12:
                shown = f"{', '.join(wave.restaurants[:6])} ... {wave.restaurants[-1]}"
            lines.append(f"  {wave.name:<9} {_wave_summary(wave)}: {shown}")
        else:
            probe = f"; then probe {', '.join(wave.probe)}" if wave.probe else ""
            lines.append(f"  {wave.name:<9} {', '.join(wave.stacks)}{probe}")
    lines.extend(f"  note: {note}" for note in rollout.notes)
    if rollout.removed:
        lines.append(f"  not deployed (removed): {', '.join(rollout.removed)}")
    return lines


# ---------------------------------------------------------------------------------------------
# Command


def record(assembly: Path, outputs: dict[str, Any], target: Path) -> None:
    """Keep the deployed assembly as the next base: copied beside, then swapped in whole."""
    target.parent.mkdir(parents=True, exist_ok=True)
    staging = Path(tempfile.mkdtemp(prefix=f".{target.name}-", dir=target.parent))
    copy = staging / "assembly"
    shutil.copytree(assembly, copy, symlinks=True)
    (copy / OUTPUTS_NAME).write_text(json.dumps(outputs, indent=2, sort_keys=True) + "\n")
    old = staging / "old"
    if target.exists():
        target.rename(old)
    copy.rename(target)
    shutil.rmtree(staging, ignore_errors=True)


def plan_from_args(args: argparse.Namespace) -> tuple[Rollout, Path | None, list[str]]:
    """(rollout, base directory or None, the base's stack names); RolloutError/AssemblyError."""
    head = read_assembly(Path(args.assembly))
    if args.all:
        return rollout_everything(head, args.env), None, []
    base_dir = Path(args.base_assembly)
    if not base_dir.is_dir():
        raise RolloutError(
            f"--base-assembly {base_dir}: no such directory (the assembly deployed last; "
            "give --all to deploy every stack of the environment instead)"
        )
    base = read_assembly(base_dir)
    rollout = rollout_between(base, head, args.env, canary=args.canary, waves=args.waves)
    return rollout, base_dir, list(base)


def run(
    args: argparse.Namespace,
    *,
    deployer: Deployer | None = None,
    prober: Prober | None = None,
    sleep: Callable[[float], None] | None = None,
) -> int:
    try:
        parse_wave_sizes(args.waves)
        if args.concurrency < 1:
            raise RolloutError("--concurrency: allowed: 1 or more")
        rollout, base_dir, base_stacks = plan_from_args(args)
    except (RolloutError, AssemblyError) as exc:
        print(f"ops rollout: {exc}", file=sys.stderr)
        return EXIT_INPUT
    # With --json, stdout carries one JSON document: progress and the CLI's output go to stderr.
    out = sys.stderr if args.json else sys.stdout

    def say(text: str) -> None:
        print(text, file=out, flush=True)

    for line in render_plan(rollout):
        say(line)
    if args.diff:
        if not rollout.stacks:
            return EXIT_OK
        command = diff_command(shlex.split(args.cdk), Path(args.assembly), rollout.stacks)
        try:
            done = _run(command, sys.stderr if args.json else None)
        except OSError as exc:
            print(f"ops rollout: cannot run {command[0]}: {exc}", file=sys.stderr)
            return EXIT_INPUT
        return EXIT_OK if done.returncode == 0 else EXIT_FAILED
    if args.dry_run:
        if args.json:
            print(json.dumps({"rollout": rollout.to_dict()}, indent=2))
        return EXIT_OK
    log = sys.stderr if args.json else None
    deploy = deployer or cdk_deployer(
        shlex.split(args.cdk), Path(args.assembly), concurrency=args.concurrency, log=log
    )
    extra = ["--rds-ca-bundle", args.rds_ca_bundle] if args.rds_ca_bundle else []
    probe = prober or command_prober(
        shlex.split(args.probe_command), args.env, extra=extra, log=log
    )
    previous = _read_json(base_dir / OUTPUTS_NAME) if base_dir is not None else {}
    outcome = run_waves(
        rollout, deploy, probe, bake_seconds=args.bake_seconds, outputs=previous, say=say,
        sleep=sleep or time.sleep,
    )  # fmt: skip
    if args.outputs_file:
        Path(args.outputs_file).write_text(json.dumps(outcome.outputs, indent=2, sort_keys=True))
    report: list[str] = []
    if outcome.passed:
        say(
            f"Rollout of {rollout.environment} complete: {len(rollout.stacks)} stack(s), "
            f"{len(rollout.restaurants)} restaurant(s) in {len(rollout.waves)} wave(s)"
        )
        if args.record:
            record(Path(args.assembly), outcome.outputs, Path(args.record))
            say(f"recorded the deployed assembly in {args.record} (the next rollout's base)")
    else:
        report = failure_report(outcome, base_dir, base_stacks, args.concurrency)
        for line in report:
            print(line, file=out if args.json else sys.stdout)
    if args.json:
        result = {
            "passed": outcome.passed,
            "completed_waves": [w.name for w in outcome.completed],
            "failed_wave": outcome.failed.name if outcome.failed else None,
            "failure": outcome.failure or None,
            "failed_step": outcome.failed_step or None,
            "restaurants_updated": outcome.updated,
            "not_started": [w.name for w in outcome.not_started],
            "rollback": rollback_commands(outcome, base_dir, base_stacks, args.concurrency)
            if not outcome.passed
            else [],
        }
        print(json.dumps({"rollout": rollout.to_dict(), "result": result}, indent=2))
    return EXIT_OK if outcome.passed else EXIT_FAILED


def register(subparsers: argparse._SubParsersAction) -> None:  # type: ignore[type-arg]
    parser = add_command(
        subparsers,
        "rollout",
        "deploy only what changed: platform, a canary restaurant, then waves, probed",
        __doc__,
    )
    add_env(parser)
    parser.add_argument(
        "--assembly",
        default="cdk.out",
        help="the synthesized assembly to deploy (default: cdk.out)",
    )
    base = parser.add_mutually_exclusive_group(required=True)
    base.add_argument(
        "--base-assembly", metavar="DIR", help="the assembly deployed last (what to compare with)"
    )
    base.add_argument(
        "--all",
        action="store_true",
        help="every stack of the environment in one deploy, then probe every restaurant",
    )
    parser.add_argument("--canary", metavar="SLUG", help="the canary restaurant (default: the "
                        "first production-tier restaurant the change touches)")  # fmt: skip
    parser.add_argument(
        "--waves",
        default=",".join(DEFAULT_WAVES),
        help="sizes of the waves after the canary: counts or percentages of the touched "
        "restaurants; the rest is the last wave (default: 1,10%%)",
    )
    parser.add_argument(
        "--bake-seconds", type=float, default=0.0, help="wait after each wave's probe (default: 0)"
    )
    parser.add_argument(
        "--concurrency",
        type=int,
        default=DEFAULT_CONCURRENCY,
        help=f"stacks deployed at once within a wave (default: {DEFAULT_CONCURRENCY})",
    )
    parser.add_argument("--outputs-file", help="write every deployed stack's outputs here (JSON)")
    parser.add_argument(
        "--record", metavar="DIR", help="after success, keep the assembly here as the next base"
    )
    parser.add_argument(
        "--rds-ca-bundle", metavar="FILE", help="passed to the probe (ops smoke --rds-ca-bundle)"
    )
    parser.add_argument("--cdk", default="cdk", help="the CDK CLI command (default: cdk)")
    parser.add_argument(
        "--probe-command",
        default=f"{shlex.quote(sys.executable)} -m ops smoke --probe",
        help="the probe; --env and --restaurant SLUG... are appended (default: ops smoke --probe)",
    )
    parser.add_argument("--dry-run", action="store_true", help="print the waves, deploy nothing")
    parser.add_argument(
        "--diff",
        action="store_true",
        help="print the waves, then `cdk diff` the stacks they would deploy (needs credentials)",
    )
    parser.add_argument("--json", action="store_true", help="machine-readable output")
    parser.set_defaults(func=run)
