"""`ops preflight` on small synthetic assemblies: each limit exceeded gets the right verdict.

Every case writes a manifest and a few templates into tmp_path (milliseconds, no CDK), shaped like
this app's assembly: a platform stack that exports, tenant stacks that import.
"""

from __future__ import annotations

import json
from collections.abc import Callable
from pathlib import Path
from typing import Any

import pytest

from ops.__main__ import main
from ops.assembly import read_assembly
from ops.limits.preflight import CHECKS, Result, preflight

ENV = "syn"
PLATFORM = f"chefs-kiss-{ENV}-platform"

Templates = dict[str, dict[str, Any]]


def tenant(index: int) -> str:
    return f"chefs-kiss-{ENV}-tenant-t{index:04d}"


def write_assembly(
    directory: Path, templates: Templates, regions: dict[str, str] | None = None
) -> Path:
    """A cloud assembly as `cdk synth` writes it: manifest.json plus one template per stack
    (in us-east-1 unless `regions` names another Region for a stack)."""
    directory.mkdir(parents=True, exist_ok=True)
    artifacts = {}
    for name, template in templates.items():
        (directory / f"{name}.template.json").write_text(json.dumps(template, indent=1))
        region = (regions or {}).get(name, "us-east-1")
        artifacts[name] = {
            "type": "aws:cloudformation:stack",
            "environment": f"aws://unknown-account/{region}",
            "properties": {"templateFile": f"{name}.template.json"},
        }
    manifest = {"version": "55.0.0", "artifacts": artifacts}
    (directory / "manifest.json").write_text(json.dumps(manifest))
    return directory


def export(logical: str, value: Any) -> dict[str, Any]:
    return {"Value": value, "Export": {"Name": f"{PLATFORM}:{logical}"}}


def imported(logical: str) -> dict[str, str]:
    return {"Fn::ImportValue": f"{PLATFORM}:{logical}"}


def resources(template: dict[str, Any]) -> dict[str, Any]:
    return template.setdefault("Resources", {})


def base() -> Templates:
    """A platform with a VPC, an app security group, a task role and a load balancer."""
    platform: dict[str, Any] = {
        "Resources": {
            "AppSg": {"Type": "AWS::EC2::SecurityGroup", "Properties": {"GroupDescription": "a"}},
            "TaskRole": {"Type": "AWS::IAM::Role", "Properties": {"RoleName": "syn-app-task"}},
            "Lb": {"Type": "AWS::ElasticLoadBalancingV2::LoadBalancer", "Properties": {}},
            "Listener": {
                "Type": "AWS::ElasticLoadBalancingV2::Listener",
                "Properties": {"LoadBalancerArn": {"Ref": "Lb"}, "DefaultActions": []},
            },
        },
        "Outputs": {
            "AppSgId": export("AppSgId", {"Fn::GetAtt": ["AppSg", "GroupId"]}),
            "TaskRoleArn": export("TaskRoleArn", {"Fn::GetAtt": ["TaskRole", "Arn"]}),
            "ListenerArn": export("ListenerArn", {"Ref": "Listener"}),
        },
    }
    return {PLATFORM: platform}


def many_resources(templates: Templates, count: int, make: Callable[[int], dict[str, Any]]) -> None:
    for index in range(count):
        resources(templates[PLATFORM])[f"R{index}"] = make(index)


# --------------------------------------------------------------------------- scenario builders


def too_many_resources(t: Templates) -> None:
    many_resources(t, 501, lambda i: {"Type": "AWS::SNS::Topic"})


def too_many_outputs(t: Templates) -> None:
    for index in range(201):
        t[PLATFORM]["Outputs"][f"O{index}"] = {"Value": "x"}


def too_many_parameters(t: Templates) -> None:
    t[PLATFORM]["Parameters"] = {f"P{i}": {"Type": "String"} for i in range(201)}


def too_large_template(t: Templates) -> None:
    t[PLATFORM]["Metadata"] = {"Padding": "x" * 1_000_001}


def too_many_databases(t: Templates, count: int = 41) -> None:
    for index in range(count):
        t[tenant(index)] = {"Resources": {"Db": {"Type": "AWS::RDS::DBInstance", "Properties": {}}}}


def near_database_quota(t: Templates) -> None:
    too_many_databases(t, 34)


def too_many_subnet_groups(t: Templates) -> None:
    many_resources(t, 51, lambda i: {"Type": "AWS::RDS::DBSubnetGroup", "Properties": {}})


def too_many_parameter_groups(t: Templates) -> None:
    for index in range(51):
        t[tenant(index)] = {"Resources": {"Pg": {"Type": "AWS::RDS::DBParameterGroup"}}}


def full_data_subnets(t: Templates) -> None:
    """Two /28 subnets hold 2 x 11 addresses; 12 Multi-AZ databases need 24."""
    platform = resources(t[PLATFORM])
    for az in (1, 2):
        platform[f"Data{az}"] = {
            "Type": "AWS::EC2::Subnet",
            "Properties": {"CidrBlock": f"10.0.{az}.0/28"},
        }
    platform["DbSubnets"] = {
        "Type": "AWS::RDS::DBSubnetGroup",
        "Properties": {"SubnetIds": [{"Ref": "Data1"}, {"Ref": "Data2"}]},
    }
    t[PLATFORM]["Outputs"]["DbSubnets"] = export("DbSubnets", {"Ref": "DbSubnets"})
    for index in range(12):
        t[tenant(index)] = {
            "Resources": {
                "Db": {
                    "Type": "AWS::RDS::DBInstance",
                    "Properties": {"MultiAZ": True, "DBSubnetGroupName": imported("DbSubnets")},
                }
            }
        }


def rules_on_shared_security_group(t: Templates) -> None:
    """One inline rule on the platform group plus one rule per tenant stack: 61."""
    resources(t[PLATFORM])["AppSg"]["Properties"]["SecurityGroupIngress"] = [
        {"IpProtocol": "tcp", "FromPort": 80, "ToPort": 80, "CidrIp": "10.0.0.0/16"}
    ]
    for index in range(60):
        t[tenant(index)] = {
            "Resources": {
                "Rule": {
                    "Type": "AWS::EC2::SecurityGroupIngress",
                    "Properties": {"GroupId": imported("AppSgId"), "IpProtocol": "tcp"},
                }
            }
        }


def per_tenant_grants_on_shared_role(t: Templates) -> None:
    """Each tenant grants onto the imported app role (the DESIGN.md trap): ~210 characters x 50."""
    role_name = {
        "Fn::Select": [
            1,
            {
                "Fn::Split": [
                    "/",
                    {"Fn::Select": [5, {"Fn::Split": [":", imported("TaskRoleArn")]}]},
                ]
            },
        ]
    }
    for index in range(50):
        statement = {
            "Effect": "Allow",
            "Action": ["secretsmanager:GetSecretValue", "secretsmanager:DescribeSecret"],
            "Resource": {"Ref": "Secret"},
        }
        t[tenant(index)] = {
            "Resources": {
                "Secret": {"Type": "AWS::SecretsManager::Secret"},
                "Grant": {
                    "Type": "AWS::IAM::Policy",
                    "Properties": {
                        "PolicyName": f"grant{index}",
                        "Roles": [role_name],
                        "PolicyDocument": {"Version": "2012-10-17", "Statement": [statement]},
                    },
                },
            }
        }


def too_many_managed_policies_on_shared_role(t: Templates) -> None:
    """Eleven tenant stacks each attach a managed policy to the imported app role."""
    for index in range(11):
        t[tenant(index)] = {
            "Resources": {
                "Grant": {
                    "Type": "AWS::IAM::ManagedPolicy",
                    "Properties": {"Roles": ["syn-app-task"], "PolicyDocument": {}},
                }
            }
        }


def too_many_customer_managed_policies(t: Templates) -> None:
    """1,501 managed policies over four stacks (each stays under 500 resources)."""
    for index in range(4):
        policies = {f"P{i}": {"Type": "AWS::IAM::ManagedPolicy"} for i in range(376 - (index > 0))}
        t[tenant(index)] = {"Resources": policies}


def too_large_managed_policy(t: Templates) -> None:
    statements = [
        {"Effect": "Allow", "Action": "s3:GetObject", "Resource": f"arn:aws:s3:::bucket-{i}/*"}
        for i in range(100)
    ]
    resources(t[PLATFORM])["Big"] = {
        "Type": "AWS::IAM::ManagedPolicy",
        "Properties": {"PolicyDocument": {"Version": "2012-10-17", "Statement": statements}},
    }


def too_many_target_groups(t: Templates) -> None:
    platform = resources(t[PLATFORM])
    actions = []
    for index in range(101):
        platform[f"Tg{index}"] = {"Type": "AWS::ElasticLoadBalancingV2::TargetGroup"}
        actions.append({"Type": "forward", "TargetGroupArn": {"Ref": f"Tg{index}"}})
    platform["Listener"]["Properties"]["DefaultActions"] = actions


def too_many_listener_rules(t: Templates) -> None:
    for index in range(101):
        t[tenant(index)] = {
            "Resources": {
                "Rule": {
                    "Type": "AWS::ElasticLoadBalancingV2::ListenerRule",
                    "Properties": {"ListenerArn": imported("ListenerArn"), "Actions": []},
                }
            }
        }


def too_many_roles(t: Templates) -> None:
    """Ten stacks of 50 roles and 51 rotation applications, each of which brings its own role:
    1,010 roles plus the platform's."""
    for index in range(10):
        roles = {f"Role{i}": {"Type": "AWS::IAM::Role"} for i in range(50)}
        apps = {f"Rotation{i}": {"Type": "AWS::Serverless::Application"} for i in range(51)}
        t[tenant(index)] = {"Resources": roles | apps}


def too_many_stacks(t: Templates) -> None:
    """1,000 tenant stacks, each with a nested rotation application: 2,001 stacks."""
    for index in range(1000):
        t[tenant(index)] = {"Resources": {"Rotation": {"Type": "AWS::Serverless::Application"}}}


def too_many_records(t: Templates) -> None:
    records = [{"Name": f"r{i}.example.com", "Type": "A"} for i in range(10_001)]
    resources(t[PLATFORM])["Records"] = {
        "Type": "AWS::Route53::RecordSetGroup",
        "Properties": {"HostedZoneId": "Z0EXAMPLE", "RecordSets": records},
    }


def too_many_widgets(t: Templates) -> None:
    """501 widgets in a body written the way CDK writes one: literal pieces joined with tokens."""
    widgets = [{"type": "metric", "properties": {"metrics": [["A", "B"]]}} for _ in range(501)]
    head, tail = json.dumps({"region": "REGION", "widgets": widgets}).split("REGION")
    resources(t[PLATFORM])["Dashboard"] = {
        "Type": "AWS::CloudWatch::Dashboard",
        "Properties": {"DashboardBody": {"Fn::Join": ["", [head, {"Ref": "AWS::Region"}, tail]]}},
    }


def too_many_alarm_actions(t: Templates) -> None:
    resources(t[PLATFORM])["Alarm"] = {
        "Type": "AWS::CloudWatch::Alarm",
        "Properties": {"AlarmActions": [{"Ref": f"Topic{i}"} for i in range(6)]},
    }


def too_many_lambda_enis(t: Templates) -> None:
    """251 rotation functions, each with its own security group, in two subnets: 502 ENIs."""
    subnets = {"Fn::Join": ["", [imported("Subnet1"), ",", imported("Subnet2")]]}
    for index in range(251):
        t[tenant(index)] = {
            "Resources": {
                "RotationSg": {"Type": "AWS::EC2::SecurityGroup"},
                "Rotation": {
                    "Type": "AWS::Serverless::Application",
                    "Properties": {
                        "Parameters": {
                            "vpcSubnetIds": subnets,
                            "vpcSecurityGroupIds": {"Fn::GetAtt": ["RotationSg", "GroupId"]},
                        }
                    },
                },
            }
        }


def full_app_subnet(t: Templates) -> None:
    """60 functions, each with its own security group, in one /26 subnet (59 usable addresses):
    60 Hyperplane ENIs do not fit."""
    resources(t[PLATFORM])["AppSubnet1"] = {
        "Type": "AWS::EC2::Subnet",
        "Properties": {"CidrBlock": "10.0.0.0/26", "VpcId": "vpc-1"},
    }
    t[PLATFORM]["Outputs"]["AppSubnet1"] = export("AppSubnet1", {"Ref": "AppSubnet1"})
    for index in range(60):
        t[tenant(index)] = {
            "Resources": {
                "FunctionSg": {"Type": "AWS::EC2::SecurityGroup"},
                "Function": {
                    "Type": "AWS::Lambda::Function",
                    "Properties": {
                        "VpcConfig": {
                            "SecurityGroupIds": [{"Fn::GetAtt": ["FunctionSg", "GroupId"]}],
                            "SubnetIds": [imported("AppSubnet1")],
                        }
                    },
                },
            }
        }


def too_many_ssm_parameters(t: Templates) -> None:
    for stack in range(21):
        t[tenant(stack)] = {
            "Resources": {f"P{i}": {"Type": "AWS::SSM::Parameter"} for i in range(480)}
        }


def too_many_network_interfaces(t: Templates) -> None:
    """2,600 Multi-AZ databases: two network interfaces each."""
    for stack in range(26):
        t[tenant(stack)] = {
            "Resources": {
                f"Db{i}": {"Type": "AWS::RDS::DBInstance", "Properties": {"MultiAZ": True}}
                for i in range(100)
            }
        }


def too_many_exports(t: Templates) -> None:
    for stack in range(26):
        name = f"chefs-kiss-{ENV}-shared{stack}"
        t[name] = {
            "Resources": {"T": {"Type": "AWS::SNS::Topic"}},
            "Outputs": {
                f"E{i}": {"Value": "x", "Export": {"Name": f"{name}:E{i}"}} for i in range(193)
            },
        }


# (scenario, check id, expected status, text the message must contain)
SCENARIOS = [
    (too_many_resources, "cfn-resources", "error", "split the stack"),
    (too_many_outputs, "cfn-outputs", "error", "hard limit"),
    (too_many_parameters, "cfn-parameters", "error", "hard limit"),
    (too_large_template, "cfn-template-size", "error", "hard limit"),
    (too_many_databases, "rds-instances", "warning", "'Amazon RDS: DB instances'"),
    (near_database_quota, "rds-instances", "note", "85% of the limit"),
    (too_many_subnet_groups, "rds-subnet-groups", "warning", "'Amazon RDS: DB subnet groups'"),
    (too_many_parameter_groups, "rds-parameter-groups", "warning", "Parameter groups"),
    (full_data_subnets, "rds-subnet-addresses", "error", "larger data subnets"),
    (rules_on_shared_security_group, "sg-inbound-rules", "warning", "L-0EA8095F"),
    (per_tenant_grants_on_shared_role, "iam-role-inline-policy", "error", "hard limit"),
    (
        too_many_managed_policies_on_shared_role,
        "iam-managed-policies-per-role",
        "warning",
        "'AWS IAM: Managed policies per role'",
    ),
    (too_large_managed_policy, "iam-managed-policy-size", "error", "split the policy"),
    (
        too_many_customer_managed_policies,
        "iam-customer-managed-policies",
        "warning",
        "Customer managed policies per account",
    ),
    (too_many_target_groups, "alb-target-groups", "error", "hard limit"),
    (too_many_listener_rules, "alb-rules", "warning", "Rules per Application Load Balancer"),
    (too_many_roles, "iam-roles", "warning", "'AWS IAM: Roles per account'"),
    (too_many_stacks, "cfn-stacks", "warning", "'AWS CloudFormation: Stack count'"),
    (too_many_records, "route53-records", "warning", "Records per hosted zone"),
    (too_many_widgets, "cw-dashboard-widgets", "error", "SEARCH expressions"),
    (too_many_alarm_actions, "cw-alarm-actions", "error", "hard limit"),
    (too_many_lambda_enis, "lambda-vpc-enis", "warning", "Elastic network interfaces per VPC"),
    (too_many_exports, "cfn-exports", "warning", "exports per account and Region"),
    (full_app_subnet, "app-subnet-addresses", "error", "add subnets to the VPC"),
    (too_many_ssm_parameters, "ssm-parameters", "error", "advanced tier"),
    (too_many_network_interfaces, "ec2-network-interfaces", "warning", "Network interfaces"),
]


def results_for(tmp_path: Path, build: Callable[[Templates], None]) -> dict[str, Result]:
    templates = base()
    build(templates)
    directory = write_assembly(tmp_path / "cdk.out", templates)
    return {r.id: r for r in preflight(read_assembly(directory), ENV)}


def test_the_baseline_is_clean(tmp_path: Path) -> None:
    results = results_for(tmp_path, lambda t: None)
    assert {r.status for r in results.values()} <= {"ok", "info"}


@pytest.mark.parametrize(
    ("build", "check_id", "status", "text"), SCENARIOS, ids=[s[0].__name__ for s in SCENARIOS]
)
def test_each_limit_exceeded_gets_its_verdict(
    tmp_path: Path, build: Callable[[Templates], None], check_id: str, status: str, text: str
) -> None:
    results = results_for(tmp_path, build)
    result = results[check_id]
    assert result.status == status, result
    assert text in result.message, result.message
    if status in ("error", "warning"):
        assert result.offenders and result.headroom is not None and result.headroom < 0
    others = {r.id: r.status for r in results.values() if r.id != check_id}
    assert "error" not in others.values() or status == "error", others


def test_every_check_has_a_scenario_or_is_informational() -> None:
    covered = {check_id for _, check_id, _, _ in SCENARIOS}
    untested = {
        c.id for c in CHECKS if c.id not in covered and c.kind != "info"
    } - {  # limits too large to build quickly; same code path as the counted ones above
        "cfn-mappings",
        "cfn-dynamic-references",
        "rds-storage",
        "sg-outbound-rules",
        "vpc-security-groups",
        "secrets",
        "kms-keys",
        "cw-widget-metrics",
        "cw-dashboard-metrics",
        "cw-alarm-math-metrics",
        "log-groups",
    }
    assert untested == set()


def test_quota_warnings_name_the_quota_and_exit_zero_unless_strict(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    templates = base()
    too_many_databases(templates)
    directory = write_assembly(tmp_path / "cdk.out", templates)
    assert main(["preflight", "--env", ENV, "--assembly", str(directory)]) == 0
    out = capsys.readouterr().out
    assert "WARNING: RDS DB instances" in out and "'Amazon RDS: DB instances'" in out
    assert main(["preflight", "--env", ENV, "--assembly", str(directory), "--strict"]) == 1


def test_hard_limit_exits_non_zero_and_json_is_complete(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    templates = base()
    too_many_resources(templates)
    directory = write_assembly(tmp_path / "cdk.out", templates)
    assert main(["preflight", "--env", ENV, "--assembly", str(directory), "--json"]) == 1
    payload = json.loads(capsys.readouterr().out)
    results = {r["id"]: r for r in payload[ENV]["results"]}
    assert set(results) == {c.id for c in CHECKS}
    assert (
        results["cfn-resources"] | {"status": "error", "value": 505, "limit": 500}
        == results["cfn-resources"]
    )
    assert payload[ENV]["summary"]["error"] == 1


def test_unknown_environment_and_missing_assembly_are_clear_errors(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    directory = write_assembly(tmp_path / "cdk.out", base())
    assert main(["preflight", "--env", "nope", "--assembly", str(directory)]) == 2
    assert "no config/environments/nope.yaml (known environments: dev," in capsys.readouterr().err
    assert main(["preflight", "--env", ENV, "--assembly", str(tmp_path / "missing")]) == 2
    assert "no manifest.json" in capsys.readouterr().err


def test_policy_size_counts_grants_from_every_stack_onto_one_role(tmp_path: Path) -> None:
    result = results_for(tmp_path, per_tenant_grants_on_shared_role)["iam-role-inline-policy"]
    assert result.subject == f"{PLATFORM}/TaskRole"
    assert result.detail == "50 policies"


def test_each_region_counts_against_its_own_quotas_and_iam_against_the_account(
    tmp_path: Path,
) -> None:
    """A disaster-recovery copy in a second Region: 30 databases in each Region stay under the
    Region quota of 40 (60 in one Region would not), while the roles of both Regions add up
    against the one account (IAM is global)."""
    templates = base()
    regions = {}
    for index in range(60):
        templates[tenant(index)] = {
            "Resources": {
                "Db": {"Type": "AWS::RDS::DBInstance", "Properties": {}},
                **{f"Role{i}": {"Type": "AWS::IAM::Role"} for i in range(20)},
            }
        }
        if index % 2:
            regions[tenant(index)] = "us-west-2"
    directory = write_assembly(tmp_path / "cdk.out", templates, regions)
    results = {r.id: r for r in preflight(read_assembly(directory), ENV)}
    databases = results["rds-instances"]
    assert (databases.status, databases.value, databases.measured) == ("ok", 30, 2)
    assert databases.subject in {
        "aws://unknown-account/us-east-1",
        "aws://unknown-account/us-west-2",
    }
    roles = results["iam-roles"]
    assert (roles.status, roles.value, roles.measured) == ("warning", 1201, 1)
    assert roles.subject == "account unknown-account (the deploying one)"

    directory = write_assembly(tmp_path / "one-region", templates)
    databases = {r.id: r for r in preflight(read_assembly(directory), ENV)}["rds-instances"]
    assert (databases.status, databases.value) == ("warning", 60)


def test_network_interfaces_and_subnet_addresses_add_up_every_kind(tmp_path: Path) -> None:
    """Lambda ENIs per (subnet, security groups), Fargate tasks at their maximum over the
    service's subnets, NAT gateways, load balancer nodes and Multi-AZ databases."""
    templates = base()
    full_app_subnet(templates)
    platform = resources(templates[PLATFORM])
    platform["Nat"] = {
        "Type": "AWS::EC2::NatGateway",
        "Properties": {"SubnetId": {"Ref": "AppSubnet1"}},
    }
    platform["Lb"]["Properties"] = {"Subnets": [{"Ref": "AppSubnet1"}]}
    platform["Service"] = {
        "Type": "AWS::ECS::Service",
        "Properties": {
            "DesiredCount": 2,
            "NetworkConfiguration": {"AwsvpcConfiguration": {"Subnets": [{"Ref": "AppSubnet1"}]}},
        },
    }
    platform["Scaling"] = {
        "Type": "AWS::ApplicationAutoScaling::ScalableTarget",
        "Properties": {
            "MaxCapacity": 5,
            "ResourceId": {"Fn::Join": ["", ["service/c/", {"Fn::GetAtt": ["Service", "Name"]}]]},
        },
    }
    # A second function with the same security group and subnet shares its ENI.
    first = templates[tenant(0)]["Resources"]
    first["Twin"] = json.loads(json.dumps(first["Function"]))
    platform["Db"] = {"Type": "AWS::RDS::DBInstance", "Properties": {"MultiAZ": True}}
    directory = write_assembly(tmp_path / "cdk.out", templates)
    results = {r.id: r for r in preflight(read_assembly(directory), ENV)}
    subnet = results["app-subnet-addresses"]
    assert subnet.value == 60 + 10 + 1 + 8 and subnet.limit == 59
    assert subnet.detail == "Lambda ENIs 60, Fargate tasks 10, NAT gateways 1, load balancer 8"
    interfaces = results["ec2-network-interfaces"]
    assert interfaces.value == 60 + 10 + 1 + 1 + 2
    assert results["lambda-vpc-enis"].value == 60


def test_all_adds_the_environments_that_share_an_account_and_region(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    """Two environments with 25 databases each: each alone is under the Region quota of 40,
    together in one account and Region they are not."""
    templates: Templates = {}
    for env in ("one", "two"):
        templates[f"chefs-kiss-{env}-platform"] = {"Resources": {}}
        for index in range(25):
            templates[f"chefs-kiss-{env}-tenant-t{index:04d}"] = {
                "Resources": {"Db": {"Type": "AWS::RDS::DBInstance", "Properties": {}}}
            }
    directory = write_assembly(tmp_path / "cdk.out", templates)
    monkeypatch.setattr("ops.limits.preflight._environment_names", lambda all_, env: ["one", "two"])
    assert main(["preflight", "--all", "--assembly", str(directory), "--json"]) == 0
    payload = json.loads(capsys.readouterr().out)
    for env in ("one", "two"):
        (row,) = [r for r in payload[env]["results"] if r["id"] == "rds-instances"]
        assert (row["status"], row["value"]) == ("ok", 25)
    combined = payload["(all environments)"]
    (row,) = [r for r in combined["results"] if r["id"] == "rds-instances"]
    assert (row["status"], row["value"], row["subject"]) == (
        "warning", 50, "aws://unknown-account/us-east-1"
    )  # fmt: skip
    assert combined["stacks"] == 52
    assert {r["scope"] for r in combined["results"]} <= {"per account and Region", "per account"}


def test_log_groups_include_those_lambda_creates_itself(tmp_path: Path) -> None:
    """A function that names no log group gets /aws/lambda/<name> at its first run; so does a
    nested rotation application's function."""
    templates = base()
    resources(templates[PLATFORM]).update(
        {
            "Logs": {"Type": "AWS::Logs::LogGroup"},
            "Named": {
                "Type": "AWS::Lambda::Function",
                "Properties": {"LoggingConfig": {"LogGroup": {"Ref": "Logs"}}},
            },
            "Provider": {"Type": "AWS::Lambda::Function", "Properties": {}},
            "Rotation": {"Type": "AWS::Serverless::Application", "Properties": {}},
        }
    )
    directory = write_assembly(tmp_path / "cdk.out", templates)
    result = {r.id: r for r in preflight(read_assembly(directory), ENV)}["log-groups"]
    assert (result.value, result.detail) == (3, "declared 1, by Lambda 2")
