"""The platform network: a VPC over two AZs with public, app and isolated (data) subnets.
Must never import stacks/, ops/ or config/: settings arrive as constructor arguments.
"""

from __future__ import annotations

import aws_cdk as cdk
from aws_cdk import aws_ec2 as ec2
from aws_cdk import aws_kms as kms
from aws_cdk import aws_logs as logs
from aws_cdk import aws_rds as rds

from constructs import Construct
from constructs.compliance import acknowledge

# Not 5432: AwsSolutions-RDS11 asks for a non-default port; clients read it from the secret.
DB_PORT = 5433
PUBLIC_SUBNETS = "public"
APP_SUBNETS = "app"
DATA_SUBNETS = "data"


def closed_security_group(
    scope: Construct, vpc: ec2.IVpc, description: str, construct_id: str = "SecurityGroup"
) -> ec2.SecurityGroup:
    """A security group with no rule at all, not even the default egress to anywhere: its owner
    adds each rule it needs (the database port from the app, the cache port, one egress)."""
    return ec2.SecurityGroup(
        scope, construct_id, vpc=vpc, description=description, allow_all_outbound=False
    )


class PlatformNetwork(Construct):
    """VPC, flow logs, a NACL guarding the data subnets, and the one shared DB subnet group.

    The data subnets are PRIVATE_ISOLATED: no route to an internet or NAT gateway. Their NACL
    admits the database port from the app subnets only (seed 7.2, a second layer behind the
    security groups). All tenant databases share one subnet group, because RDS allows 50 per region.
    """

    def __init__(
        self,
        scope: Construct,
        construct_id: str,
        *,
        name_prefix: str,
        nat_gateways: int,
        flow_log_retention: logs.RetentionDays,
        log_key: kms.IKey,
        cidr: str = "10.40.0.0/16",
    ) -> None:
        super().__init__(scope, construct_id)
        # Subnet sizes are create-only: /21 app and data subnets (2 x 2,043 addresses each) hold
        # 1,000 Multi-AZ restaurants (2 addresses each) and their rotation functions' ENIs;
        # /24 data subnets ran out at about restaurant 313 (ops preflight).
        self.vpc = ec2.Vpc(
            self,
            "Vpc",
            ip_addresses=ec2.IpAddresses.cidr(cidr),
            max_azs=2,
            nat_gateways=nat_gateways,
            restrict_default_security_group=True,
            subnet_configuration=[
                ec2.SubnetConfiguration(
                    name=PUBLIC_SUBNETS,
                    subnet_type=ec2.SubnetType.PUBLIC,
                    cidr_mask=24,
                    map_public_ip_on_launch=False,
                ),
                ec2.SubnetConfiguration(
                    name=APP_SUBNETS, subnet_type=ec2.SubnetType.PRIVATE_WITH_EGRESS, cidr_mask=21
                ),
                ec2.SubnetConfiguration(
                    name=DATA_SUBNETS, subnet_type=ec2.SubnetType.PRIVATE_ISOLATED, cidr_mask=21
                ),
            ],
        )
        self.flow_log_group = logs.LogGroup(
            self,
            "FlowLogs",
            log_group_name=f"/{name_prefix}/vpc-flow-logs",
            retention=flow_log_retention,
            encryption_key=log_key,
            removal_policy=cdk.RemovalPolicy.RETAIN,
        )
        self.vpc.add_flow_log(
            "FlowLog",
            destination=ec2.FlowLogDestination.to_cloud_watch_logs(self.flow_log_group),
            traffic_type=ec2.FlowLogTrafficType.ALL,
        )

        self.app_subnets = self.vpc.select_subnets(subnet_group_name=APP_SUBNETS)
        self.data_subnets = self.vpc.select_subnets(subnet_group_name=DATA_SUBNETS)

        self._next_rule = self._data_subnet_acl()
        self.db_subnet_group = rds.SubnetGroup(
            self,
            "DatabaseSubnetGroup",
            description="Isolated data subnets shared by every tenant database of this environment",
            vpc=self.vpc,
            vpc_subnets=ec2.SubnetSelection(subnet_group_name=DATA_SUBNETS),
            subnet_group_name=f"{name_prefix}-tenant-databases",
            removal_policy=cdk.RemovalPolicy.RETAIN,
        )

    def _data_subnet_acl(self) -> int:
        """The data subnets' network ACL (seed 7.2); returns the next free rule number."""
        self.data_acl = ec2.NetworkAcl(
            self,
            "DataSubnetsAcl",
            vpc=self.vpc,
            subnet_selection=ec2.SubnetSelection(subnet_group_name=DATA_SUBNETS),
        )
        entries: list[ec2.NetworkAclEntry] = []
        rule = 100
        for subnet in self.app_subnets.subnets:
            peer = ec2.AclCidr.ipv4(subnet.ipv4_cidr_block)
            entries.append(
                self.data_acl.add_entry(
                    f"DbPortFrom{rule}",
                    rule_number=rule,
                    cidr=peer,
                    traffic=ec2.AclTraffic.tcp_port(DB_PORT),
                    direction=ec2.TrafficDirection.INGRESS,
                )
            )
            entries.append(
                self.data_acl.add_entry(
                    f"ReplyTo{rule}",
                    rule_number=rule,
                    cidr=peer,
                    traffic=ec2.AclTraffic.tcp_port_range(1024, 65535),
                    direction=ec2.TrafficDirection.EGRESS,
                )
            )
            rule += 10
        for subnet in self.data_subnets.subnets:
            # Multi-AZ primary and standby live in the two data subnets.
            peer = ec2.AclCidr.ipv4(subnet.ipv4_cidr_block)
            for direction, label in (
                (ec2.TrafficDirection.INGRESS, "In"),
                (ec2.TrafficDirection.EGRESS, "Out"),
            ):
                entries.append(
                    self.data_acl.add_entry(
                        f"Data{label}{rule}",
                        rule_number=rule,
                        cidr=peer,
                        traffic=ec2.AclTraffic.all_traffic(),
                        direction=direction,
                    )
                )
            rule += 10
        for acl_part in (self.data_acl, *entries):
            acknowledge(
                acl_part,
                "AwsSolutions-VPC3",
                "Seed section 7.2 requires network ACLs as a second layer of defence on the "
                "database subnets; they admit only the database port from the app subnets and add "
                "no path that the security groups do not already allow.",
            )
        return rule

    def allow_from_app_subnets(self, port: int, label: str) -> None:
        """Admit another TCP port from the app subnets into the data subnets (NACL)."""
        for subnet in self.app_subnets.subnets:
            rule = self._next_rule
            self._next_rule += 10
            peer = ec2.AclCidr.ipv4(subnet.ipv4_cidr_block)
            for direction, traffic, name in (
                (ec2.TrafficDirection.INGRESS, ec2.AclTraffic.tcp_port(port), "In"),
                (
                    ec2.TrafficDirection.EGRESS,
                    ec2.AclTraffic.tcp_port_range(1024, 65535),
                    "Out",
                ),
            ):
                entry = self.data_acl.add_entry(
                    f"{label}{name}{rule}",
                    rule_number=rule,
                    cidr=peer,
                    traffic=traffic,
                    direction=direction,
                )
                acknowledge(
                    entry,
                    "AwsSolutions-VPC3",
                    "Seed section 7.2 requires network ACLs as a second layer of defence on the "
                    "data subnets; this entry admits one service port from the app subnets only.",
                )
