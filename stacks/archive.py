"""The log archive as both stacks name it: its stream and role by name, its storage classes.

Below both stacks (like `naming`), so the tenant stack subscribes its log groups without
importing the platform stack's code for it.
"""

from __future__ import annotations

from aws_cdk import aws_s3 as s3

from constructs import Construct
from constructs.log_archive import ArchiveTarget
from stacks import naming

ARCHIVE_STORAGE_CLASSES = {
    "glacier-instant-retrieval": s3.StorageClass.GLACIER_INSTANT_RETRIEVAL,
    "deep-archive": s3.StorageClass.DEEP_ARCHIVE,
}


def archive_target(scope: Construct, env: str, *, standby: bool = False) -> ArchiveTarget:
    """The archive stream and subscription role of the environment's region (the primary's, or
    with `standby` the recovery region's), by their fixed names."""
    return ArchiveTarget.by_name(
        scope,
        stream_name=naming.log_archive_stream_name(env),
        role_name=naming.log_archive_subscription_role_name(env, standby=standby),
    )
