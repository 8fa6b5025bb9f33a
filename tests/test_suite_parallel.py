"""The suite's own parallel machinery (tests/conftest.py), run for real: pytest-xdist with two
workers and `--dist loadgroup`, as `make test` runs it, over a few generated test modules.

- An `xdist_group` keeps its tests on one worker, so a module fixture is built once. (With
  pytest 9.2 and pytest-xdist 3.8 it silently did not: pytest-dev/pytest-xdist#1386.)
- `shared_directory` builds once per session for all workers.
"""

from __future__ import annotations

import os
import shutil
import subprocess
import sys
from pathlib import Path

import pytest

pytestmark = pytest.mark.slow  # starts a pytest session with two worker processes

GROUPED = """
import os
import pytest

pytestmark = pytest.mark.xdist_group("one-worker")

@pytest.fixture(scope="module")
def built(record):
    record("built", os.environ["PYTEST_XDIST_WORKER"])

@pytest.mark.parametrize("n", range(6))
def test_grouped(built, record, n):
    record("grouped", os.environ["PYTEST_XDIST_WORKER"])
"""

SHARED = """
import os
import pytest
from conftest import shared_directory

@pytest.fixture(scope="session")
def shared(tmp_path_factory, record):
    def build(directory):
        record("shared-build", os.environ["PYTEST_XDIST_WORKER"])
        (directory / "made").write_text("x")
    return shared_directory(tmp_path_factory, "demo", build)

@pytest.mark.parametrize("n", range(8))
def test_shared(shared, record, n):
    assert (shared / "made").read_text() == "x"
    record("ungrouped", os.environ["PYTEST_XDIST_WORKER"])
"""

RECORDER = """
import pytest
from pathlib import Path

@pytest.fixture(scope="session")
def record():
    def write(kind, worker):
        with open(Path(__file__).parent / "record.txt", "a") as log:
            log.write(f"{kind} {worker}\\n")
    return write
"""

# The copy's session fixture that starts each worker's jsii kernel (to set CDK_VALIDATION for
# subprocesses) is replaced by one that does nothing: these generated tests synthesize nothing,
# and two Node.js kernels loading aws-cdk-lib were most of this test's time.
NO_KERNEL = """

@pytest.fixture(scope="session", autouse=True)
def _subprocesses_skip_builtin_cloudformation_validation():
    yield
"""


def test_groups_stay_on_one_worker_and_shared_directories_are_built_once(tmp_path: Path) -> None:
    suite = tmp_path / "suite"
    suite.mkdir()
    shutil.copy(Path(__file__).parent / "conftest.py", suite / "conftest.py")
    (suite / "test_grouped.py").write_text(GROUPED)
    (suite / "test_shared.py").write_text(SHARED)
    (suite / "recorder.py").write_text(RECORDER)
    with (suite / "conftest.py").open("a") as conftest:
        conftest.write("\n\nfrom recorder import record  # noqa: E402,F401\n")
        conftest.write(NO_KERNEL)
    env = {k: v for k, v in os.environ.items() if not k.startswith("PYTEST_")}
    env["PYTHONPATH"] = str(Path(__file__).resolve().parent.parent)  # the copy imports synthesis/
    # Without hypothesis's pytest plugin (auto-loaded, ~0.9 s of CPU in each of the three
    # processes; these generated tests use no hypothesis).
    result = subprocess.run(
        [sys.executable, "-m", "pytest", "-q", "-p", "no:cacheprovider",
         "-p", "no:hypothesispytest", "-n", "2", "--dist", "loadgroup",
         "--rootdir", str(suite), "-c", os.devnull,
         "--basetemp", str(tmp_path / "basetemp"), str(suite)],
        cwd=suite, env=env, capture_output=True, text=True, timeout=300,
    )  # fmt: skip
    assert result.returncode == 0, result.stdout + result.stderr
    assert "14 passed" in result.stdout, result.stdout
    seen: dict[str, list[str]] = {}
    for line in (suite / "record.txt").read_text().splitlines():
        kind, worker = line.split()
        seen.setdefault(kind, []).append(worker)
    assert len(seen["grouped"]) == 6 and len(set(seen["grouped"])) == 1, seen
    assert len(seen["built"]) == 1, seen
    assert len(seen["shared-build"]) == 1, seen
    assert set(seen["grouped"] + seen["ungrouped"]) == {"gw0", "gw1"}, seen
