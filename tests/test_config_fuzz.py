"""Property: whatever bytes or YAML an environment file holds, loading it ends in a valid config
or a ConfigError, never another exception, and within a time bound."""

from __future__ import annotations

import io
import json
import time
from pathlib import Path
from typing import Any

from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from ruamel.yaml import YAML

from config import ConfigError, EnvironmentConfig, load_environment

BOUND_SECONDS = 5.0
VALID = (
    Path(__file__).resolve().parent.parent / "config" / "environments" / "prod.yaml"
).read_text(encoding="utf-8")
FIELDS = [
    "profile",
    "region",
    "domain",
    "name",
    "hosted_zone_id",
    "app",
    "image",
    "cpu",
    "memory_mib",
    "alerts",
    "critical_emails",
    "logs",
    "app_days",
    "restaurants",
    "slug",
    "tier",
    "size",
    "allocated_storage_gb",
    "max_allocated_storage_gb",
    "network",
    "availability_zones",
    "backup_replication",
    "restore_from_snapshot",
    "account",
]

scalars = st.one_of(
    st.none(),
    st.booleans(),
    st.integers(min_value=-(2**70), max_value=2**70),
    st.floats(allow_nan=True, allow_infinity=True),
    st.text(max_size=40),
    st.sampled_from(["poc", "production", "us-east-1", "small", "Z0EXAMPLE", "bella-napoli"]),
)
documents = st.recursive(
    scalars,
    lambda children: st.one_of(
        st.lists(children, max_size=6),
        st.dictionaries(
            st.one_of(st.sampled_from(FIELDS), st.text(max_size=10)), children, max_size=6
        ),
    ),
    max_leaves=40,
)


def _load(tmp_path: Path, raw: bytes) -> None:
    path = tmp_path / "prod.yaml"
    path.write_bytes(raw)
    started = time.monotonic()
    try:
        result = load_environment(path)
    except ConfigError as exc:
        assert str(exc).strip()
    else:
        assert isinstance(result, EnvironmentConfig)
    assert time.monotonic() - started < BOUND_SECONDS


COMMON = settings(
    max_examples=80,
    database=None,  # no .hypothesis/ directory in the work tree
    deadline=None,  # the bound is asserted per example above, with a margin for a busy machine
    suppress_health_check=[HealthCheck.function_scoped_fixture, HealthCheck.too_slow],
)


@COMMON
@given(raw=st.binary(max_size=2000))
def test_random_bytes(tmp_path: Path, raw: bytes) -> None:
    _load(tmp_path, raw)


@COMMON
@given(document=documents)
def test_random_yaml_documents(tmp_path: Path, document: Any) -> None:
    out = io.StringIO()
    YAML(typ="safe", pure=True).dump(document, out)
    _load(tmp_path, out.getvalue().encode("utf-8"))


@COMMON
@given(document=documents)
def test_random_json_documents(tmp_path: Path, document: Any) -> None:
    _load(tmp_path, json.dumps(document).encode("utf-8"))


@COMMON
@given(position=st.integers(min_value=0, max_value=len(VALID)), insert=st.text(max_size=20))
def test_edits_of_the_example_file(tmp_path: Path, position: int, insert: str) -> None:
    _load(tmp_path, (VALID[:position] + insert + VALID[position:]).encode("utf-8"))


@COMMON
@given(
    key=st.sampled_from(["profile", "region", "app", "alerts", "restaurants", "domain", "logs"]),
    value=documents,
)
def test_a_valid_file_with_one_random_value(tmp_path: Path, key: str, value: Any) -> None:
    data = YAML(typ="safe", pure=True).load(VALID)
    data[key] = value
    _load(tmp_path, json.dumps(data).encode("utf-8"))
