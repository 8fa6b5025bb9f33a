"""Several cloud assemblies of one app, each holding some of its stacks, merged into one.

The shards of a synthesis (`synthesis/shards.py`) each write a complete cloud assembly: every
platform stack of the app, and the tenant and standby stacks of their share of the
restaurants. Merged, the assembly is the one a single process writes:

- a stack that one shard holds is taken as it is (template, asset manifest, metadata);
- a stack every shard holds (a platform) must be the same in each, except for its `Outputs`:
  CDK adds an export to the producing stack when a consuming stack first references it, so a
  platform lists only the exports its shard's restaurants import. The merged platform lists
  them all, in the order one process would have created them (by the first restaurant that
  references each), and its template's hash is written anew where the CLI reads it (the asset
  manifest that uploads the template, and the manifest's template URL);
- `manifest.json`'s artifacts, `tree.json`'s stacks and the validation report are the union,
  in the app's stack order;
- asset directories are content-addressed (`asset.<sha256>`): one copy of each.

Anything else that differs between two copies of a stack is an error, never a silent choice:
`MergeError` names the stack and the first path that differs.
"""

from __future__ import annotations

import hashlib
import json
import os
import shutil
from collections.abc import Iterable, Mapping, Sequence
from pathlib import Path
from typing import Any

STACK = "aws:cloudformation:stack"


class MergeError(RuntimeError):
    """The shards disagree about a stack they both hold."""


def merge_assemblies(parts: Sequence[Path], target: Path, stack_order: Sequence[str]) -> None:
    """Merge the assemblies in `parts` (shard order) into the empty directory `target`.

    `stack_order`: every stack name in the order the app creates them; the merged manifest and
    tree list stacks in that order, as one process would."""
    manifests = [_read(part / "manifest.json") for part in parts]
    holders: dict[str, list[int]] = {}
    for index, manifest in enumerate(manifests):
        for name in manifest["artifacts"]:
            holders.setdefault(name, []).append(index)

    artifacts: dict[str, dict[str, Any]] = {}
    for name, indexes in holders.items():
        artifacts[name] = manifests[indexes[0]]["artifacts"][name]
    for name, indexes in holders.items():
        artifact = artifacts[name]
        if artifact.get("type") != STACK:
            continue
        sources = [parts[index] for index in indexes]
        _merge_stack(name, artifact, sources, target)
    for part in parts:
        _move_assets(part, target)

    merged = dict(manifests[0])
    merged["artifacts"] = _ordered_artifacts(artifacts, stack_order)
    _write(target / "manifest.json", merged)
    _merge_tree(parts, target, stack_order)
    _merge_validation_reports(parts, target)
    shutil.copy2(parts[0] / "cdk.out", target / "cdk.out")  # the assembly's version


# --------------------------------------------------------------------------- stacks


def _merge_stack(name: str, artifact: dict[str, Any], sources: list[Path], target: Path) -> None:
    """The stack's template, asset manifest and metadata file into `target`: moved as they are
    from the one shard that holds the stack, or merged from the shards that all hold it."""
    properties = artifact.get("properties", {})
    files = [properties["templateFile"], f"{name}.assets.json"]
    metadata_file = artifact.get("additionalMetadataFile")
    if metadata_file:
        files.append(metadata_file)
    if len(sources) == 1:
        for file in files:
            if (sources[0] / file).is_file():
                os.replace(sources[0] / file, target / file)
        return

    template_file, assets_file = files[:2]
    texts = [(source / template_file).read_text(encoding="utf-8") for source in sources]
    text = texts[0]
    if any(other != text for other in texts[1:]):
        text = _template_text(_merge_templates(name, [json.loads(t) for t in texts]))
    (target / template_file).write_text(text, encoding="utf-8")
    old_hash = hashlib.sha256(texts[0].encode()).hexdigest()
    new_hash = hashlib.sha256(text.encode()).hexdigest()
    if (sources[0] / assets_file).is_file():
        assets = (sources[0] / assets_file).read_text(encoding="utf-8")
        if new_hash != old_hash:
            assets = _rehashed_asset_manifest(assets, old_hash, new_hash)
        (target / assets_file).write_text(assets, encoding="utf-8")
    url = properties.get("stackTemplateAssetObjectUrl")
    if url and new_hash != old_hash:
        properties["stackTemplateAssetObjectUrl"] = url.replace(old_hash, new_hash)
    if metadata_file:
        metadata = [_read(source / metadata_file) for source in sources]
        _write(target / metadata_file, _union(metadata))


def _rehashed_asset_manifest(text: str, old_hash: str, new_hash: str) -> str:
    """The asset manifest that uploads a template, for the template's new content: the entry
    is keyed by its hash, its object key names it, and each destination's id ends with the
    first 8 hex digits of the destination's SHA-256 (as aws-cdk-lib's AssetManifestBuilder
    names it: `contentHash(JSON.stringify(dest)).slice(0, 8)`)."""
    manifest = json.loads(text.replace(old_hash, new_hash))
    entry = manifest.get("files", {}).get(new_hash)
    if entry is None:
        return text.replace(old_hash, new_hash)
    destinations = {}
    for key, destination in entry.get("destinations", {}).items():
        compact = json.dumps(destination, separators=(",", ":"), ensure_ascii=False)
        digest = hashlib.sha256(compact.encode()).hexdigest()[:8]
        destinations[f"{key.rsplit('-', 1)[0]}-{digest}"] = destination
    entry["destinations"] = destinations
    return json.dumps(manifest, indent=2, ensure_ascii=False)


def _merge_templates(name: str, templates: list[dict[str, Any]]) -> dict[str, Any]:
    """One template from copies that may differ only in their Outputs (the exports)."""
    first = templates[0]
    outputs: dict[str, Any] = {}
    for template in templates:
        rest = {key: value for key, value in template.items() if key != "Outputs"}
        expected = {key: value for key, value in first.items() if key != "Outputs"}
        if rest != expected:
            raise MergeError(f"{name}: the shards disagree at {_first_difference(expected, rest)}")
        for key, value in template.get("Outputs", {}).items():
            if key in outputs and outputs[key] != value:
                raise MergeError(f"{name}: the shards disagree about output {key}")
            outputs.setdefault(key, value)
    # The sections in CDK's order: that of a copy with Outputs (the other sections are the same).
    layout = next((template for template in templates if "Outputs" in template), first)
    return {key: outputs if key == "Outputs" else first[key] for key in layout}


def _first_difference(a: Any, b: Any, path: str = "") -> str:
    if isinstance(a, dict) and isinstance(b, dict):
        for key in list(a) + [k for k in b if k not in a]:
            if a.get(key) != b.get(key):
                return _first_difference(a.get(key), b.get(key), f"{path}/{key}")
    if isinstance(a, list) and isinstance(b, list) and len(a) == len(b):
        for index, (x, y) in enumerate(zip(a, b, strict=True)):
            if x != y:
                return _first_difference(x, y, f"{path}/{index}")
    return path or "/"


def _template_text(template: Mapping[str, Any]) -> str:
    """A template as CDK writes it: JSON.stringify(template, undefined, 1)."""
    return json.dumps(template, indent=1, ensure_ascii=False)


# --------------------------------------------------------------------------- the rest


def _move_assets(part: Path, target: Path) -> None:
    for entry in part.iterdir():
        if entry.name.startswith("asset.") and not (target / entry.name).exists():
            os.replace(entry, target / entry.name)


def _ordered_artifacts(
    artifacts: dict[str, dict[str, Any]], stack_order: Sequence[str]
) -> dict[str, dict[str, Any]]:
    """Each stack's asset artifact just before it (as CDK lists them), stacks in app order,
    anything else (the tree) after them."""
    rank = {name: index for index, name in enumerate(stack_order)}

    def key(item: tuple[int, str]) -> tuple[int, int, int]:
        position, name = item
        stack = name.removesuffix(".assets")
        if stack in rank:
            return (0, rank[stack], 0 if name.endswith(".assets") else 1)
        return (1, position, 0)

    names = sorted(enumerate(artifacts), key=key)
    return {name: artifacts[name] for _, name in names}


def _merge_tree(parts: Sequence[Path], target: Path, stack_order: Sequence[str]) -> None:
    trees = [_read(part / "tree.json") for part in parts if (part / "tree.json").is_file()]
    if not trees:
        return
    merged = _union(trees)
    children = merged["tree"].get("children", {})
    rank = {name: index for index, name in enumerate(stack_order)}
    ordered = sorted(children, key=lambda name: (name not in rank, rank.get(name, 0)))
    merged["tree"]["children"] = {name: children[name] for name in ordered}
    (target / "tree.json").write_text(
        json.dumps(merged, ensure_ascii=False, separators=(",", ":")), encoding="utf-8"
    )


def _merge_validation_reports(parts: Sequence[Path], target: Path) -> None:
    reports = [
        _read(part / "validation-report.json")
        for part in parts
        if (part / "validation-report.json").is_file()
    ]
    if not reports:
        return
    merged = dict(reports[0])
    plugins: dict[str, dict[str, Any]] = {}
    for report in reports:
        for plugin in report.get("pluginReports", []):
            name = str(plugin.get("pluginName", plugin.get("title", "")))
            if name not in plugins:
                plugins[name] = json.loads(json.dumps(plugin))
                continue
            for key, value in plugin.items():
                if isinstance(value, list):
                    have = plugins[name].setdefault(key, [])
                    seen = {json.dumps(item, sort_keys=True) for item in have}
                    have += [v for v in value if json.dumps(v, sort_keys=True) not in seen]
                elif key in ("success",):
                    plugins[name][key] = bool(plugins[name][key]) and bool(value)
    merged["pluginReports"] = list(plugins.values())
    _write(target / "validation-report.json", merged)


def _union(documents: Iterable[Any]) -> Any:
    """Dictionaries merged key by key (the first document's order, then new keys as they come);
    anything else: the first document's value."""
    documents = list(documents)
    first = documents[0]
    if not isinstance(first, dict):
        return first
    merged: dict[str, Any] = {}
    for document in documents:
        if not isinstance(document, dict):
            continue
        for key in document:
            if key not in merged:
                values = [d[key] for d in documents if isinstance(d, dict) and key in d]
                merged[key] = _union(values)
    return merged


def _read(path: Path) -> Any:
    return json.loads(path.read_text(encoding="utf-8"))


def _write(path: Path, document: Any) -> None:
    path.write_text(json.dumps(document, indent=2, ensure_ascii=False), encoding="utf-8")
