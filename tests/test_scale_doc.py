"""Issue 22, part 3: the quota table of docs/scale.md is preflight's own counts of synthesized
environments, fitted per restaurant and verified at 100 restaurants; it must not go stale."""

from __future__ import annotations

from fractions import Fraction
from pathlib import Path

import pytest
from shared_assemblies import scale_samples

from ops.__main__ import main
from ops.assembly import read_assembly
from ops.limits import scale_model
from ops.limits.preflight import IMPLIED_RESOURCES
from ops.limits.scale_model import Counts, ModelError, Row
from stacks import naming

# One worker runs the module (the samples are built once, and no other worker waits for them).
pytestmark = pytest.mark.xdist_group("scale-doc")


@pytest.fixture(scope="session")
def outdir(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """The four samples and the 100-restaurant check, synthesized once per session for every
    xdist worker (about fifteen seconds; tests/test_rollout.py reads the same assembly)."""
    return scale_samples(tmp_path_factory)


@pytest.fixture(scope="module")
def results(outdir: Path) -> dict[str, Counts]:
    return scale_model.measure(outdir)


@pytest.fixture(scope="module")
def rows(results: dict[str, Counts]) -> list[Row]:
    return scale_model.fit(results)


def by_id(rows: list[Row]) -> dict[str, Row]:
    return {row.check.id: row for row in rows}


@pytest.mark.slow  # synthesizes the samples
def test_docs_scale_md_holds_the_generated_table(rows: list[Row]) -> None:
    """Fails when a change adds or removes something per restaurant and the table was not
    regenerated (`python -m ops preflight --scale-doc`)."""
    document = scale_model.DEFAULT_OUTPUT.read_text(encoding="utf-8")
    assert scale_model.splice(document, scale_model.render_markdown(rows)) == document


@pytest.mark.slow  # synthesizes the samples
def test_the_fit_predicts_100_restaurants_exactly(
    rows: list[Row], results: dict[str, Counts]
) -> None:
    assert scale_model.verify(rows, results[scale_model.VERIFY]) == []
    growing = {row.check.id for row in scale_model.growing(rows)}
    assert {"iam-roles", "lambda-vpc-enis", "rds-instances", "app-subnet-addresses"} <= growing


@pytest.mark.slow  # synthesizes the samples
def test_per_restaurant_roles_and_interfaces_are_what_a_tenant_template_holds(
    rows: list[Row], outdir: Path
) -> None:
    """Independently of preflight: the roles in one tenant stack of each tier (the nested
    rotation application's role included), and its VPC functions' security groups x subnets."""
    stacks = read_assembly(outdir)
    expected = {}
    for tier, environment in (("production", "prda"), ("poc", "poca")):
        template = stacks[naming.tenant_stack_name(environment, "r0001")].template
        kinds = [r["Type"] for r in template["Resources"].values()]
        roles = kinds.count("AWS::IAM::Role") + sum(
            IMPLIED_RESOURCES.get(k, {}).get("AWS::IAM::Role", 0) for k in kinds
        )
        vpc_functions = sum(
            1
            for r in template["Resources"].values()
            if (r["Type"] == "AWS::Lambda::Function" and "VpcConfig" in r["Properties"])
            or r["Type"] == "AWS::Serverless::Application"
        )
        expected[tier] = (roles, vpc_functions * 2)  # own security group, two app subnets
    row = by_id(rows)
    assert (row["iam-roles"].per_production, row["iam-roles"].per_poc) == (
        expected["production"][0],
        expected["poc"][0],
    )
    enis = row["lambda-vpc-enis"]
    assert (enis.per_production, enis.per_poc) == (expected["production"][1], expected["poc"][1])


@pytest.mark.slow  # synthesizes the samples
def test_the_first_hard_ceiling_is_the_first_restaurant_past_it(rows: list[Row]) -> None:
    row, at = scale_model.first_ceiling(rows)
    assert row.ceiling is not None
    mix = scale_model.MIX
    assert row.platform + row.per_restaurant * at > row.ceiling
    assert row.platform + row.per_restaurant * (at - 1) <= row.ceiling
    roles = by_id(rows)["iam-roles"]
    assert roles.ceiling == 5000 and roles.per_restaurant == (
        roles.per_production * mix["production"] + roles.per_poc * mix["poc"]
    )
    assert at <= roles.reached_at(5000), "no ceiling is passed after the IAM roles' 5,000"
    text = scale_model.render_markdown(rows)
    assert (
        f"restaurant #{at:,}**" in text
        and f"AWS IAM: Roles per account #{roles.reached_at(5000):,}" in text
    )


def test_a_count_that_is_not_linear_is_refused() -> None:
    """If the production and PoC samples disagree on what the platform holds, the table would be
    wrong: refused."""
    subject = "aws://unknown-account/us-east-1"
    fake: dict[str, Counts] = {
        name: {check.id: {subject: (0, check.limit)} for check in scale_model.CHECKS}
        for name in scale_model.SAMPLES
    }
    for name, value in (("prda", 5), ("prdb", 50), ("poca", 7), ("pocb", 61)):
        fake[name]["iam-roles"][subject] = (value, 1000)
    with pytest.raises(ModelError, match=r"iam-roles .*disagree on the platform's share"):
        scale_model.fit(fake)
    fake["poca"]["iam-roles"][subject] = (5, 1000)
    fake["pocb"]["iam-roles"][subject] = (50, 1000)
    (roles,) = [r for r in scale_model.fit(fake) if r.check.id == "iam-roles"]
    assert (roles.platform, roles.per_production, roles.per_poc) == (0, 5, 5)
    assert roles.per_restaurant == Fraction(5) and roles.reached_at(1000) == 201


@pytest.mark.slow  # synthesizes the samples
def test_check_reports_a_stale_table_and_write_fixes_it(
    rows: list[Row],
    tmp_path: Path,
    monkeypatch: pytest.MonkeyPatch,
    capsys: pytest.CaptureFixture[str],
) -> None:
    monkeypatch.setattr(scale_model, "build", lambda outdir=None: (rows, []))
    stale = tmp_path / "scale.md"
    stale.write_text(f"# Scale\n\n{scale_model.BEGIN}\nold\n{scale_model.END}\n\nafter\n")
    args = ["preflight", "--scale-doc", "--output", str(stale)]
    assert main([*args, "--check"]) == 1
    assert "out of date" in capsys.readouterr().err
    assert main(args) == 0
    assert main([*args, "--check"]) == 0
    text = stale.read_text()
    assert text.startswith("# Scale\n\n") and text.endswith("\n\nafter\n") and "old" not in text
    monkeypatch.setattr(scale_model, "build", lambda outdir=None: (rows, ["iam-roles: off"]))
    assert main(args) == 2 and "does not predict" in capsys.readouterr().err


def test_check_and_output_need_scale_doc(capsys: pytest.CaptureFixture[str]) -> None:
    assert main(["preflight", "--env", "dev", "--check"]) == 2
    assert "--check and --output go with --scale-doc" in capsys.readouterr().err
