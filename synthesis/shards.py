"""A large app synthesized by several processes, merged into one cloud assembly.

One jsii kernel runs one construct call at a time, and the Python process waits on each: one
synthesis keeps about one core busy. Restaurants are independent of each other, so the app's
restaurants are cut into contiguous shards and each shard is synthesized by its own process
(`python -m synthesis.shards`, its own kernel): every shard builds every platform stack (the
restaurants' stacks reference them) and the tenant and standby stacks of its restaurants.
`synthesis/merge.py` then makes the one assembly a single process would have written: the
templates are byte-identical (tests/test_synthesis.py holds that), and the CDK CLI reads it as
usual.

A shard costs a process, a kernel and its platforms. Two kernels synthesizing at once on a
2-core machine slowed each other while each one's garbage collector ran on both cores; with one
collector thread and one CloudFormation Validate thread per shard (`_environment`), two shards
synthesize 100 restaurants in a median 13.8 s against 16.0 s for one process (six pairs), and
1,000 in well under half the one-process time (docs/scale.md). So an app is sharded from
`RESTAURANTS_PER_SHARD` restaurants per process, one process per core at most; a smaller one is
synthesized in this process, as before.
`CHEFS_KISS_SYNTH_WORKERS=N` sets the number of processes (1: never shard).
"""

from __future__ import annotations

import argparse
import os
import pickle
import shutil
import subprocess
import sys
import tempfile
import time
from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING, Any

from stacks import naming
from synthesis.kernel import NODE_FLAGS, VALIDATE_THREADS, as_cdk_synth, use_direct_kernel
from synthesis.merge import MergeError, merge_assemblies

if TYPE_CHECKING:
    from config.schema import EnvironmentConfig

RESTAURANTS_PER_SHARD = 50
WORKERS_VARIABLE = "CHEFS_KISS_SYNTH_WORKERS"
PROJECT_DIR = Path(__file__).resolve().parent.parent


class SynthesisError(RuntimeError):
    """A shard failed: its message (a construct error, cdk-nag findings) as the app reports it."""


class WorkersSettingError(SynthesisError):
    """CHEFS_KISS_SYNTH_WORKERS is not a number of processes."""


@dataclass(frozen=True)
class Shard:
    """Shard `index` of `count`: the restaurants at positions [start, stop) of the app's order
    (environments in order, each environment's restaurants in config order)."""

    index: int
    count: int
    start: int
    stop: int

    def slugs(self, environments: Sequence[EnvironmentConfig]) -> dict[str, set[str]]:
        """Per environment name, the slugs of this shard's restaurants."""
        chosen: dict[str, set[str]] = {env.name: set() for env in environments}
        position = 0
        for env in environments:
            for restaurant in env.restaurants:
                if self.start <= position < self.stop:
                    chosen[env.name].add(restaurant.slug)
                position += 1
        return chosen


def plan_shards(environments: Sequence[EnvironmentConfig], count: int) -> list[Shard]:
    """`count` contiguous shards of nearly equal size (none empty)."""
    total = sum(len(env.restaurants) for env in environments)
    count = max(1, min(count, total))
    bounds = [round(index * total / count) for index in range(count + 1)]
    return [Shard(i, count, bounds[i], bounds[i + 1]) for i in range(count)]


def shard_count(environments: Sequence[EnvironmentConfig]) -> int:
    """How many processes to synthesize these environments with."""
    restaurants = sum(len(env.restaurants) for env in environments)
    configured = os.environ.get(WORKERS_VARIABLE, "").strip()
    if configured:
        try:
            workers = int(configured)
        except ValueError:
            workers = 0
        if workers < 1:
            raise WorkersSettingError(
                f"{WORKERS_VARIABLE}={configured!r}: give a whole number of processes, 1 or more"
            )
        return max(1, min(workers, restaurants))
    return max(1, min(_cores(), restaurants // RESTAURANTS_PER_SHARD))


def _cores() -> int:
    """The cores this process may run on (a container's CPU set, not the host's count)."""
    try:
        return len(os.sched_getaffinity(0))
    except AttributeError:  # not on Linux
        return os.cpu_count() or 1


def stack_order(environments: Sequence[EnvironmentConfig]) -> list[str]:
    """Every stack name in the order app.add_environment creates them."""
    order: list[str] = []
    for env in environments:
        order.append(naming.platform_stack_name(env.name))
        if env.disaster_recovery is not None:
            order.append(naming.dr_platform_stack_name(env.name))
        order += [naming.tenant_stack_name(env.name, r.slug) for r in env.restaurants]
        order += [naming.standby_stack_name(env.name, r.slug) for r in env.standby_restaurants()]
    return order


@dataclass(frozen=True)
class ShardTiming:
    """What a shard's process measured (for `ops bench`)."""

    index: int
    stacks: int
    build_s: float
    synth_s: float
    kernel_calls: int


def synthesize_in_shards(
    environments: Sequence[EnvironmentConfig],
    outdir: Path,
    *,
    count: int,
    nag_packs: Sequence[str] | None = None,
) -> list[ShardTiming]:
    """Synthesize `environments` into the empty directory `outdir` with `count` processes.

    Raises SynthesisError with the first failing shard's message; `outdir` then holds nothing
    of this synthesis."""
    shards = plan_shards(environments, count)
    work = Path(tempfile.mkdtemp(prefix=".shards-", dir=outdir.parent))
    try:
        job = work / "job.pickle"
        job.write_bytes(pickle.dumps((list(environments), nag_packs)))
        processes = []
        for shard in shards:
            part = work / f"shard-{shard.index}"
            command = [
                sys.executable, "-m", "synthesis.shards", "--job", str(job),
                "--shard", f"{shard.index},{shard.count},{shard.start},{shard.stop}",
                "--outdir", str(part), "--timing", str(work / f"timing-{shard.index}"),
            ]  # fmt: skip
            processes.append(
                subprocess.Popen(
                    command, cwd=PROJECT_DIR, stderr=subprocess.PIPE, env=_environment(len(shards))
                )
            )
        errors = [process.communicate()[1].decode(errors="replace") for process in processes]
        for shard, process, error in zip(shards, processes, errors, strict=True):
            if process.returncode != 0:
                raise SynthesisError(
                    error.strip() or f"shard {shard.index} exited {process.returncode}"
                )
        _pass_on(errors)
        parts = [work / f"shard-{shard.index}" for shard in shards]
        try:
            merge_assemblies(parts, outdir, stack_order(environments))
        except MergeError as exc:
            raise SynthesisError(f"the shards' assemblies do not merge: {exc}") from exc
        return [_timing(work / f"timing-{shard.index}") for shard in shards]
    finally:
        shutil.rmtree(work, ignore_errors=True)


def _pass_on(outputs: Sequence[str]) -> None:
    """What the shards printed (CDK warnings), each line once: every shard builds the
    platforms, so their warnings would otherwise come once per shard."""
    seen: set[str] = set()
    for output in outputs:
        for line in output.splitlines(keepends=True):
            if line not in seen:
                seen.add(line)
                sys.stderr.write(line)


def _environment(count: int) -> dict[str, str]:
    env = dict(os.environ)
    env["PYTHONPATH"] = os.pathsep.join(filter(None, [str(PROJECT_DIR), env.get("PYTHONPATH")]))
    if count > 1:  # the shards keep the cores busy: one CloudFormation Validate thread each,
        env.setdefault(VALIDATE_THREADS, "1")
        # and a garbage collector that does not take every core from the other shards
        env.setdefault(NODE_FLAGS, "--single-threaded-gc")
    return env


def _timing(path: Path) -> ShardTiming:
    index, stacks, build_s, synth_s, calls = path.read_text(encoding="utf-8").split()
    return ShardTiming(int(index), int(stacks), float(build_s), float(synth_s), int(calls))


# --------------------------------------------------------------------------- a shard's process


def _run_shard(job: Path, shard: Shard, outdir: Path, timing: Path) -> int:
    use_direct_kernel()
    as_cdk_synth()  # a shard runs as app.py does under `cdk synth`
    environments, nag_packs = pickle.loads(job.read_bytes())
    calls = count_kernel_calls()
    started = time.perf_counter()
    import aws_cdk as cdk

    from app import build_app, project_context

    try:
        app = cdk.App(context=project_context(), outdir=str(outdir))
        build_app(environments=environments, nag_packs=nag_packs, app=app, shard=shard)
        built = time.perf_counter()
        app.synth()
    except Exception as exc:  # a construct check or cdk-nag: the message, as app.py prints it
        print(str(exc), file=sys.stderr)
        return 1
    synthesized = time.perf_counter()
    stacks = len(list(outdir.glob("*.template.json")))
    timing.write_text(
        f"{shard.index} {stacks} {built - started:.3f} {synthesized - built:.3f} {calls()}",
        encoding="utf-8",
    )
    return 0


def count_kernel_calls() -> Any:
    """A function returning how many requests this process sent to its jsii kernel (0 if a
    jsii release moved the client's `send`)."""
    count = [0]
    try:
        from jsii._kernel.providers import process
    except ImportError:
        return lambda: 0
    node_process = getattr(process, "_NodeProcess", None)
    original = getattr(node_process, "send", None)
    if node_process is None or original is None:
        return lambda: 0

    def send(self: Any, request: Any, response_type: Any) -> Any:
        count[0] += 1
        return original(self, request, response_type)

    node_process.send = send
    return lambda: count[0]


def main(argv: list[str]) -> int:
    parser = argparse.ArgumentParser(prog="python -m synthesis.shards")
    parser.add_argument("--job", type=Path, required=True)
    parser.add_argument("--shard", required=True, help="index,count,start,stop")
    parser.add_argument("--outdir", type=Path, required=True)
    parser.add_argument("--timing", type=Path, required=True)
    args = parser.parse_args(argv)
    index, count, start, stop = (int(part) for part in args.shard.split(","))
    return _run_shard(args.job, Shard(index, count, start, stop), args.outdir, args.timing)


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
