"""CloudWatch Logs retention periods for both stacks; imports nothing from stacks/ or constructs/.

The platform and the tenant stacks both turn configured days into `logs.RetentionDays` here, so
the tenant stack need not import the platform stack for it.
"""

from __future__ import annotations

from aws_cdk import aws_logs as logs

# CloudWatch Logs retention periods (days -> RetentionDays member name); see config.schema.
_RETENTION_NAMES = {
    1: "ONE_DAY",
    3: "THREE_DAYS",
    5: "FIVE_DAYS",
    7: "ONE_WEEK",
    14: "TWO_WEEKS",
    30: "ONE_MONTH",
    60: "TWO_MONTHS",
    90: "THREE_MONTHS",
    120: "FOUR_MONTHS",
    150: "FIVE_MONTHS",
    180: "SIX_MONTHS",
    365: "ONE_YEAR",
    400: "THIRTEEN_MONTHS",
    545: "EIGHTEEN_MONTHS",
    731: "TWO_YEARS",
    1096: "THREE_YEARS",
    1827: "FIVE_YEARS",
    2192: "SIX_YEARS",
    2557: "SEVEN_YEARS",
    2922: "EIGHT_YEARS",
    3288: "NINE_YEARS",
    3653: "TEN_YEARS",
}
LOG_RETENTION_DAYS = tuple(_RETENTION_NAMES)


def retention(days: int) -> logs.RetentionDays:
    """The RetentionDays member for a number of days (CloudWatch accepts only fixed values)."""
    try:
        return logs.RetentionDays[_RETENTION_NAMES[days]]
    except KeyError:
        raise ValueError(
            f"{days} is not a CloudWatch Logs retention period; allowed: {LOG_RETENTION_DAYS}"
        ) from None
