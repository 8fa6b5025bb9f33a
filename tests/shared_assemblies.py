"""Assemblies synthesized once per test session for every xdist worker (`shared_directory`),
shared by more than one test module. Read-only: a test that edits templates edits copies.

- `scale_samples`: the environments of docs/scale.md's quota table (`ops.limits.scale_model`):
  1 and 10 restaurants of each tier, and `mixc`, 100 restaurants at the documented mix (60%
  production tier, r0001 production, r0002 PoC, ...) on a platform sized for 100. Read by
  tests/test_scale_doc.py (the table) and tests/test_rollout.py (waves over 100 restaurants).
- `dr_assemblies`: a small environment without and with a warm standby (`dr_environment`).
  Read by tests/test_dr_stacks.py (the standby stacks), tests/test_plan_disaster_recovery.py
  (`ops plan` of turning disaster recovery on) and tests/test_access_evaluation.py (the IAM
  evaluation in the recovery region).
"""

from __future__ import annotations

from collections.abc import Callable
from pathlib import Path
from typing import TYPE_CHECKING, Any

import pytest
from conftest import shared_directory, synth_app

from ops.limits import scale_model

if TYPE_CHECKING:
    from config.schema import EnvironmentConfig

SCALE_SAMPLES = "scale-samples"


def scale_samples(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """The scale-doc samples' assembly (about fifteen seconds, once per session)."""
    return shared_directory(tmp_path_factory, SCALE_SAMPLES, scale_model.synthesize)


# Disaster recovery turned on in a small environment ------------------------------------------

DR_ENV = "rec"
DR_REGION = "us-west-2"


def dr_environment(*, standby: bool = True, **recovery: Any) -> EnvironmentConfig:
    """Three restaurants of a production environment: r0001 and r0003 production tier (covered by
    a standby by default), r0002 PoC tier (not covered). `standby`: with a warm standby in
    us-west-2 (`recovery` overrides its settings); without, disaster recovery off."""
    from config.generated import generated_environment

    settings = {"region": DR_REGION, "mode": "warm-standby", **recovery} if standby else None
    return generated_environment(
        DR_ENV, 3, tier_mix={"production": 2, "poc": 1}, disaster_recovery=settings
    )


def dr_assemblies(tmp_path_factory: pytest.TempPathFactory) -> tuple[Path, Path]:
    """(without disaster recovery, with the warm standby) of `dr_environment`, read-only. The
    templates are read and planned, not deployed: aws-cdk-lib's built-in CloudFormation
    validation is off (the example assembly runs it on these stack kinds)."""

    def build(standby: bool) -> Callable[[Path], object]:
        return lambda outdir: synth_app(
            [dr_environment(standby=standby)], outdir=outdir, cfn_validation=False
        )

    return (
        shared_directory(tmp_path_factory, "dr-off", build(False)),
        shared_directory(tmp_path_factory, "dr-warm", build(True)),
    )
