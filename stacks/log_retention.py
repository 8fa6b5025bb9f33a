"""CloudWatch Logs retention for both stacks; imports nothing from stacks/ or constructs/.

The platform and the tenant stacks both turn configured days into `logs.RetentionDays` here, so
the tenant stack need not import the platform stack for it.
"""

from __future__ import annotations

from aws_cdk import aws_logs as logs

from config.rules import LOG_RETENTION_DAYS, LOG_RETENTION_PERIODS


def retention(days: int) -> logs.RetentionDays:
    """The RetentionDays member for a number of days (CloudWatch accepts only fixed values)."""
    try:
        return logs.RetentionDays[LOG_RETENTION_PERIODS[days]]
    except KeyError:
        raise ValueError(
            f"{days} is not a CloudWatch Logs retention period; allowed: {LOG_RETENTION_DAYS}"
        ) from None
