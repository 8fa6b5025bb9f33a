"""`python -m ops deploy-check --env ENV`: before a deploy, is the AWS side ready for it?

`make deploy ENV=...` and the deploy workflow run it before `cdk deploy`, so a missing piece is
named in seconds, with what to do about it, instead of after a long deploy has started. Read-only
AWS calls, the same ones the CDK CLI makes (plus Route 53 for the domain):

- credentials: the default credential chain has some (`sts get-caller-identity`);
- account: the caller's account is the config's `account`, when the config pins one;
- region: the CLI's region (AWS_REGION, the profile) is the config's `region`: the stacks are
  built for it (the load balancer's log-delivery account, availability zones), and the CLI deploys
  environment-agnostic stacks wherever the credentials point;
- trust: the caller can assume the CDK bootstrap deploy role of that account and region
  (`cdk bootstrap --trust` when the pipeline's account is another one);
- bootstrap: the CDKToolkit stack is healthy and its version (SSM parameter) is at least the
  one the synthesized templates require;
- hosted zone and domain: the configured zone exists, is public, and is the domain or a parent
  of it (not the example's placeholder); its name servers are printed for the delegation check.

Exit codes: 0 ready (notes allowed), 1 something to do first (nothing was deployed), 2 bad input
(unknown environment, no assembly).
"""

from __future__ import annotations

import argparse
import json
import os
import sys
from collections.abc import Callable
from dataclasses import asdict, dataclass
from pathlib import Path
from typing import Any

from config.loader import ENVIRONMENTS_DIR, ConfigError, load_environments
from config.schema import EnvironmentConfig
from ops.assembly import AssemblyError, read_manifest
from ops.wording import CDK
from stacks import naming

EXIT_OK, EXIT_TODO, EXIT_INPUT = 0, 1, 2
DEFAULT_ASSEMBLY = Path("cdk.out")
PLACEHOLDER_MARK = "EXAMPLE"  # the example config's hosted zone id is Z0EXAMPLE00000000000
OK, TODO, NOTE, SKIPPED = "ok", "todo", "note", "skipped"


class DeployCheckInputError(ValueError):
    """The command cannot decide what to check: unknown environment, missing assembly."""


@dataclass(frozen=True)
class Finding:
    check: str
    status: str  # ok | todo | note | skipped
    detail: str
    action: str = ""  # what to do, for todo (and some notes)


@dataclass(frozen=True)
class Requirements:
    """What the synthesized stacks of one environment ask of the account (from manifest.json)."""

    stacks: list[str]
    bootstrap_version: int
    version_parameter: str
    deploy_role: str  # ARN template with ${AWS::Partition} and ${AWS::AccountId}


class AwsAccess:
    """The default AWS credential chain, made small enough to stub in tests.

    `client(service)` uses the caller's credentials; `client(service, credentials)` those of an
    assumed role (the mapping `sts assume-role` returns)."""

    def __init__(self, region: str | None = None) -> None:
        import boto3  # runtime dependency of the deploy tools only

        self._session = boto3.Session(region_name=region) if region else boto3.Session()

    @property
    def region(self) -> str | None:
        return self._session.region_name

    def has_credentials(self) -> bool:
        return self._session.get_credentials() is not None

    def client(self, service: str, credentials: dict[str, Any] | None = None) -> Any:
        if credentials is None:
            return self._session.client(service)
        return self._session.client(
            service,
            aws_access_key_id=credentials["AccessKeyId"],
            aws_secret_access_key=credentials["SecretAccessKey"],
            aws_session_token=credentials["SessionToken"],
        )


def _error_code(exc: Exception) -> str:
    response = getattr(exc, "response", None)
    if isinstance(response, dict):
        return str(response.get("Error", {}).get("Code", ""))
    return ""


def _error_text(exc: Exception) -> str:
    code = _error_code(exc)
    return f"{code}: {exc}" if code else f"{type(exc).__name__}: {exc}"


def requirements_from_assembly(assembly: Path, environment: str) -> Requirements:
    try:
        manifest = read_manifest(assembly)
    except AssemblyError as exc:
        raise DeployCheckInputError(str(exc)) from None
    prefix = f"{naming.name_prefix(environment)}-"
    stacks = {
        name: artifact.get("properties", {})
        for name, artifact in manifest.get("artifacts", {}).items()
        if artifact.get("type") == "aws:cloudformation:stack" and name.startswith(prefix)
    }
    if not stacks:
        held = sorted(
            {
                name.split("-")[2]
                for name, artifact in manifest.get("artifacts", {}).items()
                if artifact.get("type") == "aws:cloudformation:stack"
                and name.startswith("chefs-kiss-")
                and len(name.split("-")) > 3
            }
        )
        raise DeployCheckInputError(
            f"{assembly}: no {prefix}* stacks (it holds environments: "
            f"{', '.join(held) or 'none'}); run `make synth` first"
        )
    versions = [int(p.get("requiresBootstrapStackVersion", 0)) for p in stacks.values()]
    any_stack = next(iter(stacks.values()))
    return Requirements(
        stacks=sorted(stacks),
        bootstrap_version=max(versions),
        version_parameter=str(
            any_stack.get("bootstrapStackVersionSsmParameter", "/cdk-bootstrap/hnb659fds/version")
        ),
        deploy_role=str(any_stack.get("assumeRoleArn", "")),
    )


def _resolve_role(template: str, account: str, region: str) -> str:
    return (
        template.replace("${AWS::Partition}", "aws")
        .replace("${AWS::AccountId}", account)
        .replace("${AWS::Region}", region)
    )


def check_environment(
    environment: EnvironmentConfig,
    requirements: Requirements,
    aws: Any,
    config_file: str,
) -> list[Finding]:
    """Every check, in the order a deploy needs them; stops early only where later ones depend."""
    findings: list[Finding] = []
    bootstrap_command = f"{CDK} bootstrap aws://<account>/{environment.region}"

    # Credentials ---------------------------------------------------------------------------
    if not aws.has_credentials():
        findings.append(
            Finding(
                "credentials",
                TODO,
                "no AWS credentials in the default chain (environment, profile, SSO, role)",
                "sign in first: `aws configure sso` once, then `aws sso login --profile NAME` "
                "and `export AWS_PROFILE=NAME`; CI gets a role through OIDC "
                "(docs/delivery.md)",
            )
        )
        return findings
    try:
        identity = aws.client("sts").get_caller_identity()
    except Exception as exc:  # botocore raises many kinds; each is reported, none is fatal
        findings.append(
            Finding(
                "credentials",
                TODO,
                f"the credentials were refused ({_error_text(exc)})",
                "renew them (`aws sso login`, or a fresh role session) and run this again",
            )
        )
        return findings
    caller_account = str(identity["Account"])
    findings.append(Finding("credentials", OK, f"{identity['Arn']}"))

    # Account -------------------------------------------------------------------------------
    target_account = environment.account or caller_account
    bootstrap_command = f"{CDK} bootstrap aws://{target_account}/{environment.region}"
    if environment.account and environment.account != caller_account:
        findings.append(
            Finding(
                "account",
                TODO,
                f"credentials are for account {caller_account}; {config_file} says account: "
                f"{environment.account}",
                f"use a profile or role of account {environment.account} "
                f"(or, for a pipeline account, see 'trust' below)",
            )
        )
    elif environment.account:
        findings.append(Finding("account", OK, f"{caller_account}, as {config_file} says"))
    else:
        findings.append(
            Finding(
                "account",
                NOTE,
                f"{config_file} pins no account: the stacks deploy to {caller_account}, the "
                "account of these credentials",
                f'to pin it, add `account: "{caller_account}"` to {config_file}',
            )
        )

    # Region --------------------------------------------------------------------------------
    cli_region = aws.region
    if cli_region != environment.region:
        findings.append(
            Finding(
                "region",
                TODO,
                f"the CLI's region is {cli_region or 'not set'}; {config_file} says "
                f"region: {environment.region} (the stacks are built for it)",
                f"export AWS_REGION={environment.region}",
            )
        )
        return findings
    findings.append(Finding("region", OK, f"{cli_region}, as {config_file} says"))

    # Trust: assume the bootstrap deploy role, as the CDK CLI will ---------------------------
    role_arn = _resolve_role(requirements.deploy_role, target_account, environment.region)
    assumed: dict[str, Any] | None = None
    try:
        response = aws.client("sts").assume_role(
            RoleArn=role_arn, RoleSessionName="chefs-kiss-deploy-check"
        )
        assumed = dict(response["Credentials"])
        findings.append(Finding("trust", OK, f"can assume {role_arn}"))
    except Exception as exc:
        trust = f" --trust {caller_account}" if caller_account != target_account else ""
        findings.append(
            Finding(
                "trust",
                TODO,
                f"cannot assume the CDK deploy role {role_arn} ({_error_text(exc)})",
                f"bootstrap the account (`{bootstrap_command}{trust} "
                "--cloudformation-execution-policies <policy ARN>`), and let these "
                "credentials call sts:AssumeRole on arn:aws:iam::*:role/cdk-*",
            )
        )

    # Bootstrap: the CDKToolkit stack and its version ----------------------------------------
    try:
        stack = aws.client("cloudformation", assumed).describe_stacks(StackName="CDKToolkit")
        status = stack["Stacks"][0]["StackStatus"]
    except Exception as exc:
        if "does not exist" in str(exc):
            findings.append(
                Finding(
                    "bootstrap",
                    TODO,
                    f"no CDKToolkit stack in {target_account}/{environment.region}",
                    f"`{bootstrap_command}` (once per account and region; docs/delivery.md)",
                )
            )
        else:
            findings.append(
                Finding(
                    "bootstrap",
                    TODO,
                    f"cannot read the CDKToolkit stack ({_error_text(exc)})",
                    "allow cloudformation:DescribeStacks, or fix 'trust' above",
                )
            )
        status = ""
    if status:
        if not status.endswith("_COMPLETE") or "ROLLBACK" in status:
            findings.append(
                Finding(
                    "bootstrap",
                    TODO,
                    f"the CDKToolkit stack is {status}",
                    f"fix or delete it in the CloudFormation console, then `{bootstrap_command}`",
                )
            )
        else:
            try:
                parameter = aws.client("ssm", assumed).get_parameter(
                    Name=requirements.version_parameter
                )
                version = int(parameter["Parameter"]["Value"])
            except Exception as exc:
                findings.append(
                    Finding(
                        "bootstrap",
                        TODO,
                        f"cannot read {requirements.version_parameter} ({_error_text(exc)})",
                        f"re-run `{bootstrap_command}`",
                    )
                )
            else:
                if version < requirements.bootstrap_version:
                    findings.append(
                        Finding(
                            "bootstrap",
                            TODO,
                            f"version {version}; the templates need at least "
                            f"{requirements.bootstrap_version}",
                            f"upgrade: `{bootstrap_command}` (the pinned CLI's template)",
                        )
                    )
                else:
                    findings.append(
                        Finding(
                            "bootstrap",
                            OK,
                            f"CDKToolkit {status}, version {version} "
                            f"(templates need {requirements.bootstrap_version})",
                        )
                    )

    # Hosted zone and domain -------------------------------------------------------------------
    domain = environment.domain
    if domain is None:
        findings.append(
            Finding("hosted zone", SKIPPED, f"{config_file} has no domain (plain HTTP on the ALB)")
        )
        return findings
    if PLACEHOLDER_MARK in domain.hosted_zone_id.upper():
        findings.append(
            Finding(
                "hosted zone",
                TODO,
                f"{config_file} domain.hosted_zone_id: {domain.hosted_zone_id} is the example's "
                "placeholder",
                f"create or find the public zone of {domain.name} "
                f"(`aws route53 list-hosted-zones-by-name --dns-name {domain.name}`) and put its "
                f"id in {config_file}",
            )
        )
        return findings
    try:
        zone = aws.client("route53").get_hosted_zone(Id=domain.hosted_zone_id)
    except Exception as exc:
        code = _error_code(exc)
        action = (
            f"check domain.hosted_zone_id in {config_file} "
            f"(`aws route53 list-hosted-zones-by-name --dns-name {domain.name}`)"
        )
        if code in ("AccessDenied", "AccessDeniedException"):
            action = "allow route53:GetHostedZone to these credentials, or check the zone by hand"
        findings.append(
            Finding(
                "hosted zone",
                TODO,
                f"zone {domain.hosted_zone_id} unreadable ({_error_text(exc)})",
                action,
            )
        )
        return findings
    zone_name = str(zone["HostedZone"]["Name"]).rstrip(".").lower()
    private = bool(zone["HostedZone"].get("Config", {}).get("PrivateZone", False))
    apex = domain.name.rstrip(".").lower()
    if private:
        findings.append(
            Finding(
                "hosted zone",
                TODO,
                f"zone {domain.hosted_zone_id} ({zone_name}) is private: certificates are "
                "validated and restaurants reached through public DNS",
                f"use the public zone of {domain.name}",
            )
        )
    elif apex != zone_name and not apex.endswith(f".{zone_name}"):
        findings.append(
            Finding(
                "hosted zone",
                TODO,
                f"zone {domain.hosted_zone_id} is {zone_name}, which does not hold {apex}",
                f"set domain.hosted_zone_id in {config_file} to the zone of {apex} or a parent",
            )
        )
    else:
        servers = zone.get("DelegationSet", {}).get("NameServers", [])
        findings.append(Finding("hosted zone", OK, f"{zone_name} (public) holds {apex}"))
        findings.append(
            Finding(
                "delegation",
                NOTE,
                f"{zone_name} must be delegated to {', '.join(servers) or 'its name servers'}",
                f"`dig +short NS {zone_name}` should list them; certificate validation "
                "(seed 3.1 HTTPS) waits for it",
            )
        )
    return findings


def format_findings(environment: str, requirements: Requirements, findings: list[Finding]) -> str:
    width = max(len(f.check) for f in findings)
    out = [
        f"deploy-check: environment {environment}, {_plural(len(requirements.stacks), 'stack')} "
        "in the assembly"
    ]
    for f in findings:
        out.append(f"  {f.status.upper():<7} {f.check:<{width}}  {f.detail}")
        if f.action and f.status in (TODO, NOTE):
            out.append(f"  {'':<7} {'':<{width}}  -> {f.action}")
    todo = sum(f.status == TODO for f in findings)
    if todo:
        out.append(
            f"summary: {_plural(todo, 'thing')} to do before `make deploy ENV={environment}`; "
            "nothing was deployed"
        )
    else:
        out.append(f"summary: ready to deploy {environment}")
    return "\n".join(out)


def _plural(count: int, noun: str) -> str:
    return f"{count} {noun}" if count == 1 else f"{count} {noun}s"


def run(args: argparse.Namespace, aws_factory: Callable[[str], Any] = AwsAccess) -> int:
    try:
        (environment,) = load_environments(Path(args.config_dir), names=[args.env])
        requirements = requirements_from_assembly(Path(args.assembly), args.env)
    except (ConfigError, DeployCheckInputError, AssemblyError) as exc:
        print(f"deploy-check: {exc}", file=sys.stderr)
        return EXIT_INPUT
    # Never wait on the EC2 instance metadata service off EC2: a laptop or runner has none.
    os.environ.setdefault("AWS_EC2_METADATA_DISABLED", "true")
    aws = aws_factory(os.environ.get("AWS_REGION") or os.environ.get("AWS_DEFAULT_REGION") or "")
    config_file = f"config/environments/{args.env}.yaml"
    findings = check_environment(environment, requirements, aws, config_file)
    if args.json:
        print(
            json.dumps(
                {
                    "environment": args.env,
                    "stacks": requirements.stacks,
                    "ready": not any(f.status == TODO for f in findings),
                    "findings": [asdict(f) for f in findings],
                },
                indent=2,
            )
        )
    else:
        print(format_findings(args.env, requirements, findings))
    return EXIT_TODO if any(f.status == TODO for f in findings) else EXIT_OK


def register(subparsers: Any) -> None:
    parser = subparsers.add_parser(
        "deploy-check",
        help="before a deploy: credentials, account, region, CDK bootstrap, hosted zone",
        description=__doc__.split("\n\n")[0] if __doc__ else None,
    )
    parser.add_argument("--env", required=True, help="environment (config/environments/ENV.yaml)")
    parser.add_argument(
        "--assembly",
        default=str(DEFAULT_ASSEMBLY),
        help="synthesized cloud assembly directory (default: cdk.out)",
    )
    parser.add_argument(
        "--config-dir", default=str(ENVIRONMENTS_DIR), help="environment files (default: config)"
    )
    parser.add_argument("--json", action="store_true", help="machine-readable output")
    parser.set_defaults(func=run)
