"""Rotation of the app's session-signing secret: the four Secrets Manager rotation steps.

The secret is JSON. `session_secret` signs new sessions; `previous_session_secret` is the value
it replaced, which the app still accepts when it verifies a session. A session signed just
before a rotation therefore stays valid until the rotation after next (30 to 60 days).

- createSecret: a new random `session_secret`, the current one moves to
  `previous_session_secret`, stored as the AWSPENDING version (idempotent: retried calls keep
  the first value).
- setSecret: nothing to do; no other service holds the key.
- testSecret: the pending version is well formed and carries the current value as previous.
- finishSecret: AWSPENDING becomes AWSCURRENT; then, when ECS_CLUSTER and ECS_SERVICE are set,
  the service starts new tasks, since ECS hands secrets to a container only when it starts.

Runs on the Lambda Python runtime, whose boto3 it uses (nothing to bundle).
"""

from __future__ import annotations

import json
import logging
import os
import secrets
import string
from typing import Any

import boto3

LOGGER = logging.getLogger()
LOGGER.setLevel(logging.INFO)

CURRENT = "session_secret"
PREVIOUS = "previous_session_secret"
LENGTH = 64
ALPHABET = string.ascii_letters + string.digits  # as generated at creation: no punctuation
STEPS = ("createSecret", "setSecret", "testSecret", "finishSecret")


def new_value() -> str:
    return "".join(secrets.choice(ALPHABET) for _ in range(LENGTH))


def handler(event: dict[str, Any], context: object) -> None:
    arn, token, step = event["SecretId"], event["ClientRequestToken"], event["Step"]
    if step not in STEPS:
        raise ValueError(f"unknown rotation step {step!r}; expected one of {STEPS}")
    client = boto3.client("secretsmanager")
    metadata = client.describe_secret(SecretId=arn)
    if not metadata.get("RotationEnabled"):
        raise ValueError(f"secret {arn} does not have rotation enabled")
    stages = metadata.get("VersionIdsToStages", {})
    if token not in stages:
        raise ValueError(f"version {token} of secret {arn} does not exist")
    if "AWSCURRENT" in stages[token]:
        LOGGER.info("version %s of %s is already AWSCURRENT", token, arn)
        return
    if "AWSPENDING" not in stages[token]:
        raise ValueError(f"version {token} of secret {arn} is not AWSPENDING")
    LOGGER.info("%s for version %s of %s", step, token, arn)
    if step == "createSecret":
        create_secret(client, arn, token)
    elif step == "setSecret":
        pass  # the key lives only in this secret; the app reads it from here
    elif step == "testSecret":
        test_secret(client, arn, token)
    else:
        finish_secret(client, arn, token, stages)
        redeploy_service()


def create_secret(client: Any, arn: str, token: str) -> None:
    current = json.loads(
        client.get_secret_value(SecretId=arn, VersionStage="AWSCURRENT")["SecretString"]
    )
    try:
        client.get_secret_value(SecretId=arn, VersionId=token, VersionStage="AWSPENDING")
        LOGGER.info("version %s of %s already holds the pending value", token, arn)
        return
    except client.exceptions.ResourceNotFoundException:
        pass
    pending = {**current, PREVIOUS: current[CURRENT], CURRENT: new_value()}
    client.put_secret_value(
        SecretId=arn,
        ClientRequestToken=token,
        SecretString=json.dumps(pending),
        VersionStages=["AWSPENDING"],
    )


def test_secret(client: Any, arn: str, token: str) -> None:
    current = json.loads(
        client.get_secret_value(SecretId=arn, VersionStage="AWSCURRENT")["SecretString"]
    )
    pending = json.loads(
        client.get_secret_value(SecretId=arn, VersionId=token, VersionStage="AWSPENDING")[
            "SecretString"
        ]
    )
    value = pending.get(CURRENT, "")
    if len(value) != LENGTH or not set(value) <= set(ALPHABET):
        raise ValueError(f"pending {CURRENT} of {arn} is not {LENGTH} letters and digits")
    if value == current[CURRENT]:
        raise ValueError(f"pending {CURRENT} of {arn} equals the current one")
    if pending.get(PREVIOUS) != current[CURRENT]:
        raise ValueError(f"pending {PREVIOUS} of {arn} is not the current {CURRENT}")


def finish_secret(client: Any, arn: str, token: str, stages: dict[str, list[str]]) -> None:
    current_version = next(v for v, s in stages.items() if "AWSCURRENT" in s)
    client.update_secret_version_stage(
        SecretId=arn,
        VersionStage="AWSCURRENT",
        MoveToVersionId=token,
        RemoveFromVersionId=current_version,
    )
    LOGGER.info("version %s of %s is now AWSCURRENT", token, arn)


def redeploy_service() -> None:
    cluster, service = os.environ.get("ECS_CLUSTER"), os.environ.get("ECS_SERVICE")
    if cluster and service:
        boto3.client("ecs").update_service(
            cluster=cluster, service=service, forceNewDeployment=True
        )
        LOGGER.info("new tasks of %s/%s will read the new value", cluster, service)
