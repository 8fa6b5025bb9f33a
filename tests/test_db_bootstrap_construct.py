"""The bootstrap as synthesized: wired to its own instance and secret, and its asset runs.

The Lambda asset is run as Lambda would run it: a fresh interpreter without this virtualenv's
site-packages (`python -S`), importing only what the asset holds, converging the real test server.
"""

from __future__ import annotations

import json
import os
import subprocess
import sys
from collections.abc import Callable
from pathlib import Path
from typing import Any

import pytest
from aws_cdk import assertions
from postgres_server import PostgresServer

from constructs.tenant_database import APP_SCHEMA, APP_USERNAME, DATABASE_NAME, MASTER_USERNAME
from runtime.db_bootstrap import Target, sql_version

STACKS = ["chefs-kiss-dev-tenant-bella-napoli", "chefs-kiss-prod-tenant-golden-wok"]
TemplateFn = Callable[[str], assertions.Template]


def _only(template: assertions.Template, type_name: str) -> tuple[str, dict[str, Any]]:
    found = template.find_resources(type_name)
    assert len(found) == 1, f"expected one {type_name}, found {list(found)}"
    return next(iter(found.items()))


@pytest.mark.parametrize("stack", STACKS)
def test_custom_resource_targets_its_own_instance_and_reruns_on_change(
    template: TemplateFn, stack: str
) -> None:
    t = template(stack)
    instance_id, _ = _only(t, "AWS::RDS::DBInstance")
    function_id, function = _only(t, "AWS::Lambda::Function")
    _, resource = _only(t, "Custom::DatabaseBootstrap")
    props = resource["Properties"]
    assert props["ServiceToken"] == {"Fn::GetAtt": [function_id, "Arn"]}
    assert props["Host"] == {"Fn::GetAtt": [instance_id, "Endpoint.Address"]}
    assert props["InstanceResourceId"] == {"Fn::GetAtt": [instance_id, "DbiResourceId"]}
    assert (props["Database"], props["User"], props["Schema"], props["Port"]) == (
        DATABASE_NAME,
        APP_USERNAME,
        APP_SCHEMA,
        "5433",
    )
    target = Target(user=APP_USERNAME, schema=APP_SCHEMA, database=DATABASE_NAME)
    assert props["SqlVersion"] == sql_version(target, master_user=MASTER_USERNAME)
    assert instance_id in resource["DependsOn"]
    assert function["Properties"]["Handler"] == "runtime.db_bootstrap.handler"
    assert function["Properties"]["Timeout"] == 300
    assert "VpcConfig" in function["Properties"]


@pytest.mark.parametrize("stack", STACKS)
def test_the_bootstrap_role_reads_exactly_the_master_secret(
    template: TemplateFn, stack: str
) -> None:
    """Its own policy: read this stack's master secret, nothing else (decryption through
    Secrets Manager is in the key policy). Whether the app is kept away from the secret is the
    access-role tests' business (tests/test_isolation.py)."""
    t = template(stack)
    secret_ref = {"Ref": _only(t, "AWS::SecretsManager::SecretTargetAttachment")[0]}
    role_id, _ = _only_like(t, "AWS::IAM::Role", "DatabaseBootstrapRole")
    statements = [
        statement
        for policy in t.find_resources("AWS::IAM::Policy").values()
        if {"Ref": role_id} in policy["Properties"]["Roles"]
        for statement in policy["Properties"]["PolicyDocument"]["Statement"]
    ]
    assert statements == [
        {
            "Action": ["secretsmanager:DescribeSecret", "secretsmanager:GetSecretValue"],
            "Effect": "Allow",
            "Resource": secret_ref,
        }
    ]
    key_statements = _only(t, "AWS::KMS::Key")[1]["Properties"]["KeyPolicy"]["Statement"]
    (decrypt,) = [
        s for s in key_statements if s["Principal"] == {"AWS": {"Fn::GetAtt": [role_id, "Arn"]}}
    ]
    assert decrypt["Action"] == "kms:Decrypt"
    assert decrypt["Condition"]["StringEquals"]["kms:ViaService"].startswith("secretsmanager.")


def _only_like(
    template: assertions.Template, type_name: str, prefix: str
) -> tuple[str, dict[str, Any]]:
    found = {k: v for k, v in template.find_resources(type_name).items() if k.startswith(prefix)}
    assert len(found) == 1, f"expected one {type_name} named {prefix}*, found {list(found)}"
    return next(iter(found.items()))


def _bootstrap_asset(cdk_out: Path, stack: str) -> Path:
    """The function's code directory, found through the stack's asset manifest by its S3 key."""
    template = json.loads((cdk_out / f"{stack}.template.json").read_text())
    function = next(
        r for r in template["Resources"].values() if r["Type"] == "AWS::Lambda::Function"
    )
    key = function["Properties"]["Code"]["S3Key"]
    manifest = json.loads((cdk_out / f"{stack}.assets.json").read_text())
    for asset in manifest["files"].values():
        if any(d["objectKey"] == key for d in asset["destinations"].values()):
            return cdk_out / asset["source"]["path"]
    raise AssertionError(f"no asset with object key {key} in {stack}.assets.json")


_RUN_FROM_ASSET = """
import json, sys
import pg8000, runtime.app_connection as c, runtime.db_bootstrap as b
assert pg8000.__file__.startswith(sys.argv[1]), pg8000.__file__
args = json.loads(sys.argv[2])
conn = c.connect(host=args["host"], port=args["port"], database="chefs_kiss",
                 user=args["user"], password=args["password"], ca_file=args["ca"])
print(json.dumps(b.converge(conn, b.Target(user="chefs_app", schema="app",
                                           database="chefs_kiss"))))
"""


def test_the_lambda_asset_is_self_contained_and_converges_a_real_database(
    example_cdk_out: Path, postgres_server: PostgresServer
) -> None:
    asset = _bootstrap_asset(example_cdk_out, STACKS[0])
    assert (asset / "runtime" / "db_bootstrap.py").is_file()
    args = {
        "host": postgres_server.host,
        "port": postgres_server.port,
        "user": postgres_server.master_user,
        "password": postgres_server.master_password,
        "ca": str(postgres_server.ca_file),
    }
    result = subprocess.run(
        [sys.executable, "-S", "-c", _RUN_FROM_ASSET, str(asset), json.dumps(args)],
        cwd=asset,
        env={"PATH": os.environ.get("PATH", ""), "PYTHONPATH": str(asset)},
        capture_output=True,
        text=True,
        timeout=60,
        check=False,
    )
    assert result.returncode == 0, result.stderr
    statements = json.loads(result.stdout.strip().splitlines()[-1])
    assert any(f'TO "{APP_SCHEMA}"' in s for s in statements), statements
