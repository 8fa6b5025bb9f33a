"""Deploy only what changed, in waves (issue 24): the wave planner over real assemblies of 1, 10
and 100 restaurants, `ops plan --stacks-json`, and `ops rollout` against a fake `cdk` and a fake
probe (executables on PATH in a temporary directory) that fail on a chosen restaurant.

Bases are synthesized from generated environments (nag packs off); heads are either a real config
change synthesized again (one restaurant resized, the app image changed) or the base's templates
edited the way a change would edit them (a construct change on every tenant), so the 100-restaurant
assembly is synthesized once.
"""

from __future__ import annotations

import dataclasses
import json
import os
import shutil
import stat
import time
from collections.abc import Callable, Mapping
from pathlib import Path
from typing import Any

import pytest
from shared_assemblies import scale_samples

from config.generated import generated_environment
from config.schema import EnvironmentConfig
from ops.__main__ import main as ops_main
from ops.assembly import StackArtifact, read_assembly
from ops.limits import scale_model
from ops.planning.planner import plan_assemblies
from ops.planning.waves import (
    RolloutError,
    deploy_order,
    parse_wave_sizes,
    plan_rollout,
    rollout_between,
    rollout_everything,
    tier_of,
    wave_counts,
)
from stacks import naming
from tests.conftest import synth_app

# The markers of the parallel suite (issue 21): one worker builds this module's assemblies, and
# `make test-quick` leaves the module out (it synthesizes 100 restaurants).
pytestmark = [pytest.mark.slow, pytest.mark.xdist_group("rollout")]

Assembly = dict[str, StackArtifact]
MIX = {"poc": 1.0, "production": 1.0}  # r0001 poc, r0002 production, r0003 poc, ...
NEW_IMAGE = "public.ecr.aws/nginx/nginx-unprivileged:1.27-alpine"


def synth(environment: EnvironmentConfig, outdir: Path) -> Path:
    # The wave planner reads templates: without the built-in CloudFormation validation (the
    # same templates, about half the synthesis time at 100 restaurants; see synth_app).
    synth_app([environment], outdir=outdir, nag_packs=(), cfn_validation=False)
    return outdir


def tenant(env: str, number: int) -> str:
    return naming.tenant_stack_name(env, f"r{number:04d}")


# Edits a change makes to a template ------------------------------------------------------------


def _edit(artifact: StackArtifact, change: Callable[[dict[str, Any]], None]) -> StackArtifact:
    template = json.loads(json.dumps(artifact.template))
    change(template)
    return dataclasses.replace(artifact, template=template)


def _resources(template: dict[str, Any], type_name: str) -> list[dict[str, Any]]:
    return [r for r in template["Resources"].values() if r["Type"] == type_name]


def resize(template: dict[str, Any]) -> None:
    (database,) = _resources(template, "AWS::RDS::DBInstance")
    database["Properties"]["DBInstanceClass"] = "db.t4g.large"


def tag_database(template: dict[str, Any]) -> None:
    """What a tenant-construct change does to every tenant stack: here, one more tag."""
    (database,) = _resources(template, "AWS::RDS::DBInstance")
    database["Properties"]["Tags"].append({"Key": "Backup", "Value": "daily"})


def new_image(template: dict[str, Any]) -> None:
    (task,) = _resources(template, "AWS::ECS::TaskDefinition")
    task["Properties"]["ContainerDefinitions"][0]["Image"] = NEW_IMAGE


def changed(base: Assembly, edits: Mapping[str, Callable[[dict[str, Any]], None]]) -> Assembly:
    return {name: _edit(a, edits[name]) if name in edits else a for name, a in base.items()}


def write_variant(base_dir: Path, target: Path, edits: Mapping[str, Callable[..., None]]) -> Path:
    """An assembly directory: the base's manifest and templates, some templates edited."""
    target.mkdir(parents=True)
    shutil.copy2(base_dir / "manifest.json", target / "manifest.json")
    for path in base_dir.glob("*.template.json"):
        template = json.loads(path.read_text(encoding="utf-8"))
        edit = edits.get(path.name.removesuffix(".template.json"))
        if edit is not None:
            edit(template)
        (target / path.name).write_text(json.dumps(template), encoding="utf-8")
    return target


# Assemblies ------------------------------------------------------------------------------------


@pytest.fixture(scope="module")
def one(tmp_path_factory: pytest.TempPathFactory) -> tuple[Assembly, Assembly]:
    """One restaurant, and the same with a new app image (a real platform-only change)."""
    root = tmp_path_factory.mktemp("one")
    base = synth(generated_environment("one", 1), root / "base")
    head = synth(generated_environment("one", 1, app={"image": NEW_IMAGE}), root / "head")
    return read_assembly(base), read_assembly(head)


@pytest.fixture(scope="module")
def ten_dirs(tmp_path_factory: pytest.TempPathFactory) -> dict[str, Path]:
    """Ten restaurants (poc and production interleaved), and real or edited changes of them."""
    root = tmp_path_factory.mktemp("ten")
    environment = generated_environment("ten", 10, tier_mix=MIX)
    base = synth(environment, root / "base")
    restaurants = list(environment.restaurants)
    restaurants[4] = restaurants[4].model_copy(update={"size": "large"})
    resized = environment.model_copy(update={"restaurants": tuple(restaurants)})
    every_tenant = {tenant("ten", n): tag_database for n in range(1, 11)}
    return {
        "base": base,
        "resized": synth(resized, root / "resized"),  # r0005 resized in the config
        "platform": write_variant(base, root / "platform", {"chefs-kiss-ten-platform": new_image}),
        "tenants": write_variant(base, root / "tenants", every_tenant),
    }


@pytest.fixture(scope="module")
def ten(ten_dirs: dict[str, Path]) -> dict[str, Assembly]:
    return {name: read_assembly(path) for name, path in ten_dirs.items()}


@pytest.fixture(scope="module")
def hundred(tmp_path_factory: pytest.TempPathFactory) -> Assembly:
    """100 restaurants: `mixc` of the scale-doc samples (60% production tier, r0001 production,
    r0002 PoC, ...), synthesized once per session for this module and tests/test_scale_doc.py."""
    started = time.perf_counter()
    assembly = read_assembly(scale_samples(tmp_path_factory))
    print(f"\n100 restaurants ready in {time.perf_counter() - started:.1f} s")
    return assembly


# The wave planner: pure, over real assemblies ---------------------------------------------------


def test_a_no_op_change_deploys_nothing(ten: dict[str, Assembly]) -> None:
    rollout = rollout_between(ten["base"], ten["base"], "ten")
    assert rollout.waves == () and rollout.stacks == () and rollout.canary is None
    plan = plan_assemblies(ten["base"], ten["base"])
    assert deploy_order(plan, ten["base"]) == {}


def test_one_restaurant_resized_in_the_config_deploys_that_one_stack(
    ten: dict[str, Assembly],
) -> None:
    rollout = rollout_between(ten["base"], ten["resized"], "ten")
    assert rollout.stacks == (tenant("ten", 5),)
    (wave,) = rollout.waves
    assert (wave.name, wave.restaurants, wave.probe) == ("canary", ("r0005",), ("r0005",))
    assert rollout.canary == "r0005", "a poc-tier restaurant is the canary when it is all there is"


def test_a_platform_only_change_deploys_the_platform_then_probes_a_canary(
    one: tuple[Assembly, Assembly], ten: dict[str, Assembly]
) -> None:
    base, head = one  # a real config change: the app image
    rollout = rollout_between(base, head, "one")
    (wave,) = rollout.waves
    assert wave.phases == (("chefs-kiss-one-platform",),)
    assert wave.probe == ("r0001",) and rollout.canary == "r0001"
    # With restaurants of both tiers, the probe is the first production-tier one.
    rollout = rollout_between(ten["base"], ten["platform"], "ten")
    (wave,) = rollout.waves
    assert wave.stacks == ("chefs-kiss-ten-platform",) and wave.probe == ("r0002",)
    assert tier_of(ten["base"][tenant("ten", 2)]) == "production"
    assert tier_of(ten["base"][tenant("ten", 1)]) == "poc"


def test_a_change_to_every_tenant_deploys_the_canary_then_growing_waves(
    ten: dict[str, Assembly],
) -> None:
    rollout = rollout_between(ten["base"], ten["tenants"], "ten")
    assert [w.name for w in rollout.waves] == ["canary", "wave 1", "wave 2", "wave 3"]
    assert [w.restaurants for w in rollout.waves] == [
        ("r0002",),  # the first production-tier restaurant
        ("r0001",),
        ("r0003",),  # 10% of 10
        tuple(f"r{n:04d}" for n in range(4, 11)),
    ]
    assert all(w.probe == w.restaurants for w in rollout.waves)
    assert sorted(rollout.stacks) == sorted(tenant("ten", n) for n in range(1, 11))
    # Another canary, other sizes.
    rollout = rollout_between(ten["base"], ten["tenants"], "ten", canary="r0007", waves="2,50%")
    assert [len(w.restaurants) for w in rollout.waves] == [1, 2, 5, 2]
    assert rollout.waves[0].restaurants == ("r0007",)


def test_what_ops_plan_would_block_is_said_before_the_waves(ten: dict[str, Assembly]) -> None:
    """The rollout deploys what was reviewed (a database deletion allowed in the pull request),
    but its plan names the data at risk first."""

    def drop_database(template: dict[str, Any]) -> None:
        resources = template["Resources"]
        (logical_id,) = [k for k, r in resources.items() if r["Type"] == "AWS::RDS::DBInstance"]
        del resources[logical_id]

    head = changed(ten["base"], {tenant("ten", 3): drop_database})
    rollout = rollout_between(ten["base"], head, "ten")
    assert rollout.stacks == (tenant("ten", 3),)
    assert rollout.notes and rollout.notes[0].startswith(f"ops plan: {tenant('ten', 3)}/")
    assert any("(AWS::RDS::DBInstance): remove" in note for note in rollout.notes)


def test_a_canary_the_change_does_not_touch_is_refused(ten: dict[str, Assembly]) -> None:
    with pytest.raises(RolloutError, match="does not touch it"):
        rollout_between(ten["base"], ten["resized"], "ten", canary="r0002")
    with pytest.raises(RolloutError, match="no tenant stack of ten"):
        rollout_between(ten["base"], ten["tenants"], "ten", canary="nowhere")
    # A platform-only change may probe any restaurant.
    assert rollout_between(ten["base"], ten["platform"], "ten", canary="r0009").canary == "r0009"


def test_wave_sizes() -> None:
    assert parse_wave_sizes("1, 10%,rest") == ("1", "10%")
    assert wave_counts(99, 100, ("1", "10%")) == [1, 10, 88]
    assert wave_counts(1, 2, ("1", "10%")) == [1]
    assert wave_counts(0, 1, ("1", "10%")) == []
    assert wave_counts(5, 6, ("50%",)) == [3, 2]
    for bad in ("0", "x", "150%", "-1"):
        with pytest.raises(RolloutError, match="allowed"):
            parse_wave_sizes(bad)


def test_standby_stacks_follow_their_restaurant_in_its_wave(ten: dict[str, Assembly]) -> None:
    """With disaster recovery: platform, then standby platform; each restaurant's standby in its
    own wave, deployed after its tenant stack (a second deploy call of the wave)."""
    head = dict(ten["base"])
    template = {"Resources": {}}
    standbys = {n: naming.standby_stack_name("ten", f"r{n:04d}") for n in (2, 4, 6, 8, 10)}
    extra = [naming.dr_platform_stack_name("ten"), *standbys.values()]
    for name in extra:
        head[name] = StackArtifact(name, Path(f"{name}.template.json"), template)
    touched = [*head]  # everything: platform, standby platform, tenants, standbys
    rollout = plan_rollout(head, "ten", touched)
    platform = rollout.waves[0]
    assert platform.phases == (("chefs-kiss-ten-platform",), ("chefs-kiss-ten-dr-platform",))
    canary = rollout.waves[1]
    assert canary.phases == ((tenant("ten", 2),), (standbys[2],))
    assert rollout.waves[-1].phases[0][0] == tenant("ten", 4)
    assert rollout.waves[-1].phases[1] == (standbys[4], standbys[6], standbys[8], standbys[10])
    # A standby-only change of one restaurant deploys that standby alone.
    rollout = plan_rollout(head, "ten", [standbys[6]])
    assert [w.phases for w in rollout.waves] == [((standbys[6],),)]
    assert rollout.canary == "r0006"


def test_all_is_every_stack_of_the_environment_at_once(ten: dict[str, Assembly]) -> None:
    rollout = rollout_everything(ten["base"], "ten")
    (wave,) = rollout.waves
    assert len(wave.phases) == 1 and set(wave.stacks) == set(ten["base"])
    assert wave.probe == tuple(f"r{n:04d}" for n in range(1, 11))


# ops plan --stacks-json ------------------------------------------------------------------------


def test_plan_stacks_json(ten_dirs: dict[str, Path], capsys: pytest.CaptureFixture[str]) -> None:
    base = str(ten_dirs["base"])
    for head, expected in (
        ("base", {}),
        ("resized", {"ten": [tenant("ten", 5)]}),
        ("platform", {"ten": ["chefs-kiss-ten-platform"]}),
    ):
        argv = ["plan", "--base", base, "--head", str(ten_dirs[head]), "--stacks-json"]
        assert ops_main([*argv, "--no-cost"]) == 0
        assert json.loads(capsys.readouterr().out) == expected
    assert ops_main(["plan", "--base", base, "--head", str(ten_dirs["tenants"]), "--json",
                     "--no-cost"]) == 0  # fmt: skip
    order = json.loads(capsys.readouterr().out)["deploy"]["ten"]
    assert order[:3] == [tenant("ten", 2), tenant("ten", 1), tenant("ten", 3)]
    assert len(order) == 10


# ops rollout against a fake cdk and a fake probe -----------------------------------------------

FAKE_CDK = """#!{python}
import json, os, sys
args = sys.argv[1:]
with open(os.environ["FAKE_LOG"], "a") as log:
    log.write(json.dumps(["cdk", *args]) + "\\n")
if args[0] == "diff":
    sys.exit(0)
stacks = args[args.index("--exclusively") + 1 : args.index("--require-approval")]
failing = os.environ.get("FAKE_CDK_FAIL", "")
with open(args[args.index("--outputs-file") + 1], "w") as out:
    json.dump({{s: {{"Version": "new"}} for s in stacks if s != failing}}, out)
sys.exit(1 if failing in stacks else 0)
"""

FAKE_PROBE = """#!{python}
import json, os, sys
args = sys.argv[1:]
with open(os.environ["FAKE_LOG"], "a") as log:
    log.write(json.dumps(["probe", *args]) + "\\n")
restaurants = [args[i + 1] for i, a in enumerate(args) if a == "--restaurant"]
sys.exit(1 if os.environ.get("FAKE_PROBE_FAIL") in restaurants else 0)
"""


@pytest.fixture
def fakes(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Callable[[], list[list[str]]]:
    """`cdk` and `probe` on PATH; returns a reader of the calls they received, in order."""
    import sys

    bin_dir = tmp_path / "bin"
    bin_dir.mkdir()
    for name, text in (("cdk", FAKE_CDK), ("probe", FAKE_PROBE)):
        path = bin_dir / name
        path.write_text(text.format(python=sys.executable), encoding="utf-8")
        path.chmod(path.stat().st_mode | stat.S_IXUSR)
    log = tmp_path / "calls.log"
    monkeypatch.setenv("PATH", f"{bin_dir}{os.pathsep}{os.environ['PATH']}")
    monkeypatch.setenv("FAKE_LOG", str(log))
    monkeypatch.delenv("FAKE_CDK_FAIL", raising=False)
    monkeypatch.delenv("FAKE_PROBE_FAIL", raising=False)

    def calls() -> list[list[str]]:
        if not log.exists():
            return []
        return [json.loads(line) for line in log.read_text(encoding="utf-8").splitlines()]

    return calls


def rollout(env: str, head: Path, *options: str) -> int:
    return ops_main(["rollout", "--env", env, "--assembly", str(head), "--probe-command", "probe",
                     *options])  # fmt: skip


def deployed(calls: list[list[str]]) -> list[list[str]]:
    """The stacks of each `cdk deploy` call, in order."""
    return [c[c.index("--exclusively") + 1 : c.index("--require-approval")] for c in calls
            if c[:2] == ["cdk", "deploy"]]  # fmt: skip


def probed(calls: list[list[str]]) -> list[list[str]]:
    return [[c[i + 1] for i, a in enumerate(c) if a == "--restaurant"] for c in calls
            if c[0] == "probe"]  # fmt: skip


def test_rollout_of_one_restaurant_deploys_one_stack_and_records_the_base(
    ten_dirs: dict[str, Path], fakes: Callable[[], list[list[str]]], tmp_path: Path,
    capsys: pytest.CaptureFixture[str],
) -> None:  # fmt: skip
    outputs, record = tmp_path / "outputs.json", tmp_path / "deployed"
    code = rollout("ten", ten_dirs["resized"], "--base-assembly", str(ten_dirs["base"]),
                   "--outputs-file", str(outputs), "--record", str(record))  # fmt: skip
    assert code == 0, capsys.readouterr()
    calls = fakes()
    assert deployed(calls) == [[tenant("ten", 5)]]
    assert probed(calls) == [["r0005"]]
    (cdk,) = [c for c in calls if c[0] == "cdk"]
    assert cdk[cdk.index("--app") + 1] == str(ten_dirs["resized"])
    assert cdk[cdk.index("--require-approval") + 1] == "never" and "--concurrency" in cdk
    assert json.loads(outputs.read_text()) == {tenant("ten", 5): {"Version": "new"}}
    # The recorded base is the deployed assembly: the same change again deploys nothing.
    assert (record / "manifest.json").is_file() and (record / "deployed-outputs.json").is_file()
    assert rollout("ten", ten_dirs["resized"], "--base-assembly", str(record)) == 0
    assert deployed(fakes()) == [[tenant("ten", 5)]], "nothing more deployed"
    assert "Nothing to deploy" in capsys.readouterr().out


def test_the_outputs_file_keeps_the_outputs_of_stacks_not_deployed_this_time(
    ten_dirs: dict[str, Path], fakes: Callable[[], list[list[str]]], tmp_path: Path,
) -> None:  # fmt: skip
    """`make smoke` reads the load balancer from the outputs file even when the platform was not
    part of the change: the recorded base's outputs, this rollout's merged over them."""
    base = tmp_path / "deployed"
    shutil.copytree(ten_dirs["base"], base)
    platform = naming.platform_stack_name("ten")
    previous = {platform: {"LoadBalancerDnsName": "alb.example"}, tenant("ten", 5): {"V": "old"}}
    (base / "deployed-outputs.json").write_text(json.dumps(previous))
    outputs = tmp_path / "outputs.json"
    code = rollout("ten", ten_dirs["resized"], "--base-assembly", str(base),
                   "--outputs-file", str(outputs), "--record", str(base))  # fmt: skip
    assert code == 0 and deployed(fakes()) == [[tenant("ten", 5)]]
    merged = {
        platform: {"LoadBalancerDnsName": "alb.example"},
        tenant("ten", 5): {"Version": "new"},
    }
    assert json.loads(outputs.read_text()) == merged
    assert json.loads((base / "deployed-outputs.json").read_text()) == merged


def test_rollout_of_a_platform_change_probes_a_canary_before_success(
    ten_dirs: dict[str, Path], fakes: Callable[[], list[list[str]]],
    capsys: pytest.CaptureFixture[str],
) -> None:  # fmt: skip
    assert rollout("ten", ten_dirs["platform"], "--base-assembly", str(ten_dirs["base"])) == 0
    assert [c[0] for c in fakes()] == ["cdk", "probe"]
    assert deployed(fakes()) == [["chefs-kiss-ten-platform"]]
    assert probed(fakes()) == [["r0002"]]
    out = capsys.readouterr().out
    assert out.rstrip().endswith("in 1 wave(s)") and "complete" in out


def test_rollout_of_every_tenant_runs_canary_then_waves_with_bake_time(
    ten_dirs: dict[str, Path], fakes: Callable[[], list[list[str]]],
    monkeypatch: pytest.MonkeyPatch,
) -> None:  # fmt: skip
    slept: list[float] = []
    monkeypatch.setattr("ops.deploy.rollout.time.sleep", slept.append)
    code = rollout("ten", ten_dirs["tenants"], "--base-assembly", str(ten_dirs["base"]),
                   "--bake-seconds", "30", "--concurrency", "4")  # fmt: skip
    assert code == 0
    calls = fakes()
    assert [c[0] for c in calls] == ["cdk", "probe"] * 4, "each wave: deploy, then its probe"
    assert [len(s) for s in deployed(calls)] == [1, 1, 1, 7]
    assert probed(calls) == deployed_slugs(deployed(calls))
    assert all(c[c.index("--concurrency") + 1] == "4" for c in calls if c[0] == "cdk")
    assert slept == [30.0, 30.0, 30.0], "baked after every wave but the last"


def deployed_slugs(waves: list[list[str]]) -> list[list[str]]:
    parsed = [[naming.parse_stack_name(s) for s in wave] for wave in waves]
    return [[p.slug for p in wave if p and p.slug] for wave in parsed]


def test_a_failing_canary_stops_everything_after_it(
    ten_dirs: dict[str, Path], fakes: Callable[[], list[list[str]]],
    monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str],
) -> None:  # fmt: skip
    monkeypatch.setenv("FAKE_CDK_FAIL", tenant("ten", 2))
    code = rollout("ten", ten_dirs["tenants"], "--base-assembly", str(ten_dirs["base"]))
    assert code == 1
    assert deployed(fakes()) == [[tenant("ten", 2)]] and probed(fakes()) == []
    out = capsys.readouterr().out
    assert "ROLLOUT STOPPED in ten, canary: deploy of chefs-kiss-ten-tenant-r0002 failed" in out
    assert "restaurants (0): none" in out
    assert "May have it (canary failed to deploy" in out
    assert "Not started: wave 1 (1), wave 2 (1), wave 3 (7): 9 restaurant(s)" in out
    assert (
        f"cdk deploy --app {ten_dirs['base']} --exclusively {tenant('ten', 2)} "
        "--require-approval never --concurrency 10" in out
    )


def test_a_failing_probe_in_a_wave_stops_later_waves_and_names_what_has_the_new_version(
    ten_dirs: dict[str, Path], fakes: Callable[[], list[list[str]]],
    monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str],
) -> None:  # fmt: skip
    monkeypatch.setenv("FAKE_PROBE_FAIL", "r0003")  # the restaurant of wave 2
    code = rollout("ten", ten_dirs["tenants"], "--base-assembly", str(ten_dirs["base"]), "--json")
    assert code == 1
    assert deployed(fakes()) == [[tenant("ten", n)] for n in (2, 1, 3)], "wave 3 never started"
    captured = capsys.readouterr()
    result = json.loads(captured.out)["result"]
    assert result["failed_wave"] == "wave 2" and result["not_started"] == ["wave 3"]
    assert result["failed_step"] == "probe"
    assert result["restaurants_updated"] == ["r0002", "r0001", "r0003"], "deployed, probe failed"
    (command,) = result["rollback"]
    assert command.split("--exclusively ")[1].split(" --")[0].split() == [
        tenant("ten", n) for n in (2, 1, 3)
    ]
    assert "restaurants (3): r0002, r0001, r0003" in captured.err
    assert "wave 2, deployed but failing its probe" in captured.err


def test_a_failing_platform_stops_before_any_restaurant(
    ten_dirs: dict[str, Path], fakes: Callable[[], list[list[str]]], tmp_path: Path,
    monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str],
) -> None:  # fmt: skip
    edits = {"chefs-kiss-ten-platform": new_image, tenant("ten", 4): tag_database}
    head = write_variant(ten_dirs["base"], tmp_path / "head", edits)
    monkeypatch.setenv("FAKE_CDK_FAIL", "chefs-kiss-ten-platform")
    record = tmp_path / "deployed"
    code = rollout("ten", head, "--base-assembly", str(ten_dirs["base"]), "--record", str(record))
    assert code == 1 and not record.exists(), "a failed rollout is not recorded as deployed"
    assert deployed(fakes()) == [["chefs-kiss-ten-platform"]]
    out = capsys.readouterr().out
    assert "Not started: canary (1): 1 restaurant(s)" in out
    assert "--exclusively chefs-kiss-ten-platform --require-approval never" in out


def test_rollout_all_deploys_every_stack_in_one_call(
    ten_dirs: dict[str, Path], fakes: Callable[[], list[list[str]]],
) -> None:  # fmt: skip
    assert rollout("ten", ten_dirs["base"], "--all") == 0
    (stacks,) = deployed(fakes())
    assert sorted(stacks) == sorted(read_assembly(ten_dirs["base"]))
    assert probed(fakes()) == [[f"r{n:04d}" for n in range(1, 11)]]


def test_make_diff_diffs_only_what_the_rollout_would_deploy(
    ten_dirs: dict[str, Path], fakes: Callable[[], list[list[str]]],
) -> None:  # fmt: skip
    base = ["--base-assembly", str(ten_dirs["base"])]
    assert rollout("ten", ten_dirs["resized"], *base, "--diff") == 0
    assert fakes() == [["cdk", "diff", "--app", str(ten_dirs["resized"]), "--exclusively",
                        tenant("ten", 5)]]  # fmt: skip
    assert rollout("ten", ten_dirs["base"], *base, "--diff") == 0
    assert len(fakes()) == 1, "nothing changed: nothing to diff"


def test_rollout_bad_input_exits_2_and_deploys_nothing(
    ten_dirs: dict[str, Path], fakes: Callable[[], list[list[str]]], tmp_path: Path,
    capsys: pytest.CaptureFixture[str],
) -> None:  # fmt: skip
    head = ten_dirs["tenants"]
    base = ["--base-assembly", str(ten_dirs["base"])]
    assert rollout("ten", head, "--base-assembly", str(tmp_path / "missing")) == 2
    assert "--all to deploy every stack" in capsys.readouterr().err
    assert rollout("ten", head, *base, "--canary", "nowhere") == 2
    assert "--canary nowhere: no tenant stack of ten" in capsys.readouterr().err
    assert rollout("ten", head, *base, "--waves", "0") == 2
    assert "--waves '0'" in capsys.readouterr().err
    assert rollout("ten", head, *base, "--dry-run") == 0
    assert "wave 3" in capsys.readouterr().out
    assert fakes() == [], "nothing ran"


# 100 restaurants (last in the module: the shared samples are likely built by then) ----------


def test_one_hundred_restaurants_three_changes(hundred: Assembly) -> None:
    """The closing note's three examples, at 100 restaurants (printed with -s). The canary is
    the first production-tier restaurant (r0001 here; tests above show it skipping a PoC one)."""
    env = scale_model.VERIFY
    stacks = [name for name in hundred if name.startswith(f"{naming.name_prefix(env)}-tenant-")]
    assert len(stacks) == 100
    assert tier_of(hundred[tenant(env, 1)]) == "production"
    assert tier_of(hundred[tenant(env, 2)]) == "poc"
    resized = changed(hundred, {tenant(env, 42): resize})
    platform = changed(hundred, {naming.platform_stack_name(env): new_image})
    every = changed(hundred, {tenant(env, n): tag_database for n in range(1, 101)})

    started = time.perf_counter()
    one = rollout_between(hundred, resized, env)
    print(f"\nplanned 100 restaurants in {time.perf_counter() - started:.1f} s")
    assert one.stacks == (tenant(env, 42),) and one.canary == "r0042"

    only_platform = rollout_between(hundred, platform, env)
    assert [w.stacks for w in only_platform.waves] == [(naming.platform_stack_name(env),)]
    assert only_platform.waves[0].probe == ("r0001",)

    waves = rollout_between(hundred, every, env)
    assert [len(w.restaurants) for w in waves.waves] == [1, 1, 10, 88]
    assert waves.waves[0].restaurants == ("r0001",) and waves.waves[1].restaurants == ("r0002",)
    assert waves.waves[2].restaurants == tuple(f"r{n:04d}" for n in range(3, 13))
    assert waves.waves[3].restaurants == tuple(f"r{n:04d}" for n in range(13, 101))
    assert len(set(waves.stacks)) == 100
    assert naming.platform_stack_name(env) not in waves.stacks
    # Only this environment's stacks: the other samples in the assembly are not part of it.
    assert all(name.startswith(f"{naming.name_prefix(env)}-") for name in waves.stacks)
    for rollout in (one, only_platform, waves):
        print("; ".join(f"{w.name}: {_shown(w.restaurants or w.stacks)}" for w in rollout.waves))


def _shown(names: tuple[str, ...]) -> str:
    return ", ".join(names) if len(names) < 4 else f"{names[0]} .. {names[-1]} ({len(names)})"
