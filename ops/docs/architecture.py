"""`python -m ops architecture`: the picture of what crosses between stacks, from a synthesized app.

Reads a cloud assembly (default `cdk.out`, from `make synth`) and finds, generically:

- every CloudFormation export (`Outputs.*.Export.Name`) and the resource and attribute behind it
  (`Ref` / `Fn::GetAtt`, construct path from the assembly's metadata);
- every `Fn::ImportValue`, grouping the importing stacks by the set of exports they use
  (all tenant stacks of an environment import the same interface);
- the names stacks agree on without any import: each public function of `stacks/naming.py`,
  rendered with placeholders, and the stacks whose templates contain it for an example value.

It renders a Mermaid diagram and tables between the GENERATED markers of `docs/architecture.md`.

    make synth && python -m ops architecture          # rewrite the generated part
    python -m ops architecture --check                # exit 1 if the doc is out of date
    python -m ops architecture --json                 # the same facts, machine-readable
"""

from __future__ import annotations

import argparse
import importlib
import inspect
import json
import re
import sys
from collections.abc import Callable, Iterable
from dataclasses import asdict, dataclass, field
from pathlib import Path
from typing import Any

from ops.assembly import AssemblyError, imported_names, read_assembly
from ops.cli import add_command, add_page_options
from ops.output import write_or_check
from ops.wording import plural
from stacks import naming

PROJECT_DIR = Path(__file__).resolve().parents[2]
DEFAULT_OUTPUT = PROJECT_DIR / "docs" / "architecture.md"
DEFAULT_ASSEMBLY = Path("cdk.out")
BEGIN = "<!-- BEGIN GENERATED: python -m ops architecture (from the example config) -->"
END = "<!-- END GENERATED -->"
# Values for naming-function parameters, by parameter name (any other parameter: `<name>`).
PLACEHOLDERS = {"env": "<env>", "slug": "<slug>", "account": "<account>", "region": "<region>"}


class ArchitectureError(ValueError):
    """The assembly or the document cannot be used (missing, or without markers)."""


@dataclass(frozen=True)
class Export:
    stack: str
    name: str
    source: str  # construct path inside the stack, e.g. Network/Vpc
    resource_type: str
    attribute: str  # "Ref" or the GetAtt attribute
    importers: tuple[str, ...]


@dataclass(frozen=True)
class ImportGroup:
    """Stacks that import exactly the same exports (e.g. every tenant of one environment)."""

    exporter: str
    stacks: tuple[str, ...]
    exports: tuple[str, ...]
    resource_types: tuple[str, ...]


@dataclass(frozen=True)
class Convention:
    function: str
    pattern: str
    doc: str
    found_in: tuple[str, ...] = field(default=())


@dataclass(frozen=True)
class Replica:
    """A standby stack's database replicates from a tenant stack's in another region, named by
    ARN (`naming.db_instance_arn`): a dependency no export or import shows."""

    source: str  # the tenant stack
    standby: str  # the standby stack


@dataclass(frozen=True)
class Architecture:
    exports: tuple[Export, ...]
    groups: tuple[ImportGroup, ...]
    conventions: tuple[Convention, ...]
    # (stack, region) as the manifest says; a stack without an environment is left out.
    regions: tuple[tuple[str, str], ...] = ()
    replicas: tuple[Replica, ...] = ()


def construct_paths(directory: Path) -> dict[str, dict[str, str]]:
    """{stack: {logical id: construct path below the stack}} from the assembly's metadata."""
    manifest = json.loads((directory / "manifest.json").read_text(encoding="utf-8"))
    paths: dict[str, dict[str, str]] = {}
    for artifact_id, artifact in manifest.get("artifacts", {}).items():
        if artifact.get("type") != "aws:cloudformation:stack":
            continue
        metadata = dict(artifact.get("metadata", {}))
        extra = artifact.get("additionalMetadataFile")
        if extra and (directory / extra).is_file():
            metadata.update(json.loads((directory / extra).read_text(encoding="utf-8")))
        found: dict[str, str] = {}
        for path, entries in metadata.items():
            for entry in entries:
                if entry.get("type") == "aws:cdk:logicalId":
                    short = path.split("/", 2)[2] if path.count("/") >= 2 else path
                    found[str(entry["data"])] = short.removesuffix("/Resource")
        paths[artifact.get("displayName", artifact_id)] = found
    return paths


def _source(value: Any) -> tuple[str, str] | None:
    """(logical id, attribute) of an output value that is a plain Ref or GetAtt."""
    if isinstance(value, dict) and isinstance(value.get("Ref"), str):
        return value["Ref"], "Ref"
    if isinstance(value, dict) and isinstance(value.get("Fn::GetAtt"), list):
        logical_id, attribute = value["Fn::GetAtt"][:2]
        return str(logical_id), str(attribute)
    return None


def convention_functions() -> list[tuple[str, Callable[..., Any]]]:
    """(module, function): every public function of stacks/naming.py, plus every module-level
    `*_name` function elsewhere in stacks/ and constructs/ (e.g. an alert topic's name)."""
    found: list[tuple[str, Callable[..., Any]]] = []
    others = sorted(
        f"{package}.{path.stem}"
        for package in ("stacks", "constructs")
        for path in (PROJECT_DIR / package).glob("*.py")
        if not path.stem.startswith("_") and f"{package}.{path.stem}" != naming.__name__
    )
    modules = [naming.__name__, *others]
    for module_name in modules:
        module = importlib.import_module(module_name)
        for name, function in inspect.getmembers(module, inspect.isfunction):
            if name.startswith("_") or function.__module__ != module_name:
                continue
            if inspect.signature(function).return_annotation not in ("str", str):
                continue  # not a name (parse_stack_name reads names back)
            if module_name == naming.__name__ or name.endswith("_name"):
                found.append((module_name, function))
    return found


def _required(function: Callable[..., Any]) -> list[inspect.Parameter]:
    """The parameters a convention needs; keyword-only options with a default (e.g.
    `standby=False`) keep their default, so the table shows the primary region's name."""
    return [
        p
        for p in inspect.signature(function).parameters.values()
        if p.kind is not p.KEYWORD_ONLY or p.default is p.empty
    ]


def _call(function: Callable[..., Any], values: dict[str, str]) -> str | None:
    args = []
    kwargs = {}
    for parameter in _required(function):
        value = values.get(parameter.name, f"ZZ{parameter.name}ZZ")
        if parameter.kind is parameter.KEYWORD_ONLY:
            kwargs[parameter.name] = value
        else:
            args.append(value)
    try:
        return str(function(*args, **kwargs))
    except Exception:  # a convention that needs non-text arguments: listed without a pattern
        return None


def conventions(templates: dict[str, str], env: str | None, slug: str | None) -> list[Convention]:
    """Each naming convention as a pattern, and the stack kinds whose templates contain it."""
    found = []
    for module_name, function in convention_functions():
        parameters = [p.name for p in _required(function)]
        shown = {**PLACEHOLDERS, "name_prefix": naming.name_prefix(PLACEHOLDERS["env"])}
        raw = _call(function, shown)
        pattern = (
            re.sub(r"ZZ(\w+)ZZ", r"<\1>", raw)
            if raw is not None
            else f"({function.__name__}({', '.join(parameters)}))"
        )
        in_stacks: tuple[str, ...] = ()
        known = {"env": env or "", "slug": slug or "", "name_prefix": naming.name_prefix(env or "")}
        example = (
            _call(function, known) if env and not {"account", "region"} & set(parameters) else None
        )
        if example is not None and (slug or "slug" not in parameters):
            regex = re.compile(re.sub(r"ZZ\w+ZZ", "[A-Za-z0-9-]+", re.escape(example)))
            in_stacks = tuple(
                _kind(stack, env or "") for stack, text in templates.items() if regex.search(text)
            )
        doc = " ".join((function.__doc__ or "").split())
        label = (
            function.__name__
            if module_name == naming.__name__
            else f"{module_name}.{function.__name__}"
        )
        found.append(Convention(label, pattern, doc, tuple(dict.fromkeys(in_stacks))))
    return found


def _kind(stack: str, env: str) -> str:
    """The kind of one of the example environment's stacks (`platform`, `tenant`...); any
    other stack by its name."""
    parsed = naming.parse_stack_name(stack)
    return parsed.kind if parsed and parsed.environment == env else stack


def _region(environment: str | None) -> str | None:
    """`us-west-2` of the manifest's `aws://<account>/us-west-2`; None without one."""
    if not environment or not environment.startswith("aws://"):
        return None
    region = environment.removeprefix("aws://").partition("/")[2]
    return region if region and region != "unknown-region" else None


def _replicas(names: Iterable[str]) -> list[Replica]:
    """Each standby stack with the tenant stack whose database it replicates (same slug)."""
    parsed = [p for p in map(naming.parse_stack_name, names) if p]
    primary = {(p.environment, p.slug): p.name for p in parsed if p.kind == naming.TENANT}
    return [
        Replica(primary[(p.environment, p.slug)], p.name)
        for p in parsed
        if p.kind == naming.STANDBY and (p.environment, p.slug) in primary
    ]


def analyse(directory: Path) -> Architecture:
    stacks = read_assembly(directory)
    paths = construct_paths(directory)
    imports = {name: imported_names(stack.template) for name, stack in stacks.items()}
    exports: list[Export] = []
    owner: dict[str, str] = {}
    for name, stack in stacks.items():
        resources = stack.resources
        for output in stack.template.get("Outputs", {}).values():
            export_name = (output.get("Export") or {}).get("Name")
            if not isinstance(export_name, str):
                continue
            source = _source(output.get("Value"))
            logical_id, attribute = source or ("(expression)", "value")
            exports.append(
                Export(
                    stack=name,
                    name=export_name,
                    source=paths.get(name, {}).get(logical_id, logical_id),
                    resource_type=resources.get(logical_id, {}).get("Type", "(expression)"),
                    attribute=attribute,
                    importers=tuple(s for s, used in imports.items() if export_name in used),
                )
            )
            owner[export_name] = name
    grouped: dict[tuple[str, tuple[str, ...]], list[str]] = {}
    for name, used in imports.items():
        if used:
            key = (owner.get(sorted(used)[0], "(outside this assembly)"), tuple(sorted(used)))
            grouped.setdefault(key, []).append(name)
    groups = [
        ImportGroup(
            exporter=exporter,
            stacks=tuple(members),
            exports=used,
            resource_types=tuple(
                # AWS::CDK::Metadata comes and goes with the CLI's version reporting: not
                # part of the architecture.
                sorted(
                    {
                        r.get("Type", "?")
                        for r in stacks[members[0]].resources.values()
                        if r.get("Type") != "AWS::CDK::Metadata"
                    }
                )
            ),
        )
        for (exporter, used), members in grouped.items()
    ]
    texts = {name: json.dumps(stack.template) for name, stack in stacks.items()}
    env, slug = _example_names(stacks)
    regions = tuple(
        (name, region) for name, stack in stacks.items() if (region := _region(stack.environment))
    )
    return Architecture(
        tuple(exports),
        tuple(groups),
        tuple(conventions(texts, env, slug)),
        regions,
        tuple(_replicas(list(stacks))),
    )


def _example_names(stacks: dict[str, Any]) -> tuple[str | None, str | None]:
    """An environment and a restaurant slug of the assembly, read back from the stack names:
    the first environment with a platform, and its first restaurant."""
    parsed = [p for p in map(naming.parse_stack_name, stacks) if p]
    for platform in parsed:
        if platform.kind == naming.PLATFORM:
            env = platform.environment
            slugs = [p.slug for p in parsed if p.kind == naming.TENANT and p.environment == env]
            return env, (slugs[0] if slugs else None)
    return None, None


# Rendering -------------------------------------------------------------------------------------


def _node_id(text: str) -> str:
    return re.sub(r"\W", "_", text)


def _group_label(group: ImportGroup) -> str:
    if len(group.stacks) == 1:
        return group.stacks[0]
    prefix = group.stacks[0]
    for other in group.stacks[1:]:
        while not other.startswith(prefix):
            prefix = prefix[:-1]
    return f"{prefix}#lt;slug#gt; #times;{len(group.stacks)}"


def _group_id(group: ImportGroup) -> str:
    return _node_id("g_" + "_".join(group.stacks[:1]) + str(len(group.stacks)))


def render_mermaid(architecture: Architecture) -> str:
    """The exporting stacks with what they export, the importing groups, and the standby
    replicas; each inside its region's box when the assembly says where it is deployed."""
    region_of = dict(architecture.regions)
    by_stack: dict[str, list[Export]] = {}
    for export in architecture.exports:
        by_stack.setdefault(export.stack, []).append(export)
    # Nodes first, by region (Mermaid puts a node in the box where it first appears).
    boxes: dict[str | None, list[str]] = {}
    for stack, exports in by_stack.items():
        box = boxes.setdefault(region_of.get(stack), [])
        box.append(f'  subgraph {_node_id(stack)}["{stack}"]')
        for source in dict.fromkeys(e.source for e in exports):
            types = next(e.resource_type for e in exports if e.source == source)
            box.append(f'    {_node_id(stack + source)}["{source}<br/><i>{types}</i>"]')
        box.append("  end")
    for group in architecture.groups:
        box = boxes.setdefault(region_of.get(group.stacks[0]), [])
        box.append(f'  {_group_id(group)}[["{_group_label(group)}"]]')
    lines = ["```mermaid", "flowchart LR"]
    for region, box in boxes.items():
        if region is None:
            lines += box
            continue
        lines.append(f'  subgraph {_node_id("region_" + region)}["Region {region}"]')
        lines += ["  " + line for line in box]
        lines.append("  end")
    exported = {e.name: e for e in architecture.exports}
    for group in architecture.groups:
        edges: dict[str, list[str]] = {}
        for name in group.exports:
            found = exported.get(name)
            if found is not None:
                edges.setdefault(found.stack + found.source, []).append(found.attribute)
        for source, attributes in edges.items():
            label = ", ".join(dict.fromkeys(attributes))
            lines.append(f'  {_node_id(source)} -- "{label}" --> {_group_id(group)}')
    group_of = {stack: _group_id(g) for g in architecture.groups for stack in g.stacks}
    replicated = {
        (group_of[r.source], group_of[r.standby])
        for r in architecture.replicas
        if r.source in group_of and r.standby in group_of
    }
    for source, standby in sorted(replicated):
        lines.append(f'  {source} -. "read replica (by ARN, no export)" .-> {standby}')
    lines.append("```")
    return "\n".join(lines)


def render_regions(architecture: Architecture) -> list[str]:
    """A table of where each stack is deployed, by region and stack kind."""
    if not architecture.regions:
        return []
    rows: dict[tuple[str, str], list[str]] = {}
    for stack, region in architecture.regions:
        parsed = naming.parse_stack_name(stack)
        rows.setdefault((region, parsed.kind if parsed else "other"), []).append(stack)
    lines = ["### Stacks by region", "", "| Region | Kind | Stacks |", "| --- | --- | --- |"]
    for (region, kind), stacks in sorted(rows.items()):
        lines.append(f"| {region} | {kind} | {', '.join(f'`{s}`' for s in stacks)} |")
    return [*lines, ""]


def render_markdown(architecture: Architecture) -> str:
    lines = [
        BEGIN,
        "",
        *render_regions(architecture),
        "### What crosses between the stacks",
        "",
        render_mermaid(architecture),
        "",
        "### Exports (CloudFormation `Export` / `Fn::ImportValue`)",
        "",
        "| Exporting stack | Export name | Resource (construct path) | Type | Attribute | "
        "Imported by |",
        "| --- | --- | --- | --- | --- | --- |",
    ]
    for e in architecture.exports:
        lines.append(
            f"| `{e.stack}` | `{e.name}` | `{e.source}` | {e.resource_type} | {e.attribute} | "
            f"{plural(len(e.importers), 'stack')} |"
        )
    lines += ["", "### Importing stacks", ""]
    for group in architecture.groups:
        stacks = ", ".join(f"`{s}`" for s in group.stacks)
        types = ", ".join(group.resource_types)
        lines.append(
            f"- {stacks}: {plural(len(group.exports), 'import')} from `{group.exporter}`; "
            f"resource types: {types}."
        )
    lines += [
        "",
        "### Names derived without imports (`stacks/naming.py`, and `*_name` functions)",
        "",
        "A tenant stack and the application find these by convention, so none of them is an",
        "export that would lock the platform stack. *Found in* lists the stack kinds of the",
        "example app whose templates contain the name (empty: used by the app or by operators,",
        "or built from deploy-time tokens such as the account id).",
        "",
        "| Function | Pattern | Found in | Why |",
        "| --- | --- | --- | --- |",
    ]
    for c in architecture.conventions:
        found = ", ".join(c.found_in) or "-"
        lines.append(f"| `{c.function}` | `{c.pattern}` | {found} | {c.doc or ' '} |")
    lines += ["", END]
    return "\n".join(lines)


def splice(document: str, generated: str) -> str:
    """`document` with the text between the markers replaced by `generated`."""
    start, end = document.find(BEGIN), document.find(END)
    if start < 0 or end < start:
        raise ArchitectureError(f"the document has no {BEGIN!r} ... {END!r} block")
    return document[:start] + generated + document[end + len(END) :]


def to_json(architecture: Architecture) -> str:
    return json.dumps(asdict(architecture), indent=2)


def run(args: argparse.Namespace) -> int:
    output = Path(args.output)
    try:
        architecture = analyse(Path(args.assembly))
        if args.json:
            print(to_json(architecture))
            return 0
        if not output.is_file():
            raise ArchitectureError(f"{output}: no such file")
        current = output.read_text(encoding="utf-8")
        updated = splice(current, render_markdown(architecture))
    except (AssemblyError, ArchitectureError) as exc:
        print(f"ops architecture: {exc}", file=sys.stderr)
        return 2
    summary = (
        f"{len(architecture.exports)} exports, {len(architecture.groups)} importing groups, "
        f"{len(architecture.conventions)} naming conventions"
    )
    stale = (
        f"{output}: out of date with {args.assembly} ({summary}); run `make synth && "
        "python -m ops architecture` and commit the result"
    )
    fresh, written = f"{output}: up to date ({summary})", f"updated {output}: {summary}"
    return write_or_check(
        output, updated, current, check=args.check, stale=stale, fresh=fresh, written=written
    )


def register(subparsers: argparse._SubParsersAction) -> None:  # type: ignore[type-arg]
    parser = add_command(
        subparsers,
        "architecture",
        "regenerate the stack diagram in docs/architecture.md from cdk.out (or --check it)",
        __doc__,
    )
    parser.add_argument(
        "--assembly", default=str(DEFAULT_ASSEMBLY), help="synthesized app (default: cdk.out)"
    )
    add_page_options(parser, str(DEFAULT_OUTPUT), "print the facts as JSON")
    parser.set_defaults(func=run)
