#!/usr/bin/env bash
# fbplan GitOps steps: plan on a pull request, apply the reviewed plan on merge.
# The GitHub Actions workflow in the README calls this script; it runs the same anywhere.
#
#   gitops.sh plan  SPEC OUT_DIR   validate, then plan: OUT_DIR/plan.md (the PR comment),
#                                  OUT_DIR/plan.json (the plan file to keep as an artifact),
#                                  OUT_DIR/code (plan's exit code). Exit 0 when the comment
#                                  should be published (no changes, changes), 3 when the plan
#                                  is blocked (publish the comment too), 1 on an error.
#   gitops.sh apply SPEC PLANFILE  carry out the reviewed plan file. If it is stale (the spec,
#                                  a value it reads, or the live workspace moved since), say
#                                  so, plan again from SPEC and apply that: the safety rules
#                                  still hold (a delete or replace runs only if the spec's
#                                  approve: list names it; protect; the threshold). With no
#                                  plan file, plan and apply SPEC. Exit codes are fbplan's.
#
# Environment: FB_BACKEND_URL, FB_JWT and the spec's ${env:} variables, as for fbplan;
# FBPLAN (default "fbplan") is the command to run, e.g. "python -m fbplan".
set -uo pipefail

FBPLAN=${FBPLAN:-fbplan}
STALE='(changed since the plan was saved|make a new plan|plan again)'

usage() {
  echo "usage: $0 plan SPEC OUT_DIR | apply SPEC [PLANFILE]" >&2
  exit 1
}

fb() {
  # shellcheck disable=SC2086  # FBPLAN may be several words
  $FBPLAN "$@"
}

plan_step() {
  local spec=$1 out=$2 code
  mkdir -p "$out" || exit 1
  fb validate "$spec" || exit 1
  fb plan "$spec" --format markdown --detailed-exitcode --out "$out/plan.json" >"$out/plan.md"
  code=$?
  echo "$code" >"$out/code"
  case $code in
    0 | 2) exit 0 ;;
    3) echo "The plan is blocked by a safety rule (see the comment)." >&2; exit 3 ;;
    *) exit 1 ;;
  esac
}

apply_step() {
  local spec=$1 planfile=${2:-} code log
  if [ -z "$planfile" ] || [ ! -f "$planfile" ]; then
    echo "No reviewed plan file; planning and applying $spec." >&2
    fb apply "$spec" --yes
    exit $?
  fi
  log=$(mktemp) || exit 1
  fb apply --plan "$planfile" --yes 2> >(tee "$log" >&2)
  code=$?
  wait  # for tee
  if [ "$code" -eq 3 ] && grep -Eq "$STALE" "$log"; then
    rm -f "$log"
    echo "The reviewed plan is stale: it was not applied. Planning again from $spec and applying that (the safety rules and the spec's approve: list still decide)." >&2
    fb apply "$spec" --yes
    exit $?
  fi
  rm -f "$log"
  exit "$code"
}

[ $# -ge 2 ] || usage
case $1 in
  plan) [ $# -eq 3 ] || usage; plan_step "$2" "$3" ;;
  apply) [ $# -le 3 ] || usage; apply_step "$2" "${3:-}" ;;
  *) usage ;;
esac
