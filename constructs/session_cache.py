"""Seed 7.3 option: a Valkey (Redis-compatible) replication group for sessions and caching.
Must never import stacks/, ops/ or config/: settings arrive as constructor arguments.
"""

from __future__ import annotations

import aws_cdk as cdk
from aws_cdk import aws_ec2 as ec2
from aws_cdk import aws_elasticache as elasticache
from aws_cdk import aws_kms as kms
from aws_cdk import aws_secretsmanager as secretsmanager

from constructs import Construct
from constructs.compliance import SECRET_ROTATION_RULES, acknowledge_all
from constructs.network import closed_security_group

CACHE_PORT = 6380  # not 6379: AwsSolutions-AEC5 asks for a non-default port


class SessionCache(Construct):
    """Two cache.t4g.micro Valkey nodes in the data subnets (primary + replica across AZs),
    TLS in transit, KMS at rest, an AUTH token from Secrets Manager, daily snapshots.

    ElastiCache has no L2 construct in aws-cdk-lib, hence the Cfn resources.
    """

    def __init__(
        self,
        scope: Construct,
        construct_id: str,
        *,
        name_prefix: str,
        vpc: ec2.IVpc,
        subnets: ec2.SubnetSelection,
        app_security_group: ec2.ISecurityGroup,
        key: kms.IKey,
        node_type: str = "cache.t4g.micro",
        replicas: int = 1,
    ) -> None:
        """Stays long: security group, auth token, subnet group, replication group, in order."""
        super().__init__(scope, construct_id)
        self.security_group = closed_security_group(
            self, vpc, f"{name_prefix} session cache - from the app only"
        )
        self.security_group.add_ingress_rule(
            app_security_group, ec2.Port.tcp(CACHE_PORT), "Valkey from the app tasks"
        )
        self.auth_token = secretsmanager.Secret(
            self,
            "AuthToken",
            secret_name=f"{name_prefix}/app/session-cache-token",
            description="AUTH token of the session cache; injected as SESSION_CACHE_AUTH_TOKEN",
            encryption_key=key,
            generate_secret_string=secretsmanager.SecretStringGenerator(
                password_length=64, exclude_punctuation=True
            ),
        )
        acknowledge_all(
            self.auth_token,
            SECRET_ROTATION_RULES,
            "An ElastiCache AUTH token is rotated with the ROTATE/SET strategy of "
            "modify-replication-group, which has no Secrets Manager rotation template; the "
            "'Rotate secrets' runbook in the README does it without downtime.",
        )
        subnet_group = elasticache.CfnSubnetGroup(
            self,
            "Subnets",
            description=f"{name_prefix} session cache",
            subnet_ids=vpc.select_subnets(subnet_group_name=subnets.subnet_group_name).subnet_ids,
            cache_subnet_group_name=f"{name_prefix}-sessions",
        )
        self.replication_group = elasticache.CfnReplicationGroup(
            self,
            "ReplicationGroup",
            replication_group_id=f"{name_prefix}-sessions",
            replication_group_description=f"{name_prefix} sessions and cache",
            engine="valkey",
            engine_version="8.0",
            cache_node_type=node_type,
            num_cache_clusters=1 + replicas,
            automatic_failover_enabled=replicas > 0,
            multi_az_enabled=replicas > 0,
            port=CACHE_PORT,
            cache_subnet_group_name=subnet_group.ref,
            security_group_ids=[self.security_group.security_group_id],
            transit_encryption_enabled=True,
            at_rest_encryption_enabled=True,
            kms_key_id=key.key_id,
            auth_token=self.auth_token.secret_value.unsafe_unwrap(),
            snapshot_retention_limit=15,  # HIPAA/NIST ask for 15 days; snapshots of a tiny cache
            auto_minor_version_upgrade=True,
        )
        # Sessions are disposable: deleting the stack deletes the cache (snapshots aside).
        self.replication_group.apply_removal_policy(cdk.RemovalPolicy.DESTROY)
        if replicas == 0:
            acknowledge_all(
                self.replication_group,
                ["AwsSolutions-AEC4"],
                "PoC profile (seed 2.1: single-AZ, no redundancy): one cache node; sessions are "
                "disposable and users sign in again after a node failure. Production runs a "
                "replica in the second AZ with automatic failover.",
            )
        self.endpoint = self.replication_group.attr_primary_end_point_address
