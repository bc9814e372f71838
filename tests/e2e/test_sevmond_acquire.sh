#!/usr/bin/env bash
# sevmond's acquisitions against a real agent serving a real guest's memory dump:
#   - a finding at or above acquire_on (here the test registry's "release" check, whose
#     finding is info, with acquire_on = info) queues an acquisition of the target on its
#     own session; the image is sealed to the daemon's key, its manifest beside it;
#   - the API lists it (by target), shows it with its manifest and trigger, and serves the
#     sealed file: whole (its SHA-256 the manifest's), by Range (206, the same bytes), a
#     range past the end (416), nothing without the token (401);
#   - the downloaded file unseals with the daemon's key to the image the manifest hashes,
#     and offline `ps` of it equals live `ps` through the agent;
#   - acquire_interval holds back a second one from the next scan; POST
#     /v1/targets/NAME/acquisitions makes one on request; acquire_keep removes the oldest;
#   - with acquire_on = high an info finding starts nothing.
# usage: test_sevmond_acquire.sh BUILD_DIR     TAP output
# shellcheck disable=SC2016
set -u
BUILD=$(cd "${1:?build dir}" && pwd)
REPO=$(cd "$(dirname "${BASH_SOURCE[0]}")/../.." && pwd)
AGENT=$BUILD/agent-svc/sevmon-agent
SEVMON=$BUILD/ids-svc/cli/sevmon
SEVMOND_X=$BUILD/tests/sevmond-extra
DUMP=${SEVMOND_DUMP_A:-$REPO/.cache/sevmond-dumps/a.elf}
if [ ! -s "$DUMP" ]; then
  "$REPO/tests/e2e/make_sevmond_dumps.sh" "$(dirname "$DUMP")" >&2 ||
    { echo "1..0 # SKIP cannot make the guest dumps"; exit 0; }
fi
T=$(mktemp -d /tmp/sevmon-acqd.XXXXXX)
export SEVMON_CACHE=$T/profiles
TOKEN=test-token-0123456789abcdef
PIDS=()
cleanup() { exec 2>/dev/null; for p in "${PIDS[@]}"; do kill -9 "$p" 2>/dev/null; done; { wait; } 2>/dev/null; rm -rf "$T"; }
trap cleanup EXIT
[ -n "${KEEP_DEBUG:-}" ] && trap - EXIT

echo "1..12"
n=0
ok() { n=$((n + 1)); echo "ok $n - $1"; }
notok() { n=$((n + 1)); echo "not ok $n - $1"; shift; for l in "$@"; do echo "# $l"; done; }
check() { local name=$1; shift; if "$@" >&2; then ok "$name"; else notok "$name" "failed: $*"; fi; }

MEAS=$(printf '5e%.0s' $(seq 48))
"$SEVMON" keygen --out "$T/ids.key" >/dev/null && "$SEVMON" keygen --out "$T/agent.key" >/dev/null &&
  "$SEVMON" attest sim-init "$T/sim" >/dev/null || { echo "Bail out! keys"; exit 1; }
"$AGENT" --memory "image:$DUMP" --listen "unix://$T/a.sock" -q --key "$T/agent.key" \
  --allow "$T/ids.key.pub" --attest "sim:$T/sim,measurement=$MEAS" 2>>"$T/agent.log" &
PIDS+=($!)
for _ in $(seq 100); do [ -S "$T/a.sock" ] && break; sleep 0.05; done
CLI=(--key "$T/ids.key" --trust "$T/sim/ark.pem" --measurement "$MEAS")

conf() { # NAME ON KEEP INTERVAL
  cat <<EOF
[sevmond]
listen = 127.0.0.1:0
token = $TOKEN
store = $T/$1.db
key = $T/ids.key
trust = $T/sim/ark.pem
checks = banner,release
acquire_on = $2
acquire_dir = $T/$1.acq
acquire_keep = $3
acquire_interval = $4
[target vm1]
uri = unix://$T/a.sock
measurement = $MEAS
EOF
}
start() { # NAME ON KEEP INTERVAL
  conf "$@" >"$T/$1.conf"
  "$SEVMOND_X" --config "$T/$1.conf" --port-file "$T/$1.port" 2>>"$T/$1.log" &
  PIDS+=($!)
  for _ in $(seq 200); do [ -s "$T/$1.port" ] && break; sleep 0.05; done
  [ -s "$T/$1.port" ] || { echo "Bail out! sevmond did not start: $(tail -n 3 "$T/$1.log")"; exit 1; }
  URL=http://127.0.0.1:$(cat "$T/$1.port")
}
AUTH="Authorization: Bearer $TOKEN"
get() { curl -s -H "$AUTH" "$URL$1"; }
scan() {
  local id st
  id=$(curl -s -H "$AUTH" -H "Content-Type: application/json" -X POST -d '{}' "$URL/v1/scans" |
    python3 -c 'import json,sys; print(json.load(sys.stdin)["id"])')
  for _ in $(seq 300); do
    st=$(get "/v1/scans/$id" | python3 -c 'import json,sys; print(json.load(sys.stdin)["state"])')
    [ "$st" != running ] && break; sleep 0.1
  done
  echo "$id"
}
# wait until no acquisition is queued or running; print how many there are
settle() {
  local out
  for _ in $(seq 600); do
    out=$(get /v1/acquisitions | python3 -c 'import json,sys
a = json.load(sys.stdin)
print("busy" if any(x["status"] in ("queued", "running") for x in a) else len(a))')
    [ "$out" != busy ] && { echo "$out"; return; }
    sleep 0.1
  done
  echo busy
}

start d info 2 1h
sid=$(scan)
count=$(settle)
get "/v1/acquisitions?target=vm1" >"$T/list.json"
check "a_finding_at_acquire_on_starts_an_acquisition" python3 - "$T/list.json" "$sid" <<'PY'
import json, sys
a = json.load(open(sys.argv[1]))
assert len(a) == 1, a
x = a[0]
assert x["status"] == "done" and x["target"] == "vm1" and x["format"] == "lime", x
t = x["trigger"]
assert t["by"] == "finding" and t["check"] == "release" and t["kind"] == "kernel_release", t
assert t["severity"] == "info" and t["scan"] == sys.argv[2], t
assert x["image_bytes"] > (200 << 20) and len(x["image_sha256"]) == 64
PY
AID=$(python3 -c 'import json,sys; print(json.load(open(sys.argv[1]))[0]["id"])' "$T/list.json")
get "/v1/acquisitions/$AID" >"$T/one.json"
check "rest_shows_it_with_its_manifest" python3 - "$T/one.json" <<'PY'
import json, sys
x = json.load(open(sys.argv[1]))
m = x["manifest"]
assert m["sealed"] and m["image_sha256"] == x["image_sha256"] and m["format"] == "lime", m
assert m["evidence"]["chain_ok"] and m["unreadable_bytes"] == 0 and len(m["ranges"]) >= 1
PY
curl -s -H "$AUTH" -o "$T/dl.sealed" -w '%{http_code}' "$URL/v1/acquisitions/$AID/image" >"$T/code"
check "download_whole_file_matches_the_manifest" python3 - "$T/one.json" "$T/dl.sealed" "$(cat "$T/code")" <<'PY'
import hashlib, json, sys
m = json.load(open(sys.argv[1]))["manifest"]
data = open(sys.argv[2], "rb").read()
assert sys.argv[3] == "200", sys.argv[3]
assert len(data) == m["file_bytes"] and hashlib.sha256(data).hexdigest() == m["file_sha256"]
PY
curl -s -H "$AUTH" -H "Range: bytes=1000-5095" -D "$T/hdr" -o "$T/part" "$URL/v1/acquisitions/$AID/image"
check "range_request_gives_206_and_those_bytes" eval \
  'grep -q "^HTTP/1.1 206" "$T/hdr" && grep -qi "^content-range: bytes 1000-5095/" "$T/hdr" && cmp -s "$T/part" <(tail -c +1001 "$T/dl.sealed" | head -c 4096)'
size=$(stat -c %s "$T/dl.sealed")
code=$(curl -s -o /dev/null -w '%{http_code}' -H "$AUTH" -H "Range: bytes=$((size + 10))-" "$URL/v1/acquisitions/$AID/image")
code2=$(curl -s -o /dev/null -w '%{http_code}' "$URL/v1/acquisitions/$AID/image")
code3=$(curl -s -o /dev/null -w '%{http_code}' -H "$AUTH" "$URL/v1/acquisitions/..%2f..%2fetc/image")
code4=$(curl -s --path-as-is -o /dev/null -w '%{http_code}' -H "$AUTH" "$URL/v1/acquisitions/../image")
code5=$(curl -s -o /dev/null -w '%{http_code}' -H "$AUTH" "$URL/v1/acquisitions/12ab/image")
echo "# codes: past the end $code, no token $code2, ids not ours $code3 $code4 $code5"
check "range_past_the_end_416_no_token_401_paths_refused" eval \
  '[ "$code" = 416 ] && [ "$code2" = 401 ] && [ "$code3" = 400 ] && [ "$code4" = 400 ] && [ "$code5" = 404 ]'
"$SEVMON" dump unseal "$T/dl.sealed" --out "$T/dl.plain" --key "$T/ids.key" 2>/dev/null
check "downloaded_image_unseals_to_the_manifest_image" python3 -c 'import hashlib,json,sys
m = json.load(open(sys.argv[1]))["manifest"]
h = hashlib.sha256(open(sys.argv[2], "rb").read()).hexdigest()
sys.exit(0 if h == m["image_sha256"] else 1)' "$T/one.json" "$T/dl.plain"
"$SEVMON" ps "unix://$T/a.sock" "${CLI[@]}" --json >"$T/live.ps" 2>/dev/null
"$SEVMON" ps "$T/dl.sealed" --key "$T/ids.key" --json >"$T/off.ps" 2>"$T/off.err"
check "offline_ps_of_the_download_equals_live_ps" eval 'cmp -s "$T/live.ps" "$T/off.ps" && [ -s "$T/live.ps" ]'
rm -f "$T/dl.plain"

scan >/dev/null
check "acquire_interval_holds_back_the_next_scans_one" [ "$(settle)" = 1 ]
resp=$(curl -s -H "$AUTH" -X POST "$URL/v1/targets/vm1/acquisitions")
check "post_starts_one_on_request" eval 'echo "$resp" | grep -q "\"status\":\"queued\"" && [ "$(settle)" = 2 ]'
code=$(curl -s -o /dev/null -w '%{http_code}' -H "$AUTH" -X POST "$URL/v1/targets/nosuch/acquisitions")
check "post_for_an_unknown_target_404" [ "$code" = 404 ]
curl -s -H "$AUTH" -X POST "$URL/v1/targets/vm1/acquisitions" >/dev/null
n_after=$(settle)
check "acquire_keep_removes_the_oldest" eval '[ "$n_after" = 2 ] && ! get /v1/acquisitions | grep -q "\"id\":\"$AID\"" && [ ! -d "$T/d.acq/$AID" ]'
kill "${PIDS[-1]}"; wait "${PIDS[-1]}" 2>/dev/null

start h high 10 1h
scan >/dev/null
sleep 1
check "an_info_finding_below_acquire_on_high_starts_nothing" eval '[ "$(settle)" = 0 ] && [ -z "$(ls -A "$T/h.acq" 2>/dev/null)" ]'
