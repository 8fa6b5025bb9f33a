"""Fewer full garbage collections while a module's tests run.

A test process holds a few hundred thousand long-lived objects (botocore's service models,
moto's backends, parsed assemblies), and Python's default thresholds (700, 10, 10) scan all of
them in a full collection every few hundred thousand allocations: measured here, a third of the
CPU time of tests/test_failover.py and tests/test_plan_rules.py (23 full collections, 6.8 s).
Import `fewer_full_collections` into a test module (it is autouse there): young objects are
still collected as usual, full collections are about a hundred times rarer, and the thresholds
are restored when the module is done. Nothing a test asserts depends on when garbage is freed.
"""

from __future__ import annotations

import gc
from collections.abc import Iterator

import pytest

THRESHOLDS = (50_000, 20, 100)


@pytest.fixture(scope="module", autouse=True)
def fewer_full_collections() -> Iterator[None]:
    before = gc.get_threshold()
    gc.set_threshold(*THRESHOLDS)
    try:
        yield
    finally:
        gc.set_threshold(*before)
