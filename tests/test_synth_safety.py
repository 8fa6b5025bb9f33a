"""Issue 12 through the real CDK CLI: a failed synth leaves cdk.out exactly as it was, and an
environment with an account id synthesizes offline (no lookup, no cdk.context.json)."""

from __future__ import annotations

import json
import shutil
import subprocess
from pathlib import Path

import pytest

from tests.test_cdk_cli import (
    NAMED_STACK,
    PREVIOUS_STACK,
    SMALL,
    run_cdk,
    small_synthesis,  # noqa: F401  (the session's one successful `cdk synth`, shared)
    synth_outcome,
    tree,
)

# The real CDK CLI: one worker for this module's copy of the shared synthesis; not in
# `make test-quick`.
pytestmark = [pytest.mark.slow, pytest.mark.xdist_group("synth-safety")]


@pytest.fixture(scope="module")
def synthesized(
    small_synthesis: Path,  # noqa: F811
    tmp_path_factory: pytest.TempPathFactory,
) -> tuple[Path, dict[str, object]]:
    """A successful `cdk synth` of one small environment with an account id, offline
    (tests/test_cdk_cli.py's `small_synthesis`), copied into a directory of this module's own:
    the base of the failed syntheses below."""
    outcome = synth_outcome(small_synthesis)
    assert outcome["returncode"] == 0, str(outcome["stderr"])[-3000:]
    workdir = tmp_path_factory.mktemp("synth") / "work"
    shutil.copytree(small_synthesis, workdir, symlinks=True)
    return workdir, {"tree": tree(workdir / "cdk.out")}


def test_an_account_id_synthesizes_offline_without_a_lookup(
    synthesized: tuple[Path, dict[str, object]],
) -> None:
    workdir, _ = synthesized
    assert not (workdir / "cdk.context.json").exists(), "a context lookup was recorded"
    manifest = json.loads((workdir / "cdk.out" / "manifest.json").read_text(encoding="utf-8"))
    assert "missing" not in manifest, manifest.get("missing")
    artifact = manifest["artifacts"]["chefs-kiss-small-platform"]
    assert artifact["environment"] == "aws://123456789012/us-east-1"
    template = json.loads(
        (workdir / "cdk.out" / "chefs-kiss-small-platform.template.json").read_text("utf-8")
    )
    zones = {
        json.dumps(r["Properties"]["AvailabilityZone"], sort_keys=True)
        for r in template["Resources"].values()
        if r["Type"] == "AWS::EC2::Subnet"
    }
    assert zones == {
        json.dumps({"Fn::Select": [i, {"Fn::GetAZs": ""}]}, sort_keys=True) for i in (0, 1)
    }


# One broken environment file per kind of error: file stem -> (contents, what its message says).
BROKEN = {
    "slug": (SMALL.replace("slug: solo", 'slug: "solo\\n"'), "restaurants[0].slug"),
    "region": (
        SMALL.replace("region: us-east-1", "region: us-est-1"),
        "not a known AWS region name",
    ),
    "encoding": (b"profile: poc\nregion: caf\xe9\n", "line 2, column 12: not UTF-8"),
    "nesting": ("restaurants: " + "[" * 100_000, "nested more than 32 levels deep"),
}


@pytest.fixture(scope="module")
def failed_synth(
    synthesized: tuple[Path, dict[str, object]],
) -> subprocess.CompletedProcess[str]:
    """`cdk synth` over the successful synthesis's cdk.out, with a config directory holding
    every file of BROKEN: the loader reports each file's error (one line per file) before CDK
    starts, so one run of the CLI, whose own start-up is most of a failed run's time, shows
    them all."""
    workdir, state = synthesized
    before = tree(workdir / "cdk.out")
    assert before == state["tree"] and any(n.endswith(".template.json") for n in before)
    config = workdir / "bad"
    config.mkdir()
    for stem, (text, _) in BROKEN.items():
        path = config / f"{stem}.yaml"
        path.write_bytes(text if isinstance(text, bytes) else text.encode("utf-8"))
    return run_cdk(workdir, "synth", "--quiet", "-c", f"config_dir={config}")


@pytest.mark.parametrize("stem", sorted(BROKEN))
def test_a_failed_synth_leaves_cdk_out_as_it_was(
    synthesized: tuple[Path, dict[str, object]],
    failed_synth: subprocess.CompletedProcess[str],
    stem: str,
) -> None:
    workdir, state = synthesized
    result, expected = failed_synth, BROKEN[stem][1]
    assert result.returncode != 0
    assert result.stderr.startswith("configuration error:"), result.stderr[-3000:]
    (message,) = [line for line in result.stderr.splitlines() if f"{stem}.yaml: " in line]
    assert expected in message, message
    assert "Traceback" not in result.stderr
    assert tree(workdir / "cdk.out") == state["tree"], "cdk.out changed after a failed synth"
    leftovers = [p.name for p in workdir.iterdir() if p.name.startswith(".cdk.out")]
    assert leftovers == [], leftovers


def test_a_successful_synth_replaces_the_previous_assembly_whole(
    small_synthesis: Path,  # noqa: F811
) -> None:
    """`small_synthesis` ran over a cdk.out holding a previous assembly, of a stack the app no
    longer has: nothing of it may remain beside the new one."""
    outcome = synth_outcome(small_synthesis)
    assert outcome["returncode"] == 0, str(outcome["stderr"])[-3000:]
    names = set(tree(small_synthesis / "cdk.out"))
    assert {f"{NAMED_STACK}.template.json", "chefs-kiss-small-platform.template.json"} <= names
    assert f"{PREVIOUS_STACK}.template.json" not in names, (
        "a file of the previous assembly was left"
    )
    manifest = json.loads((small_synthesis / "cdk.out" / "manifest.json").read_text("utf-8"))
    assert PREVIOUS_STACK not in manifest["artifacts"]
    assert not any(n.endswith(".lock") for n in names)
    leftovers = [p.name for p in small_synthesis.iterdir() if p.name.startswith(".cdk.out")]
    assert leftovers == [], leftovers


def test_a_cdk_nag_finding_at_synth_leaves_cdk_out_as_it_was(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    """CDK writes the templates before its validation plugins (cdk-nag) run: without the
    temporary directory a finding would leave a new, half-checked assembly in cdk.out."""
    import aws_cdk as cdk
    from aws_cdk import aws_s3 as s3

    import app as app_module

    outdir = tmp_path / "cdk.out"
    outdir.mkdir()
    (outdir / "manifest.json").write_text('{"previous": true}', encoding="utf-8")
    before = tree(outdir)
    config = tmp_path / "envs"
    config.mkdir()
    (config / "small.yaml").write_text(SMALL, encoding="utf-8")
    real_build_app = app_module.build_app

    def build_with_a_finding(**kwargs: object) -> cdk.App:
        built = real_build_app(environments=[], app=kwargs["app"])  # type: ignore[arg-type]
        s3.Bucket(cdk.Stack(built, "chefs-kiss-probe"), "Unlogged")  # AwsSolutions-S1 etc.
        return built

    monkeypatch.setattr(app_module, "build_app", build_with_a_finding)
    monkeypatch.setenv("CDK_OUTDIR", str(outdir))
    monkeypatch.setenv("CDK_CONTEXT_JSON", json.dumps({"config_dir": str(config)}))
    assert app_module.main() == 1
    err = capsys.readouterr().err
    assert err.startswith("synthesis failed:") and "AwsSolutions-S1" in err
    assert "Traceback" not in err
    assert tree(outdir) == before
    assert sorted(p.name for p in tmp_path.iterdir()) == ["cdk.out", "envs"]
