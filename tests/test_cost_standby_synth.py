"""`ops cost --what-if --standby` over real assemblies: the app synthesized without and with a
warm standby (seed 7.1), priced as `ops cost` prices cdk.out. Every standby line the rules of
tests/test_cost_standby.py compute by hand must come out of the real templates too, none free."""

from __future__ import annotations

from decimal import Decimal

import pytest

from ops.__main__ import main as ops_main
from ops.costing import whatif
from ops.costing.report import CostReport
from tests.test_cost_standby import STANDBY_LINES, assert_standby_line_priced

# A module fixture builds the what-if app: once, on one worker (not in test-quick).
pytestmark = [pytest.mark.slow, pytest.mark.xdist_group("cost-standby-synth")]

TENANTS = 2


@pytest.fixture(scope="module")
def row() -> whatif.WhatIfRow:
    [result] = whatif.run([TENANTS], ["production"], standby=True)
    return result


def _report(row: whatif.WhatIfRow) -> CostReport:
    return row.standby["production"]


@pytest.mark.parametrize("name", sorted(STANDBY_LINES))
def test_every_standby_line_comes_out_of_the_real_templates(
    row: whatif.WhatIfRow, name: str
) -> None:
    assert_standby_line_priced(_report(row), name)


def test_the_standby_is_its_own_kind_and_nothing_is_unpriced(row: whatif.WhatIfRow) -> None:
    without, with_dr = row.reports["production"], _report(row)
    assert with_dr.tenants == without.tenants == TENANTS  # a standby is not a second tenant
    standby = [s for s in with_dr.stacks if s.kind == "standby"]
    assert len(standby) == TENANTS + 1  # the standby platform and one per covered restaurant
    assert not [s for s in without.stacks if s.kind == "standby"]
    # nothing of the standby is unpriced that the primary platform does not leave unpriced too
    assert not [n for n in with_dr.unpriced if "-dr-tenant-" in n.stack], with_dr.unpriced
    primary_types = {n.resource_type for n in with_dr.unpriced if "-dr-" not in n.stack}
    standby_types = {n.resource_type for n in with_dr.unpriced if "-dr-" in n.stack}
    assert standby_types <= primary_types
    replicas = [
        ln for ln in with_dr.lines
        if ln.price_key.startswith("rds.postgres.instance_hour") and "-dr-tenant-" in ln.stack
    ]  # fmt: skip
    assert len(replicas) == TENANTS and all("single-AZ read replica" in ln.item for ln in replicas)


def test_the_difference_is_the_standby_and_the_table_states_the_seed_ratio(
    row: whatif.WhatIfRow,
) -> None:
    without, with_dr = row.reports["production"], _report(row)
    extra = with_dr.total_monthly_usd - without.total_monthly_usd
    # The standby's stacks, plus the replication lines on the primary, less the free tiers the
    # standby's alarms, dashboards and health checks use up (credited on the primary platform).
    assert extra > 0 and with_dr.standby_monthly_usd > 0
    assert abs(extra - with_dr.standby_monthly_usd) < with_dr.standby_monthly_usd / 10
    table = whatif.render_standby([row], ["production"])
    share = extra / without.total_monthly_usd
    assert f"| {TENANTS} | production | " in table
    assert f"{share * 100:.1f}%" in table and f"{share / Decimal('0.40'):.2f}x" in table
    by_component = whatif.standby_components(row, "production")
    assert sum(by_component.values()) == extra
    replicas = sum(
        (ln.monthly_usd for ln in with_dr.lines
         if ln.component == "Databases" and "-dr-tenant-" in ln.stack),
        Decimal(0),
    )  # fmt: skip
    assert by_component["Databases"] == replicas > 0  # the replicas, nothing else


def test_cli_standby_flag_is_documented(capsys: pytest.CaptureFixture[str]) -> None:
    with pytest.raises(SystemExit):
        ops_main(["cost", "--help"])
    assert "--standby" in capsys.readouterr().out
