#!/usr/bin/env bash
# test_fleet.sh BUILD_DIR [N] — `sevmon scan` over a fleet of N (default 50) real agents, each
# with its own key and simulated attestation, all serving the memory image of one real Debian
# guest (tests/fleet/fleet). Every target's banner / ps / modules must be identical and match
# what the guest said about itself before the dump; a dead agent, a wrong pin and a wrong
# measurement must cost only their own target; usage errors exit 2.   TAP output.
set -uo pipefail
B=$(cd "${1:?build dir}" && pwd)
N=${2:-50}
REPO=$(cd "$(dirname "$0")/../.." && pwd)
FLEET=$REPO/tests/fleet/fleet
SEVMON=$B/ids-svc/cli/sevmon
WORK=$(mktemp -d "${TMPDIR:-/tmp}/sevmon-fleet.XXXXXX")
export SEVMON_CACHE=$WORK/profiles
cleanup() { "$FLEET" down "$WORK/f" >/dev/null 2>&1; rm -rf "$WORK"; }
trap cleanup EXIT

T=9
echo "1..$T"
K=0
ok() { K=$((K + 1)); echo "ok $K - $1"; }
not_ok() { K=$((K + 1)); echo "not ok $K - $1"; shift; for l in "$@"; do echo "# $l"; done; }
bail() { echo "# $1"; while [ $K -lt $T ]; do not_ok "skipped_after_setup_failure"; done; exit 1; }

IMG=$("$FLEET" image 2>"$WORK/image.log") || bail "no guest image: $(tail -n 3 "$WORK/image.log")"
"$FLEET" up "$WORK/f" "$N" --build "$B" 2>"$WORK/up.log" || bail "fleet up: $(tail -n 3 "$WORK/up.log")"
mapfile -t CLI <"$WORK/f/cli.args"

# --- 1: the whole fleet, every check ------------------------------------------------------
"$SEVMON" scan "${CLI[@]}" --targets "$WORK/f/targets" --checks banner,ps,modules --concurrency 8 --out "$WORK/r1.jsonl" \
  2>"$WORK/scan1.err"
rc=$?
if [ $rc -eq 0 ]; then ok "fleet_scan_all_ok_exit_0"; else not_ok "fleet_scan_all_ok_exit_0" "exit $rc" "$(tail -n 3 "$WORK/scan1.err")"; fi

# --- 2..4: shape, identity across targets, truth from the guest ------------------------------
check_results() { # jsonl names-file
  python3 - "$@" "$IMG" <<'PY'
import json, sys
lines = [json.loads(l) for l in open(sys.argv[1])]
names = [l.split()[0] for l in open(sys.argv[2]) if l.strip() and not l.startswith('#')]
img = sys.argv[3]
errs = []
seen = {}
for d in lines:
    key = (d["target"], d["check"])
    if key in seen: errs.append("duplicate line %s" % (key,))
    seen[key] = d
    for f in ("ms", "requests", "bytes"):
        if not isinstance(d.get(f), (int, float)): errs.append("%s: no %s" % (key, f))
want = {(n, c) for n in names for c in ("banner", "ps", "modules")}
if set(seen) != want:
    errs.append("lines for %d (target,check) pairs, want %d" % (len(seen), len(want)))
bad = [k for k, d in seen.items() if not d.get("ok")]
if bad: errs.append("failed: %s: %s" % (bad[0], seen[bad[0]].get("error")))
print("\n".join(errs) if errs else "", end="")
if errs: sys.exit(1)
# identical results everywhere
for c in ("banner", "ps", "modules"):
    res = {json.dumps(seen[(n, c)]["result"], sort_keys=True) for n in names}
    if len(res) != 1: print("%s differs between targets (%d variants)" % (c, len(res))); sys.exit(2)
r = {c: seen[(names[0], c)]["result"] for c in ("banner", "ps", "modules")}
release = open(img + "/release.txt").read().strip()
if not r["banner"]["banner"].startswith("Linux version " + release + " "):
    print("banner %r lacks release %s" % (r["banner"]["banner"][:60], release)); sys.exit(3)
# ps: every process the guest listed (but the exec helpers that end before the dump, and
# kworkers, whose /proc name carries the workqueue) is there with pid, ppid, uid and name.
got = {p["pid"]: p for p in r["ps"]["processes"]}
if r["ps"]["partial"]: print("ps partial"); sys.exit(3)
for l in open(img + "/ps.txt"):
    pid, tgid, ppid, uid, name = l.split()[:5]
    if name in ("timeout", "sh", "awk", "cat") or name.startswith("kworker"): continue
    p = got.get(int(pid))
    # the task's comm is TASK_COMM_LEN - 1 bytes; /proc shows a kthread's full name
    if not p or p["comm"] != name[:15] or p["ppid"] != int(ppid) or p["uid"] != int(uid) or p["tgid"] != int(tgid):
        print("ps: guest had %s, scan has %s" % (l.strip(), p)); sys.exit(3)
if got.get(1, {}).get("comm") != "init" or got[1]["kthread"] or not got.get(2, {}).get("kthread"):
    print("ps: pid 1 init / pid 2 kthreadd wrong"); sys.exit(3)
mods = {m["name"]: m["state"] for m in r["modules"]["modules"]}
truth = {l.split()[0]: l.split()[4].lower() for l in open(img + "/modules.txt")}
if mods != truth: print("modules: scan %s, guest %s" % (sorted(mods.items()), sorted(truth.items()))); sys.exit(3)
PY
}
out=$(check_results "$WORK/r1.jsonl" "$WORK/f/targets"); rc=$?
case $rc in
  0) ok "fleet_scan_lines_one_per_target_and_check"; ok "fleet_scan_results_identical_across_targets"
     ok "fleet_scan_results_match_guest" ;;
  1) not_ok "fleet_scan_lines_one_per_target_and_check" "$out"; not_ok "fleet_scan_results_identical_across_targets"; not_ok "fleet_scan_results_match_guest" ;;
  2) ok "fleet_scan_lines_one_per_target_and_check"; not_ok "fleet_scan_results_identical_across_targets" "$out"; not_ok "fleet_scan_results_match_guest" ;;
  *) ok "fleet_scan_lines_one_per_target_and_check"; ok "fleet_scan_results_identical_across_targets"; not_ok "fleet_scan_results_match_guest" "$out" ;;
esac

# --- 5: the profile is built once for the fleet --------------------------------------------
if grep -q "built 1, loaded 0, reused $((N - 1));" "$WORK/scan1.err"; then ok "fleet_scan_profile_built_once"
else not_ok "fleet_scan_profile_built_once" "$(grep 'time summed' "$WORK/scan1.err")"; fi

# --- 6: bad targets cost only themselves -------------------------------------------------------
# a dead agent (killed), a pin of another agent's key, a measurement nobody has
kill "$(sed -n 1p "$WORK/f/agents.pids")"
other=$(sed -n 4p "$WORK/f/targets" | grep -o 'pin=[^ ]*')
{
  sed -n 2,6p "$WORK/f/targets"
  sed -n 7p "$WORK/f/targets" | sed "s#pin=[^ ]*#$other#; s/^vm[0-9]*/wrongpin/"
  sed -n 8p "$WORK/f/targets" | sed "s/measurement=[0-9a-f]*/measurement=$(printf '0d%.0s' $(seq 48))/; s/^vm[0-9]*/wrongmeas/"
} >"$WORK/mixed"
"$SEVMON" scan "${CLI[@]}" --targets "$WORK/mixed" --concurrency 3 --out "$WORK/r2.jsonl" 2>"$WORK/scan2.err"
rc=$?
res=$(python3 - "$WORK/r2.jsonl" 2>"$WORK/mixed.why" <<'PY'
import json, sys
by, why = {}, {}
for l in open(sys.argv[1]):
    d = json.loads(l); by.setdefault(d["target"], []).append(d["ok"])
    if not d["ok"]: why.setdefault(d["target"], "%s: %s" % (d["check"], d.get("error")))
print(" ".join("%s=%s" % (t, "ok" if all(v) else "fail" if not any(v) else "mixed") for t, v in sorted(by.items())))
for t, v in sorted(by.items()):
    if any(v) and not all(v): print("mixed %s: %s" % (t, why[t]), file=sys.stderr)
PY
)
want="vm0000=fail vm0001=ok vm0002=ok vm0003=ok vm0004=ok wrongmeas=fail wrongpin=fail"
if [ $rc -eq 1 ] && [ "$res" = "$want" ] && grep -q "7 targets: 4 ok, 3 failed" "$WORK/scan2.err"; then
  ok "fleet_scan_bad_targets_fail_alone_exit_1"
else
  not_ok "fleet_scan_bad_targets_fail_alone_exit_1" "exit $rc" "got:  $res" "want: $want" "$(head -n 3 "$WORK/scan2.err")" "$(head -n 3 "$WORK/mixed.why")"
fi

# --- 7: the error says why --------------------------------------------------------------------
if grep '"target":"wrongmeas"' "$WORK/r2.jsonl" | grep -qi 'measurement' &&
   grep '"target":"vm0000"' "$WORK/r2.jsonl" | grep -q 'connect unix://'; then
  ok "fleet_scan_errors_name_the_cause"
else
  not_ok "fleet_scan_errors_name_the_cause" "$(grep -h '"ok":false' "$WORK/r2.jsonl" | cut -c1-200 | head -n 4)"
fi

# --- 8: usage errors -----------------------------------------------------------------------------
u1=0; "$SEVMON" scan "${CLI[@]}" --targets "$WORK/f/targets" --checks banner,bogus >/dev/null 2>&1 || u1=$?
printf 'vm1 unix:///x\nvm1 unix:///y\n' >"$WORK/dup"
u2=0; "$SEVMON" scan "${CLI[@]}" --targets "$WORK/dup" >/dev/null 2>"$WORK/dup.err" || u2=$?
u3=0; "$SEVMON" scan "${CLI[@]}" >/dev/null 2>&1 || u3=$?
if [ $u1 -eq 2 ] && [ $u2 -eq 2 ] && [ $u3 -eq 2 ] && grep -q "line 2" "$WORK/dup.err"; then
  ok "fleet_scan_usage_errors_exit_2"
else
  not_ok "fleet_scan_usage_errors_exit_2" "exits $u1 $u2 $u3" "$(cat "$WORK/dup.err")"
fi

# --- 9: checks subset, output to stdout -----------------------------------------------------------
sed -n 3,5p "$WORK/f/targets" >"$WORK/three" # vm0001..3 (vm0000 was killed)
"$SEVMON" scan "${CLI[@]}" --targets "$WORK/three" --checks ps,attest --quiet >"$WORK/r3.jsonl" 2>"$WORK/scan3.err"
rc=$?
n=$(grep -c '"check":"ps","ok":true' "$WORK/r3.jsonl")
meas=$(grep -x -A1 -- --measurement "$WORK/f/cli.args" | tail -n 1)
na=$(grep -c "\"check\":\"attest\",\"ok\":true,\"result\":{\"measurement\":\"$meas\"" "$WORK/r3.jsonl")
if [ $rc -eq 0 ] && [ "$n" -eq 3 ] && [ "$na" -eq 3 ] && [ "$(wc -l <"$WORK/r3.jsonl")" -eq 6 ] && [ ! -s "$WORK/scan3.err" ]; then
  ok "fleet_scan_checks_subset_quiet_stdout"
else
  not_ok "fleet_scan_checks_subset_quiet_stdout" "exit $rc, $n ps lines, $na attest lines ($meas)" "$(head -n 3 "$WORK/scan3.err")"
fi
