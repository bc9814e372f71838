#!/usr/bin/env bash
# run_harness.sh HARNESS NAME FUZZ_SEEDS — one harness as a test (TAP, 2 cases):
#   1. its regression inputs (tests/fuzz/regress/NAME/*, every crash ever found) replayed;
#   2. a run of FUZZ_SECONDS (default 15) from its seeds (made now by FUZZ_SEEDS from real
#      data) and the corpus kept in the build dir between runs.
# A crash leaves its input in the build dir's fuzz-work/NAME/artifacts/ (cleared at each run); copy it into
# tests/fuzz/regress/NAME/ with the fix, so the normal fuzz step replays it for good.
set -uo pipefail
exe=$1 name=$2 seeds_exe=$3
here=$(cd "$(dirname "$0")" && pwd)
repo=$(cd "$here/../.." && pwd)
secs=${FUZZ_SECONDS:-15}
work=$(dirname "$exe")/fuzz-work/$name
rm -rf "$work/seeds" "$work/artifacts"; mkdir -p "$work/seeds" "$work/corpus" "$work/artifacts"
dump=$repo/.cache/introspect-dump
[ -s "$dump/guest.elf" ] || dump=
echo "1..2"
"$seeds_exe" "$name" "$work/seeds" "$repo" $dump >&2 || { echo "Bail out! seeds for $name"; exit 1; }
if [ "$name" = kernel ]; then
  [ -n "$dump" ] && export SEVMON_FUZZ_DUMP="image:$dump/guest.elf" SEVMON_CACHE=$work/profiles
fi
reg=("$here/regress/$name"/*)
if [ -e "${reg[0]}" ]; then
  if "$exe" -runs=1 "${reg[@]}" >"$work/replay.log" 2>&1; then
    echo "ok 1 - fuzz_${name}_regressions_replayed # ${#reg[@]} inputs"
  else
    echo "not ok 1 - fuzz_${name}_regressions_replayed"; sed 's/^/# /' "$work/replay.log" | tail -20
  fi
else
  echo "ok 1 - fuzz_${name}_regressions_replayed # none yet"
fi
if [ "$name" = kernel ] && [ -z "$dump" ]; then
  echo "ok 2 - fuzz_${name}_${secs}s # SKIP no guest dump (.cache/introspect-dump: the introspect_dump test makes it)"
  exit 0
fi
extra=()
# the seed is a whole kernel's BTF (5-6 MB): let inputs be that large
[ "$name" = btf ] && extra=(-max_len=8388608)
"$exe" "${extra[@]}" -max_total_time="$secs" -timeout=10 -rss_limit_mb=2048 -print_final_stats=1 \
  -artifact_prefix="$work/artifacts/" "$work/corpus" "$work/seeds" >"$work/run.log" 2>&1
rc=$?
execs=$(grep -o 'stat::number_of_executed_units: [0-9]*' "$work/run.log" | grep -o '[0-9]*$')
cov=$(grep -o 'cov: [0-9]*' "$work/run.log" | tail -1 | grep -o '[0-9]*$')
if [ $rc = 0 ]; then
  echo "ok 2 - fuzz_${name}_${secs}s # ${execs:-?} executions, ${cov:-?} edges, corpus $(ls "$work/corpus" | wc -l)"
else
  echo "not ok 2 - fuzz_${name}_${secs}s # exit $rc after ${execs:-?} executions; input in $work/artifacts/"
  grep -E 'ERROR|SUMMARY|==[0-9]+==|#[0-9]+ 0x' "$work/run.log" | head -30 | sed 's/^/# /'
fi
