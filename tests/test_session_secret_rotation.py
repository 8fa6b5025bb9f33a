"""The session-secret rotation handler, run against a local Secrets Manager and ECS (moto server
on 127.0.0.1, started and stopped by the fixture), driven the way Secrets Manager drives it."""

from __future__ import annotations

import json
import string
import time
import uuid
from typing import Any

import boto3
import pytest
from botocore.exceptions import ClientError
from moto.core import DEFAULT_ACCOUNT_ID
from moto.secretsmanager.models import secretsmanager_backends

from runtime.session_secret_rotation import index

REGION = "us-east-1"
ORIGINAL = "A" * 64


@pytest.fixture(scope="module")
def endpoint(moto_endpoint: str) -> str:
    return moto_endpoint


@pytest.fixture
def aws(endpoint: str, monkeypatch: pytest.MonkeyPatch, tmp_path: Any) -> dict[str, Any]:
    """Clients of the local services; the handler reaches the same endpoint through the
    standard AWS_ENDPOINT_URL variable, with throw-away credentials (never a real account)."""
    for name, value in {
        "AWS_ENDPOINT_URL": endpoint,
        "AWS_DEFAULT_REGION": REGION,
        "AWS_ACCESS_KEY_ID": "testing",
        "AWS_SECRET_ACCESS_KEY": "testing",
        "AWS_CONFIG_FILE": str(tmp_path / "none"),
        "AWS_SHARED_CREDENTIALS_FILE": str(tmp_path / "none"),
    }.items():
        monkeypatch.setenv(name, value)
    monkeypatch.delenv("ECS_CLUSTER", raising=False)
    monkeypatch.delenv("ECS_SERVICE", raising=False)
    return {"sm": boto3.client("secretsmanager"), "ecs": boto3.client("ecs")}


@pytest.fixture
def secret(aws: dict[str, Any]) -> str:
    name = f"chefs-kiss-test/app/secrets-{uuid.uuid4().hex[:8]}"
    value = {"purpose": "session-signing", index.CURRENT: ORIGINAL}
    arn: str = aws["sm"].create_secret(Name=name, SecretString=json.dumps(value))["ARN"]
    return arn


def begin_rotation(arn: str, *, enabled: bool = True) -> str:
    """What Secrets Manager does before it calls the function: a new version id staged
    AWSPENDING with no value yet (not possible through the public API)."""
    backend = secretsmanager_backends[DEFAULT_ACCOUNT_ID][REGION]
    stored = backend.secrets[arn]
    token = str(uuid.uuid4())
    stored.remove_version_stages_from_old_versions(["AWSPENDING"])
    stored.versions[token] = {
        "createdate": int(time.time()),
        "version_id": token,
        "version_stages": ["AWSPENDING"],
    }
    stored.rotation_requested = True  # DescribeSecret reports rotation from here on
    stored.rotation_enabled = enabled
    stored.auto_rotate_after_days = 30
    return token


def run(arn: str, token: str, *steps: str) -> None:
    for step in steps or index.STEPS:
        index.handler({"SecretId": arn, "ClientRequestToken": token, "Step": step}, None)


def current(aws: dict[str, Any], arn: str) -> dict[str, str]:
    value: dict[str, str] = json.loads(
        aws["sm"].get_secret_value(SecretId=arn, VersionStage="AWSCURRENT")["SecretString"]
    )
    return value


def test_rotation_keeps_the_replaced_value_as_previous(aws: dict[str, Any], secret: str) -> None:
    token = begin_rotation(secret)
    run(secret, token)
    value = current(aws, secret)
    assert value[index.PREVIOUS] == ORIGINAL
    assert value[index.CURRENT] != ORIGINAL and len(value[index.CURRENT]) == 64
    assert set(value[index.CURRENT]) <= set(string.ascii_letters + string.digits)
    assert value["purpose"] == "session-signing"
    stages = aws["sm"].describe_secret(SecretId=secret)["VersionIdsToStages"]
    assert "AWSCURRENT" in stages[token]


def test_a_session_survives_one_rotation_but_not_two(aws: dict[str, Any], secret: str) -> None:
    run(secret, begin_rotation(secret))
    first = current(aws, secret)[index.CURRENT]
    run(secret, begin_rotation(secret))
    value = current(aws, secret)
    assert value[index.PREVIOUS] == first
    assert ORIGINAL not in value.values()


def test_create_is_idempotent(aws: dict[str, Any], secret: str) -> None:
    token = begin_rotation(secret)
    run(secret, token, "createSecret")
    pending = aws["sm"].get_secret_value(SecretId=secret, VersionId=token)["SecretString"]
    run(secret, token, "createSecret")  # Secrets Manager retries a step that timed out
    assert aws["sm"].get_secret_value(SecretId=secret, VersionId=token)["SecretString"] == pending
    run(secret, token, "setSecret", "testSecret", "finishSecret")
    assert current(aws, secret) == json.loads(pending)


def test_a_malformed_pending_value_fails_the_test_step(aws: dict[str, Any], secret: str) -> None:
    token = begin_rotation(secret)
    aws["sm"].put_secret_value(
        SecretId=secret,
        ClientRequestToken=token,
        SecretString=json.dumps({index.CURRENT: "short", index.PREVIOUS: ORIGINAL}),
        VersionStages=["AWSPENDING"],
    )
    with pytest.raises(ValueError, match="is not 64 letters and digits"):
        run(secret, token, "testSecret")
    assert current(aws, secret)[index.CURRENT] == ORIGINAL


@pytest.mark.parametrize(
    ("change", "message"),
    [("disabled", "does not have rotation enabled"), ("unknown", "does not exist")],
)
def test_refuses_a_call_outside_a_rotation(
    aws: dict[str, Any], secret: str, change: str, message: str
) -> None:
    token = begin_rotation(secret, enabled=change != "disabled")
    if change == "unknown":
        token = str(uuid.uuid4())
    with pytest.raises(ValueError, match=message):
        run(secret, token, "createSecret")
    assert current(aws, secret)[index.CURRENT] == ORIGINAL


def test_unknown_step_is_refused(aws: dict[str, Any], secret: str) -> None:
    with pytest.raises(ValueError, match="unknown rotation step 'dropSecret'"):
        run(secret, begin_rotation(secret), "dropSecret")


def test_finish_starts_new_tasks_of_the_service(
    aws: dict[str, Any], secret: str, monkeypatch: pytest.MonkeyPatch
) -> None:
    ecs = aws["ecs"]
    ecs.create_cluster(clusterName="chefs-kiss-test-cluster")
    ecs.register_task_definition(
        family="chefs-kiss-test-app",
        containerDefinitions=[{"name": "app", "image": "app", "memory": 512}],
    )
    ecs.create_service(
        cluster="chefs-kiss-test-cluster",
        serviceName="chefs-kiss-test-app",
        taskDefinition="chefs-kiss-test-app",
        desiredCount=1,
    )
    monkeypatch.setenv("ECS_CLUSTER", "chefs-kiss-test-cluster")
    monkeypatch.setenv("ECS_SERVICE", "chefs-kiss-test-app")
    run(secret, begin_rotation(secret))
    assert current(aws, secret)[index.PREVIOUS] == ORIGINAL
    # The call really reaches ECS: a service that does not exist fails the step.
    monkeypatch.setenv("ECS_SERVICE", "no-such-service")
    with pytest.raises(ClientError, match="ServiceNotFound"):
        run(secret, begin_rotation(secret))
