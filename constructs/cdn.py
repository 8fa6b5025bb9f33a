"""Seed 7.3 option: CloudFront in front of the load balancer for static assets.
Must never import stacks/, ops/ or config/: settings arrive as constructor arguments.
"""

from __future__ import annotations

import aws_cdk as cdk
from aws_cdk import aws_certificatemanager as acm
from aws_cdk import aws_cloudfront as cloudfront
from aws_cdk import aws_cloudfront_origins as origins
from aws_cdk import aws_elasticloadbalancingv2 as elbv2
from aws_cdk import aws_route53 as route53
from aws_cdk import aws_route53_targets as targets
from aws_cdk import aws_s3 as s3

from constructs import Construct
from constructs.compliance import acknowledge_all
from constructs.storage import REPLICATION_RULES


class StaticAssetsCdn(Construct):
    """`static.<domain>` served by CloudFront from `origin.<domain>` (the ALB) over TLS 1.2+.

    The ALB's certificate covers `*.<domain>`, so CloudFront can verify the origin by name; the
    distribution reuses that certificate, which is why the option needs region us-east-1.
    """

    def __init__(
        self,
        scope: Construct,
        construct_id: str,
        *,
        domain: str,
        zone: route53.IHostedZone,
        certificate: acm.ICertificate,
        load_balancer: elbv2.IApplicationLoadBalancer,
        access_logs: s3.IBucket,
        web_acl_arn: str | None,
    ) -> None:
        """Stays long: a distribution, its log bucket and each one's findings, top to bottom."""
        super().__init__(scope, construct_id)
        origin_name = f"origin.{domain}"
        route53.ARecord(
            self,
            "OriginRecord",
            zone=zone,
            record_name="origin",
            target=route53.RecordTarget.from_alias(targets.LoadBalancerTarget(load_balancer)),
        )
        # CloudFront standard logs are written with ACLs, so this bucket cannot enforce
        # bucket-owner ownership like the others.
        self.log_bucket = s3.Bucket(
            self,
            "Logs",
            encryption=s3.BucketEncryption.S3_MANAGED,
            block_public_access=s3.BlockPublicAccess.BLOCK_ALL,
            enforce_ssl=True,
            versioned=True,
            object_ownership=s3.ObjectOwnership.BUCKET_OWNER_PREFERRED,
            server_access_logs_bucket=access_logs,
            server_access_logs_prefix="s3-access/cdn-logs/",
            removal_policy=cdk.RemovalPolicy.RETAIN,
            lifecycle_rules=[
                s3.LifecycleRule(
                    id="expire-cdn-logs",
                    expiration=cdk.Duration.days(30),
                    noncurrent_version_expiration=cdk.Duration.days(1),
                )
            ],
        )
        acknowledge_all(
            self.log_bucket,
            [
                "HIPAA.Security-S3DefaultEncryptionKMS",
                "NIST.800.53.R5-S3DefaultEncryptionKMS",
                "PCI.DSS.321-S3DefaultEncryptionKMS",
            ],
            "CloudFront standard logging writes to the bucket with the awslogsdelivery account; "
            "SSE-S3 avoids granting that account use of a customer-managed key for access logs.",
        )
        acknowledge_all(
            self.log_bucket,
            REPLICATION_RULES,
            "CDN access logs expire after 30 days and are not business data; replicating them to "
            "a second region would cost more than the logs are worth.",
        )
        self.distribution = cloudfront.Distribution(
            self,
            "Distribution",
            comment=f"Static assets of {domain}",
            domain_names=[f"static.{domain}"],
            certificate=certificate,
            minimum_protocol_version=cloudfront.SecurityPolicyProtocol.TLS_V1_2_2021,
            http_version=cloudfront.HttpVersion.HTTP2_AND_3,
            price_class=cloudfront.PriceClass.PRICE_CLASS_100,
            enable_logging=True,
            log_bucket=self.log_bucket,
            log_file_prefix="cloudfront/",
            web_acl_id=web_acl_arn,
            default_behavior=cloudfront.BehaviorOptions(
                origin=origins.HttpOrigin(
                    origin_name,
                    protocol_policy=cloudfront.OriginProtocolPolicy.HTTPS_ONLY,
                    origin_ssl_protocols=[cloudfront.OriginSslPolicy.TLS_V1_2],
                ),
                viewer_protocol_policy=cloudfront.ViewerProtocolPolicy.REDIRECT_TO_HTTPS,
                cache_policy=cloudfront.CachePolicy.CACHING_OPTIMIZED,
                allowed_methods=cloudfront.AllowedMethods.ALLOW_GET_HEAD,
                compress=True,
            ),
        )
        acknowledge_all(
            self.distribution,
            ["AwsSolutions-CFR1"],
            "Restaurants and their guests are not limited to a list of countries; static assets "
            "(images, scripts) hold no tenant data that a geographic block would protect.",
        )
        if web_acl_arn is None:
            acknowledge_all(
                self.distribution,
                ["AwsSolutions-CFR2"],
                "WAF is off in this environment (PoC profile default, seed 2.1); the production "
                "profile attaches a CLOUDFRONT-scope web ACL to the distribution.",
            )
        route53.ARecord(
            self,
            "StaticRecord",
            zone=zone,
            record_name="static",
            target=route53.RecordTarget.from_alias(targets.CloudFrontTarget(self.distribution)),
        )
