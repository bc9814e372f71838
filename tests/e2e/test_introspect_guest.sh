#!/usr/bin/env bash
# End to end on a live Debian kernel under QEMU: the real agent in the guest (placement (a),
# /proc/kcore, over TCP) and the real agent on the host reading the guest's RAM file
# (placement (b), the IDS walks the page tables; 5-level and 4-level paging). sevmon's
# banner / ps / modules are compared with what the guest itself says.
# usage: test_introspect_guest.sh BUILD_DIR [KERNEL_PACKAGE]     TAP output
set -uo pipefail
B=$(cd "${1:?build dir}" && pwd)
PKG=${2:-linux-image-amd64}
REPO=$(cd "$(dirname "$0")/../.." && pwd)
TESTVM=$REPO/deploy/testvm
SEVMON=$B/ids-svc/cli/sevmon
AGENT=$B/agent-svc/sevmon-agent
WORK=$(mktemp -d "${TMPDIR:-/tmp}/sevmon-intro.XXXXXX")
export SEVMON_CACHE=$WORK/profiles
G5=$WORK/g5
G4=$WORK/g4
AGENT_PIDS=()
. "$REPO/deploy/keys.sh"
keys_setup "$WORK/keys" "$SEVMON" || { echo "Bail out! cannot make keys"; exit 1; }
cleanup() {
  for p in "${AGENT_PIDS[@]}"; do kill "$p" 2>/dev/null; done
  "$TESTVM" stop "$G5" >/dev/null 2>&1; "$TESTVM" stop "$G4" >/dev/null 2>&1
  wait 2>/dev/null; rm -rf "$WORK"
}
trap cleanup EXIT

N=17
echo "1..$N"
K=0; FAILS=0
ok() { K=$((K + 1)); echo "ok $K - $1"; }
not_ok() { K=$((K + 1)); FAILS=$((FAILS + 1)); echo "not ok $K - $1"; shift; for l in "$@"; do echo "# $l"; done; }
check() { local name=$1; shift; if "$@"; then ok "$name"; else not_ok "$name" "failed: $*"; fi; }
bail() { echo "# $1"; while [ $K -lt $N ]; do not_ok "skipped_after_setup_failure"; done; exit 1; }

"$TESTVM" build --kernel-package "$PKG" --out "$G5" --agent "$AGENT" \
  --agent-args "--listen tcp://0.0.0.0:7000 --memory kcore $KEYS_GUEST_AGENT" "${KEYS_GUEST_EXTRA[@]}" \
  >"$WORK/build.log" 2>&1 ||
  bail "build failed: $(tail -n 3 "$WORK/build.log")"
cp -r "$G5" "$G4"

# --- guest ground truth ------------------------------------------------------------------
# Extra processes (they outlive the exec that starts them) and one more module.
prepare_guest() { # DIR
  "$TESTVM" exec "$1" -- sh -c 'for i in 1 2 3 4 5; do setsid sleep 1000$i </dev/null >/dev/null 2>&1 & done' >/dev/null
}
# pid and name of every process, from /proc (what `ps` reads).
guest_ps() { # DIR > file of "pid comm"
  "$TESTVM" exec "$1" -- sh -c 'for d in /proc/[0-9]*; do read -r l < $d/stat 2>/dev/null && echo "$l"; done' |
    python3 -c 'import sys
for l in sys.stdin:
    pid, rest = l.split(" (", 1); print(pid, rest.rsplit(") ", 1)[0])'
}
# Compare sevmon ps --json with two guest snapshots around it: every process present in both
# snapshots must be listed with its name, and nothing listed may be absent from both.
compare_ps() { # json before after
  python3 - "$1" "$2" "$3" <<'PY'
import json, sys
got = json.load(open(sys.argv[1]))
def snap(p): return dict(l.split(" ", 1) for l in open(p).read().splitlines())
a, b = snap(sys.argv[2]), snap(sys.argv[3])
s = {str(p["pid"]): p["comm"] for p in got["processes"]}
stable = {p: c for p, c in a.items() if b.get(p) == c}
missing = [p for p in stable if p not in s]
# /proc shows a workqueue worker as "kworker/0:1-events" (task comm + "-" + its current
# workqueue, added by proc), and a kernel thread by its full name where the task's comm
# holds only its first 15 characters (TASK_COMM_LEN - 1).
def same(ours, theirs):
    return (ours == theirs or (ours.startswith("kworker/") and theirs.startswith(ours + "-"))
            or (len(ours) == 15 and theirs.startswith(ours)))
wrong = [(p, s[p], stable[p]) for p in stable if p in s and not same(s[p], stable[p])]
extra = [p for p in s if p not in a and p not in b]
sleeps = [p for p in got["processes"] if p["comm"] == "sleep" and not p["kthread"]]
ok = not missing and not wrong and not extra and not got["partial"] and len(sleeps) >= 5 and len(stable) > 20
if not ok:
    print("# missing", missing, "wrong", wrong, "extra", extra, "partial", got["partial"], "sleeps", len(sleeps))
sys.exit(0 if ok else 1)
PY
}
guest_modules() { "$TESTVM" exec "$1" -- cat /proc/modules | cut -d' ' -f1 | sort; }

checks_against() { # label URI DIR
  local label=$1 uri=$2 dir=$3
  "$TESTVM" exec "$dir" -- cat /proc/version | tr -d '\n' >"$WORK/version"
  "$SEVMON" banner "$uri" "${KEYS_CLI[@]}" 2>"$WORK/err" | tr -d '\n' >"$WORK/banner"
  check "banner_equals_proc_version_$label" cmp -s "$WORK/banner" "$WORK/version"
  guest_ps "$dir" >"$WORK/ps-a"
  "$SEVMON" ps "$uri" "${KEYS_CLI[@]}" --json --stats >"$WORK/ps.json" 2>"$WORK/ps.stats"
  guest_ps "$dir" >"$WORK/ps-b"
  check "ps_matches_guest_proc_$label" compare_ps "$WORK/ps.json" "$WORK/ps-a" "$WORK/ps-b"
  echo "# ps $label: $(grep -o '[0-9]* requests, [0-9]* bytes' "$WORK/ps.stats")"
  "$SEVMON" modules "$uri" "${KEYS_CLI[@]}" --json | python3 -c 'import json,sys
print("\n".join(sorted(m["name"] for m in json.load(sys.stdin)["modules"])))' >"$WORK/mods"
  guest_modules "$dir" >"$WORK/mods-guest"
  check "modules_equal_proc_modules_$label" cmp -s "$WORK/mods" "$WORK/mods-guest"
}

# --- 5-level paging guest (QEMU TCG -cpu max offers LA57) ----------------------------------
URI=$("$TESTVM" run "$G5" --accel tcg --ram-file "$WORK/g5.ram" --agent-wait 2>"$WORK/run5.log") ||
  bail "run failed: $(tail -n 3 "$WORK/run5.log")"
prepare_guest "$G5"
l5=$("$TESTVM" exec "$G5" -- sh -c 'grep -c la57 /proc/cpuinfo' | tr -d '\n')
check "guest_runs_5_level_paging" [ "${l5:-0}" -ge 1 ]
checks_against "placement_a_tcp" "$URI" "$G5"
"$SEVMON" ps "$URI" "${KEYS_CLI[@]}" --stats >/dev/null 2>"$WORK/ps.stats"
reqs=$(grep -o '^# [0-9]* requests' "$WORK/ps.stats" | grep -o '[0-9]*')
check "ps_placement_a_at_most_2_round_trips" [ "${reqs:-99}" -le 2 ]
# Without VMCOREINFO: the slide found by probing the 512 candidates must be the real one.
"$SEVMON" profile "$URI" "${KEYS_CLI[@]}" >"$WORK/prof-vmci" 2>&1
"$SEVMON" profile "$URI" "${KEYS_CLI[@]}" --probe-kaslr >"$WORK/prof-probe" 2>&1
check "kaslr_probe_finds_the_vmcoreinfo_slide" [ -n "$(grep '^slide=' "$WORK/prof-vmci")" ] && \
  [ "$(grep '^slide=' "$WORK/prof-probe")" = "$(grep '^slide=' "$WORK/prof-vmci")" ] && \
  grep -q '^slide_source=probe' "$WORK/prof-probe"
"$SEVMON" banner "$URI" "${KEYS_CLI[@]}" --probe-kaslr | tr -d '\n' >"$WORK/banner-probe"
check "kaslr_probe_banner_equals_proc_version" cmp -s "$WORK/banner-probe" "$WORK/version"

"$AGENT" -q --memory "ramfile:$WORK/g5.ram" --listen "unix://$WORK/b5.sock" "${KEYS_AGENT[@]}" & AGENT_PIDS+=($!)
for _ in $(seq 100); do [ -S "$WORK/b5.sock" ] && break; sleep 0.05; done
checks_against "placement_b_ramfile_5level" "unix://$WORK/b5.sock" "$G5"
"$SEVMON" ps "unix://$WORK/b5.sock" "${KEYS_CLI[@]}" --stats >/dev/null 2>"$WORK/psb.stats"
reqs=$(grep -o '^# [0-9]* requests' "$WORK/psb.stats" | grep -o '[0-9]*')
check "ps_placement_b_at_most_2_round_trips" [ "${reqs:-99}" -le 2 ]
check "placement_b_agent_walks_page_tables" grep -q "agent walks the guest's page tables" "$WORK/psb.stats"

# --- 4-level paging guest ----------------------------------------------------------------------
"$TESTVM" stop "$G5" >/dev/null 2>&1
URI4=$("$TESTVM" run "$G4" --accel tcg --cpu max,la57=off --ram-file "$WORK/g4.ram" --agent-wait \
       2>"$WORK/run4.log") || bail "run (4-level) failed: $(tail -n 3 "$WORK/run4.log")"
prepare_guest "$G4"
l5=$("$TESTVM" exec "$G4" -- sh -c 'grep -c la57 /proc/cpuinfo' | tr -d '\n')
check "guest_runs_4_level_paging" [ "${l5:-1}" = 0 ]
"$AGENT" -q --memory "ramfile:$WORK/g4.ram" --listen "unix://$WORK/b4.sock" "${KEYS_AGENT[@]}" & AGENT_PIDS+=($!)
for _ in $(seq 100); do [ -S "$WORK/b4.sock" ] && break; sleep 0.05; done
checks_against "placement_b_ramfile_4level" "unix://$WORK/b4.sock" "$G4"

# The profile is cached by BUILD-ID and re-based on each boot's KASLR slide: the 4-level boot
# reused the 5-level boot's profile.
"$SEVMON" profile "unix://$WORK/b4.sock" "${KEYS_CLI[@]}" >"$WORK/profile" 2>&1
check "profile_cached_and_rebased_across_boots" grep -q "profile from cache" "$WORK/profile"
echo "# $(grep -E '^(slide|nsyms|pgtable_l5)=' "$WORK/profile" | tr '\n' ' ')"
[ $FAILS -eq 0 ]
