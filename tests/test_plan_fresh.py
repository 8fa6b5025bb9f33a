"""ops plan's head is the working tree as it is now, and a no-op plan is empty.

The end-to-end case runs the real thing in a throwaway git repository holding this checkout's
files (the dev environment only, to keep each synthesis short): `make synth` (the CDK CLI), then
`python -m ops plan --base HEAD` (the base synthesized with `python app.py` in a temporary
worktree) must print "No changes" and exit 0; after a config change, the stale cdk.out is
re-synthesized rather than used, and the base of the same commit (kept in cdk.out.base) is reused.
"""

from __future__ import annotations

import json
import os
import subprocess
from pathlib import Path

import pytest
from conftest import clone_project
from lifecycle_helpers import copy_assembly

import ops.planning.plan as plan_module
from ops.__main__ import main
from ops.assembly import staleness
from synthesis.kernel import VALIDATE_TRACE


def _fake_project(root: Path, assembly: Path) -> Path:
    (root / "config" / "environments").mkdir(parents=True)
    (root / "app.py").write_text("# app\n")
    config = root / "config" / "environments" / "dev.yaml"
    config.write_text("name: dev\n")
    copy_assembly(assembly, root / "cdk.out")
    old = (root / "cdk.out" / "manifest.json").stat().st_mtime - 100
    for path in (root / "app.py", config, config.parent, config.parent.parent):
        os.utime(path, (old, old))
    return config


def test_staleness_names_the_newer_source(example_cdk_out: Path, tmp_path: Path) -> None:
    config = _fake_project(tmp_path, example_cdk_out)
    assert staleness(tmp_path / "cdk.out", tmp_path) is None
    config.write_text("name: dev\nrestaurants: []\n")
    reason = staleness(tmp_path / "cdk.out", tmp_path)
    assert reason is not None and "config/environments/dev.yaml" in reason


def test_a_deleted_config_file_makes_cdk_out_stale(example_cdk_out: Path, tmp_path: Path) -> None:
    config = _fake_project(tmp_path, example_cdk_out)
    config.unlink()
    reason = staleness(tmp_path / "cdk.out", tmp_path)
    assert reason is not None and "config/environments" in reason


@pytest.fixture
def fake_project(
    example_cdk_out: Path, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> tuple[Path, list[Path]]:
    """A project whose cdk.out is stale; synthesis replaced by a copy (recorded)."""
    config = _fake_project(tmp_path, example_cdk_out)
    config.write_text("name: dev\n# promoted\n")
    calls: list[Path] = []

    def fake_synthesize(source: Path, outdir: Path, environments: object = ()) -> Path:
        calls.append(source)
        return copy_assembly(example_cdk_out, outdir)

    monkeypatch.setattr(plan_module, "PROJECT_DIR", tmp_path)
    monkeypatch.setattr(plan_module, "synthesize", fake_synthesize)
    monkeypatch.chdir(tmp_path)
    return tmp_path, calls


def test_a_stale_cdk_out_is_resynthesized_not_used(
    fake_project: tuple[Path, list[Path]],
    example_cdk_out: Path,
    capsys: pytest.CaptureFixture[str],
) -> None:
    root, calls = fake_project
    assert main(["plan", "--base", str(example_cdk_out), "--no-cost"]) == 0
    assert calls == [root]
    assert "cdk.out is stale" in capsys.readouterr().err


def test_a_stale_cdk_out_is_refused_with_no_resynth(
    fake_project: tuple[Path, list[Path]],
    example_cdk_out: Path,
    capsys: pytest.CaptureFixture[str],
) -> None:
    _, calls = fake_project
    assert main(["plan", "--base", str(example_cdk_out), "--no-resynth"]) == 2
    err = capsys.readouterr().err
    assert "cdk.out is stale" in err and "dev.yaml" in err and calls == []


def test_an_explicit_assembly_is_honoured_with_a_warning(
    fake_project: tuple[Path, list[Path]],
    example_cdk_out: Path,
    capsys: pytest.CaptureFixture[str],
) -> None:
    _, calls = fake_project
    code = main(["plan", "--base", str(example_cdk_out), "--assembly", "cdk.out", "--no-cost"])
    assert code == 0 and calls == []
    captured = capsys.readouterr()
    assert "may be stale" in captured.err and "Plan:" in captured.out


def test_a_fresh_cdk_out_is_used_as_is(
    example_cdk_out: Path, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    _fake_project(tmp_path, example_cdk_out)
    monkeypatch.setattr(plan_module, "PROJECT_DIR", tmp_path)
    monkeypatch.chdir(tmp_path)

    def no_synth(*_: object) -> Path:
        raise AssertionError("a fresh cdk.out must not be re-synthesized")

    monkeypatch.setattr(plan_module, "synthesize", no_synth)
    with plan_module.head_assembly(None) as (directory, label):
        assert directory == Path("cdk.out") and label == "cdk.out"


@pytest.mark.slow
def test_make_synth_then_plan_against_head_is_empty_and_a_change_is_seen(tmp_path: Path) -> None:
    # The dev environment alone: the smallest config that has a PoC restaurant to promote.
    repo = clone_project(tmp_path / "repo", environments=["dev"])
    env = {k: v for k, v in os.environ.items() if not k.startswith(("CDK_", "MAKE"))}
    env[VALIDATE_TRACE] = str(tmp_path / "validations.jsonl")
    synth = subprocess.run(
        ["make", "synth"], cwd=repo, env=env, capture_output=True, text=True, timeout=900
    )
    assert synth.returncode == 0, synth.stdout[-2000:] + synth.stderr[-2000:]
    # `cdk synth` validated every template in the launcher's threads, started with the kernel,
    # each template handed to them as its stack was written (synthesis/cfn_validate_pool.js).
    templates = len(list((repo / "cdk.out").glob("*.template.json")))
    (line,) = (tmp_path / "validations.jsonl").read_text(encoding="utf-8").splitlines()
    assert json.loads(line) == {
        "threads": min(2, len(os.sched_getaffinity(0))),  # one per core, at most two
        "started": "early",
        "templates": templates,
        "early": templates,
    }  # fmt: skip
    del env[VALIDATE_TRACE]
    status = subprocess.run(["git", "status", "--porcelain"], cwd=repo, capture_output=True)
    assert status.stdout == b""  # a clean tree: cdk.out is ignored

    # The plans' syntheses (HEAD's base in a worktree, then the edited tree) skip the built-in
    # CloudFormation validation, as every subprocess synthesis of the suite does (conftest.py):
    # it changes no template, and `make synth` above is this test's validated synthesis.
    env = {**env, "CDK_VALIDATION": "false"}
    python = str(repo / ".venv" / "bin" / "python")
    command = [python, "-m", "ops", "plan", "--base", "HEAD", "--no-cost"]
    plan = subprocess.run(command, cwd=repo, env=env, capture_output=True, text=True, timeout=900)
    assert plan.returncode == 0, plan.stdout + plan.stderr
    assert "No changes" in plan.stdout, plan.stdout
    assert "stale" not in plan.stderr
    assert (repo / "cdk.out.base" / ".source-commit").is_file()  # the base, kept for next time

    # Promote a PoC restaurant in config, do not re-run make synth: the plan must show it.
    config = repo / "config" / "environments" / "dev.yaml"
    text = config.read_text()
    assert "tier: poc" in text
    config.write_text(text.replace("tier: poc", "tier: production", 1))
    changed = subprocess.run(
        [*command, "--env", "dev"], cwd=repo, env=env, capture_output=True, text=True, timeout=900
    )
    assert "cdk.out is stale" in changed.stderr, changed.stderr
    # HEAD is the commit the first plan synthesized: its base is reused, not synthesized again.
    assert "HEAD: reusing cdk.out.base (synthesized from " in changed.stderr, changed.stderr
    assert "chefs-kiss-dev-tenant-" in changed.stdout and "No changes" not in changed.stdout
    assert changed.returncode in (0, 1), changed.stdout + changed.stderr
