#!/usr/bin/env bash
# Acquisition and offline analysis against agents on this host (no guest boot):
#   - pages the agent cannot read (its image file cut short under it) are zeros in the
#     image and listed in the manifest, exactly those;
#   - an existing output is refused without --resume; --resume with nothing to resume, or
#     with the journal of another acquisition, is refused with a clear error;
#   - `sevmon check IMAGE` (a real guest's dump) runs the default sweep minus the checks
#     that need a live channel's evidence, and names why when one is asked for;
#   - `sevmon dump unseal` without a key, or onto an existing file, writes nothing.
# usage: test_acquire_host.sh BUILD_DIR     TAP output
set -uo pipefail
B=$(cd "${1:?build dir}" && pwd)
REPO=$(cd "$(dirname "$0")/../.." && pwd)
SEVMON=$B/ids-svc/cli/sevmon
SEVMON_AGENT=$B/agent-svc/sevmon-agent
DUMP=${SEVMOND_DUMP_A:-$REPO/.cache/sevmond-dumps/a.elf}
W=$(mktemp -d "${TMPDIR:-/tmp}/sevmon-acqhost.XXXXXX")
export SEVMON_CACHE=$W/profiles
. "$REPO/tests/e2e/lib.sh"
trap 'e2e_stop_agent; rm -rf "$W"' EXIT
e2e_setup "$W" || { echo "Bail out! keys"; exit 1; }

echo "1..8"
n=0
ok() { n=$((n + 1)); echo "ok $n - $1"; }
notok() { n=$((n + 1)); echo "not ok $n - $1"; shift; for l in "$@"; do echo "# $l"; done; }
check() { local name=$1; shift; if "$@"; then ok "$name"; else notok "$name" "failed: $*"; fi; }

# An 8 MiB raw image the agent opens, then cut to 5 MiB + 8 KiB: the last 3 MiB - 8 KiB
# are gone from under it, while its GetInfo still reports 8 MiB.
head -c $((8 << 20)) /dev/urandom >"$W/mem.raw"
"$SEVMON_AGENT" --memory "image:$W/mem.raw" --listen "unix://$W/a.sock" -q \
  --key "$W/agent.key" --allow "$W/ids.key.pub" --attest "sim:$W/sim,measurement=$E2E_MEAS" \
  2>>"$W/agent.log" & AGENT_PID=$!
for _ in $(seq 100); do [ -S "$W/a.sock" ] && break; sleep 0.05; done
cut=$(((5 << 20) + 8192))
truncate -s $cut "$W/mem.raw"
"$SEVMON" acquire "unix://$W/a.sock" "${E2E_CLI[@]}" --plain --quiet --out "$W/img.lime" 2>"$W/acq.err"
check "unreadable_pages_are_zeros_and_listed" python3 - "$W/img.lime" "$W/img.lime.manifest.json" "$W/mem.raw" $cut <<'PY'
import hashlib, json, sys
img, man, raw, cut = open(sys.argv[1], "rb").read(), json.load(open(sys.argv[2])), open(sys.argv[3], "rb").read(), int(sys.argv[4])
total = 8 << 20
assert man["unreadable"] == [{"start": hex(cut), "size": total - cut}], man["unreadable"]
assert man["unreadable_bytes"] == total - cut
body = img[32:]
assert len(body) == total and body[:cut] == raw[:cut] and body[cut:] == bytes(total - cut)
assert man["ranges"][0]["sha256"] == hashlib.sha256(body).hexdigest()
assert man["image_sha256"] == hashlib.sha256(img).hexdigest()
PY
"$SEVMON" acquire "unix://$W/a.sock" "${E2E_CLI[@]}" --plain --quiet --out "$W/img.lime" 2>"$W/exists.err"; rc=$?
check "existing_output_refused_without_resume" eval '[ $rc = 2 ] && grep -q "exists" "$W/exists.err"'
"$SEVMON" acquire "unix://$W/a.sock" "${E2E_CLI[@]}" --plain --quiet --resume --out "$W/none.lime" 2>"$W/none.err"; rc=$?
check "resume_with_nothing_to_resume_refused" eval '[ $rc != 0 ] && grep -q "nothing to resume" "$W/none.err"'
printf '{"sevmon_acquire":1,"format":"elf"}\n' >"$W/other.lime.acq"; : >"$W/other.lime"
"$SEVMON" acquire "unix://$W/a.sock" "${E2E_CLI[@]}" --plain --quiet --resume --out "$W/other.lime" 2>"$W/other.err"; rc=$?
check "resume_with_another_journal_refused" eval '[ $rc != 0 ] && grep -q "journal of another acquisition" "$W/other.err"'
e2e_stop_agent

# --- offline: a real guest's dump ---------------------------------------------------------------
if [ ! -s "$DUMP" ]; then
  "$REPO/tests/e2e/make_sevmond_dumps.sh" "$(dirname "$DUMP")" >&2 || true
fi
if [ -s "$DUMP" ]; then
  "$SEVMON" check "$DUMP" --json >"$W/sweep.jsonl" 2>"$W/sweep.err"
  check "offline_sweep_runs_the_image_checks_and_not_attest" python3 - "$W/sweep.jsonl" <<'PY'
import json, sys
lines = [json.loads(l) for l in open(sys.argv[1])]
names = [l["check"] for l in lines]
assert "attest" not in names and {"banner", "ps", "modules"} <= set(names), names
assert all(l["ok"] for l in lines), lines
PY
  "$SEVMON" check "$DUMP" attest >"$W/attest.out" 2>&1; rc=$?
  check "offline_attest_says_why_not" eval '[ $rc = 1 ] && grep -q "needs the evidence of a live agent" "$W/attest.out"'
else
  echo "ok 5 # SKIP no guest dump"; echo "ok 6 # SKIP no guest dump"; n=6
fi

# --- unseal refusals --------------------------------------------------------------------------
env -u SEVMON_KEY "$SEVMON" dump unseal "$W/img.lime" --out "$W/u1" 2>"$W/u1.err"; rc=$?
check "unseal_without_key_refused" eval '[ $rc = 2 ] && [ ! -e "$W/u1" ] && grep -q "no key" "$W/u1.err"'
: >"$W/u2"
"$SEVMON" dump unseal "$W/img.lime" --out "$W/u2" --key "$W/ids.key" 2>"$W/u2.err"; rc=$?
check "unseal_of_a_plain_image_refused_and_nothing_written" eval '[ $rc != 0 ] && [ ! -s "$W/u2" ] && grep -q "not a sealed image" "$W/u2.err"'
