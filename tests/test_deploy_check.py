"""`python -m ops deploy-check`: each missing piece is found and named with what to do.

AWS answers are stubbed with botocore's Stubber on real boto3 clients: the requests are built and
validated against the service models (a wrong parameter name fails here), and nothing leaves the
machine. The no-credentials case runs the real command with an empty credential chain.
"""

from __future__ import annotations

import argparse
import datetime as dt
import json
import os
import subprocess
import sys
from pathlib import Path
from typing import Any

import pytest
from boto_sessions import session as shared_loader_session
from botocore.stub import Stubber

from ops.deploy import deploy_check

PROJECT_DIR = Path(__file__).resolve().parent.parent
CALLER = "111122223333"
OTHER = "444455556666"
ROLE = f"arn:aws:iam::{CALLER}:role/cdk-hnb659fds-deploy-role-{CALLER}-us-east-1"


class StubbedAws:
    """What AwsAccess offers, with every client a real boto3 client under a Stubber."""

    def __init__(self, region: str | None = "us-east-1") -> None:
        self.region = region
        self._session = shared_loader_session(
            aws_access_key_id="AKIDSTUBBED",
            aws_secret_access_key="stubbed",
            region_name="us-east-1",
        )
        self.stubbers: dict[str, Stubber] = {}
        self.clients: dict[str, Any] = {}
        self.assumed_for: list[str] = []

    def has_credentials(self) -> bool:
        return True

    def stub(self, service: str) -> Stubber:
        if service not in self.stubbers:
            client = self._session.client(service)
            self.clients[service] = client
            self.stubbers[service] = Stubber(client)
            self.stubbers[service].activate()
        return self.stubbers[service]

    def client(self, service: str, credentials: dict[str, Any] | None = None) -> Any:
        if credentials is not None:
            self.assumed_for.append(service)
        self.stub(service)
        return self.clients[service]

    def done(self) -> None:
        for stubber in self.stubbers.values():
            stubber.assert_no_pending_responses()


def identity(aws: StubbedAws, account: str = CALLER) -> None:
    aws.stub("sts").add_response(
        "get_caller_identity",
        {"UserId": "AIDA", "Account": account, "Arn": f"arn:aws:iam::{account}:user/chef"},
        {},
    )


def assume(aws: StubbedAws, role: str = ROLE) -> None:
    aws.stub("sts").add_response(
        "assume_role",
        {
            "Credentials": {
                "AccessKeyId": "ASIASTUBBEDSTUBBED",
                "SecretAccessKey": "s",
                "SessionToken": "t",
                "Expiration": dt.datetime(2030, 1, 1, tzinfo=dt.UTC),
            }
        },
        {"RoleArn": role, "RoleSessionName": "chefs-kiss-deploy-check"},
    )


def toolkit(aws: StubbedAws, status: str = "UPDATE_COMPLETE", version: str | None = "27") -> None:
    aws.stub("cloudformation").add_response(
        "describe_stacks",
        {
            "Stacks": [
                {
                    "StackName": "CDKToolkit",
                    "CreationTime": dt.datetime(2026, 1, 1, tzinfo=dt.UTC),
                    "StackStatus": status,
                }
            ]
        },
        {"StackName": "CDKToolkit"},
    )
    if version is not None:
        aws.stub("ssm").add_response(
            "get_parameter",
            {"Parameter": {"Name": "/cdk-bootstrap/hnb659fds/version", "Value": version}},
            {"Name": "/cdk-bootstrap/hnb659fds/version"},
        )


def zone(aws: StubbedAws, zone_id: str, name: str, private: bool = False) -> None:
    aws.stub("route53").add_response(
        "get_hosted_zone",
        {
            "HostedZone": {
                "Id": f"/hostedzone/{zone_id}",
                "Name": name,
                "CallerReference": "ref",
                "Config": {"PrivateZone": private},
            },
            "DelegationSet": {"NameServers": ["ns-1.awsdns-01.org", "ns-2.awsdns-02.com"]},
        },
        {"Id": zone_id},
    )


def run_check(
    aws: StubbedAws, env: str, assembly: Path, config_dir: Path | None = None, as_json: bool = True
) -> tuple[int, Any]:
    args = argparse.Namespace(
        env=env,
        assembly=str(assembly),
        config_dir=str(config_dir or PROJECT_DIR / "config" / "environments"),
        json=as_json,
    )
    import contextlib
    import io

    out = io.StringIO()
    with contextlib.redirect_stdout(out):
        code = deploy_check.run(args, aws_factory=lambda region: aws)
    aws.done()
    return code, json.loads(out.getvalue()) if as_json else out.getvalue()


def statuses(payload: dict[str, Any]) -> dict[str, str]:
    return {f["check"]: f["status"] for f in payload["findings"]}


def action(payload: dict[str, Any], check: str) -> str:
    return next(f["action"] for f in payload["findings"] if f["check"] == check)


def write_env(tmp_path: Path, name: str, extra: str, profile: str = "poc") -> Path:
    directory = tmp_path / "environments"
    directory.mkdir(exist_ok=True)
    (directory / f"{name}.yaml").write_text(
        f"profile: {profile}\nregion: us-east-1\n" + extra + "\nrestaurants:\n"
        "  - slug: golden-wok\n    tier: production\n",
        encoding="utf-8",
    )
    return directory


def test_ready_environment_without_a_domain(example_cdk_out: Path) -> None:
    aws = StubbedAws()
    identity(aws)
    assume(aws)
    toolkit(aws)
    code, text = run_check(aws, "dev", example_cdk_out, as_json=False)
    assert code == 0, text
    assert "summary: ready to deploy dev" in text
    assert "OK      bootstrap" in text and "version 27 (templates need 6)" in text
    assert "SKIPPED hosted zone" in text
    # The bootstrap reads go through the assumed deploy role, as the CDK CLI's do.
    assert aws.assumed_for == ["cloudformation", "ssm"]
    # An unpinned account is a note with the line to add, not a failure.
    assert f'account: "{CALLER}"' in text


def test_region_mismatch_stops_before_any_account_change(example_cdk_out: Path) -> None:
    aws = StubbedAws(region="eu-west-1")
    identity(aws)
    code, payload = run_check(aws, "dev", example_cdk_out)
    assert code == 1 and payload["ready"] is False
    assert statuses(payload)["region"] == "todo"
    assert action(payload, "region") == "export AWS_REGION=us-east-1"
    assert "trust" not in statuses(payload)


def test_unbootstrapped_account_says_how_to_bootstrap(example_cdk_out: Path) -> None:
    from botocore.exceptions import ClientError  # noqa: F401  (the stub raises it)

    aws = StubbedAws()
    identity(aws)
    aws.stub("sts").add_client_error(
        "assume_role", "AccessDenied", "not authorized to perform sts:AssumeRole", 403
    )
    aws.stub("cloudformation").add_client_error(
        "describe_stacks", "ValidationError", "Stack with id CDKToolkit does not exist", 400
    )
    code, payload = run_check(aws, "dev", example_cdk_out)
    assert code == 1
    assert statuses(payload)["trust"] == "todo"
    assert statuses(payload)["bootstrap"] == "todo"
    assert action(payload, "bootstrap").startswith(f"`cdk bootstrap aws://{CALLER}/us-east-1`")
    assert aws.assumed_for == [], "no role was assumed, so the caller's own credentials were used"


def test_old_bootstrap_version_and_failed_toolkit(example_cdk_out: Path) -> None:
    aws = StubbedAws()
    identity(aws)
    assume(aws)
    toolkit(aws, version="5")
    code, payload = run_check(aws, "dev", example_cdk_out)
    assert code == 1
    detail = next(f["detail"] for f in payload["findings"] if f["check"] == "bootstrap")
    assert detail == "version 5; the templates need at least 6"

    aws = StubbedAws()
    identity(aws)
    assume(aws)
    toolkit(aws, status="UPDATE_ROLLBACK_COMPLETE", version=None)
    code, payload = run_check(aws, "dev", example_cdk_out)
    assert code == 1 and "UPDATE_ROLLBACK_COMPLETE" in json.dumps(payload)


def test_example_hosted_zone_placeholder_is_caught(example_cdk_out: Path) -> None:
    aws = StubbedAws()
    identity(aws)
    assume(aws)
    toolkit(aws)
    code, payload = run_check(aws, "prod", example_cdk_out)
    assert code == 1
    finding = next(f for f in payload["findings"] if f["check"] == "hosted zone")
    assert "Z0EXAMPLE00000000000 is the example's placeholder" in finding["detail"]
    assert "list-hosted-zones-by-name --dns-name app.chefskiss.example" in finding["action"]


def test_pinned_account_other_credentials_and_the_trust_hint(
    example_cdk_out: Path, tmp_path: Path
) -> None:
    config = write_env(tmp_path, "prod", f'account: "{OTHER}"\n')
    aws = StubbedAws()
    identity(aws)  # credentials of CALLER; config pins OTHER
    role = f"arn:aws:iam::{OTHER}:role/cdk-hnb659fds-deploy-role-{OTHER}-us-east-1"
    aws.stub("sts").add_client_error("assume_role", "AccessDenied", "denied", 403)
    aws.stub("cloudformation").add_client_error("describe_stacks", "AccessDenied", "denied", 403)
    code, payload = run_check(aws, "prod", example_cdk_out, config_dir=config)
    assert code == 1
    assert statuses(payload)["account"] == "todo"
    trust = next(f for f in payload["findings"] if f["check"] == "trust")
    assert role in trust["detail"]
    assert f"--trust {CALLER}" in trust["action"]


@pytest.mark.parametrize(
    ("zone_name", "private", "status"),
    [
        ("chefskiss.example.", False, "ok"),
        ("chefskiss.example.", True, "todo"),
        ("other.example.", False, "todo"),
    ],
)
def test_hosted_zone_must_be_public_and_hold_the_domain(
    example_cdk_out: Path, tmp_path: Path, zone_name: str, private: bool, status: str
) -> None:
    zone_id = "Z04221234ABCDEFGHIJK"
    config = write_env(
        tmp_path,
        "prod",
        f"domain:\n  name: app.chefskiss.example\n  hosted_zone_id: {zone_id}\n"
        "alerts:\n  warning_emails: [a@chefskiss.example]\n"
        "  critical_emails: [a@chefskiss.example]",
        profile="production",
    )
    aws = StubbedAws()
    identity(aws)
    assume(aws)
    toolkit(aws)
    zone(aws, zone_id, zone_name, private)
    code, payload = run_check(aws, "prod", example_cdk_out, config_dir=config)
    assert statuses(payload)["hosted zone"] == status
    assert code == (0 if status == "ok" else 1)
    if status == "ok":
        assert "ns-1.awsdns-01.org" in json.dumps(payload)


def test_no_credentials_real_chain_names_what_to_do(example_cdk_out: Path, tmp_path: Path) -> None:
    env = {k: v for k, v in os.environ.items() if not k.startswith("AWS_")}
    env.update(
        AWS_CONFIG_FILE=str(tmp_path / "none"),
        AWS_SHARED_CREDENTIALS_FILE=str(tmp_path / "none"),
        AWS_EC2_METADATA_DISABLED="true",
        AWS_REGION="us-east-1",
    )
    result = subprocess.run(
        [sys.executable, "-m", "ops", "deploy-check", "--env", "dev",
         "--assembly", str(example_cdk_out)],
        capture_output=True, text=True, cwd=PROJECT_DIR, env=env, timeout=120,
    )  # fmt: skip
    assert result.returncode == 1, result.stderr
    assert "TODO    credentials  no AWS credentials" in result.stdout
    assert "aws sso login" in result.stdout
    assert "Traceback" not in result.stderr


def test_bad_input_names_what_is_allowed(example_cdk_out: Path, tmp_path: Path) -> None:
    aws = StubbedAws()
    args = argparse.Namespace(
        env="nope", assembly=str(example_cdk_out),
        config_dir=str(PROJECT_DIR / "config" / "environments"), json=False,
    )  # fmt: skip
    assert deploy_check.run(args, aws_factory=lambda region: aws) == 2
    with pytest.raises(deploy_check.DeployCheckInputError, match="run `make synth` first"):
        deploy_check.requirements_from_assembly(tmp_path, "dev")
