"""The README and docs/ point only at things that exist, and what they show is true.

Commands, make targets, files and links exist; "seed X.Y" references resolve to a section of
docs/requirements.md; every shown output is either re-run here (and must match) or marked as an
example with its date; the README's cheap commands run.
"""

from __future__ import annotations

import contextlib
import io
import os
import re
import shlex
import subprocess
import sys
from pathlib import Path

import pytest

from ops.__main__ import build_parser
from ops.__main__ import main as ops_main
from tests.test_workflows import make_targets

PROJECT_DIR = Path(__file__).resolve().parent.parent
DOCS = sorted(p.name for p in (PROJECT_DIR / "docs").glob("*.md"))
PAGES = ["README.md", *(f"docs/{name}" for name in DOCS)]
EXAMPLE = re.compile(r"\*Example output \((\d{4}-\d{2}-\d{2})\)")
RERUN = re.compile(r"\*Output of `([^`]+)` as written; `tests/test_docs.py` re-runs it\.\*")


def _text(page: str) -> str:
    return (PROJECT_DIR / page).read_text(encoding="utf-8")


def _ops_commands() -> set[str]:
    parser = build_parser()
    action = next(a for a in parser._actions if a.dest == "command")
    return set(action.choices or {})  # type: ignore[arg-type]


def slug(heading: str) -> str:
    """GitHub's anchor for a Markdown heading."""
    text = re.sub(r"[^\w\- ]", "", heading.strip().lower())
    return text.replace(" ", "-")


def anchors(page: Path) -> set[str]:
    text = page.read_text(encoding="utf-8")
    text = re.sub(r"^```.*?^```", "", text, flags=re.MULTILINE | re.DOTALL)
    return {slug(h) for h in re.findall(r"^#{1,6} (.+)$", text, flags=re.MULTILINE)}


@pytest.mark.parametrize("page", PAGES)
def test_ops_commands_named_in_the_doc_exist(page: str) -> None:
    """A command from another branch fails here until that branch is merged (by design)."""
    named = set(re.findall(r"python -m ops ([a-z][a-z-]*)", _text(page)))
    missing = sorted(named - _ops_commands())
    assert missing == [], f"{page} names unknown `python -m ops` commands: {missing}"


@pytest.mark.parametrize("page", PAGES)
def test_make_targets_links_and_anchors_in_the_doc_exist(page: str) -> None:
    text = _text(page)
    base = (PROJECT_DIR / page).parent
    targets = set(re.findall(r"`make ([a-z][a-z-]*)", text))
    assert targets <= make_targets(), f"{page}: unknown make targets {targets - make_targets()}"
    for link, anchor in re.findall(r"\]\(([^)#:\s]*)(?:#([^)\s]*))?\)", text):
        target = (base / link) if link else PROJECT_DIR / page
        assert target.exists(), f"{page}: broken link {link}"
        if anchor and target.suffix == ".md":
            assert anchor in anchors(target), f"{page}: no heading #{anchor} in {link or page}"
    for path in re.findall(r"`((?:scripts|ops|tests|\.github/workflows)/[\w./-]+\.\w+)`", text):
        assert (PROJECT_DIR / path).exists(), f"{page}: {path} does not exist"


@pytest.mark.parametrize("page", PAGES)
def test_seed_references_resolve_and_nothing_points_outside(page: str) -> None:
    text = _text(page)
    sections = anchors(PROJECT_DIR / "docs" / "requirements.md")
    numbers = {s.split("-")[0] for s in sections}
    for number in re.findall(r"\bseed (\d+\.\d+|A\.\d+)", text):
        assert number.replace(".", "") in numbers, f"{page}: seed {number} is not in requirements"
    assert "DESIGN.md" not in text, f"{page}: DESIGN.md is not part of this repository"


@pytest.mark.parametrize("page", PAGES)
def test_every_shown_output_is_rerun_or_a_dated_example(page: str) -> None:
    lines = _text(page).splitlines()
    fence = False
    for number, line in enumerate(lines):
        if line.startswith("```"):
            if not fence and line.strip() == "```text":
                before = "\n".join(lines[max(0, number - 4) : number])
                assert EXAMPLE.search(before) or RERUN.search(before), (
                    f"{page}:{number + 1}: output block without '*Example output (YYYY-MM-DD)' "
                    "or a re-run marker"
                )
            fence = not fence


def _rerun_blocks() -> list[tuple[str, str, str]]:
    found = []
    for page in PAGES:
        text = _text(page)
        for match in RERUN.finditer(text):
            block = re.search(r"```text\n(.*?)```", text[match.end() :], flags=re.DOTALL)
            assert block, f"{page}: re-run marker without a ```text block"
            found.append((page, match.group(1), block.group(1)))
    return found


def test_rerun_outputs_match(example_cdk_out: Path, tmp_path: Path) -> None:
    """Each marked output, produced again by its command (example assembly, no credentials)."""
    blocks = _rerun_blocks()
    assert blocks, "the docs show at least one re-run output (getting-started: deploy-check)"
    env = {k: v for k, v in os.environ.items() if not k.startswith("AWS_")}
    env.update(
        AWS_CONFIG_FILE=str(tmp_path / "none"), AWS_SHARED_CREDENTIALS_FILE=str(tmp_path / "none"),
        AWS_EC2_METADATA_DISABLED="true", AWS_REGION="us-east-1",
    )  # fmt: skip
    for page, command, shown in blocks:
        argv = shlex.split(command)
        assert argv[:3] == ["python", "-m", "ops"], f"{page}: only ops commands are re-run"
        result = subprocess.run(
            [sys.executable, *argv[1:], "--assembly", str(example_cdk_out)],
            capture_output=True, text=True, cwd=PROJECT_DIR, env=env, timeout=300,
        )  # fmt: skip
        assert result.stdout == shown, f"{page}: `{command}` now prints:\n{result.stdout}"


@pytest.mark.slow
def test_readme_cheap_commands_run() -> None:
    """Every `python -m ops <command>` the README names answers --help, and `python -m ops`
    alone lists the commands; every `make <target>` it names dry-runs (`make -n`).

    `python -m ops` runs as a program (the module's entry point); each `--help` goes through
    the same `main` in this process, instead of one Python start-up per command."""
    text = _text("README.md")
    listing = subprocess.run(
        [sys.executable, "-m", "ops"], capture_output=True, text=True, cwd=PROJECT_DIR, timeout=120
    )
    assert listing.returncode == 0 and "deploy-check" in listing.stdout
    for command in sorted(set(re.findall(r"python -m ops ([a-z][a-z-]*)", text))):
        shown, errors = io.StringIO(), io.StringIO()
        with (
            contextlib.redirect_stdout(shown),
            contextlib.redirect_stderr(errors),
            pytest.raises(SystemExit) as exit_,
        ):
            ops_main([command, "--help"])
        assert exit_.value.code in (0, None), f"python -m ops {command} --help: {errors.getvalue()}"
        assert "usage: " in shown.getvalue() and command in shown.getvalue(), shown.getvalue()
    for target, assignment in re.findall(r"\bmake ([a-z][a-z-]*)((?: [A-Z]+=[^\s`]+)*)", text):
        result = subprocess.run(
            ["make", "-n", "--no-print-directory", target, *assignment.split()],
            capture_output=True, text=True, cwd=PROJECT_DIR, timeout=120,
        )  # fmt: skip
        assert result.returncode == 0, f"make -n {target}{assignment}: {result.stderr}"


def test_readme_is_a_front_page() -> None:
    text = _text("README.md")
    assert len(text.splitlines()) < 300
    for section in ("## Add a restaurant", "## Deploy", "## Promote", "## Estimate the cost",
                    "## Remove a restaurant", "## Documentation"):  # fmt: skip
        assert section in text
    assert "source .venv/bin/activate" in text


def test_runbook_names_match_the_naming_module() -> None:
    from stacks import naming

    text = _text("docs/runbooks.md")
    for name in (
        naming.platform_stack_name("<env>"),
        naming.tenant_stack_name("<env>", "<slug>"),
        naming.db_instance_identifier("<env>", "<slug>"),
        naming.tenant_secret_name("<env>", "<slug>"),
        naming.tenant_role_name("<env>", "<slug>"),
    ):
        assert f"`{name}`" in text, name
