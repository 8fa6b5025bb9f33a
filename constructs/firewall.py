"""AWS WAF in front of the load balancer: AWS managed rule groups, logged to CloudWatch.
Must never import stacks/, ops/ or config/: settings arrive as constructor arguments.
"""

from __future__ import annotations

import aws_cdk as cdk
from aws_cdk import aws_kms as kms
from aws_cdk import aws_logs as logs
from aws_cdk import aws_wafv2 as wafv2

from constructs import Construct

# (priority, managed rule group): the baseline AWS recommends for public web applications.
MANAGED_RULE_GROUPS: tuple[tuple[int, str], ...] = (
    (10, "AWSManagedRulesAmazonIpReputationList"),
    (20, "AWSManagedRulesCommonRuleSet"),
    (30, "AWSManagedRulesKnownBadInputsRuleSet"),
    (40, "AWSManagedRulesSQLiRuleSet"),
)
# Session tokens and credentials: WAF logs keep 30 days of request headers, and these two would
# let anyone who can read the log group replay a signed-in session.
REDACTED_HEADERS: tuple[str, ...] = ("authorization", "cookie")


class LoadBalancerFirewall(Construct):
    """A web ACL: regional and associated with the ALB (NIST/PCI ALBWAFEnabled, seed 7.2), or
    with `scope_name="CLOUDFRONT"` for a distribution (which names it in `web_acl_id`).

    WAFv2 has no L2 construct in aws-cdk-lib, hence the Cfn resources. Costs $5/month per web
    ACL plus $1 per rule group and $0.60 per million requests (see the cost model).
    """

    def __init__(
        self,
        scope: Construct,
        construct_id: str,
        *,
        name_prefix: str,
        load_balancer_arn: str | None,
        log_retention: logs.RetentionDays,
        log_key: kms.IKey,
        rate_limit_per_5_min: int = 2000,
        scope_name: str = "REGIONAL",
        suffix: str = "alb",
    ) -> None:
        super().__init__(scope, construct_id)
        rules = _rules(rate_limit_per_5_min)
        self.web_acl = wafv2.CfnWebACL(
            self,
            "WebAcl",
            name=f"{name_prefix}-{suffix}",
            scope=scope_name,
            default_action=wafv2.CfnWebACL.DefaultActionProperty(allow={}),
            visibility_config=wafv2.CfnWebACL.VisibilityConfigProperty(
                cloud_watch_metrics_enabled=True,
                metric_name=f"{name_prefix}-{suffix}",
                sampled_requests_enabled=True,
            ),
            rules=rules,
        )
        if load_balancer_arn is not None:
            wafv2.CfnWebACLAssociation(
                self,
                "Association",
                resource_arn=load_balancer_arn,
                web_acl_arn=self.web_acl.attr_arn,
            )
        # WAF requires the log group name to start with "aws-waf-logs-".
        self.log_group = logs.LogGroup(
            self,
            "Logs",
            log_group_name=f"aws-waf-logs-{name_prefix}-{suffix}",
            retention=log_retention,
            encryption_key=log_key,
            removal_policy=cdk.RemovalPolicy.RETAIN,
        )
        wafv2.CfnLoggingConfiguration(
            self,
            "Logging",
            resource_arn=self.web_acl.attr_arn,
            log_destination_configs=[
                cdk.Stack.of(self).format_arn(
                    service="logs",
                    resource="log-group",
                    resource_name=self.log_group.log_group_name,
                    arn_format=cdk.ArnFormat.COLON_RESOURCE_NAME,
                )
            ],
            redacted_fields=[
                wafv2.CfnLoggingConfiguration.FieldToMatchProperty(single_header={"Name": header})
                for header in REDACTED_HEADERS
            ],
        )


def _rules(rate_limit_per_5_min: int) -> list[wafv2.CfnWebACL.RuleProperty]:
    """The AWS managed rule groups, each with its own actions, then a per-IP rate limit."""
    rules: list[wafv2.CfnWebACL.RuleProperty] = [
        wafv2.CfnWebACL.RuleProperty(
            name=group,
            priority=priority,
            override_action=wafv2.CfnWebACL.OverrideActionProperty(none={}),
            statement=wafv2.CfnWebACL.StatementProperty(
                managed_rule_group_statement=wafv2.CfnWebACL.ManagedRuleGroupStatementProperty(
                    vendor_name="AWS", name=group
                )
            ),
            visibility_config=wafv2.CfnWebACL.VisibilityConfigProperty(
                cloud_watch_metrics_enabled=True,
                metric_name=group,
                sampled_requests_enabled=True,
            ),
        )
        for priority, group in MANAGED_RULE_GROUPS
    ]
    rules.append(
        wafv2.CfnWebACL.RuleProperty(
            name="RateLimitPerIp",
            priority=100,
            action=wafv2.CfnWebACL.RuleActionProperty(block={}),
            statement=wafv2.CfnWebACL.StatementProperty(
                rate_based_statement=wafv2.CfnWebACL.RateBasedStatementProperty(
                    limit=rate_limit_per_5_min, aggregate_key_type="IP"
                )
            ),
            visibility_config=wafv2.CfnWebACL.VisibilityConfigProperty(
                cloud_watch_metrics_enabled=True,
                metric_name="RateLimitPerIp",
                sampled_requests_enabled=True,
            ),
        )
    )
    return rules
