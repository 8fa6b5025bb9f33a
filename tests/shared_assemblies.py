"""Assemblies synthesized once per test session for every xdist worker (`shared_directory`),
shared by more than one test module. Read-only: a test that edits templates edits copies.

- `scale_samples`: the environments of docs/scale.md's quota table (`ops.limits.scale_model`):
  1 and 10 restaurants of each tier, and `mixc`, 100 restaurants at the documented mix (60%
  production tier, r0001 production, r0002 PoC, ...) on a platform sized for 100. Read by
  tests/test_scale_doc.py (the table) and tests/test_rollout.py (waves over 100 restaurants).
"""

from __future__ import annotations

from pathlib import Path

import pytest
from conftest import shared_directory

from ops.limits import scale_model

SCALE_SAMPLES = "scale-samples"


def scale_samples(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """The scale-doc samples' assembly (about fifteen seconds, once per session)."""
    return shared_directory(tmp_path_factory, SCALE_SAMPLES, scale_model.synthesize)
