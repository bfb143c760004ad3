#!/usr/bin/env bash
# The README's two commands as a new user runs them: a clone of HEAD into a new directory,
# a new HOME (no converted model, no detector tables, no pip cache) and a new TMPDIR, then
# `make demo` and `make test`, each timed. With --load, a second CPU-heavy process (one busy
# core) runs the whole time, as on a shared laptop or CI runner.
#
#   benchmarks/fresh_clone.sh [--load] [RESULT.json]
#
# Writes one JSON object (times in seconds, exit statuses, the machine) to RESULT.json
# (default benchmarks/results/fresh-clone-DATE[-loaded].json) and keeps the logs beside it.
set -uo pipefail
repo=$(git -C "$(dirname "$0")/.." rev-parse --show-toplevel)
load=0
if [ "${1:-}" = "--load" ]; then load=1; shift; fi
suffix=$([ $load = 1 ] && echo "-loaded" || echo "")
result=${1:-$repo/benchmarks/results/fresh-clone-$(date +%F)$suffix.json}
logs=${result%.json}

scratch=$(mktemp -d)
mkdir -p "$scratch/home" "$scratch/tmp"
git clone --quiet "$repo" "$scratch/clone"
commit=$(git -C "$scratch/clone" rev-parse --short HEAD)

hog=""
if [ $load = 1 ]; then
  python3 -c "while True: pass" &
  hog=$!
fi
trap '[ -n "$hog" ] && kill $hog 2>/dev/null; rm -rf "$scratch"' EXIT

timed() {  # name, then the command; prints "seconds status"
  local name=$1; shift
  local start end status
  start=$(date +%s.%N)
  (cd "$scratch/clone" && env -i PATH="$PATH" HOME="$scratch/home" TMPDIR="$scratch/tmp" \
    LANG=C.UTF-8 "$@") >"$logs-$name.log" 2>&1
  status=$?
  end=$(date +%s.%N)
  echo "$(echo "$end - $start" | bc) $status"
}

read -r demo_s demo_rc < <(timed demo make demo)
read -r test_s test_rc < <(timed test make test)
summary=$(grep -E "^[0-9]+ (passed|failed)|passed|failed" "$logs-test.log" | tail -n 1)

cat >"$result" <<EOF
{
  "commit": "$commit",
  "date": "$(date -Iseconds)",
  "machine": "$(nproc) cores, $(free -g | awk '/Mem:/ {print $2}') GiB, $(uname -m)",
  "load": $([ $load = 1 ] && echo '"one busy core (python3 while True: pass)"' || echo null),
  "make_demo_s": $demo_s,
  "make_demo_status": $demo_rc,
  "make_test_s": $test_s,
  "make_test_status": $test_rc,
  "make_test_summary": "$summary"
}
EOF
cat "$result"
[ "$demo_rc" = 0 ] && [ "$test_rc" = 0 ]
