"""The log archive (seed 4.4, docs/log-archive.md): every log group reaches the environment's
archive, under a key that names its kind and owner, kept as long as config says.

The templates of two generated environments (production with CloudTrail and a longer audit
archive; PoC with Deep Archive) are read with the IAM test's CloudFormation resolver, and the
stream's own jq query (jq, the library Firehose's parser is) runs on CloudWatch Logs records.
"""

from __future__ import annotations

import json
import re
from pathlib import Path
from typing import Any

import jq
import pytest

from config.generated import generated_environment
from config.schema import LOG_KINDS, EnvironmentConfig
from constructs.log_archive import archive_filter_name, archive_prefix
from stacks import naming
from tests.conftest import synth_app
from tests.test_access_evaluation import ACCOUNT, PARTITION, Exports, Resolver
from tests.test_config_rules import env, refused

# A module fixture builds its environments' app: once, on one worker (not in test-quick).
pytestmark = [pytest.mark.slow, pytest.mark.xdist_group("log-archive")]

PROD = "arcp"
POC = "arcq"


@pytest.fixture(scope="module")
def environments() -> dict[str, EnvironmentConfig]:
    return {
        PROD: generated_environment(
            PROD,
            2,
            profile="production",
            tier_mix={"poc": 0.5, "production": 0.5},
            security={"cloudtrail": True},
            logs={"archive": {"audit_days": 731}},
        ),
        POC: generated_environment(
            POC, 1, profile="poc", logs={"archive": {"storage_class": "deep-archive"}}
        ),
    }


@pytest.fixture(scope="module")
def stacks(
    environments: dict[str, EnvironmentConfig], tmp_path_factory: pytest.TempPathFactory
) -> dict[str, Resolver]:
    """Stack name -> resolver (templates with intrinsics resolved as CloudFormation would)."""
    # Read-only templates: the example assembly runs the built-in validation on these kinds.
    _, assembly = synth_app(
        environments.values(), outdir=tmp_path_factory.mktemp("archive.out"), cfn_validation=False
    )
    exports = Exports()
    resolvers = {
        s.stack_name: Resolver(s.stack_name, s.template, "us-east-1", exports)
        for s in assembly.stacks
    }
    for resolver in resolvers.values():
        exports.add(resolver)
    return resolvers


def of_type(resolver: Resolver, kind: str) -> dict[str, dict[str, Any]]:
    return {k: r for k, r in resolver.resources.items() if r["Type"] == kind}


def stream(stacks: dict[str, Resolver], env_name: str) -> dict[str, Any]:
    platform = stacks[naming.platform_stack_name(env_name)]
    (resource,) = of_type(platform, "AWS::KinesisFirehose::DeliveryStream").values()
    return platform.resolve(resource["Properties"])


def bucket(stacks: dict[str, Resolver], env_name: str) -> dict[str, Any]:
    platform = stacks[naming.platform_stack_name(env_name)]
    found = [
        platform.resolve(r["Properties"])
        for r in of_type(platform, "AWS::S3::Bucket").values()
        if "log-archive" in str(platform.resolve(r["Properties"].get("BucketName", "")))
    ]
    assert len(found) == 1
    return found[0]


def cloudwatch_record(filter_name: str, log_group: str) -> dict[str, Any]:
    """A decompressed CloudWatch Logs subscription record (CloudWatch Logs user guide,
    "Subscription filters": the data Firehose receives, once gunzipped)."""
    return {
        "messageType": "DATA_MESSAGE",
        "owner": ACCOUNT,
        "logGroup": log_group,
        "logStream": "2026/12/07/[$LATEST]abc",
        "subscriptionFilters": [filter_name],
        "logEvents": [{"id": "1", "timestamp": 1_796_000_000_000, "message": "hello"}],
    }


def s3_prefix(config: dict[str, Any], record: dict[str, Any]) -> str:
    """The key prefix Firehose writes `record` under: the stream's own jq query and prefix."""
    processors = config["ProcessingConfiguration"]["Processors"]
    (extraction,) = [p for p in processors if p["Type"] == "MetadataExtraction"]
    parameters = {p["ParameterName"]: p["ParameterValue"] for p in extraction["Parameters"]}
    assert parameters["JsonParsingEngine"] == "JQ-1.6"
    keys = jq.compile(parameters["MetadataExtractionQuery"]).input_value(record).first()
    prefix = re.sub(
        r"!\{partitionKeyFromQuery:(\w+)\}", lambda m: keys[m.group(1)], config["Prefix"]
    )
    return prefix.split("!{timestamp")[0]


def subscriptions(stacks: dict[str, Resolver], env_name: str) -> list[tuple[str, dict, dict]]:
    """(stack, log group properties, subscription filter properties), resolved."""
    found = []
    for name, resolver in stacks.items():
        if not name.startswith(f"chefs-kiss-{env_name}-"):
            continue
        for resource in of_type(resolver, "AWS::Logs::SubscriptionFilter").values():
            props = resource["Properties"]
            (group_id,) = [props["LogGroupName"]["Ref"]]
            group = resolver.resolve(resolver.resources[group_id]["Properties"])
            found.append((name, group, resolver.resolve(props)))
    return found


# --- every log group reaches the archive ---------------------------------------------------


@pytest.mark.parametrize("env_name", [PROD, POC])
def test_every_log_group_but_the_archives_own_is_subscribed_once(
    stacks: dict[str, Resolver], env_name: str
) -> None:
    groups: dict[str, int] = {}
    for name, resolver in stacks.items():
        if name.startswith(f"chefs-kiss-{env_name}-"):
            for resource in of_type(resolver, "AWS::Logs::LogGroup").values():
                groups[str(resolver.resolve(resource["Properties"]["LogGroupName"]))] = 0
    for _, group, _ in subscriptions(stacks, env_name):
        groups[group["LogGroupName"]] += 1
    delivery = f"/{naming.name_prefix(env_name)}/log-archive-delivery"
    assert groups.pop(delivery) == 0, "the archive's own error log must not feed the archive"
    assert groups and set(groups.values()) == {1}, groups
    kinds = {
        "app": ["/app", "/session-secret-rotation", "-app-probe"],
        "audit": ["/vpc-flow-logs"],
        "access": ["/postgresql", "/upgrade", "/db-bootstrap"],
    }
    if env_name == PROD:
        kinds["audit"].append("/cloudtrail")
        kinds["access"].append("aws-waf-logs-")
    for kind, fragments in kinds.items():
        for fragment in fragments:
            assert any(fragment in g for g in groups), f"no {kind} log group like {fragment}"


@pytest.mark.parametrize("env_name", [PROD, POC])
def test_filters_name_the_platforms_stream_and_role_by_their_names(
    stacks: dict[str, Resolver], env_name: str
) -> None:
    """A tenant's filter points at the platform's stream and role by ARN built from names:
    those names are the ones the platform gives them."""
    platform = stacks[naming.platform_stack_name(env_name)]
    stream_name = naming.log_archive_stream_name(env_name)
    role_name = naming.log_archive_subscription_role_name(env_name)
    assert stream(stacks, env_name)["DeliveryStreamName"] == stream_name
    roles = [platform.ref(k) for k in of_type(platform, "AWS::IAM::Role")]
    assert role_name in roles
    expected_stream = f"arn:{PARTITION}:firehose:us-east-1:{ACCOUNT}:deliverystream/{stream_name}"
    expected_role = f"arn:{PARTITION}:iam::{ACCOUNT}:role/{role_name}"
    found = subscriptions(stacks, env_name)
    assert {s for s, _, _ in found} > {naming.platform_stack_name(env_name)}
    for stack_name, _, props in found:
        assert props["DestinationArn"] == expected_stream, stack_name
        assert props["RoleArn"] == expected_role, stack_name
        assert props["FilterPattern"] == ""  # every event


def test_a_tenant_adds_three_filters_and_no_iam(
    stacks: dict[str, Resolver], environments: dict[str, EnvironmentConfig]
) -> None:
    """No per-tenant role (IAM's 5,000 per account) and no grant on the platform's role."""
    for restaurant in environments[PROD].restaurants:
        tenant = stacks[naming.tenant_stack_name(PROD, restaurant.slug)]
        filters = of_type(tenant, "AWS::Logs::SubscriptionFilter")
        assert len(filters) == 3
        role_name = naming.log_archive_subscription_role_name(PROD)
        for kind in ("AWS::IAM::Role", "AWS::IAM::Policy", "AWS::IAM::ManagedPolicy"):
            for resource in of_type(tenant, kind).values():
                assert role_name not in json.dumps(tenant.resolve(resource["Properties"]))


def test_the_database_does_not_come_to_depend_on_the_filters(stacks: dict[str, Resolver]) -> None:
    """The instance depends on its log groups (created before RDS exports to them); the
    archive must not add to its DependsOn (an update of the tenant's database resource)."""
    tenants = [r for name, r in stacks.items() if "-tenant-" in name]
    assert tenants
    for tenant in tenants:
        filters = set(of_type(tenant, "AWS::Logs::SubscriptionFilter"))
        for resource in of_type(tenant, "AWS::RDS::DBInstance").values():
            assert not filters & set(resource.get("DependsOn", [])), tenant.name


@pytest.mark.parametrize(
    ("env_name", "thresholds"),
    [(PROD, {"warning": 3600, "critical": 21600}), (POC, {"critical": 21600})],
)
def test_a_stale_delivery_alarms_per_severity_of_the_profile(
    stacks: dict[str, Resolver], env_name: str, thresholds: dict[str, int]
) -> None:
    platform = stacks[naming.platform_stack_name(env_name)]
    alarms = {
        a["AlarmName"]: a
        for a in (
            platform.resolve(r["Properties"])
            for r in of_type(platform, "AWS::CloudWatch::Alarm").values()
            if r["Properties"].get("Namespace") == "AWS/Firehose"
        )
    }
    prefix = naming.name_prefix(env_name)
    assert set(alarms) == {f"{prefix}-log-archive-delivery-{s}" for s in thresholds}
    for severity, threshold in thresholds.items():
        alarm = alarms[f"{prefix}-log-archive-delivery-{severity}"]
        assert alarm["MetricName"] == "DeliveryToS3.DataFreshness"
        assert alarm["Dimensions"] == [
            {"Name": "DeliveryStreamName", "Value": naming.log_archive_stream_name(env_name)}
        ]
        assert alarm["Threshold"] == threshold and alarm["TreatMissingData"] == "notBreaching"
        topic = f"Alerts{severity.title()}"  # the topic's Ref (logical id) in the resolver
        assert any(topic in str(a) for a in alarm["AlarmActions"]), alarm["AlarmActions"]


# --- findable by restaurant, kept by kind ---------------------------------------------------


@pytest.mark.parametrize("env_name", [PROD, POC])
def test_each_record_lands_under_its_kind_and_owner(
    stacks: dict[str, Resolver], environments: dict[str, EnvironmentConfig], env_name: str
) -> None:
    environment = environments[env_name]
    config = stream(stacks, env_name)["ExtendedS3DestinationConfiguration"]
    rules = {r.get("Prefix") for r in bucket(stacks, env_name)["LifecycleConfiguration"]["Rules"]}
    slugs = {r.slug for r in environment.restaurants}
    for stack_name, group, props in subscriptions(stacks, env_name):
        name = props["FilterName"]
        prefix = s3_prefix(config, cloudwatch_record(name, group["LogGroupName"]))
        kind, owner, log = prefix.rstrip("/").split("/")
        assert prefix == archive_prefix(kind, owner, log)
        assert f"{kind}/" in rules, f"{prefix}: no lifecycle rule keeps it"
        # The kind is the one whose CloudWatch retention the group has.
        assert group["RetentionInDays"] == environment.logs.cold_after_days(kind), name
        if "-tenant-" in stack_name:
            slug = stack_name.split("-tenant-")[1]
            assert slug in slugs and owner == naming.log_archive_owner(slug), prefix
            assert kind == "access"
        else:
            assert owner == "platform", prefix


def test_a_restaurants_logs_are_under_one_owner_prefix(
    stacks: dict[str, Resolver], environments: dict[str, EnvironmentConfig]
) -> None:
    config = stream(stacks, PROD)["ExtendedS3DestinationConfiguration"]
    slug = environments[PROD].restaurants[0].slug
    record = cloudwatch_record(
        archive_filter_name("access", naming.log_archive_owner(slug), "postgresql"),
        f"/aws/rds/instance/{naming.db_instance_identifier(PROD, slug)}/postgresql",
    )
    assert s3_prefix(config, record) == f"access/tenant-{slug}/postgresql/"


def test_a_record_without_a_filter_name_is_refused_by_the_query(
    stacks: dict[str, Resolver],
) -> None:
    """CloudWatch Logs' CONTROL_MESSAGE (sent when a filter is created) names no filter: the
    query fails, so Firehose writes it under errors/, never under a restaurant's prefix."""
    config = stream(stacks, PROD)["ExtendedS3DestinationConfiguration"]
    control = {**cloudwatch_record("x", ""), "messageType": "CONTROL_MESSAGE"}
    control["subscriptionFilters"] = []
    with pytest.raises(ValueError, match="split input"):
        s3_prefix(config, control)
    assert config["ErrorOutputPrefix"].startswith("errors/")


def test_archive_filter_names_cannot_smuggle_a_prefix() -> None:
    assert archive_filter_name("app", "platform", "app") == "app.platform.app"
    for bad in ("a.b", "A", "", "../x", "a/b"):
        with pytest.raises(ValueError, match="archive key part"):
            archive_filter_name("app", bad, "log")


@pytest.mark.parametrize(
    ("env_name", "storage_class", "days"),
    [
        (PROD, "GLACIER_IR", {"app": (7, 365), "access": (30, 365), "audit": (90, 731)}),
        (POC, "DEEP_ARCHIVE", {"app": (7, 365), "access": (30, 365), "audit": (90, 365)}),
    ],
)
def test_lifecycle_moves_each_kind_when_its_cloudwatch_retention_ends(
    stacks: dict[str, Resolver], env_name: str, storage_class: str, days: dict
) -> None:
    lifecycle = bucket(stacks, env_name)["LifecycleConfiguration"]
    rules = {r.get("Prefix"): r for r in lifecycle["Rules"]}
    for kind in LOG_KINDS:
        rule = rules[f"{kind}/"]
        cold, expire = days[kind]
        assert rule["Status"] == "Enabled"
        assert rule["Transitions"] == [{"StorageClass": storage_class, "TransitionInDays": cold}]
        assert rule["ExpirationInDays"] == expire
    assert rules["errors/"]["ExpirationInDays"] == max(e for _, e in days.values())


def test_the_archive_bucket_is_encrypted_versioned_private_and_logged(
    stacks: dict[str, Resolver],
) -> None:
    platform = stacks[naming.platform_stack_name(PROD)]
    props = bucket(stacks, PROD)
    (rule,) = props["BucketEncryption"]["ServerSideEncryptionConfiguration"]
    assert rule["ServerSideEncryptionByDefault"]["SSEAlgorithm"] == "aws:kms"
    key_arn = rule["ServerSideEncryptionByDefault"]["KMSMasterKeyID"]
    keys = {platform.get_att(k, "Arn"): r for k, r in of_type(platform, "AWS::KMS::Key").items()}
    assert keys[key_arn]["Properties"]["EnableKeyRotation"] is True
    assert props["VersioningConfiguration"] == {"Status": "Enabled"}
    assert all(props["PublicAccessBlockConfiguration"].values())
    assert props["LoggingConfiguration"]["LogFilePrefix"] == "s3-access/log-archive/"
    name = props["BucketName"]
    assert name == naming.log_archive_bucket_name(PROD, ACCOUNT, "us-east-1")
    policies = [
        platform.resolve(r["Properties"]["PolicyDocument"])
        for r in of_type(platform, "AWS::S3::BucketPolicy").values()
    ]
    tls = [
        s
        for p in policies
        for s in p["Statement"]
        if s["Effect"] == "Deny"
        and s.get("Condition") == {"Bool": {"aws:SecureTransport": "false"}}
        and f"arn:{PARTITION}:s3:::{name}" in s["Resource"]
    ]
    assert tls, "no TLS-only statement on the archive bucket"


# --- config ---------------------------------------------------------------------------------


def test_archive_retention_defaults_to_a_year_per_kind() -> None:
    logs = generated_environment("arcd", 1).logs
    assert {kind: logs.archive_days(kind) for kind in LOG_KINDS} == {
        "app": 365,
        "access": 365,
        "audit": 365,
    }
    assert logs.archive.storage_class == "glacier-instant-retrieval"
    # A CloudWatch retention of a year: the default archive outlasts it by the class's minimum.
    logs = generated_environment("arcd", 1, logs={"audit_days": 365}).logs
    assert logs.archive_days("audit") == 365 + 90
    deep = {"audit_days": 365, "archive": {"storage_class": "deep-archive"}}
    assert generated_environment("arcd", 1, logs=deep).logs.archive_days("audit") == 365 + 180


def test_an_archive_shorter_than_the_cold_class_minimum_is_refused(tmp_path: Path) -> None:
    message = refused(tmp_path, env(logs={"audit_days": 90, "archive": {"audit_days": 120}}))
    assert "prod.yaml: logs.archive.audit_days: allowed: at least 180 days" in message
    assert "glacier-instant-retrieval" in message and "got 120" in message


def test_deep_archive_needs_180_days_after_the_move(tmp_path: Path) -> None:
    data = env(logs={"archive": {"storage_class": "deep-archive", "app_days": 100}})
    message = refused(tmp_path, data)
    assert "logs.archive.app_days: allowed: at least 187 days" in message


def test_unknown_storage_class_and_out_of_range_days_are_refused(tmp_path: Path) -> None:
    message = refused(tmp_path, env(logs={"archive": {"storage_class": "glacier"}}))
    assert "logs.archive.storage_class" in message and "deep-archive" in message
    message = refused(tmp_path, env(logs={"archive": {"access_days": 4000}}))
    assert "logs.archive.access_days: allowed: 1 to 3653 days" in message


# --- the write path is granted, and only it (IAM evaluator, tests/iam/simulate.mjs) ---------


def service_request(
    service: str, action: str, resource: str, resource_policy: dict, context: dict[str, str]
) -> dict[str, Any]:
    """A request an AWS service makes as itself (assuming a role that trusts it)."""
    return {
        "request": {
            "principal": service,
            "action": action,
            "resource": {"resource": resource, "accountId": ACCOUNT},
            "contextVariables": {"aws:SecureTransport": "true", **context},
        },
        "identityPolicies": [],
        "serviceControlPolicies": [],
        "resourceControlPolicies": [],
        "resourcePolicy": resource_policy,
    }


def role_named(resolver: Resolver, name: str) -> str:
    (found,) = [k for k in of_type(resolver, "AWS::IAM::Role") if resolver.ref(k) == name]
    return found


def role_with(resolver: Resolver, description: str) -> str:
    (found,) = [
        k
        for k, r in of_type(resolver, "AWS::IAM::Role").items()
        if description in str(r["Properties"].get("Description", ""))
    ]
    return found


def test_the_archive_write_path_is_allowed_and_nothing_beside_it(
    stacks: dict[str, Resolver], environments: dict[str, EnvironmentConfig]
) -> None:
    from tests.test_access_evaluation import document, identity_policies, request, simulate

    p = stacks[naming.platform_stack_name(PROD)]
    region = "us-east-1"
    slug = environments[PROD].restaurants[0].slug
    subscription_role = role_named(p, naming.log_archive_subscription_role_name(PROD))
    delivery_role = role_with(p, "Firehose writes the log archive")
    task_role = role_named(p, naming.app_task_role_name(PROD))
    archive = bucket(stacks, PROD)["BucketName"]
    (archive_policy,) = [
        document(p.resolve(r["Properties"]["PolicyDocument"]))
        for r in of_type(p, "AWS::S3::BucketPolicy").values()
        if archive in json.dumps(p.resolve(r["Properties"]["Bucket"]))
    ]
    key_id = next(
        k for k, r in of_type(p, "AWS::KMS::Key").items() if "log archive" in str(r["Properties"])
    )
    key_arn = p.get_att(key_id, "Arn")
    key_policy = document(p.resolve(p.resources[key_id]["Properties"]["KeyPolicy"]))
    uploads_key = p.get_att(
        next(k for k in of_type(p, "AWS::KMS::Key") if k.startswith("PlatformKey")), "Arn"
    )
    stream_arn = f"arn:{PARTITION}:firehose:{region}:{ACCOUNT}:deliverystream/" + (
        naming.log_archive_stream_name(PROD)
    )
    group_arn = (
        f"arn:{PARTITION}:logs:{region}:{ACCOUNT}:log-group:/aws/rds/instance/"
        f"{naming.db_instance_identifier(PROD, slug)}/postgresql:*"
    )
    obj = f"arn:{PARTITION}:s3:::{archive}/access/tenant-{slug}/postgresql/2026/12/07/x.gz"

    def session(role: str) -> str:
        return f"arn:{PARTITION}:sts::{ACCOUNT}:assumed-role/{p.ref(role)}/s"

    def trust(role: str) -> dict[str, Any]:
        return document(p.resolve(p.resources[role]["Properties"]["AssumeRolePolicyDocument"]))

    def s3_kms(context_arn: str, via: str | None = f"s3.{region}.amazonaws.com") -> dict:
        found = {"kms:EncryptionContext:aws:s3:arn": context_arn, "kms:CallerAccount": ACCOUNT}
        return {**found, "kms:ViaService": via} if via else found

    subscriber = identity_policies(p, subscription_role)
    writer = identity_policies(p, delivery_role)
    app = identity_policies(p, task_role)
    role_arn = p.get_att(subscription_role, "Arn")
    writer_arn = p.get_att(delivery_role, "Arn")
    this_account = {"aws:SourceArn": group_arn, "aws:SourceAccount": ACCOUNT}
    other_account = {
        "aws:SourceArn": group_arn.replace(ACCOUNT, "444455556666"),
        "aws:SourceAccount": "444455556666",
    }
    cases: dict[str, tuple[str, dict[str, Any]]] = {
        "logs assumes the subscription role for this account's group": ("Allowed", service_request(
            "logs.amazonaws.com", "sts:AssumeRole", role_arn, trust(subscription_role),
            this_account,
        )),
        "logs assumes it for another account's group": ("Denied", service_request(
            "logs.amazonaws.com", "sts:AssumeRole", role_arn, trust(subscription_role),
            other_account,
        )),
        "firehose assumes the delivery role": ("Allowed", service_request(
            "firehose.amazonaws.com", "sts:AssumeRole", writer_arn, trust(delivery_role),
            {"sts:ExternalId": ACCOUNT},
        )),
        "firehose assumes it for another account": ("Denied", service_request(
            "firehose.amazonaws.com", "sts:AssumeRole", writer_arn, trust(delivery_role),
            {"sts:ExternalId": "444455556666"},
        )),
        "subscription puts a batch on the archive stream": ("Allowed", request(
            principal=session(subscription_role), action="firehose:PutRecordBatch",
            resource=stream_arn, identity=subscriber,
        )),
        "subscription puts on another stream": ("Denied", request(
            principal=session(subscription_role), action="firehose:PutRecordBatch",
            resource=stream_arn.replace("log-archive", "other"), identity=subscriber,
        )),
        "subscription deletes the stream": ("Denied", request(
            principal=session(subscription_role), action="firehose:DeleteDeliveryStream",
            resource=stream_arn, identity=subscriber,
        )),
        "firehose writes a restaurant's object": ("Allowed", request(
            principal=session(delivery_role), action="s3:PutObject", resource=obj,
            identity=writer, resource_policy=archive_policy,
        )),
        "firehose deletes an archived object": ("Denied", request(
            principal=session(delivery_role), action="s3:DeleteObject", resource=obj,
            identity=writer, resource_policy=archive_policy,
        )),
        "firehose writes to the uploads bucket": ("Denied", request(
            principal=session(delivery_role), action="s3:PutObject",
            resource=f"arn:{PARTITION}:s3:::uploads-elsewhere/tenants/{slug}/x",
            identity=writer,
        )),
        "S3 gets a data key for firehose (bucket key context)": ("Allowed", request(
            principal=session(delivery_role), action="kms:GenerateDataKey", resource=key_arn,
            identity=writer, resource_policy=key_policy,
            context=s3_kms(f"arn:{PARTITION}:s3:::{archive}"),
        )),
        "S3 gets a data key for firehose (object context)": ("Allowed", request(
            principal=session(delivery_role), action="kms:GenerateDataKey", resource=key_arn,
            identity=writer, resource_policy=key_policy, context=s3_kms(obj),
        )),
        "S3 decrypts a part for firehose's multipart upload": ("Allowed", request(
            principal=session(delivery_role), action="kms:Decrypt", resource=key_arn,
            identity=writer, resource_policy=key_policy,
            context=s3_kms(f"arn:{PARTITION}:s3:::{archive}"),
        )),
        "firehose calls KMS directly, not through S3": ("Denied", request(
            principal=session(delivery_role), action="kms:Decrypt", resource=key_arn,
            identity=writer, resource_policy=key_policy,
            context=s3_kms(f"arn:{PARTITION}:s3:::{archive}", via=None),
        )),
        "the archive key for another bucket's objects": ("Denied", request(
            principal=session(delivery_role), action="kms:GenerateDataKey", resource=key_arn,
            identity=writer, resource_policy=key_policy,
            context=s3_kms(f"arn:{PARTITION}:s3:::uploads-elsewhere/x"),
        )),
        "firehose uses the platform key": ("Denied", request(
            principal=session(delivery_role), action="kms:GenerateDataKey", resource=uploads_key,
            identity=writer, context=s3_kms(f"arn:{PARTITION}:s3:::{archive}"),
        )),
        "the app reads the archive": ("Denied", request(
            principal=session(task_role), action="s3:GetObject", resource=obj,
            identity=app, resource_policy=archive_policy,
        )),
        "the app decrypts with the archive key": ("Denied", request(
            principal=session(task_role), action="kms:Decrypt", resource=key_arn,
            identity=app, resource_policy=key_policy, context=s3_kms(obj),
        )),
    }  # fmt: skip
    results = simulate({case: simulation for case, (_, simulation) in cases.items()})
    wrong = {
        case: results[case]
        for case, (expected, _) in cases.items()
        if (results[case] == "Allowed") != (expected == "Allowed")
    }
    assert wrong == {}


# --- offboarding says what happens to the archived logs -------------------------------------


def test_offboard_names_the_archived_logs_and_when_they_expire(
    tmp_path: Path, capsys: pytest.CaptureFixture[str], monkeypatch: pytest.MonkeyPatch
) -> None:
    from ops.__main__ import main
    from ops.lifecycle import offboard

    # Both outputs of one offboarding: its checks (two syntheses) are computed once, and the
    # JSON and the text are each printed by the command as a user runs it.
    results: dict[tuple[Any, ...], dict[str, Any]] = {}
    compute = offboard.offboard

    def once(*args: Any) -> dict[str, Any]:
        if args not in results:
            results[args] = compute(*args)
        return json.loads(json.dumps(results[args]))

    monkeypatch.setattr(offboard, "offboard", once)

    path = tmp_path / "demo.yaml"
    path.write_text(
        "profile: poc\nregion: us-east-1\naccount: '111122223333'\n"
        "logs:\n  archive:\n    access_days: 400\n"
        "restaurants:\n  - slug: trattoria\n    tier: poc\n    deletion_protection: false\n"
        "  - slug: osteria\n    tier: poc\n",
        encoding="utf-8",
    )
    argv = ["offboard", "trattoria", "--env", "demo", "--config-dir", str(tmp_path), "--json"]
    assert main(argv) == 0
    archived = json.loads(capsys.readouterr().out)["archived_logs"]
    bucket_name = naming.log_archive_bucket_name("demo", "111122223333", "us-east-1")
    assert archived["bucket"] == bucket_name
    assert "access/tenant-trattoria/" in archived["prefixes"]
    assert archived["kept_days"]["access"] == 400
    assert main(argv[:-1]) == 0
    out = capsys.readouterr().out
    assert len(results) == 1
    assert f"s3://{bucket_name}/<kind>/tenant-trattoria/" in out and "access 400 days" in out
    assert "5. Only if the restaurant's logs must go" in out
