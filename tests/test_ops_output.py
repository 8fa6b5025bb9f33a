"""What a person sees from `python -m ops` and the app: the small things that make a tool finished.

The tests about the command line itself (no command, a closed pipe, no venv, the app under the
CDK CLI) run the real command as a subprocess, as a shell would. The ones about what a command
prints call the same entry point, `ops.__main__.main`, in this process (`ops_here`): the same
parser, code and output, without a Python start and the imports each time.
"""

from __future__ import annotations

import contextlib
import io
import json
import os
import re
import shutil
import subprocess
import sys
from pathlib import Path

import pytest

from ops.__main__ import build_parser, main

PROJECT_DIR = Path(__file__).resolve().parent.parent


def ops(
    *args: str, python: tuple[str, ...] = (sys.executable,)
) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [*python, "-m", "ops", *args],
        capture_output=True, text=True, cwd=PROJECT_DIR, timeout=300,
    )  # fmt: skip


def ops_here(*args: str) -> subprocess.CompletedProcess[str]:
    """`python -m ops ARGS` run in this process from the project directory, as `ops` runs it
    there: the exit code and what it printed. Use with the `in_project` fixture."""
    out, err = io.StringIO(), io.StringIO()
    with contextlib.redirect_stdout(out), contextlib.redirect_stderr(err):
        try:
            code = main(list(args))
        except SystemExit as exc:  # argparse's errors, as `sys.exit(main())` ends
            code = exc.code if isinstance(exc.code, int) else 1
    return subprocess.CompletedProcess(
        ["python", "-m", "ops", *args], code, out.getvalue(), err.getvalue()
    )


@pytest.fixture
def in_project(monkeypatch: pytest.MonkeyPatch) -> None:
    """The working directory `ops` runs in (relative paths in its messages)."""
    monkeypatch.chdir(PROJECT_DIR)


def test_ops_alone_lists_every_command() -> None:
    result = ops()
    assert result.returncode == 0, result.stderr
    action = next(a for a in build_parser()._actions if a.dest == "command")
    commands = set(action.choices or {})  # type: ignore[arg-type]
    assert {"cost", "plan", "preflight", "deploy-check", "smoke"} <= commands
    for command in commands:
        assert re.search(rf"^\s+{re.escape(command)}\b", result.stdout, re.MULTILINE), command
    assert "<command> --help" in result.stdout


def test_output_piped_into_head_ends_without_a_traceback(example_cdk_out: Path) -> None:
    """79 kB of JSON through a pipe whose reader stops after 100 bytes: the writer gets EPIPE."""
    command = (
        f"set -o pipefail; {sys.executable} -m ops cost --env prod --lines --json "
        f"--assembly {example_cdk_out} | head -c 100 >/dev/null"
    )
    result = subprocess.run(
        ["bash", "-c", command], capture_output=True, text=True, cwd=PROJECT_DIR, timeout=300
    )
    assert "Traceback" not in result.stderr and "BrokenPipeError" not in result.stderr
    assert result.returncode == 141, result.stderr  # 128 + SIGPIPE, as a killed writer reports


def test_without_the_venv_it_says_what_to_do() -> None:
    """`-S` leaves site-packages (and the venv) out, like a system Python without the packages."""
    result = ops("plan", "--help", python=(sys.executable, "-S"))
    assert result.returncode == 2
    assert "Traceback" not in result.stderr
    assert "source .venv/bin/activate" in result.stderr
    assert ".venv/bin/python -m ops plan --help" in result.stderr


def test_preflight_folds_the_ok_rows_and_lists_known_environments(
    example_cdk_out: Path, in_project: None
) -> None:
    compact = ops_here("preflight", "--env", "prod", "--assembly", str(example_cdk_out))
    full = ops_here("preflight", "--env", "prod", "--assembly", str(example_cdk_out), "--verbose")
    assert compact.returncode == full.returncode == 0, compact.stderr
    ok_rows = [line for line in full.stdout.splitlines() if line.endswith("  ok")]
    assert ok_rows and not any(line.endswith("  ok") for line in compact.stdout.splitlines())
    assert f"ok: {len(ok_rows)} checks within limits (--verbose lists them)" in compact.stdout
    assert len(compact.stdout.splitlines()) < 12
    assert re.search(r"summary: \d+ errors?, \d+ warnings?, \d+ notes?$", compact.stdout)

    unknown = ops_here("preflight", "--env", "qa", "--assembly", str(example_cdk_out))
    assert unknown.returncode == 2
    assert unknown.stderr.strip() == (
        "preflight: --env qa: no config/environments/qa.yaml "
        "(known environments: dev, prod, staging)"
    )


def test_cost_lines_wrap_at_words(example_cdk_out: Path, in_project: None) -> None:
    text = ops_here("cost", "--env", "prod", "--lines", "--assembly", str(example_cdk_out))
    data = ops_here("cost", "--env", "prod", "--json", "--assembly", str(example_cdk_out))
    assert text.returncode == data.returncode == 0, text.stderr
    words = set(text.stdout.split())
    report = json.loads(data.stdout)
    items = [line["item"] for stack in report["stacks"] for line in stack["lines"]]
    assert items
    for item in items:
        for word in item.split():
            assert word in words, f"{word!r} of {item!r} was cut"
    widest = max(len(line) for line in text.stdout.splitlines())
    assert widest <= 160, widest


def test_one_tenant_is_singular(example_cdk_out: Path, in_project: None) -> None:
    result = ops_here("cost", "--env", "staging", "--assembly", str(example_cdk_out))
    assert result.returncode == 0, result.stderr
    assert "(production profile, 1 tenant, year 1)" in result.stdout.splitlines()[0]


@pytest.mark.slow
def test_synthesizing_some_environments_leaves_no_stale_templates(
    example_cdk_out: Path, tmp_path: Path, in_project: None
) -> None:
    """`cdk synth -c environments=staging` into a cdk.out that held every environment."""
    outdir = tmp_path / "cdk.out"
    shutil.copytree(example_cdk_out, outdir)
    assert len(list(outdir.glob("chefs-kiss-prod-*.template.json"))) > 1
    env = {
        **os.environ,
        "CDK_OUTDIR": str(outdir),
        "CDK_CONTEXT_JSON": json.dumps({"environments": "staging"}),
        "PATH": f"{PROJECT_DIR / '.venv' / 'bin'}{os.pathsep}{os.environ.get('PATH', '')}",
    }
    result = subprocess.run(
        [sys.executable, "app.py"], capture_output=True, text=True, cwd=PROJECT_DIR, env=env,
        timeout=600,
    )  # fmt: skip
    assert result.returncode == 0, result.stderr
    templates = sorted(p.name for p in outdir.glob("*.template.json"))
    assert templates and all(name.startswith("chefs-kiss-staging-") for name in templates)
    assert not list(outdir.glob("chefs-kiss-prod-*"))
    cost = ops_here("cost", "--env", "prod", "--assembly", str(outdir))
    assert cost.returncode == 2 and "found: staging" in cost.stderr
