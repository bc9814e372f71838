#!/usr/bin/env bash
# A check added through the registry shows up everywhere the registry is read. The test
# build (tests/checks: check_release.c and the one row of check_extra.h) gives
# sevmon-extra and sevmond-extra one more check, "release"; against a real agent serving a
# real guest's memory dump:
#   - sevmon-extra check --help lists it (plain sevmon does not) and `sevmon-extra check`
#     runs it, with its finding;
#   - sevmon-extra scan --checks release writes its payload and finding;
#   - sevmond-extra lists it in GET /v1/checks, runs it in a scan, keeps its result and
#     finding in the store (GET /v1/scans/ID/results, /v1/findings), and as a live view;
#     plain sevmond refuses the name.
# usage: test_check_registry.sh BUILD_DIR     TAP output
# shellcheck disable=SC2016
set -u
BUILD=$(cd "${1:?build dir}" && pwd)
REPO=$(cd "$(dirname "${BASH_SOURCE[0]}")/../.." && pwd)
AGENT=$BUILD/agent-svc/sevmon-agent
SEVMON=$BUILD/ids-svc/cli/sevmon
SEVMON_X=$BUILD/tests/sevmon-extra
SEVMOND=$BUILD/ids-svc/sevmond/sevmond
SEVMOND_X=$BUILD/tests/sevmond-extra
DUMPS=$REPO/.cache/sevmond-dumps
DUMP=${SEVMOND_DUMP_A:-$DUMPS/a.elf}
if [ ! -s "$DUMP" ]; then
  "$REPO/tests/e2e/make_sevmond_dumps.sh" "$DUMPS" >&2 ||
    { echo "1..0 # SKIP cannot make the guest dumps"; exit 0; }
fi
T=$(mktemp -d /tmp/sevmon-registry.XXXXXX)
export SEVMON_CACHE=$T/profiles
TOKEN=test-token-0123456789abcdef
PIDS=()
cleanup() { for p in "${PIDS[@]}"; do kill -9 "$p" 2>/dev/null; done; wait 2>/dev/null; rm -rf "$T"; }
trap cleanup EXIT

echo "1..11"
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
# The release the guest's banner names: "Linux version RELEASE ...".
REL=$("$SEVMON" banner "unix://$T/a.sock" "${CLI[@]}" 2>/dev/null | awk '{print $3}')
[ -n "$REL" ] || { echo "Bail out! no banner from the agent"; exit 1; }

# --- the CLI ---------------------------------------------------------------------------------
"$SEVMON_X" check --help >"$T/help.x"
"$SEVMON" check --help >"$T/help"
check "cli_help_lists_the_added_check" eval 'grep -q "^  release " "$T/help.x" && ! grep -q "^  release " "$T/help"'
"$SEVMON_X" check "unix://$T/a.sock" release --json "${CLI[@]}" >"$T/check.json" 2>"$T/check.err"
check "cli_check_runs_it_with_its_finding" python3 - "$T/check.json" "$REL" <<'PY'
import json, sys
l = [json.loads(x) for x in open(sys.argv[1])]
assert len(l) == 1 and l[0]["check"] == "release" and l[0]["ok"], l
assert l[0]["result"] == {"release": sys.argv[2]}, l[0]["result"]
f = l[0]["findings"]
assert len(f) == 1 and f[0]["kind"] == "kernel_release" and f[0]["subject"] == sys.argv[2], f
PY
printf 'vm1 unix://%s/a.sock\n' "$T" >"$T/targets"
"$SEVMON_X" scan --targets "$T/targets" --checks banner,release --quiet "${CLI[@]}" >"$T/scan.jsonl" 2>"$T/scan.err"
check "scan_checks_release_lines" python3 - "$T/scan.jsonl" "$REL" <<'PY'
import json, sys
l = {x["check"]: x for x in map(json.loads, open(sys.argv[1]))}
assert set(l) == {"banner", "release"}, l
r = l["release"]
assert r["target"] == "vm1" and r["ok"] and r["result"]["release"] == sys.argv[2], r
assert r["findings"][0]["kind"] == "kernel_release"
assert r["requests"] >= 1
PY
"$SEVMON" scan --targets "$T/targets" --checks release --quiet "${CLI[@]}" >/dev/null 2>"$T/scan0.err"
rc=$?
check "plain_scan_refuses_the_name" eval '[ $rc = 2 ] && grep -q "unknown check .release." "$T/scan0.err"'

# --- sevmond -----------------------------------------------------------------------------------
conf() { # DB
  cat <<EOF
[sevmond]
listen = 127.0.0.1:0
token = $TOKEN
database = $1
key = $T/ids.key
trust = $T/sim/ark.pem
[target vm1]
uri = unix://$T/a.sock
measurement = $MEAS
EOF
}
start() { # BINARY NAME
  conf "$T/$2.db" >"$T/$2.conf"
  rm -f "$T/$2.port"
  "$1" --config "$T/$2.conf" --port-file "$T/$2.port" 2>>"$T/$2.log" &
  PIDS+=($!)
  for _ in $(seq 200); do [ -s "$T/$2.port" ] && break; sleep 0.05; done
  [ -s "$T/$2.port" ] || { echo "Bail out! $2 did not start: $(tail -n 3 "$T/$2.log")"; exit 1; }
  URL=http://127.0.0.1:$(cat "$T/$2.port")
}
AUTH="Authorization: Bearer $TOKEN"
JSON="Content-Type: application/json"
get() { curl -s -H "$AUTH" "$URL$1"; }
start "$SEVMOND_X" x
get /v1/checks >"$T/checks.json"
check "rest_lists_the_check" python3 -c '
import json, sys
c = {x["name"]: x for x in json.load(open(sys.argv[1]))}
assert {"banner", "ps", "modules", "attest", "release"} <= set(c), c
assert c["release"]["default"] is False and c["release"]["needs"] == ["kernel"]' "$T/checks.json"
id=$(curl -s -H "$AUTH" -H "$JSON" -X POST -d '{"checks":["release"]}' "$URL/v1/scans" |
  python3 -c 'import json,sys; print(json.load(sys.stdin)["id"])')
for _ in $(seq 300); do
  st=$(get "/v1/scans/$id" | python3 -c 'import json,sys; print(json.load(sys.stdin)["state"])')
  [ "$st" != running ] && break; sleep 0.1
done
check "rest_scan_with_the_check_is_done" [ "$st" = done ]
get "/v1/scans/$id/results" >"$T/results.json"
check "store_keeps_its_result" python3 - "$T/results.json" "$REL" <<'PY'
import json, sys
r = json.load(open(sys.argv[1]))["results"]
assert len(r) == 1 and r[0]["check"] == "release" and r[0]["status"] == "ok", r
assert r[0]["data"] == {"release": sys.argv[2]}, r[0]
PY
get "/v1/findings?target=vm1" >"$T/findings.json"
check "store_keeps_its_finding" python3 - "$T/findings.json" "$REL" "$id" <<'PY'
import json, sys
f = [x for x in json.load(open(sys.argv[1])) if x["kind"] == "kernel_release"]
assert len(f) == 1 and f[0]["subject"] == sys.argv[2] and str(f[0]["scan"]) == sys.argv[3], f
assert f[0]["severity"] == "info"
PY
check "rest_live_view_of_the_check" eval 'get /v1/targets/vm1/checks/release | grep -q "\"release\":\"$REL\""'
code=$(curl -s -o /dev/null -w '%{http_code}' -H "$AUTH" "$URL/v1/targets/vm1/checks/nosuch")
check "rest_live_view_of_an_unknown_check_404" [ "$code" = 404 ]
kill "${PIDS[-1]}"; wait "${PIDS[-1]}" 2>/dev/null
start "$SEVMOND" plain
code=$(curl -s -o /dev/null -w '%{http_code}' -H "$AUTH" -H "$JSON" -X POST -d '{"checks":["release"]}' "$URL/v1/scans")
check "plain_sevmond_refuses_the_name" [ "$code" = 400 ]
