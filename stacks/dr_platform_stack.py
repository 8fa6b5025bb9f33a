"""The standby platform of an environment's recovery region (seed 7.1, `disaster_recovery`).

It is the platform stack itself with `standby=True`, not a copy: the same network, cluster, app
service, load balancer, certificate, WAF, keys, alarms and alert topics, built by the same code in
the recovery region. What differs is listed on `PlatformStack`.
"""

from __future__ import annotations

from config.schema import EnvironmentConfig
from constructs import Construct
from stacks.platform_stack import PlatformStack


class StandbyPlatformStack(PlatformStack):
    """`chefs-kiss-<env>-dr-platform`, deployed to `disaster_recovery.region`."""

    def __init__(
        self,
        scope: Construct,
        construct_id: str,
        *,
        environment: EnvironmentConfig,
        **kwargs: object,
    ) -> None:
        super().__init__(scope, construct_id, environment=environment, standby=True, **kwargs)
