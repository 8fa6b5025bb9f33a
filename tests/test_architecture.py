"""docs/architecture.md is generated from the synthesized example app and must not go stale."""

from __future__ import annotations

import json
from pathlib import Path

import pytest
from aws_cdk import cx_api

from ops.__main__ import main
from ops.docs.architecture import BEGIN, DEFAULT_OUTPUT, END, analyse, render_markdown, splice


@pytest.fixture(scope="module")
def example_dir(example_assembly: cx_api.CloudAssembly) -> Path:
    return Path(example_assembly.directory)


def test_docs_architecture_md_matches_the_example_app(
    example_dir: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    """Fails when the stacks' exports, imports or naming conventions changed and the picture
    was not regenerated (`make synth && python -m ops architecture`)."""
    code = main(["architecture", "--check", "--assembly", str(example_dir)])
    assert code == 0, capsys.readouterr().err


def test_every_export_and_import_of_the_example_app_is_in_the_doc(example_dir: Path) -> None:
    """Independently of the renderer: every Export name and every Fn::ImportValue in the
    templates appears in the document, and every export the document names exists."""
    text = DEFAULT_OUTPUT.read_text(encoding="utf-8")
    exported: set[str] = set()
    imported: set[str] = set()
    for template_file in example_dir.glob("*.template.json"):
        template = json.loads(template_file.read_text(encoding="utf-8"))
        for output in template.get("Outputs", {}).values():
            if "Export" in output:
                exported.add(output["Export"]["Name"])
        body = json.dumps(template)
        imported.update(json.loads(f'"{m}"') for m in _import_values(body))
    assert exported, "the example app exports the platform interface"
    assert imported <= exported
    assert all(f"`{name}`" in text for name in exported)
    named = {part.split("`")[0] for part in text.split("| `")[1:] if ":Exports" in part}
    named = {n for n in named if ":Exports" in n}
    assert named == exported


def _import_values(body: str) -> list[str]:
    import re

    return re.findall(r'"Fn::ImportValue": "((?:[^"\\]|\\.)*)"', body)


def test_interface_the_tenants_rely_on(example_dir: Path) -> None:
    """The brief's interface, found by resource type: VPC, app subnets, subnet group, app SG,
    task role ARN, platform key ARN; and the ALB where the environment has a domain."""
    architecture = analyse(example_dir)
    for env in ("dev", "prod"):
        crossing = {
            (e.resource_type, e.attribute)
            for e in architecture.exports
            if e.stack == f"chefs-kiss-{env}-platform" and e.importers
        }
        assert {
            ("AWS::EC2::VPC", "Ref"),
            ("AWS::EC2::Subnet", "Ref"),
            ("AWS::RDS::DBSubnetGroup", "Ref"),
            ("AWS::EC2::SecurityGroup", "GroupId"),
            ("AWS::IAM::Role", "Arn"),
            ("AWS::KMS::Key", "Arn"),
        } <= crossing
    prod = {e.resource_type for e in architecture.exports if e.stack == "chefs-kiss-prod-platform"}
    assert "AWS::ElasticLoadBalancingV2::LoadBalancer" in prod
    groups = {g.exporter: g for g in architecture.groups}
    assert len(groups["chefs-kiss-dev-platform"].stacks) == 3
    conventions = {c.function: c for c in architecture.conventions}
    assert conventions["tenant_secret_name"].pattern == "chefs-kiss/<env>/tenants/<slug>/db"
    assert "tenant" in conventions["tenant_secret_name"].found_in
    # The alert topics are found by name from both stack kinds (no export for them).
    topics = [c for c in architecture.conventions if c.pattern.endswith("-alerts-<severity>")]
    assert len(topics) == 1 and set(topics[0].found_in) == {"platform", "tenant"}


def _tiny_assembly(directory: Path) -> Path:
    """Two stacks: one export (a GetAtt), one importer."""
    directory.mkdir()
    producer = {
        "Resources": {"Key1": {"Type": "AWS::KMS::Key"}},
        "Outputs": {"K": {"Value": {"Fn::GetAtt": ["Key1", "Arn"]}, "Export": {"Name": "p:K"}}},
    }
    queue = {"KmsMasterKeyId": {"Fn::ImportValue": "p:K"}}
    consumer = {"Resources": {"Q": {"Type": "AWS::SQS::Queue", "Properties": queue}}}
    (directory / "p.template.json").write_text(json.dumps(producer))
    (directory / "c.template.json").write_text(json.dumps(consumer))
    artifacts = {
        name: {
            "type": "aws:cloudformation:stack",
            "properties": {"templateFile": f"{name}.template.json"},
        }
        for name in ("p", "c")
    }
    (directory / "manifest.json").write_text(json.dumps({"artifacts": artifacts}))
    return directory


def test_analysis_is_generic(tmp_path: Path) -> None:
    architecture = analyse(_tiny_assembly(tmp_path / "a"))
    [export] = architecture.exports
    assert (export.name, export.resource_type, export.attribute, export.importers) == (
        "p:K", "AWS::KMS::Key", "Arn", ("c",)
    )  # fmt: skip
    [group] = architecture.groups
    assert group.stacks == ("c",) and group.resource_types == ("AWS::SQS::Queue",)
    markdown = render_markdown(architecture)
    assert '-- "Arn" -->' in markdown
    assert "| 1 stack |" in markdown and "1 stacks" not in markdown, "one importer: singular"
    assert "`c`: 1 import from `p`" in markdown


def test_check_reports_a_stale_doc_and_write_fixes_it(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    assembly = _tiny_assembly(tmp_path / "a")
    doc = tmp_path / "architecture.md"
    doc.write_text(f"# Title\n\nhand-written\n\n{BEGIN}\nSTALE-CONTENT\n{END}\n\ntail\n")
    args = ["architecture", "--assembly", str(assembly), "--output", str(doc)]
    assert main([*args, "--check"]) == 1
    assert "out of date" in capsys.readouterr().err
    assert main(args) == 0
    text = doc.read_text()
    assert text.startswith("# Title\n\nhand-written\n\n") and text.endswith("\n\ntail\n")
    assert "`p:K`" in text and "STALE-CONTENT" not in text
    assert main([*args, "--check"]) == 0


def test_bad_input_exits_2_and_writes_nothing(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    doc = tmp_path / "architecture.md"
    doc.write_text("no markers here\n")
    assert (
        main(["architecture", "--assembly", str(tmp_path / "missing"), "--output", str(doc)]) == 2
    )
    assert "no manifest.json" in capsys.readouterr().err
    assembly = _tiny_assembly(tmp_path / "a")
    assert main(["architecture", "--assembly", str(assembly), "--output", str(doc)]) == 2
    assert "no " in capsys.readouterr().err
    assert doc.read_text() == "no markers here\n"
    with pytest.raises(ValueError, match="BEGIN GENERATED"):
        splice("nothing", "x")
