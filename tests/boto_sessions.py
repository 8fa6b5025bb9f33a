"""boto3 sessions for tests that share one botocore loader.

A new boto3 session reads every service model it makes a client for from botocore's JSON files
again (0.05-0.5 s of parsing each: the bulk of a test that makes a few clients against moto or
a Stubber). These sessions share one loader, so each model is parsed once per test process;
everything else (credentials, region, event handlers, clients) stays the session's own.
"""

from __future__ import annotations

import functools
from typing import Any

import boto3
import botocore.loaders
import botocore.session


@functools.cache
def _loader() -> botocore.loaders.Loader:
    loader: botocore.loaders.Loader = botocore.session.get_session().get_component("data_loader")
    return loader


def session(**kwargs: Any) -> boto3.Session:
    """`boto3.Session(**kwargs)` on the shared loader."""
    core = botocore.session.get_session()
    loader = _loader()
    core.register_component("data_loader", loader)
    made = boto3.Session(botocore_session=core, **kwargs)
    # boto3 adds its own data directory to the loader's search path for each session: once is
    # enough for a shared loader.
    loader.search_paths[:] = list(dict.fromkeys(loader.search_paths))
    return made
