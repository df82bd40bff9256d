#!/usr/bin/env bash
# The nightly regression gate, one suite per call (.github/workflows/nightly.yml runs it;
# tests/test_nightly.py runs it against the vLLM emulator).
#
#   scripts/nightly.sh run SUITE        evaluate tonight, compare, keep tonight if it passed
#   scripts/nightly.sh accept SUITE RUN pin RUN (a run directory) as SUITE's reference
#   scripts/nightly.sh publish OUT      the leaderboard and the run viewer of $RESULTS/*
#
# Two baselines per suite under $BASELINES: the pinned reference (reference/SUITE), which
# only `accept` moves, and the last night that passed (last/SUITE). Tonight is compared with
# both and fails the gate on a regression against either (or when either comparison has no
# verdict because coverage differs): a loss just under --min-effect every night cannot walk
# the rolling baseline down unnoticed, because the reference stays where it was accepted.
# The first night of a suite becomes its reference. The seed is fixed, so two nights differ
# in configuration only where someone changed it (and compare names the key).
#
# Environment: M1EVAL_BASE_URL and M1EVAL_MODEL (required); NIGHT (tonight's id, default
# the UTC date and time); BASELINES (default ../m1eval-baselines); RESULTS (default
# results); PROTOCOL (default m1-80k); SEED (default 0); MIN_EFFECT (default 2);
# CONCURRENCY (default 64); NIGHTLY_RUN_ARGS (more `m1eval run` options, e.g. --limit);
# M1EVAL (the m1eval command, default .venv/bin/m1eval). Exit: 0 passed, 1 regression,
# 4 no verdict or an incomplete night, anything else: the run itself failed.
set -euo pipefail
cd "$(dirname "$0")/.."

M1EVAL=${M1EVAL:-.venv/bin/m1eval}
BASELINES=${BASELINES:-../m1eval-baselines}
RESULTS=${RESULTS:-results}
PROTOCOL=${PROTOCOL:-m1-80k}
SEED=${SEED:-0}
MIN_EFFECT=${MIN_EFFECT:-2}
CONCURRENCY=${CONCURRENCY:-64}
NIGHT=${NIGHT:-$(date -u +%Y%m%dT%H%M)}

needs_sandbox() { [ "$1" = livecodebench ]; }

run_night() {
  local suite=$1 run_id="nightly-$1-$NIGHT"
  local run_dir="$RESULTS/$run_id" reference="$BASELINES/reference/$1" last="$BASELINES/last/$1"
  : "${M1EVAL_BASE_URL:?set M1EVAL_BASE_URL}" "${M1EVAL_MODEL:?set M1EVAL_MODEL}"
  if needs_sandbox "$suite"; then
    "$M1EVAL" sandbox build  # builds the image from a Debian mirror once; then a no-op
  fi
  local status=0
  # shellcheck disable=SC2086  # NIGHTLY_RUN_ARGS is a list of options
  "$M1EVAL" run --suite "$suite" --base-url "$M1EVAL_BASE_URL" --model "$M1EVAL_MODEL" \
    --protocol "$PROTOCOL" --concurrency "$CONCURRENCY" --seed "$SEED" --run-id "$run_id" \
    --results-dir "$RESULTS" --no-progress ${NIGHTLY_RUN_ARGS:-} || status=$?
  if [ "$status" -ne 0 ] && [ "$status" -ne 4 ]; then
    echo "nightly: $suite: the run failed (exit $status)" >&2
    return "$status"
  fi
  if [ ! -d "$reference" ]; then
    if [ "$status" -ne 0 ]; then
      echo "nightly: $suite: no reference yet, and tonight is incomplete: not pinned" >&2
      return 4
    fi
    pin "$reference" "$run_dir"
    pin "$last" "$run_dir"
    echo "nightly: $suite: first night, pinned as the reference ($run_dir)"
    return 0
  fi
  local gate=0 name base code
  for name in reference last; do
    base="$BASELINES/$name/$suite"
    [ -d "$base" ] || continue
    code=0
    "$M1EVAL" compare "$base" "$run_dir" --min-effect "$MIN_EFFECT" --json \
      > "$run_dir/compare-$name.json" || code=$?
    echo "nightly: $suite: against the $name:"
    "$M1EVAL" compare "$base" "$run_dir" --min-effect "$MIN_EFFECT" || true
    case "$code" in
      0) ;;
      1) gate=1 ;;
      4) [ "$gate" -eq 1 ] || gate=4 ;;
      *) echo "nightly: $suite: compare failed (exit $code)" >&2; return "$code" ;;
    esac
  done
  if [ "$status" -eq 4 ] && [ "$gate" -eq 0 ]; then
    gate=4  # an incomplete night never becomes a baseline
  fi
  if [ "$gate" -eq 0 ]; then
    pin "$last" "$run_dir"
    echo "nightly: $suite: passed; tonight is the last good night"
  else
    echo "nightly: $suite: gate failed (exit $gate); the baselines stay" >&2
  fi
  return "$gate"
}

pin() {  # pin DEST RUN_DIR: a copy of the run (the runner may clean results/ between nights)
  local dest=$1 run_dir=$2
  mkdir -p "$(dirname "$dest")"
  rm -rf "$dest.tmp"
  cp -r "$run_dir" "$dest.tmp"
  rm -rf "$dest"
  mv "$dest.tmp" "$dest"
}

case "${1:-}" in
  run) run_night "${2:?usage: nightly.sh run SUITE}" ;;
  accept)
    suite=${2:?usage: nightly.sh accept SUITE RUN_DIR}
    run_dir=${3:?usage: nightly.sh accept SUITE RUN_DIR}
    [ -f "$run_dir/summary.json" ] || { echo "nightly: $run_dir is not a finished run" >&2; exit 2; }
    pin "$BASELINES/reference/$suite" "$run_dir"
    pin "$BASELINES/last/$suite" "$run_dir"
    echo "nightly: $suite: $run_dir is the reference now"
    ;;
  publish)
    out=${2:?usage: nightly.sh publish OUT}
    "$M1EVAL" report "$RESULTS/*" --out "$out/report"
    "$M1EVAL" view "$RESULTS/*" --out "$out/viewer"
    echo "nightly: published $out/report/index.html and $out/viewer/index.html"
    ;;
  *) echo "usage: nightly.sh run SUITE | accept SUITE RUN_DIR | publish OUT" >&2; exit 2 ;;
esac
