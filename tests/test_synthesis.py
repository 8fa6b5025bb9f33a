"""synthesis/: the jsii kernel without its relay, and sharded synthesis merged into one assembly.

The proof that matters is the last one here: the example app synthesized by `python app.py` in
two shards, on jsii's own relay kernel, is byte for byte the assembly this session's kernel
(the direct one) writes in one process (`example_cdk_out`)."""

from __future__ import annotations

import base64
import hashlib
import json
import os
import subprocess
import sys
from pathlib import Path
from typing import Any

import pytest

from config.generated import generated_environment
from synthesis import kernel, shards
from synthesis.merge import MergeError, merge_assemblies

PROJECT_DIR = Path(__file__).resolve().parent.parent


# --------------------------------------------------------------------------- the kernel


def test_the_launcher_sits_beside_jsiis_own_runtime_files() -> None:
    launcher = Path(os.environ["JSII_RUNTIME"])  # set by conftest, as app.py sets it
    assert launcher.name == "jsii_direct.js"
    assert launcher.read_bytes() == kernel.LAUNCHER.read_bytes()
    assert (launcher.parent.parent / "lib" / "program.js").is_file()
    assert (launcher.parent.parent / "lib" / "runtime-index-worker.js").is_file()


def test_a_runtime_set_by_the_user_or_the_relay_switch_is_left_alone(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    monkeypatch.setenv("JSII_RUNTIME", "/opt/my-runtime.js")
    assert kernel.use_direct_kernel() is None
    assert os.environ["JSII_RUNTIME"] == "/opt/my-runtime.js"
    monkeypatch.delenv("JSII_RUNTIME")
    monkeypatch.setenv(kernel.RELAY_SWITCH, "1")
    assert kernel.use_direct_kernel() is None
    assert "JSII_RUNTIME" not in os.environ
    # A node of the user's choice is the one the wrapper runs, with --preserve-symlinks.
    monkeypatch.delenv(kernel.RELAY_SWITCH)
    monkeypatch.setenv("CHEFS_KISS_JSII_NODE", "")  # so that teardown removes what is set below
    monkeypatch.delenv("CHEFS_KISS_JSII_NODE")
    monkeypatch.setenv("JSII_NODE", "/opt/node22/bin/node")
    assert kernel.use_direct_kernel() is not None
    assert os.environ["CHEFS_KISS_JSII_NODE"] == "/opt/node22/bin/node"
    assert Path(os.environ["JSII_NODE"]).name == kernel.NODE_WRAPPER


@pytest.mark.slow
def test_the_kernel_answers_on_stdout_and_hosted_output_goes_to_stderr_wrapped(
    tmp_path: Path,
) -> None:
    """The kernel's hello comes on the API channel (stdout); what hosted code prints to stdout
    and stderr reaches stderr as the {"stdout"|"stderr": base64} lines jsii's Python client
    decodes, never the channel; the kernel runs in this one process (no relay child)."""
    chatty = tmp_path / "chatty.js"
    # Hosted code that prints when the kernel first reads a request (the launcher is loaded by
    # then: it wraps this fs.readSync, as it wraps Node's own).
    chatty.write_text(
        "const fs = require('fs'); const read = fs.readSync; let said = false;\n"
        "fs.readSync = function (...args) {\n"
        "  if (!said) { said = true; console.log('to stdout'); console.error('to stderr');\n"
        "    console.error(process.execArgv.join(' ')); }\n"
        "  return read.apply(fs, args);\n"
        "};\n",
        encoding="utf-8",
    )
    process = subprocess.run(
        [os.environ["JSII_NODE"], "--require", str(chatty), os.environ["JSII_RUNTIME"]],
        input=b'{"exit":0}\n',
        capture_output=True,
        timeout=60,
        env={**os.environ, kernel.NODE_FLAGS: "--single-threaded-gc --stack-size=900"},
    )
    hello = json.loads(process.stdout.decode().splitlines()[0])
    assert hello["hello"].startswith("@jsii/runtime@")
    assert b"to stdout" not in process.stdout
    wrapped = [json.loads(line) for line in process.stderr.decode().splitlines() if line]
    decoded = [(key, base64.b64decode(value)) for line in wrapped for key, value in line.items()]
    assert decoded[:2] == [("stdout", b"to stdout\n"), ("stderr", b"to stderr\n")]
    # run by the JSII_NODE wrapper: the flag that makes the kernel link packages, not copy them,
    # and the options CHEFS_KISS_JSII_NODE_FLAGS adds (shards: a single-threaded collector)
    flags = decoded[2][1].split()
    assert flags[:3] == [b"--preserve-symlinks", b"--single-threaded-gc", b"--stack-size=900"]


def _synthesize_invalid_app(outdir: Path, *, in_kernel_thread: bool) -> tuple[str, Any]:
    """An app whose three stacks break CloudFormation's schemas alike (the same rule and message
    in each, so the report merges them) and differently (a value only one stack has), with a
    plugin that runs before CloudFormation Validate and rewrites the first stack's queue after
    the template was written. Synthesized in this process: CloudFormation Validate runs in the
    launcher's threads, or, `in_kernel_thread`, as a plugin the app registers itself (aws-cdk-lib
    then runs that object's own `validate` in the kernel's thread, and not the threads').
    Returns the failure's message and the validation report."""
    import aws_cdk as cdk
    import jsii

    @jsii.implements(cdk.IPolicyValidationPluginBeta1)
    class Rewriter:
        name = "rewriter"
        version = None
        rule_ids = None

        def validate(self, context: Any) -> Any:
            path = Path(sorted(context.template_paths)[0])
            template = json.loads(path.read_text(encoding="utf-8"))
            template["Resources"]["Queue"]["Properties"]["DelaySeconds"] = 5000
            path.write_text(json.dumps(template), encoding="utf-8")
            return cdk.PolicyValidationPluginReportBeta1(success=True, violations=[])

    context = {"@aws-cdk/core:validateAgainstDefaultRules": True}
    app = cdk.App(outdir=str(outdir), context=context, policy_validation_beta1=[Rewriter()])
    if in_kernel_thread:
        cdk.Validations.of(app).add_plugins(cdk.CloudFormationValidatePlugin())
    for index in range(3):
        where = cdk.Environment(account="111111111111", region="us-east-1")
        stack = cdk.Stack(app, f"S{index}", env=where)
        properties = {"Unknown": index, "BucketName": "Not_Valid"}
        cdk.CfnResource(stack, "Bucket", type="AWS::S3::Bucket", properties=properties)
        properties = {"DelaySeconds": 900 + index}
        cdk.CfnResource(stack, "Queue", type="AWS::SQS::Queue", properties=properties)
    with pytest.raises(RuntimeError) as failure:
        app.synth()
    report = json.loads((outdir / "validation-report.json").read_text(encoding="utf-8"))
    message = str(failure.value)  # names the report's copy, by absolute or relative path
    for where in (str(outdir), os.path.relpath(outdir)):
        message = message.replace(where, "OUT")
    return message, report


@pytest.mark.slow
def test_validation_in_threads_reports_what_the_plugin_in_the_kernels_thread_reports(
    tmp_path: Path,
) -> None:
    """aws-cdk-lib's CloudFormation Validate, run by the launcher's threads (as every synthesis
    of this session runs it), fails the synthesis with the same message and writes the same
    report as the plugin's own `validate` in the kernel's thread. The threads took two templates
    as their stacks were written; the third was rewritten afterwards by a plugin that runs
    first, so it was validated again, as it is on disk when validation runs (the trace)."""
    trace = Path(os.environ[kernel.VALIDATE_TRACE])
    reference = _synthesize_invalid_app(tmp_path / "reference", in_kernel_thread=True)
    before = trace.read_text(encoding="utf-8") if trace.exists() else ""
    pooled = _synthesize_invalid_app(tmp_path / "pooled", in_kernel_thread=False)
    (line,) = trace.read_text(encoding="utf-8")[len(before) :].splitlines()
    assert json.loads(line) | {"started": "-"} == {
        "threads": min(2, len(os.sched_getaffinity(0))), "started": "-", "templates": 3,
        "early": 2,
    }  # fmt: skip
    assert pooled == reference
    message, report = pooled
    assert "ValidationFailed" in message
    (plugin,) = [r for r in report["pluginReports"] if r["pluginName"] != "rewriter"]
    assert plugin["pluginName"] == "CloudFormation Validate"
    # one violation per rule and message, holding the resources of every template in order
    (unknown,) = [v for v in plugin["violations"] if v["ruleName"] == "F3002"]
    paths = [c["cloudFormationResource"]["templatePath"] for c in unknown["violatingConstructs"]]
    assert paths == [f"S{i}.template.json" for i in range(3)]
    delays = sorted(v["description"] for v in plugin["violations"] if "Delay" in v["description"])
    assert [d.split()[1] for d in delays] == ["5000", "901", "902"]  # S0's as rewritten


# --------------------------------------------------------------------------- shards


def test_shards_are_contiguous_nearly_equal_and_never_empty() -> None:
    envs = [generated_environment("aa", 3), generated_environment("bb", 4, profile="poc")]
    plan = shards.plan_shards(envs, 3)
    assert [(s.start, s.stop) for s in plan] == [(0, 2), (2, 5), (5, 7)]
    assert plan[1].slugs(envs) == {"aa": {"r0003"}, "bb": {"r0001", "r0002"}}
    assert len(shards.plan_shards(envs, 50)) == 7  # one restaurant each at most
    every = [slug for s in plan for slugs in s.slugs(envs).values() for slug in slugs]
    assert len(every) == 7


def test_the_number_of_processes(monkeypatch: pytest.MonkeyPatch) -> None:
    big = [generated_environment("big", 1000)]
    small = [generated_environment("small", 7)]
    monkeypatch.delenv(shards.WORKERS_VARIABLE, raising=False)
    monkeypatch.setattr(shards, "_cores", lambda: 2)
    assert shards.shard_count(small) == 1  # below RESTAURANTS_PER_SHARD: no shard pays off
    assert shards.shard_count(big) == 2  # one per core
    assert shards.shard_count([generated_environment("hundred", 100)]) == 2
    assert shards.shard_count([generated_environment("fewer", 99)]) == 1
    monkeypatch.setenv(shards.WORKERS_VARIABLE, "4")
    assert shards.shard_count(big) == 4
    assert shards.shard_count(small) == 4
    monkeypatch.setenv(shards.WORKERS_VARIABLE, "1")
    assert shards.shard_count(big) == 1
    for bad in ("0", "two", "-1"):
        monkeypatch.setenv(shards.WORKERS_VARIABLE, bad)
        with pytest.raises(shards.WorkersSettingError, match=shards.WORKERS_VARIABLE):
            shards.shard_count(big)


def test_shards_validate_in_one_thread_each(monkeypatch: pytest.MonkeyPatch) -> None:
    """Shards keep every core busy, so each validates in one thread and collects garbage in
    one (unless the user says otherwise)."""
    monkeypatch.delenv(kernel.VALIDATE_THREADS, raising=False)
    monkeypatch.delenv(kernel.NODE_FLAGS, raising=False)
    assert shards._environment(2)[kernel.VALIDATE_THREADS] == "1"
    assert shards._environment(2)[kernel.NODE_FLAGS] == "--single-threaded-gc"
    assert not {kernel.VALIDATE_THREADS, kernel.NODE_FLAGS} & set(shards._environment(1))
    monkeypatch.setenv(kernel.VALIDATE_THREADS, "2")
    assert shards._environment(2)[kernel.VALIDATE_THREADS] == "2"


_WRONG_TYPE = """
from synthesis.kernel import skip_jsii_type_checks, use_direct_kernel
use_direct_kernel()
import aws_cdk as cdk
for skip in (False, True):
    skipped = skip and skip_jsii_type_checks()
    try:
        cdk.Duration.minutes("five")
    except Exception as error:
        print(skipped, type(error).__name__, str(error).splitlines()[0])
"""


@pytest.mark.slow
def test_cdk_synth_skips_jsiis_python_type_checks_and_the_kernel_still_refuses() -> None:
    """Under `cdk synth` (app.py as a script, shards, ops bench) jsii's typeguard checks are
    skipped as `python -O` skips them; a wrong type still fails, in the kernel, by name."""
    result = subprocess.run(
        [sys.executable, "-c", _WRONG_TYPE], cwd=PROJECT_DIR, capture_output=True, text=True,
        timeout=120,
    )  # fmt: skip
    checked, skipped = result.stdout.splitlines()
    assert checked.startswith("False TypeError type of argument amount must be one of (int")
    assert skipped.startswith("True RuntimeError @jsii/kernel.SerializationError: Passed to ")
    assert "parameter amount of static method aws-cdk-lib.Duration.minutes" in skipped


def test_stack_order_is_the_apps() -> None:
    env = generated_environment(
        "pp", 2, disaster_recovery={"region": "us-west-2", "mode": "pilot-light"}
    )
    assert shards.stack_order([env]) == [
        "chefs-kiss-pp-platform",
        "chefs-kiss-pp-dr-platform",
        "chefs-kiss-pp-tenant-r0001",
        "chefs-kiss-pp-tenant-r0002",
        "chefs-kiss-pp-dr-tenant-r0001",
        "chefs-kiss-pp-dr-tenant-r0002",
    ]


# --------------------------------------------------------------------------- the merge


def test_without_a_writable_cache_jsii_keeps_its_relay(
    monkeypatch: pytest.MonkeyPatch, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    blocked = tmp_path / "not-a-directory"
    blocked.write_text("")
    monkeypatch.setenv("XDG_CACHE_HOME", str(blocked))
    monkeypatch.delenv("JSII_RUNTIME")
    monkeypatch.setenv("JSII_NODE", "node")
    assert kernel.use_direct_kernel() is None
    assert "JSII_RUNTIME" not in os.environ and os.environ["JSII_NODE"] == "node"
    assert "jsii kernel with its relay" in capsys.readouterr().err


def _template_text(template: dict[str, Any]) -> str:
    return json.dumps(template, indent=1, ensure_ascii=False)


def _part(
    directory: Path, stacks: dict[str, dict[str, Any]], *, asset: str = "", findings: int = 0
) -> Path:
    """A cloud assembly as CDK writes one: per stack a template, an asset manifest that
    uploads it by its hash, and the manifest's artifacts (asset manifest first)."""
    directory.mkdir()
    artifacts: dict[str, Any] = {}
    tree: dict[str, Any] = {}
    for name, template in stacks.items():
        text = _template_text(template)
        digest = hashlib.sha256(text.encode()).hexdigest()
        (directory / f"{name}.template.json").write_text(text, encoding="utf-8")
        (directory / f"{name}.assets.json").write_text(
            json.dumps({"files": {digest: {"source": {"path": f"{name}.template.json"}}}}),
            encoding="utf-8",
        )
        artifacts[f"{name}.assets"] = {"type": "cdk:asset-manifest"}
        artifacts[name] = {
            "type": "aws:cloudformation:stack",
            "properties": {
                "templateFile": f"{name}.template.json",
                "stackTemplateAssetObjectUrl": f"s3://bucket/{digest}.json",
            },
        }
        tree[name] = {"id": name, "children": {"Exports": {"id": "Exports"}}}
    artifacts["Tree"] = {"type": "cdk:tree", "properties": {"file": "tree.json"}}
    (directory / "manifest.json").write_text(
        json.dumps({"version": "55.0.0", "artifacts": artifacts}), encoding="utf-8"
    )
    (directory / "tree.json").write_text(json.dumps({"tree": {"children": tree}}))
    (directory / "cdk.out").write_text('{"version":"55.0.0"}')
    if asset:
        (directory / asset).mkdir()
        (directory / asset / "index.py").write_text("handler = None\n")
    violations = [{"ruleName": "R1", "violatingResources": [{"path": "p"}]}] * findings
    (directory / "validation-report.json").write_text(
        json.dumps({"pluginReports": [{"pluginName": "pack", "violations": violations}]})
    )
    return directory


PLATFORM = {"Resources": {"Vpc": {"Type": "AWS::EC2::VPC"}}}


def _with_outputs(*names: str) -> dict[str, Any]:
    return {**PLATFORM, "Outputs": {n: {"Value": n, "Export": {"Name": f"x:{n}"}} for n in names}}


def test_a_platform_every_shard_holds_lists_every_export_in_first_reference_order(
    tmp_path: Path,
) -> None:
    a = _part(tmp_path / "a", {"plat": _with_outputs("Vpc", "Key"), "t1": {"Resources": {}}})
    b = _part(tmp_path / "b", {"plat": _with_outputs("Zone", "Vpc"), "t2": {"Resources": {}}})
    c = _part(tmp_path / "c", {"plat": PLATFORM, "t3": {"Resources": {}}})  # imports nothing
    target = tmp_path / "out"
    target.mkdir()
    merge_assemblies([a, b, c], target, ["plat", "t1", "t2", "t3"])

    text = (target / "plat.template.json").read_text(encoding="utf-8")
    assert text == _template_text(_with_outputs("Vpc", "Key", "Zone"))
    digest = hashlib.sha256(text.encode()).hexdigest()
    manifest = json.loads((target / "manifest.json").read_text())
    assert manifest["artifacts"]["plat"]["properties"]["stackTemplateAssetObjectUrl"] == (
        f"s3://bucket/{digest}.json"
    )
    assert digest in json.loads((target / "plat.assets.json").read_text())["files"]
    assert list(manifest["artifacts"]) == [
        "plat.assets", "plat", "t1.assets", "t1", "t2.assets", "t2", "t3.assets", "t3", "Tree",
    ]  # fmt: skip
    assert list(json.loads((target / "tree.json").read_text())["tree"]["children"]) == [
        "plat", "t1", "t2", "t3",
    ]  # fmt: skip
    # a stack one shard holds is moved, byte for byte
    assert (target / "t2.template.json").read_text() == _template_text({"Resources": {}})
    # the first shard imports nothing from the platform: Outputs still go where CDK puts them
    c2 = _part(tmp_path / "c2", {"plat": PLATFORM})
    a2 = _part(tmp_path / "a2", {"plat": _with_outputs("Vpc", "Key")})
    again = tmp_path / "again"
    again.mkdir()
    merge_assemblies([c2, a2], again, ["plat"])
    assert (again / "plat.template.json").read_text() == _template_text(_with_outputs("Vpc", "Key"))


def test_shards_that_disagree_about_anything_but_exports_do_not_merge(tmp_path: Path) -> None:
    a = _part(tmp_path / "a", {"plat": PLATFORM})
    other = {"Resources": {"Vpc": {"Type": "AWS::EC2::VPC", "Properties": {"CidrBlock": "x"}}}}
    b = _part(tmp_path / "b", {"plat": other})
    target = tmp_path / "out"
    target.mkdir()
    with pytest.raises(MergeError, match=r"plat: the shards disagree at /Resources/Vpc/Properties"):
        merge_assemblies([a, b], target, ["plat"])
    c = _part(tmp_path / "c", {"plat": _with_outputs("Vpc")})
    changed = _with_outputs("Vpc")
    changed["Outputs"]["Vpc"]["Value"] = "other"
    d = _part(tmp_path / "d", {"plat": changed})
    with pytest.raises(MergeError, match="about output Vpc"):
        merge_assemblies([c, d], target, ["plat"])


def test_assets_are_kept_once_and_findings_of_every_shard_are_reported(tmp_path: Path) -> None:
    a = _part(tmp_path / "a", {"t1": {}}, asset="asset.abc", findings=1)
    b = _part(tmp_path / "b", {"t2": {}}, asset="asset.abc", findings=0)
    c = _part(tmp_path / "c", {"t3": {}}, asset="asset.def", findings=0)
    target = tmp_path / "out"
    target.mkdir()
    merge_assemblies([a, b, c], target, ["t1", "t2", "t3"])
    assert sorted(p.name for p in target.glob("asset.*")) == ["asset.abc", "asset.def"]
    assert (target / "asset.abc" / "index.py").read_text() == "handler = None\n"
    report = json.loads((target / "validation-report.json").read_text())
    assert [len(p["violations"]) for p in report["pluginReports"]] == [1]


@pytest.mark.slow
def test_a_failing_shard_fails_the_synthesis_and_writes_nothing(tmp_path: Path) -> None:
    envs = [generated_environment("fail", 2, profile="poc")]
    target = tmp_path / "out"
    target.mkdir()
    with pytest.raises(shards.SynthesisError, match="unknown nag pack"):
        shards.synthesize_in_shards(envs, target, count=2, nag_packs=["NoSuchPack"])
    assert list(target.iterdir()) == []
    assert list(tmp_path.iterdir()) == [target]  # the shards' scratch directory is gone too


@pytest.mark.parametrize(
    ("variable", "value", "message"),
    [
        (shards.WORKERS_VARIABLE, "many", "='many': give a whole number of processes"),
        (kernel.VALIDATE_THREADS, "two", "='two': give a whole number of threads"),
    ],
)
def test_a_bad_setting_is_a_configuration_error_before_anything_runs(
    tmp_path: Path, variable: str, value: str, message: str
) -> None:
    env = {**os.environ, variable: value, "CDK_OUTDIR": str(tmp_path / "out")}
    result = subprocess.run(
        [sys.executable, "app.py"], cwd=PROJECT_DIR, env=env, capture_output=True, text=True,
        timeout=120,
    )  # fmt: skip
    assert result.returncode == 2, result.stderr
    assert variable + message in result.stderr
    assert not (tmp_path / "out").exists()


# --------------------------------------------------------------------------- end to end


@pytest.mark.slow
def test_two_shards_on_the_relay_kernel_write_the_assembly_one_direct_process_writes(
    example_cdk_out: Path, tmp_path: Path
) -> None:
    """`python app.py` as the CDK CLI runs it (CDK_OUTDIR, `-c environments=prod`), every nag
    pack, in two shards, on jsii's own relay kernel; against `example_cdk_out`, this session's
    direct kernel in one process: the same files, byte-identical templates and asset manifests,
    the same manifest. Prod has both regions: each shard holds both platforms; the first
    shard has the two production restaurants and their standbys, the second the PoC one, which
    has no standby, so its standby platform exports nothing and the merge adds the exports."""
    out = tmp_path / "cdk.out"
    env = {k: v for k, v in os.environ.items() if k not in ("JSII_RUNTIME", "JSII_NODE")}
    env.update({
        shards.WORKERS_VARIABLE: "2", kernel.RELAY_SWITCH: "1", "CDK_OUTDIR": str(out),
        "CDK_CONTEXT_JSON": json.dumps({"environments": "prod"}),
    })  # fmt: skip
    result = subprocess.run(
        [sys.executable, "app.py"], cwd=PROJECT_DIR, env=env, capture_output=True, text=True,
        timeout=600,
    )  # fmt: skip
    assert result.returncode == 0, result.stderr[-3000:]

    stacks = sorted(p.name.split(".")[0] for p in out.glob("*.template.json"))
    assert stacks == sorted(
        p.name.split(".")[0]
        for p in example_cdk_out.glob("chefs-kiss-*.template.json")
        if p.name.startswith("chefs-kiss-prod-")
    )
    for stack in stacks:
        for kind in ("template", "assets"):  # the upload of each template names its hash
            name = f"{stack}.{kind}.json"
            assert (out / name).read_bytes() == (example_cdk_out / name).read_bytes(), name
        name = f"{stack}.metadata.json"  # creation traces name each kernel's scratch directory
        assert _without_traces(json.loads((out / name).read_text())) == _without_traces(
            json.loads((example_cdk_out / name).read_text())
        ), name
    assets = {p.name for p in out.glob("asset.*")}
    assert assets and assets <= {p.name for p in example_cdk_out.glob("asset.*")}
    merged = json.loads((out / "manifest.json").read_text())["artifacts"]
    expected = json.loads((example_cdk_out / "manifest.json").read_text())["artifacts"]
    assert merged == {name: expected[name] for name in merged}
    assert list(merged) == [name for name in expected if name in merged]  # the same order
    assert json.loads((out / "validation-report.json").read_text())["pluginReports"] == []


def _without_traces(metadata: dict[str, list[dict[str, Any]]]) -> dict[str, list[Any]]:
    return {
        path: [entry for entry in entries if entry.get("type") != "aws:cdk:creationStack"]
        for path, entries in metadata.items()
    }


@pytest.mark.slow
def test_ops_bench_measures_a_sharded_synthesis_as_cdk_synth_runs_it() -> None:
    """`ops bench` goes through synthesis/shards.py like `cdk synth`: two restaurants in two
    shards with no packs (the smallest sharded app), one row, the merged assembly's stacks."""
    env = {**os.environ, shards.WORKERS_VARIABLE: "2"}
    result = subprocess.run(
        [sys.executable, "-m", "ops", "bench", "--sizes", "2", "--packs", "none", "--json"],
        cwd=PROJECT_DIR, env=env, capture_output=True, text=True, timeout=600,
    )  # fmt: skip
    assert result.returncode == 0, result.stderr[-3000:]
    (row,) = json.loads(result.stdout)["results"]
    assert (row["size"], row["processes"], row["stacks"], row["findings"]) == (2, 2, 3, 0)
    assert row["build_calls"] > 0 and row["build_s"] > 0 and row["synth_s"] > 0
    assert row["wall_s"] >= row["build_s"] + row["synth_s"]


def test_processes_starting_at_once_share_one_whole_runtime_directory(tmp_path: Path) -> None:
    """pytest-xdist's workers on a new machine all extract the runtime at the same moment: each
    gets the same directory, complete, and no scratch copy is left behind."""
    code = (
        "import os, sys; from synthesis import kernel; root = kernel._extracted_runtime();"
        " files = sorted(str(p.relative_to(root)) for p in root.rglob('*') if p.is_file());"
        " print(root, len(files))"
    )
    env = {**os.environ, "XDG_CACHE_HOME": str(tmp_path)}
    command = [sys.executable, "-c", code]
    processes = [
        subprocess.Popen(command, cwd=PROJECT_DIR, env=env, stdout=subprocess.PIPE, text=True)
        for _ in range(6)
    ]
    answers = {process.communicate(timeout=60)[0].strip() for process in processes}
    assert len(answers) == 1, answers
    root, count = answers.pop().split()
    assert int(count) == 6 + len(kernel.LAUNCHER_FILES) + 1  # jsii's, ours, the node wrapper
    assert [p.name for p in (tmp_path / "chefs-kiss").iterdir()] == [Path(root).name]
