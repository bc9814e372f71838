#!/usr/bin/env bash
# End to end over shared memory with doorbells, both placements, one QEMU guest:
#  (a) the agent in the guest serves an ivshmem-doorbell device (shm+pci://auto?wake=doorbell:
#      BAR2 through vfio-pci, MSI-X as an eventfd, the doorbell register to ring the host);
#      the IDS attaches with shm+ivshmem:// to the same `sevmon ivshmem-server`;
#  (b) an agent outside the guest serves the guest's live RAM file over a second region of
#      its own ivshmem server (host processes ringing each other's eventfds).
# banner and ps over each are checked against the guest and against TCP; the regions only
# ever hold ciphertext; the agents sleep on their doorbells when idle (CPU measured).
# The test starts and stops its ivshmem servers itself.
# usage: test_shm_doorbell_guest.sh BUILD_DIR [KERNEL_PACKAGE]     TAP output
set -uo pipefail
B=$(cd "${1:?build dir}" && pwd)
PKG=${2:-linux-image-amd64}
REPO=$(cd "$(dirname "$0")/../.." && pwd)
TESTVM=$REPO/deploy/testvm
AGENT=$B/agent-svc/sevmon-agent
SEVMON=$B/ids-svc/cli/sevmon
WORK=$(mktemp -d "${TMPDIR:-/tmp}/sevmon-bell.XXXXXX")
RA=/dev/shm/sevmon-bell-a-$$ RB=/dev/shm/sevmon-bell-b-$$
export SEVMON_CACHE=$WORK/profiles
G=$WORK/g
PIDS=()
cleanup() {
  "$TESTVM" stop "$G" >/dev/null 2>&1
  for p in "${PIDS[@]}"; do kill "$p" 2>/dev/null; done
  wait 2>/dev/null
  rm -f "$RA" "$RB"; rm -rf "$WORK"
}
trap cleanup EXIT

. "$REPO/deploy/keys.sh"
keys_setup "$WORK/keys" "$SEVMON" || { echo "Bail out! cannot make keys"; exit 1; }
SCAN() { local u=$1 c=$2; if [ "$c" = ps ]; then "$SEVMON" ps "$u" --json "${KEYS_CLI[@]}"; else "$SEVMON" "$c" "$u" "${KEYS_CLI[@]}"; fi; }

N=12
echo "1..$N"
K=0; FAILS=0
ok() { K=$((K + 1)); echo "ok $K - $1"; }
not_ok() { K=$((K + 1)); FAILS=$((FAILS + 1)); echo "not ok $K - $1"; shift; for l in "$@"; do echo "# $l"; done; }
check() { local name=$1; shift; if "$@"; then ok "$name"; else not_ok "$name" "failed: $*"; fi; }
bail() { echo "# $1"; while [ $K -lt $N ]; do not_ok "skipped_after_setup_failure"; done; exit 1; }

# start_server SOCK FILE: an ivshmem server in the background, up once its socket exists
start_server() {
  "$SEVMON" ivshmem-server --socket "$1" --shm "$2" --size 1M 2>>"$WORK/ivs.log" & PIDS+=($!)
  for _ in $(seq 100); do [ -S "$1" ] && return 0; sleep 0.05; done
  return 1
}
start_server "$WORK/ivs-a.sock" "$RA" || bail "ivshmem server (a) did not start"

"$TESTVM" build --kernel-package "$PKG" --out "$G" --agent "$AGENT" --modules "vfio-pci vfio_iommu_type1" \
  --agent-args "--listen tcp://0.0.0.0:7000 --listen shm+pci://auto?wake=doorbell --memory kcore $KEYS_GUEST_AGENT" \
  "${KEYS_GUEST_EXTRA[@]}" >"$WORK/build.log" 2>&1 || bail "build failed: $(tail -n 3 "$WORK/build.log")"
TCP=$("$TESTVM" run "$G" --shm-doorbell "$WORK/ivs-a.sock" --ram-file "$WORK/ram" --agent-wait \
  2>"$WORK/run.log" | tail -n 1) || bail "run failed: $(tail -n 3 "$WORK/run.log")"
SHM="shm+ivshmem://$WORK/ivs-a.sock"
if grep -q "vfio: .*doorbell id" "$G/console.log"; then ok "guest_agent_on_doorbell"
else not_ok "guest_agent_on_doorbell" "$(grep -a "vfio\|sevmon-agent" "$G/console.log" | tail -n 5)"; fi

# (a) 1. banner over the doorbell region is what the guest says
"$TESTVM" exec "$G" -- cat /proc/version | tr -d '\n' >"$WORK/version"
SCAN "$SHM" banner >"$WORK/banner.shm" 2>"$WORK/err" || cat "$WORK/err" >&2
check "a_banner_over_doorbell_matches_proc_version" \
  test "$(tr -d '\n' <"$WORK/banner.shm")" = "$(cat "$WORK/version")"

# (a) 2. ps: every process stable across two snapshots around it is listed by name
"$TESTVM" exec "$G" -- sh -c 'for i in 1 2 3; do setsid sleep 1000$i </dev/null >/dev/null 2>&1 & done' >/dev/null
snap() { "$TESTVM" exec "$G" -- sh -c 'for d in /proc/[0-9]*; do read -r l < $d/stat 2>/dev/null && echo "$l"; done' |
  python3 -c 'import sys
for l in sys.stdin:
    pid, rest = l.split(" (", 1); print(pid, rest.rsplit(") ", 1)[0])'; }
ps_matches() { python3 - "$1" "$2" "$3" <<'PY'
import json, sys
got = json.load(open(sys.argv[1]))
def snap(p): return dict(l.split(" ", 1) for l in open(p).read().splitlines())
a, b = snap(sys.argv[2]), snap(sys.argv[3])
s = {str(p["pid"]): p["comm"] for p in got["processes"]}
stable = {p: c for p, c in a.items() if b.get(p) == c}
missing = [p for p in stable if p not in s]
def same(o, t): return o == t or t.startswith(o + "-") or (len(o) == 15 and t.startswith(o))
wrong = [(p, s[p], stable[p]) for p in stable if p in s and not same(s[p], stable[p])]
sleeps = [p for p in got["processes"] if p["comm"] == "sleep"]
ok = not missing and not wrong and not got["partial"] and len(sleeps) >= 3 and len(stable) > 20
if not ok: print("# missing", missing, "wrong", wrong, "sleeps", len(sleeps))
sys.exit(0 if ok else 1)
PY
}
snap >"$WORK/a"
SCAN "$SHM" ps >"$WORK/ps.shm" 2>"$WORK/err" || cat "$WORK/err" >&2
snap >"$WORK/b"
check "a_ps_over_doorbell_matches_guest" ps_matches "$WORK/ps.shm" "$WORK/a" "$WORK/b"

# (a) 3. the same banner over TCP
SCAN "$TCP" banner >"$WORK/banner.tcp" 2>/dev/null
check "a_banner_doorbell_equals_tcp" cmp -s "$WORK/banner.shm" "$WORK/banner.tcp"

# (a) 4. sessions come and go (each CLI run is a new ivshmem peer with a new id)
for i in 1 2 3; do SCAN "$SHM" banner >"$WORK/again" 2>/dev/null || break; done
check "a_three_more_sessions_served" cmp -s "$WORK/banner.shm" "$WORK/again"

# (a) 5. only ciphertext in the region (its last records are still in the rings)
no_cleartext() { python3 -c '
import sys
region = open(sys.argv[1], "rb").read()
banner = open(sys.argv[2], "rb").read()[:40]
sys.exit(0 if len(banner) == 40 and banner not in region and region.count(b"\0") < len(region) else 1)' "$1" "$WORK/version"; }
SCAN "$SHM" banner >/dev/null 2>&1
check "a_region_holds_no_cleartext_banner" no_cleartext "$RA"

# (a) 6. the agent's sessions woke on the doorbell (its log: wake-ups and rings per session)
last=$(grep -a "session ended:" "$G/console.log" | tail -n 1)
echo "# guest agent, last session: ${last#*session ended: }"
check "a_agent_sessions_used_the_doorbell" bash -c '[[ "$1" =~ ([0-9]+)\ wake-ups,\ ([0-9]+)\ rings ]] && [ "${BASH_REMATCH[1]}" -gt 0 ] && [ "${BASH_REMATCH[2]}" -gt 0 ]' _ "$last"

# (a) 7. idle: the agent waiting for its next peer sleeps on the bell (CPU over 5 s, guest clock)
idle=$("$TESTVM" exec "$G" -- sh -c 'p=$(cat /run/sevmon-agent.pid); t() { set -- $(cut -d" " -f14,15 /proc/$p/stat); echo $(($1 + $2)); }
  a=$(t); sleep 5; b=$(t); echo $((b - a))')
echo "# guest agent idle: ${idle:-?} ticks in 5 s (USER_HZ 100)"
check "a_agent_idle_cpu_near_zero" test "${idle:-99}" -le 2

# (b) the agent outside the guest, on the RAM file, over a second doorbell region
start_server "$WORK/ivs-b.sock" "$RB" || bail "ivshmem server (b) did not start"
"$AGENT" --memory "ramfile:$WORK/ram" --listen "shm+ivshmem://$WORK/ivs-b.sock" "${KEYS_AGENT[@]}" \
  2>"$WORK/agent-b.log" & PIDS+=($!); APID=$!
SHMB="shm+ivshmem://$WORK/ivs-b.sock"
for _ in $(seq 100); do grep -q serving "$WORK/agent-b.log" && break; sleep 0.05; done
SCAN "$SHMB" banner >"$WORK/banner.b" 2>"$WORK/err" || cat "$WORK/err" >&2
check "b_banner_over_doorbell_matches_proc_version" \
  test "$(tr -d '\n' <"$WORK/banner.b")" = "$(cat "$WORK/version")"
snap >"$WORK/a2"
SCAN "$SHMB" ps >"$WORK/ps.b" 2>"$WORK/err" || cat "$WORK/err" >&2
snap >"$WORK/b2"
check "b_ps_over_doorbell_matches_guest" ps_matches "$WORK/ps.b" "$WORK/a2" "$WORK/b2"
check "b_region_holds_no_cleartext_banner" no_cleartext "$RB"
t0=$(awk '{print $14 + $15}' "/proc/$APID/stat"); sleep 5; t1=$(awk '{print $14 + $15}' "/proc/$APID/stat")
echo "# host agent (b) idle: $((t1 - t0)) ticks in 5 s"
check "b_agent_idle_cpu_near_zero" test $((t1 - t0)) -le 2
[ $FAILS -eq 0 ]
