"""ops plan's head is the working tree as it is now, and a no-op plan is empty.

The end-to-end case runs the real thing in a throwaway git repository holding this checkout's
files: `make synth` (the CDK CLI), then `python -m ops plan --base HEAD` (the base synthesized
with `python app.py` in a temporary worktree) must print "No changes" and exit 0; after a
config change, the stale cdk.out is re-synthesized rather than used.
"""

from __future__ import annotations

import os
import shutil
import subprocess
from pathlib import Path

import pytest
from lifecycle_helpers import copy_assembly

import ops.planning.plan as plan_module
from ops.__main__ import main
from ops.assembly import staleness

PROJECT_DIR = Path(__file__).resolve().parent.parent


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


def _git(repo: Path, *args: str) -> str:
    result = subprocess.run(
        ["git", "-c", "user.email=ci@example.com", "-c", "user.name=ci", *args],
        cwd=repo,
        capture_output=True,
        text=True,
        check=True,
    )
    return result.stdout


def _clone_working_tree(target: Path) -> Path:
    """This checkout's tracked files (as they are now) in a new repository, one commit."""
    files = (
        subprocess.run(["git", "ls-files", "-z"], cwd=PROJECT_DIR, capture_output=True, check=True)
        .stdout.decode()
        .split("\0")
    )
    for name in filter(None, files):
        source = PROJECT_DIR / name
        if source.is_file():
            (target / name).parent.mkdir(parents=True, exist_ok=True)
            shutil.copy2(source, target / name)  # keeps mtimes: make sees an installed venv
    for shared in (".venv", "node_modules"):
        (target / shared).symlink_to(PROJECT_DIR / shared)
    _git(target, "init", "-q", "-b", "main")
    _git(target, "add", "-A")
    _git(target, "commit", "-q", "-m", "snapshot of the working tree")
    return target


def test_make_synth_then_plan_against_head_is_empty_and_a_change_is_seen(tmp_path: Path) -> None:
    repo = _clone_working_tree(tmp_path / "repo")
    env = {k: v for k, v in os.environ.items() if not k.startswith(("CDK_", "MAKE"))}
    synth = subprocess.run(
        ["make", "synth"], cwd=repo, env=env, capture_output=True, text=True, timeout=900
    )
    assert synth.returncode == 0, synth.stdout[-2000:] + synth.stderr[-2000:]
    assert _git(repo, "status", "--porcelain") == ""  # a clean tree: cdk.out is ignored

    python = str(repo / ".venv" / "bin" / "python")
    command = [python, "-m", "ops", "plan", "--base", "HEAD", "--no-cost"]
    plan = subprocess.run(command, cwd=repo, env=env, capture_output=True, text=True, timeout=900)
    assert plan.returncode == 0, plan.stdout + plan.stderr
    assert "No changes" in plan.stdout, plan.stdout
    assert "stale" not in plan.stderr

    # Promote a PoC restaurant in config, do not re-run make synth: the plan must show it.
    config = repo / "config" / "environments" / "dev.yaml"
    text = config.read_text()
    assert "tier: poc" in text
    config.write_text(text.replace("tier: poc", "tier: production", 1))
    changed = subprocess.run(
        [*command, "--env", "dev"], cwd=repo, env=env, capture_output=True, text=True, timeout=900
    )
    assert "cdk.out is stale" in changed.stderr, changed.stderr
    assert "chefs-kiss-dev-tenant-" in changed.stdout and "No changes" not in changed.stdout
    assert changed.returncode in (0, 1), changed.stdout + changed.stderr
