#!/usr/bin/env bash
# End to end over shared memory: a QEMU guest with an ivshmem-plain device, the agent in
# the guest serving it (shm+pci://auto, /proc/kcore) next to TCP, and the IDS on the host
# attaching to the device's backing file (shm:///dev/shm/...). banner and ps over shm are
# checked against the guest itself and against the same commands over TCP.
# The real sevmon-agent and sevmon, over the same Noise channel bound to (simulated) SEV-SNP
# evidence as on every transport: the region only ever carries ciphertext.
# usage: test_shm_guest.sh BUILD_DIR [KERNEL_PACKAGE]     TAP output
set -uo pipefail
B=$(cd "${1:?build dir}" && pwd)
PKG=${2:-linux-image-amd64}
REPO=$(cd "$(dirname "$0")/../.." && pwd)
TESTVM=$REPO/deploy/testvm
AGENT=$B/agent-svc/sevmon-agent
SEVMON=$B/ids-svc/cli/sevmon
WORK=$(mktemp -d "${TMPDIR:-/tmp}/sevmon-shm.XXXXXX")
IVS=/dev/shm/sevmon-e2e-$$
export SEVMON_CACHE=$WORK/profiles
G=$WORK/g
cleanup() { "$TESTVM" stop "$G" >/dev/null 2>&1; rm -f "$IVS"; rm -rf "$WORK"; }
trap cleanup EXIT

. "$REPO/deploy/keys.sh"
keys_setup "$WORK/keys" "$SEVMON" || { echo "Bail out! cannot make keys"; exit 1; }
# SCAN URI banner|ps: the real CLI (ps as JSON)
SCAN() { local u=$1 c=$2; if [ "$c" = ps ]; then "$SEVMON" ps "$u" --json "${KEYS_CLI[@]}"; else "$SEVMON" "$c" "$u" "${KEYS_CLI[@]}"; fi; }

N=6
echo "1..$N"
K=0; FAILS=0
ok() { K=$((K + 1)); echo "ok $K - $1"; }
not_ok() { K=$((K + 1)); FAILS=$((FAILS + 1)); echo "not ok $K - $1"; shift; for l in "$@"; do echo "# $l"; done; }
check() { local name=$1; shift; if "$@"; then ok "$name"; else not_ok "$name" "failed: $*"; fi; }
bail() { echo "# $1"; while [ $K -lt $N ]; do not_ok "skipped_after_setup_failure"; done; exit 1; }

"$TESTVM" build --kernel-package "$PKG" --out "$G" --agent "$AGENT" \
  --agent-args "--listen tcp://0.0.0.0:7000 --listen shm+pci://auto --memory kcore $KEYS_GUEST_AGENT" \
  "${KEYS_GUEST_EXTRA[@]}" >"$WORK/build.log" 2>&1 || bail "build failed: $(tail -n 3 "$WORK/build.log")"
TCP=$("$TESTVM" run "$G" --ivshmem "$IVS,1M" --agent-wait 2>"$WORK/run.log" | tail -n 1) ||
  bail "run failed: $(tail -n 3 "$WORK/run.log")"
SHM="shm://$IVS?wake=poll"
ok "guest_up_with_ivshmem"

# 1. banner over shm is what the guest says
"$TESTVM" exec "$G" -- cat /proc/version | tr -d '\n' >"$WORK/version"
SCAN "$SHM" banner >"$WORK/banner.shm" 2>"$WORK/err" || cat "$WORK/err" >&2
check "banner_over_shm_matches_proc_version" \
  test "$(tr -d '\n' <"$WORK/banner.shm")" = "$(cat "$WORK/version")"

# 2. ps over shm: every process stable across two snapshots around it is listed by name
"$TESTVM" exec "$G" -- sh -c 'for i in 1 2 3; do setsid sleep 1000$i </dev/null >/dev/null 2>&1 & done' >/dev/null
snap() { "$TESTVM" exec "$G" -- sh -c 'for d in /proc/[0-9]*; do read -r l < $d/stat 2>/dev/null && echo "$l"; done' |
  python3 -c 'import sys
for l in sys.stdin:
    pid, rest = l.split(" (", 1); print(pid, rest.rsplit(") ", 1)[0])'; }
snap >"$WORK/a"
SCAN "$SHM" ps >"$WORK/ps.shm" 2>"$WORK/err" || cat "$WORK/err" >&2
snap >"$WORK/b"
check "ps_over_shm_matches_guest" python3 - "$WORK/ps.shm" "$WORK/a" "$WORK/b" <<'PY'
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

# 3. the same answers over TCP (same agent, same kernel)
SCAN "$TCP" banner >"$WORK/banner.tcp" 2>/dev/null
check "banner_shm_equals_tcp" cmp -s "$WORK/banner.shm" "$WORK/banner.tcp"

# 4. sessions come and go: the agent re-attaches after each command
for i in 1 2 3; do SCAN "$SHM" banner >"$WORK/again" 2>/dev/null || break; done
check "three_more_sessions_served" cmp -s "$WORK/banner.shm" "$WORK/again"

# 5. the region carried only ciphertext: the banner just read over shm never appears in
#    clear in the ivshmem backing file (the last records are still in the rings).
SCAN "$SHM" banner >/dev/null 2>&1
check "region_holds_no_cleartext_banner" python3 -c '
import sys
region = open(sys.argv[1], "rb").read()
banner = open(sys.argv[2], "rb").read()[:40]
sys.exit(0 if len(banner) == 40 and banner not in region else 1)' "$IVS" "$WORK/version"
[ $FAILS -eq 0 ]
