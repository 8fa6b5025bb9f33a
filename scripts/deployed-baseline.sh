#!/usr/bin/env bash
# scripts/deployed-baseline.sh ENV DIR: the assembly that environment ENV runs, as the deploy
# workflow recorded it (`ops rollout --record`, uploaded as the artifact `deployed-ENV` after each
# complete rollout), unpacked into DIR: the base that `make rollout` compares the new assembly
# with, so only the stacks that changed deploy.
#
# The newest unexpired `deployed-ENV` artifact of this repository wins (the deploy workflow runs
# one deployment at a time, so that is what the environment last completed). None (the first
# deploy, or older than the artifact retention): DIR stays absent and `make rollout` deploys
# every stack of the environment (--all). Needs the GitHub CLI and GH_TOKEN with `actions: read`.
set -euo pipefail

env_name="${1:?usage: scripts/deployed-baseline.sh ENV DIR}"
dir="${2:?usage: scripts/deployed-baseline.sh ENV DIR}"
artifact="deployed-$env_name"

if [ -z "${GITHUB_REPOSITORY:-}" ] || ! command -v gh >/dev/null 2>&1; then
  echo "deployed-baseline: not in GitHub Actions (GITHUB_REPOSITORY, gh): $dir left as it is" \
       "(make rollout records it after each complete rollout)" >&2
  exit 0
fi
run_id="$(gh api "repos/$GITHUB_REPOSITORY/actions/artifacts?name=$artifact&per_page=100" \
  --jq '[.artifacts[] | select(.expired | not)] | sort_by(.created_at) | last | .workflow_run.id // empty')"
if [ -z "$run_id" ]; then
  echo "deployed-baseline: no $artifact artifact (first deploy, or expired):" \
       "every stack of $env_name deploys" >&2
  exit 0
fi
rm -rf "$dir"
gh run download "$run_id" --repo "$GITHUB_REPOSITORY" --name "$artifact" --dir "$dir"
echo "deployed-baseline: $artifact of run $run_id in $dir" >&2
