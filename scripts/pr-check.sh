#!/usr/bin/env bash
# `make pr-check BASE=<ref>`: what a pull request is judged by, offline (no AWS credentials).
# Synthesizes BASE and the working tree with the same command (scripts/synth-ref.sh), then per
# environment runs `python -m ops plan` (replacement detection) and `python -m ops cost --base`
# (monthly cost difference), and writes one Markdown comment to COMMENT.
#
#   scripts/pr-check.sh origin/main comment.md
#
# Exit: 0 nothing blocks (also: no change); 1 a stateful resource would be deleted or replaced
# (0 with ALLOW_STATEFUL=true, the `allow-stateful-changes` label); 2 bad input or a failed step.
# (Through `make pr-check`, any non-zero exit becomes make's 2; the comment's last line keeps it.)
set -uo pipefail

if [[ $# -ne 2 ]]; then
  echo "usage: $0 BASE_REF COMMENT.md" >&2
  exit 2
fi
base_ref=$1
comment=$2
root=$(git rev-parse --show-toplevel)
cd "$root"
python="$root/.venv/bin/python"
base_dir=cdk.out.base
head_dir=cdk.out.head

scripts/synth-ref.sh "$base_ref" "$base_dir" || exit 2
scripts/synth-ref.sh . "$head_dir" || exit 2

# Environments: every chefs-kiss-<env>-platform stack of either side (a removed one shows too).
envs=$(find "$base_dir" "$head_dir" -maxdepth 1 -name 'chefs-kiss-*-platform.template.json' \
  -printf '%f\n' | sed 's/^chefs-kiss-\(.*\)-platform\.template\.json$/\1/' | sort -u)

work=$(mktemp -d)
trap 'rm -rf "$work"' EXIT
status=0
blocked=""
summary=()
: >"$work/body.md"

for env in $envs; do
  "$python" -m ops plan --base "$base_dir" --head "$head_dir" --env "$env" --no-cost --markdown \
    >"$work/plan.md" 2>"$work/plan.err"
  plan_rc=$?
  "$python" -m ops cost --env "$env" --base "$base_dir" --assembly "$head_dir" \
    >"$work/cost.md" 2>"$work/cost.err"
  cost_rc=$?
  {
    echo
    echo "## Environment \`$env\`"
    echo
    cat "$work/plan.md"
    if [[ $plan_rc -eq 1 ]]; then
      echo
      echo "**Blocked** (ops plan exit 1): a stateful resource would be deleted or replaced."
    elif [[ $plan_rc -ne 0 ]]; then
      echo
      echo "**ops plan failed** (exit $plan_rc):"
      echo '```'
      cat "$work/plan.err"
      echo '```'
    fi
    echo
    if [[ $cost_rc -eq 0 ]]; then
      cat "$work/cost.md"
    else
      echo "**ops cost failed** (exit $cost_rc):"
      echo '```'
      cat "$work/cost.err"
      echo '```'
    fi
  } >>"$work/body.md"
  if [[ $plan_rc -eq 0 ]] && grep -q "No changes" "$work/plan.md"; then
    summary+=("\`$env\`: no changes")
  elif [[ $plan_rc -eq 0 ]]; then
    summary+=("\`$env\`: changes, none blocking")
  elif [[ $plan_rc -eq 1 ]]; then
    summary+=("\`$env\`: **blocked**")
  else
    summary+=("\`$env\`: **check failed**")
  fi
  if [[ $plan_rc -eq 1 ]]; then
    blocked="$blocked $env"
  elif [[ $plan_rc -ne 0 || $cost_rc -ne 0 ]]; then
    status=2
  fi
done

if [[ -n $blocked ]]; then
  if [[ ${ALLOW_STATEFUL:-} == true || ${ALLOW_STATEFUL:-} == 1 ]]; then
    note="Stateful changes in:$blocked. Allowed by the \`allow-stateful-changes\` label."
  else
    note="Stateful changes in:$blocked. Merging needs the \`allow-stateful-changes\` label after review (docs/runbooks.md)."
    [[ $status -eq 0 ]] && status=1
  fi
  printf '\n%s\n' "$note" >>"$work/body.md"
fi
{
  echo "<!-- chefs-kiss-plan -->"
  echo "# Plan and monthly cost against \`$base_ref\`"
  echo
  if [[ -z $envs ]]; then
    echo "No environment in either assembly."
    status=2
  fi
  (IFS=';'; echo "${summary[*]}" | sed 's/;/; /g')
  echo
  echo "Base and head synthesized by \`scripts/synth-ref.sh\`; offline, no AWS call."
  cat "$work/body.md"
  printf '\n<sub>pr-check exit %s (0 nothing blocks, 1 blocked, 2 a check failed)</sub>\n' "$status"
} >"$work/comment.md"
cp "$work/comment.md" "$comment"
cat "$comment"
echo "pr-check: wrote $comment (exit $status)" >&2
exit "$status"
