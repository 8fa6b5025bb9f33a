"""The platform stack of each profile: one snapshot plus an assertion per requirement."""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

import pytest
from aws_cdk import assertions
from syrupy.assertion import SnapshotAssertion
from syrupy.extensions.json import JSONSnapshotExtension

TemplateFn = Callable[[str], assertions.Template]
DEV = "chefs-kiss-dev-platform"
PROD = "chefs-kiss-prod-platform"


def resources(template: assertions.Template, type_: str) -> dict[str, Any]:
    return template.find_resources(type_)


def only(template: assertions.Template, type_: str) -> dict[str, Any]:
    found = resources(template, type_)
    assert len(found) == 1, f"expected one {type_}, found {len(found)}"
    return next(iter(found.values()))


def snapshot_body(template: assertions.Template) -> dict[str, Any]:
    body = template.to_json()
    body.get("Resources", {}).pop("CDKMetadata", None)
    return body


def test_platform_snapshot(template: TemplateFn, snapshot: SnapshotAssertion) -> None:
    assert snapshot_body(template(PROD)) == snapshot.use_extension(JSONSnapshotExtension)


@pytest.mark.parametrize("stack", [DEV, PROD])
def test_vpc_has_public_app_and_isolated_subnets_in_two_azs(
    template: TemplateFn, stack: str
) -> None:
    t = template(stack)
    subnets = resources(t, "AWS::EC2::Subnet")
    kinds = sorted(
        next(tag["Value"] for tag in s["Properties"]["Tags"] if tag["Key"] == "aws-cdk:subnet-name")
        for s in subnets.values()
    )
    assert kinds == ["app", "app", "data", "data", "public", "public"]
    azs = {str(s["Properties"]["AvailabilityZone"]) for s in subnets.values()}
    assert len(azs) == 2


@pytest.mark.parametrize("stack", [DEV, PROD])
def test_data_subnets_have_no_route_out(template: TemplateFn, stack: str) -> None:
    t = template(stack)
    routes = resources(t, "AWS::EC2::Route")
    data_tables = {
        logical_id
        for logical_id in resources(t, "AWS::EC2::RouteTable")
        if "dataSubnet" in logical_id
    }
    assert len(data_tables) == 2
    for route in routes.values():
        table = route["Properties"]["RouteTableId"]["Ref"]
        assert table not in data_tables, "an isolated subnet must have no route to IGW or NAT"


def test_nat_gateways_by_profile(template: TemplateFn) -> None:
    t_dev, t_prod = template(DEV), template(PROD)
    assert len(resources(t_dev, "AWS::EC2::NatGateway")) == 1
    assert len(resources(t_prod, "AWS::EC2::NatGateway")) == 2


@pytest.mark.slow
def test_nat_gateway_count_can_be_chosen() -> None:
    """The cost lever the seed omits: one NAT gateway for a small production environment."""
    import aws_cdk as cdk

    from app import project_context
    from config.generated import generated_environment
    from stacks.platform_stack import PlatformStack

    environment = generated_environment("nat", 1, profile="production", network={"nat_gateways": 1})
    app = cdk.App(context=project_context(), builtin_cloud_formation_validation=False)
    stack = PlatformStack(
        app,
        "chefs-kiss-nat-platform",
        environment=environment,
        env=cdk.Environment(region="us-east-1"),
    )
    t = assertions.Template.from_stack(stack)
    assert len(resources(t, "AWS::EC2::NatGateway")) == 1
    routes = [
        r["Properties"]
        for r in resources(t, "AWS::EC2::Route").values()
        if "NatGatewayId" in r["Properties"]
    ]
    assert len(routes) == 2 and len({str(r["NatGatewayId"]) for r in routes}) == 1


@pytest.mark.parametrize("stack", [DEV, PROD])
def test_fargate_task_size_and_architecture(template: TemplateFn, stack: str) -> None:
    task = only(template(stack), "AWS::ECS::TaskDefinition")["Properties"]
    assert (task["Cpu"], task["Memory"]) == ("512", "1024")
    assert task["RequiresCompatibilities"] == ["FARGATE"]
    assert task["RuntimePlatform"]["CpuArchitecture"] == "ARM64"
    container = task["ContainerDefinitions"][0]
    assert "Environment" not in container, "settings come from SSM/Secrets Manager, not env vars"
    names = {s["Name"] for s in container["Secrets"]}
    assert {
        "APP_SECRETS",
        "CHEFS_KISS_ENVIRONMENT",
        "UPLOADS_BUCKET",
        "TENANT_CONNECTION_PARAMETER_TEMPLATE",
        "TENANT_ROLE_ARN_TEMPLATE",
        "TENANT_UPLOADS_PREFIX_TEMPLATE",
    } <= names
    assert "TENANT_DB_SECRET_NAME_TEMPLATE" not in names, "the app never learns the master secret"
    assert container["HealthCheck"]["Command"][0] == "CMD-SHELL"


def test_task_count_by_profile(template: TemplateFn) -> None:
    dev = only(template(DEV), "AWS::ECS::Service")["Properties"]
    prod = only(template(PROD), "AWS::ECS::Service")["Properties"]
    assert dev["DesiredCount"] == 1
    assert prod["DesiredCount"] >= 2
    assert not resources(template(DEV), "AWS::ApplicationAutoScaling::ScalableTarget")
    target = only(template(PROD), "AWS::ApplicationAutoScaling::ScalableTarget")["Properties"]
    assert target["MinCapacity"] == prod["DesiredCount"]
    assert target["MaxCapacity"] > target["MinCapacity"]
    for service in (dev, prod):
        breaker = service["DeploymentConfiguration"]["DeploymentCircuitBreaker"]
        assert breaker == {"Enable": True, "Rollback": True}
        assert (
            service["NetworkConfiguration"]["AwsvpcConfiguration"]["AssignPublicIp"] == "DISABLED"
        )


def test_app_settings_document_the_tenant_contract(template: TemplateFn) -> None:
    params = resources(template(PROD), "AWS::SSM::Parameter")
    values = {p["Properties"]["Name"]: p["Properties"]["Value"] for p in params.values()}
    assert values["/chefs-kiss-prod/app/tenant_connection_parameter_template"] == (
        "/chefs-kiss-prod/tenants/{slug}/connection"
    )
    assert "/chefs-kiss-prod/app/tenant_db_secret_name_template" not in values
    assert values["/chefs-kiss-prod/app/tenant_uploads_prefix_template"] == "tenants/{slug}/"
    assert values["/chefs-kiss-prod/app/chefs_kiss_environment"] == "prod"


def test_internet_facing_alb_with_https_in_production(template: TemplateFn) -> None:
    t = template(PROD)
    alb = only(t, "AWS::ElasticLoadBalancingV2::LoadBalancer")["Properties"]
    assert alb["Scheme"] == "internet-facing"
    attributes = {a["Key"]: a["Value"] for a in alb["LoadBalancerAttributes"]}
    assert attributes["routing.http.drop_invalid_header_fields.enabled"] == "true"
    assert attributes["access_logs.s3.enabled"] == "true"
    assert attributes["deletion_protection.enabled"] == "true"
    listeners = [
        x["Properties"] for x in resources(t, "AWS::ElasticLoadBalancingV2::Listener").values()
    ]
    by_port = {x["Port"]: x for x in listeners}
    assert set(by_port) == {80, 443}
    assert by_port[443]["Protocol"] == "HTTPS"
    assert by_port[443]["SslPolicy"].startswith("ELBSecurityPolicy-TLS13")
    redirect = by_port[80]["DefaultActions"][0]
    assert redirect["Type"] == "redirect"
    assert redirect["RedirectConfig"]["Protocol"] == "HTTPS"
    t.has_resource_properties(
        "AWS::CertificateManager::Certificate",
        {"DomainName": "app.chefskiss.example", "ValidationMethod": "DNS"},
    )


def test_poc_serves_plain_http(template: TemplateFn) -> None:
    listeners = resources(template(DEV), "AWS::ElasticLoadBalancingV2::Listener")
    assert [x["Properties"]["Port"] for x in listeners.values()] == [80]
    assert not resources(template(DEV), "AWS::CertificateManager::Certificate")


def test_one_shared_db_subnet_group_over_isolated_subnets(template: TemplateFn) -> None:
    group = only(template(PROD), "AWS::RDS::DBSubnetGroup")
    assert group["Properties"]["DBSubnetGroupName"] == "chefs-kiss-prod-tenant-databases"
    refs = [s["Ref"] for s in group["Properties"]["SubnetIds"]]
    assert len(refs) == 2 and all("dataSubnet" in r for r in refs)
    assert group["DeletionPolicy"] == "Retain"


@pytest.mark.parametrize("stack", [DEV, PROD])
def test_every_log_group_has_explicit_retention_and_removal_policy(
    template: TemplateFn, stack: str
) -> None:
    groups = resources(template(stack), "AWS::Logs::LogGroup")
    assert groups
    for logical_id, group in groups.items():
        assert group["Properties"].get("RetentionInDays"), logical_id
        assert group["Properties"].get("KmsKeyId"), f"{logical_id} is not KMS-encrypted"
        assert group.get("DeletionPolicy") in {"Retain", "Delete"}, logical_id


def test_uploads_bucket_is_private_encrypted_versioned_and_logged(template: TemplateFn) -> None:
    t = template(PROD)
    buckets = resources(t, "AWS::S3::Bucket")
    uploads = next(b for k, b in buckets.items() if k.startswith("Uploads"))["Properties"]
    rule = uploads["BucketEncryption"]["ServerSideEncryptionConfiguration"][0]
    assert rule["ServerSideEncryptionByDefault"]["SSEAlgorithm"] == "aws:kms"
    assert rule["BucketKeyEnabled"] is False
    assert uploads["VersioningConfiguration"]["Status"] == "Enabled"
    assert all(uploads["PublicAccessBlockConfiguration"].values())
    assert uploads["LoggingConfiguration"]["LogFilePrefix"] == "s3-access/uploads/"
    policies = resources(t, "AWS::S3::BucketPolicy")
    denies = [
        s
        for p in policies.values()
        for s in p["Properties"]["PolicyDocument"]["Statement"]
        if s["Effect"] == "Deny"
    ]
    assert any(s["Condition"] == {"Bool": {"aws:SecureTransport": "false"}} for s in denies)


def test_task_role_can_only_assume_tenant_access_roles(template: TemplateFn) -> None:
    t = template(PROD)
    policies = resources(t, "AWS::IAM::ManagedPolicy")
    assume = next(p for k, p in policies.items() if k.startswith("AssumeTenantAccessRoles"))
    statements = assume["Properties"]["PolicyDocument"]["Statement"]
    assert [s["Action"] for s in statements] == [["sts:AssumeRole", "sts:TagSession"]]
    resource = statements[0]["Resource"]["Fn::Join"][1]
    assert resource[-1] == ":role/chefs-kiss-prod-tenant-*-access"


@pytest.mark.parametrize(("stack", "protected"), [(DEV, False), (PROD, True)])
def test_termination_protection_by_profile(
    example_assembly: Any, stack: str, protected: bool
) -> None:
    assert example_assembly.get_stack_by_name(stack).termination_protection is protected


def test_every_service_invoke_permission_names_its_source(example_assembly: Any) -> None:
    """A Lambda permission for an AWS service principal with neither `aws:SourceAccount` nor
    `aws:SourceArn` lets that service invoke the function for any account's resource (the
    confused deputy; checkov CKV_AWS_364). The session-secret rotation function's permission,
    which CDK's rotation schedule adds, now names this account and the app secret."""
    checked = 0
    for artifact in example_assembly.stacks:
        body = artifact.template
        for logical_id, resource in body.get("Resources", {}).items():
            if resource["Type"] != "AWS::Lambda::Permission":
                continue
            properties = resource["Properties"]
            principal = properties.get("Principal")
            if not (isinstance(principal, str) and principal.endswith(".amazonaws.com")):
                continue
            where = f"{artifact.stack_name}/{logical_id} ({principal})"
            assert properties.get("SourceAccount") == {"Ref": "AWS::AccountId"}, where
            assert properties.get("SourceArn"), where
            if principal == "secretsmanager.amazonaws.com":
                secret = body["Resources"][properties["SourceArn"]["Ref"]]
                assert secret["Type"] == "AWS::SecretsManager::Secret", where
                schedules = [
                    r
                    for r in body["Resources"].values()
                    if r["Type"] == "AWS::SecretsManager::RotationSchedule"
                    and r["Properties"]["SecretId"] == properties["SourceArn"]
                ]
                assert len(schedules) == 1, f"{where}: the rotated secret is the source"
            checked += 1
    assert checked >= 3, "the session-secret rotation function of every environment"
