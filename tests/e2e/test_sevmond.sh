#!/usr/bin/env bash
# sevmond end to end: real sevmon-agent processes serving memory dumps of a real Linux
# guest (QEMU dump-guest-memory, two different boots: A and B), sevmond with a config
# file, and curl on its REST API. Targets (config and API: add, list, get, remove), scans
# (start, poll, results), live views, findings (an agent switched from dump A to dump B
# between two scans: its processes appear/vanish), auth and bad requests, an agent that
# dies mid-scan (its target fails, the others succeed), SIGHUP reload under load (sessions
# of unchanged targets kept), a bad reload (ignored), /metrics in the exposition format,
# SIGKILL mid-scan and restart (committed results kept, the scan marked interrupted),
# SIGKILL under a load of REST writes and scans (everything acknowledged is there after the
# restart), the store on a full disk (503, reads served, recovery when space returns, the
# database intact), and SIGTERM (drains, exit 0). TAP output.
# usage: test_sevmond.sh BUILD_DIR
# Dumps: .cache/sevmond-dumps/{a,b}.elf, one boot before and after a root process
# `sevmon-intruder` started (tests/e2e/make_sevmond_dumps.sh makes them when missing), or
# $SEVMOND_DUMP_A / $SEVMOND_DUMP_B (and $SEVMOND_INTRUDER, the comm that must appear).
# Checks passed to eval are single-quoted on purpose: they expand when they run.
# shellcheck disable=SC2016,SC2317,SC2034
# (SC2317: helpers run through eval; SC2034/SC2154: variables read or set through eval)
set -u
BUILD=$(cd "${1:?build dir}" && pwd)
REPO=$(cd "$(dirname "${BASH_SOURCE[0]}")/../.." && pwd)
AGENT=$BUILD/agent-svc/sevmon-agent
SEVMON=$BUILD/ids-svc/cli/sevmon
SEVMOND=$BUILD/ids-svc/sevmond/sevmond
PROM_CHECK=$BUILD/tests/prom_check
DUMPS=$REPO/.cache/sevmond-dumps
if [ -n "${SEVMOND_DUMP_A:-}" ] && [ -n "${SEVMOND_DUMP_B:-}" ]; then
  DUMP_A=$SEVMOND_DUMP_A; DUMP_B=$SEVMOND_DUMP_B; INTRUDER=${SEVMOND_INTRUDER:-}
else
  DUMP_A=$DUMPS/a.elf; DUMP_B=$DUMPS/b.elf; INTRUDER=sevmon-intruder
  if [ ! -s "$DUMP_B" ]; then
    "$REPO/tests/e2e/make_sevmond_dumps.sh" "$DUMPS" >&2 ||
      { echo "1..0 # SKIP cannot make the guest dumps"; exit 0; }
  fi
fi
T=$(mktemp -d /tmp/sevmond-e2e.XXXXXX)
TOKEN=test-token-0123456789abcdef
export SEVMON_CACHE=$T/profiles
PIDS=()
cleanup() { for p in "${PIDS[@]}"; do kill -9 "$p" 2>/dev/null; done; wait 2>/dev/null; rm -rf "$T"; }
trap cleanup EXIT

n=0; failed=0
ok() { n=$((n+1)); echo "ok $n - $1"; }
notok() { n=$((n+1)); failed=$((failed+1)); echo "not ok $n - $1"; }
check() { local name=$1; shift; if "$@" >&2; then ok "$name"; else notok "$name"; fi; }

# The channel: the IDS key, one key per agent, a simulated SNP chain, the measurement the
# agents' (simulated) evidence reports.
MEAS=$(printf '5e%.0s' $(seq 48))
OTHER_MEAS=$(printf '77%.0s' $(seq 48))
"$SEVMON" keygen --out "$T/ids.key" --comment ids >/dev/null || { echo "Bail out! keygen"; exit 1; }
"$SEVMON" attest sim-init "$T/sim" >/dev/null || { echo "Bail out! sim-init"; exit 1; }
# agent NAME DUMP [MEASUREMENT]: serve DUMP on unix://$T/NAME.sock with its own key;
# pid in AGENT_PID_<NAME>, public key (hex) in $T/NAME.key.hex
agent() {
  rm -f "$T/$1.sock"
  [ -s "$T/$1.key" ] || "$SEVMON" keygen --out "$T/$1.key" --comment "$1" >/dev/null
  awk '{print $2}' "$T/$1.key.pub" > "$T/$1.key.hex"
  "$AGENT" --memory "image:$2" --listen "unix://$T/$1.sock" -q --key "$T/$1.key" \
    --allow "$T/ids.key.pub" --attest "sim:$T/sim,measurement=${3:-$MEAS}" 2>>"$T/$1.log" &
  local pid=$!; PIDS+=("$pid"); eval "AGENT_PID_$1=$pid"
  for _ in $(seq 100); do [ -S "$T/$1.sock" ] && return 0; sleep 0.05; done
  echo "Bail out! agent $1 did not start"; exit 1
}
# hang NAME: a peer that accepts and never answers (a stuck agent); pid in HANG_PID
hang() {
  rm -f "$T/$1.sock"
  python3 -c 'import socket,sys,time
s=socket.socket(socket.AF_UNIX); s.bind(sys.argv[1]); s.listen(8); c=[]
while True: c.append(s.accept()[0])' "$T/$1.sock" &
  HANG_PID=$!; PIDS+=("$HANG_PID")
  for _ in $(seq 100); do [ -S "$T/$1.sock" ] && return 0; sleep 0.05; done
}

tsec() { # NAME SOCK: a target section with the channel's policy
  printf '[target %s]\nuri = unix://%s/%s.sock\nmeasurement = %s\nkey = %s\n' \
    "$1" "$T" "$2" "$MEAS" "$(cat "$T/$2.key.hex")"
}
write_config() { # extra target sections on stdin
  { cat <<EOF
# sevmond e2e
[sevmond]
listen = 127.0.0.1:0
token = $TOKEN
database = $T/sevmond.db
key = $T/ids.key
trust = $T/sim/ark.pem
workers = 3
queue_per_target = 8
connect_timeout = 5s
request_timeout = 5s
backoff_min = 200ms
backoff_max = 1s
keep_scans = 50
EOF
    cat; } > "$T/sevmond.conf"
}

start_sevmond() {
  rm -f "$T/port"
  "$SEVMOND" --config "$T/sevmond.conf" --port-file "$T/port" 2>>"$T/sevmond.log" &
  SVD_PID=$!; PIDS+=("$SVD_PID")
  for _ in $(seq 200); do [ -s "$T/port" ] && break; sleep 0.05; done
  [ -s "$T/port" ] || { echo "Bail out! sevmond did not start"; cat "$T/sevmond.log"; exit 1; }
  URL=http://127.0.0.1:$(cat "$T/port")
}

AUTH="Authorization: Bearer $TOKEN"
JSON="Content-Type: application/json"
req() { # METHOD PATH [curl args]: status in CODE, body in $T/body
  local m=$1 p=$2; shift 2
  CODE=$(curl -s -o "$T/body" -w '%{http_code}' -X "$m" "$@" "$URL$p")
}
OPENAPI=$REPO/docs/openapi.json
# conforms METHOD ROUTE: the last response ($CODE, $T/body) is what docs/openapi.json says
conforms() { python3 "$REPO/tests/e2e/openapi_check.py" "$OPENAPI" "$1" "$2" "$CODE" "$T/body"; }
code_is() { [ "$CODE" = "$1" ] || { echo "# got $CODE: $(head -c 300 "$T/body")"; return 1; }; }
body_has() { grep -q -- "$1" "$T/body" || { echo "# body lacks $1: $(head -c 300 "$T/body")"; return 1; }; }
jq_py() { python3 -c "import json,sys; d=json.load(open('$T/body')); $1"; }
# field PATH TARGET KEY: a field of GET /v1/targets/TARGET
target_field() { curl -s -H "$AUTH" "$URL/v1/targets/$1" | python3 -c "import json,sys; print(json.load(sys.stdin).get('$2',''))"; }
wait_state() { # TARGET STATE
  for _ in $(seq 100); do [ "$(target_field "$1" state)" = "$2" ] && return 0; sleep 0.1; done
  echo "# $1 is $(target_field "$1" state), not $2"; return 1
}
scan() { # JSON body -> SCAN id
  req POST /v1/scans -H "$AUTH" -H "$JSON" -d "$1"
  SCAN=$(python3 -c "import json; print(json.load(open('$T/body'))['id'])" 2>/dev/null)
  [ "$CODE" = 201 ] || [ "$CODE" = 202 ] || [ "$CODE" = 200 ]
}
scan_state() { curl -s -H "$AUTH" "$URL/v1/scans/$1" | python3 -c "import json,sys; print(json.load(sys.stdin)['state'])"; }
wait_scan() { # ID -> final state in SCAN_STATE
  for _ in $(seq 300); do
    SCAN_STATE=$(scan_state "$1"); [ "$SCAN_STATE" != running ] && return 0; sleep 0.1
  done; return 1
}

echo "1..75"

# --- configuration errors
printf '[sevmond]\nlisten = 127.0.0.1:0\ntoken = %s\ndatabase = %s/x.db\nkey = k\nworkers = 0\n' "$TOKEN" "$T" > "$T/bad.conf"
"$SEVMOND" --config "$T/bad.conf" 2>"$T/bad.err"; rc=$?
check "bad config: exit 1" [ "$rc" = 1 ]
check "bad config: file, line and field named" grep -q "bad.conf:6: workers: at least 1" "$T/bad.err"

# --- agents and the daemon
agent a "$DUMP_A"; agent b "$DUMP_B"; agent c "$DUMP_A"
{ tsec vma a; tsec vmb b; } | write_config
check "--check accepts the config" "$SEVMOND" --config "$T/sevmond.conf" --check
start_sevmond

req GET /healthz
check "healthz: 200" code_is 200
req GET /v1/targets
check "no token: 401" code_is 401
req GET /v1/targets -H "Authorization: Bearer wrong-token-0123456789abc"
check "wrong token: 401" code_is 401
req GET /v1/nothing/here -H "$AUTH"
check "unknown route: 404" code_is 404
req POST /v1/scans -H "$AUTH" -H "$JSON" -d '{"targets":['
check "malformed JSON: 400" code_is 400
req POST /v1/scans -H "$AUTH" -H "$JSON" -d '{"checks":["rootkit"]}'
check "unknown check: 400" code_is 400
req POST /v1/scans -H "$AUTH" -H "$JSON" -d '{"targets":["nope"]}'
check "scan of an unknown target: 404" code_is 404

check "vma becomes ready" wait_state vma ready
check "vmb becomes ready" wait_state vmb ready
req GET /v1/targets/vma -H "$AUTH"
check "target shows state and attestation" eval 'code_is 200 && body_has "\"state\":\"ready\"" && body_has "\"attestation\":{\"status\":\"verified\"" && body_has "\"measurement\":\"$MEAS\"" && body_has "\"agent_key\":\"$(cat "$T/a.key.hex")\""'

# --- targets through the API
req POST /v1/targets -H "$AUTH" -H "$JSON" -d "{\"name\":\"vmc\",\"uri\":\"unix://$T/c.sock\",\"key\":\"$(cat "$T/c.key.hex")\",\"measurement\":\"$MEAS\"}"
check "add target vmc: 201" code_is 201
req POST /v1/targets -H "$AUTH" -H "$JSON" -d "{\"name\":\"vmc\",\"uri\":\"unix://$T/c.sock\"}"
check "add it again: 409" code_is 409
req POST /v1/targets -H "$AUTH" -H "$JSON" -d '{"name":"bad name","uri":"unix:///x"}'
check "bad target name: 400" code_is 400
req GET /v1/targets -H "$AUTH"
check "list has vma, vmb, vmc" eval 'jq_py "assert sorted(t[\"name\"] for t in d) == [\"vma\",\"vmb\",\"vmc\"]"'
check "vmc becomes ready" wait_state vmc ready

# --- a scan of everything
scan '{}'
check "scan all: accepted with an id" [ -n "$SCAN" ]
S1=$SCAN
check "scan all: done" eval 'wait_scan $S1 && [ "$SCAN_STATE" = done ]'
# the default sweep, as the daemon lists it (GET /v1/checks): one result per target and check
NDEF=$(curl -s -H "$AUTH" "$URL/v1/checks" | python3 -c 'import json,sys; d=json.load(sys.stdin); d=d.get("checks", d) if isinstance(d, dict) else d; print(sum(1 for c in d if c.get("default")))')
req GET "/v1/scans/$S1/results" -H "$AUTH"
check "results: 3 targets x $NDEF default checks, all ok, with data" eval 'jq_py "r=d[\"results\"]; assert len(r)==3*$NDEF, len(r); assert all(x[\"status\"]==\"ok\" and \"data\" in x for x in r)"'
check "results: the guest's banner and processes" eval 'jq_py "r=d[\"results\"]; assert any(\"Linux version\" in x[\"data\"].get(\"banner\",\"\") for x in r if x[\"check\"]==\"banner\"); assert any(len(x[\"data\"].get(\"processes\",[]))>10 for x in r if x[\"check\"]==\"ps\")"'

# --- live views
req GET /v1/targets/vma/banner -H "$AUTH"
check "live banner" eval 'code_is 200 && body_has "Linux version" && body_has "\"target\":\"vma\""'
req GET /v1/targets/vmb/processes -H "$AUTH"
check "live processes" eval 'code_is 200 && jq_py "assert len(d[\"processes\"])>10"'
req GET /v1/targets/vmc/modules -H "$AUTH"
check "live modules" eval 'code_is 200 && body_has "\"modules\":\["'
req GET /v1/targets/nope/banner -H "$AUTH"
check "live view of an unknown target: 404" code_is 404

# --- findings: vma's agent now serves another boot of the guest
# shellcheck disable=SC2154
kill "$AGENT_PID_a"; wait "$AGENT_PID_a" 2>/dev/null
agent a "$DUMP_B"
scan '{"targets":["vma"]}'
S2=$SCAN
check "scan after the change: done (the stale session re-opened)" eval 'wait_scan $S2 && [ "$SCAN_STATE" = done ]'
req GET "/v1/findings?target=vma" -H "$AUTH"
check "findings: processes appeared on vma" eval 'jq_py "k=[f[\"kind\"] for f in d]; assert \"process_appeared\" in k, k; assert all(f[\"target\"]==\"vma\" for f in d)"'
if [ -n "$INTRUDER" ]; then
  check "findings: $INTRUDER appeared, severity high (a new root process)" eval 'jq_py "assert any(f[\"kind\"]==\"process_appeared\" and f[\"subject\"].endswith(\":$INTRUDER\") and f[\"severity\"]==\"high\" for f in d), d"'
else
  ok "# SKIP no intruder process named for these dumps"
fi
req GET "/v1/findings?target=vmb" -H "$AUTH"
check "findings: none on vmb" eval 'code_is 200 && jq_py "assert d==[], d"'

# --- an agent that dies mid-scan
hang stuck
req POST /v1/targets -H "$AUTH" -H "$JSON" -d "{\"name\":\"stuck\",\"uri\":\"unix://$T/stuck.sock\"}"
scan '{"targets":["vma","vmb","stuck"]}'
S3=$SCAN
for _ in $(seq 100); do
  [ "$(curl -s -H "$AUTH" "$URL/v1/scans/$S3" | python3 -c 'import json,sys; print(json.load(sys.stdin)["targets_done"])')" = 2 ] && break
  sleep 0.1
done
check "stuck agent: the other targets finish meanwhile" eval '[ "$(scan_state $S3)" = running ]'
kill "$HANG_PID"
check "stuck agent dies: the scan ends" eval 'wait_scan $S3 && [ "$SCAN_STATE" = done ]'
req GET "/v1/scans/$S3" -H "$AUTH"
check "scan: 3 targets, 1 failed" eval 'jq_py "assert d[\"targets_total\"]==3 and d[\"targets_failed\"]==1, d"'
req GET "/v1/scans/$S3/results" -H "$AUTH"
check "results: stuck failed, vma and vmb ok" eval 'jq_py "r=d[\"results\"]; assert all((x[\"status\"]==\"error\")==(x[\"target\"]==\"stuck\") for x in r), r"'
check "stuck: state failed with the reason" eval '[ "$(target_field stuck state)" = failed ] && target_field stuck detail | grep -q .'

# --- attestation: a wrong measurement and a wrong agent key fail only their own target
agent evil "$DUMP_A" "$OTHER_MEAS"
req POST /v1/targets -H "$AUTH" -H "$JSON" -d "{\"name\":\"evil\",\"uri\":\"unix://$T/evil.sock\",\"measurement\":\"$MEAS\"}"
check "wrong measurement: target failed" wait_state evil failed
req GET /v1/targets/evil -H "$AUTH"
check "wrong measurement: attestation failed, with the reason" eval 'body_has "\"attestation\":{\"status\":\"failed\"" && body_has "measurement"'
req GET "/v1/findings?target=evil" -H "$AUTH"
check "wrong measurement: an attestation_failed finding" eval 'jq_py "assert [f[\"kind\"] for f in d]==[\"attestation_failed\"], d"'
req POST /v1/targets -H "$AUTH" -H "$JSON" -d "{\"name\":\"imposter\",\"uri\":\"unix://$T/c.sock\",\"key\":\"$(cat "$T/a.key.hex")\"}"
check "wrong agent key: target failed" wait_state imposter failed
check "the others stay ready" eval '[ "$(target_field vma state)" = ready ] && [ "$(target_field vmc state)" = ready ]'
req DELETE /v1/targets/evil -H "$AUTH"; req DELETE /v1/targets/imposter -H "$AUTH"

# --- the responses of the real backend against docs/openapi.json
doc_ok=1
doc_req() { # METHOD ROUTE PATH [curl args]
  local m=$1 route=$2 p=$3; shift 3
  req "$m" "$p" -H "$AUTH" "$@"
  conforms "$m" "$route" || { echo "# $m $p ($CODE) does not conform"; doc_ok=0; }
}
doc_req GET '/v1/targets' /v1/targets
doc_req GET '/v1/targets/{name}' /v1/targets/vma
doc_req GET '/v1/targets/{name}' /v1/targets/nope
doc_req GET '/v1/targets/{name}/banner' /v1/targets/vma/banner
doc_req GET '/v1/targets/{name}/processes' /v1/targets/vma/processes
doc_req GET '/v1/targets/{name}/modules' /v1/targets/vma/modules
doc_req POST '/v1/scans' /v1/scans -H "$JSON" -d '{"targets":["vma"]}'
doc_req GET '/v1/scans/{id}' "/v1/scans/$S1"
doc_req GET '/v1/scans/{id}/results' "/v1/scans/$S1/results"
doc_req GET '/v1/scans/{id}' /v1/scans/999999
doc_req GET '/v1/findings' /v1/findings
doc_req POST '/v1/targets' /v1/targets -H "$JSON" -d '{"name":"x","uri":"unix:///nonexistent"}'
doc_req DELETE '/v1/targets/{name}' /v1/targets/x
doc_req GET '/healthz' /healthz
check "every response checked conforms to docs/openapi.json" [ "$doc_ok" = 1 ]

# --- remove a target
req DELETE /v1/targets/vmc -H "$AUTH"
check "remove vmc: 204" code_is 204
req GET /v1/targets/vmc -H "$AUTH"
check "vmc is gone: 404" code_is 404

# --- SIGHUP under load: vmb removed, vmd added, vma's session kept
CONNECTS_A=$(target_field vma connects)
( for _ in $(seq 40); do curl -s -o /dev/null -w '%{http_code}\n' -H "$AUTH" "$URL/v1/targets/vma/banner"; done ) > "$T/load.codes" &
LOAD=$!
{ tsec vma a; tsec vmd c; } | write_config
sleep 0.2; kill -HUP "$SVD_PID"; wait "$LOAD"
check "reload under load: every live view answered 200" eval '[ "$(sort -u "$T/load.codes")" = 200 ]'
check "reload: vmd added and ready" wait_state vmd ready
req GET /v1/targets/vmb -H "$AUTH"
check "reload: vmb removed" code_is 404
check "reload: vma's session kept" eval '[ "$(target_field vma connects)" = "$CONNECTS_A" ]'
# a changed policy: vma's accepted measurement no longer matches its agent
CONNECTS_D=$(target_field vmd connects)
{ tsec vma a | sed "s/^measurement = .*/measurement = $OTHER_MEAS/"; tsec vmd c; } | write_config
kill -HUP "$SVD_PID"
check "reload: a changed measurement re-attests vma, which now fails" wait_state vma failed
check "reload: vmd untouched meanwhile" eval '[ "$(target_field vmd connects)" = "$CONNECTS_D" ] && [ "$(target_field vmd state)" = ready ]'
{ tsec vma a; tsec vmd c; } | write_config
kill -HUP "$SVD_PID"
check "reload: the measurement restored, vma ready again" wait_state vma ready
echo "[sevmond" > "$T/sevmond.conf.bad"; cp "$T/sevmond.conf" "$T/good.conf"; cp "$T/sevmond.conf.bad" "$T/sevmond.conf"
kill -HUP "$SVD_PID"; sleep 0.3; cp "$T/good.conf" "$T/sevmond.conf"
check "bad reload: logged, the daemon keeps its config" eval 'grep -q "reload failed" "$T/sevmond.log" && [ "$(target_field vmd state)" = ready ]'

# --- metrics
req GET /metrics -H "$AUTH"
check "metrics: exposition format" eval '"$PROM_CHECK" < "$T/body"'
check "metrics: scans, checks, bytes, sessions" eval 'body_has "sevmond_scans_total{status=\"done\"}" && body_has "sevmond_checks_total{check=\"ps\",result=\"ok\"}" && body_has "sevmond_agent_bytes_total" && body_has "sevmond_sessions_ready"'

# --- SIGKILL mid-scan, then restart
hang stuck
# its reconnect (after the backoff) hangs in the session set-up; the scan queues behind it
for _ in $(seq 100); do
  case $(target_field stuck state) in connecting|attesting) break;; esac; sleep 0.1
done
scan '{"targets":["vma","stuck"]}'
S4=$SCAN
for _ in $(seq 100); do
  [ "$(curl -s -H "$AUTH" "$URL/v1/scans/$S4" | python3 -c 'import json,sys; print(json.load(sys.stdin)["targets_done"])')" = 1 ] && break
  sleep 0.1
done
kill -9 "$SVD_PID"; wait "$SVD_PID" 2>/dev/null
kill "$HANG_PID"
start_sevmond
check "restart: the killed scan is interrupted" eval '[ "$(scan_state $S4)" = interrupted ]'
req GET "/v1/scans/$S4/results" -H "$AUTH"
check "restart: its committed results kept" eval 'jq_py "r=d[\"results\"]; assert len(r)==$NDEF and all(x[\"target\"]==\"vma\" and x[\"status\"]==\"ok\" for x in r), r"'
req GET "/v1/findings?target=vma" -H "$AUTH"
check "restart: findings kept" eval 'jq_py "assert len(d)>0"'
req GET /v1/targets -H "$AUTH"
check "restart: API-added target kept" eval 'jq_py "assert \"stuck\" in [t[\"name\"] for t in d]"'

# --- SIGTERM mid-scan: the running job finishes, the queued one is dropped, exit 0; the
# scan is marked interrupted at the next start
hang stuck
for _ in $(seq 100); do
  case $(target_field stuck state) in connecting|attesting) break;; esac; sleep 0.1
done
scan '{"targets":["stuck"]}'
S5=$SCAN
t0=$(date +%s)
kill -TERM "$SVD_PID"; wait "$SVD_PID"; rc=$?
check "SIGTERM: exit 0" [ "$rc" = 0 ]
check "SIGTERM: drained within the connect deadline" eval '[ $(( $(date +%s) - t0 )) -le 7 ] && grep -q "drained; exiting" "$T/sevmond.log"'
kill "$HANG_PID"
start_sevmond
check "SIGTERM: the unfinished scan is interrupted after restart" eval '[ "$(scan_state $S5)" = interrupted ]'
kill -TERM "$SVD_PID"; wait "$SVD_PID"; rc=$?
check "sevmond exits 0 (no leak, under ASan)" [ "$rc" = 0 ]

# --- scheduled scans: a target with its own interval is scanned without a request
{ tsec vma a; printf 'interval = 1s\n'; } | write_config
sed -i "s|^database = .*|database = $T/sched.db|" "$T/sevmond.conf"
start_sevmond
sched_done() { curl -s -H "$AUTH" "$URL/metrics" | awk '/^sevmond_scans_total\{status="done"\}/{print $2}'; }
for _ in $(seq 80); do [ "$(sched_done)" -ge 2 ] 2>/dev/null && break; sleep 0.1; done
check "schedule: interval 1s gives scans with no request" eval '[ "$(sched_done)" -ge 2 ]'
check "schedule: the scheduled scans are in the store" eval '[ "$(scan_state 1)" = done ]'
kill -TERM "$SVD_PID"; wait "$SVD_PID"; rc=$?
check "sevmond exits 0 (no leak, under ASan)" [ "$rc" = 0 ]

# --- the memory bound: past memory_limit new work is refused with 503, the API still answers
tsec vma a | write_config
sed -i "s|^database = .*|database = $T/mem.db|; s|^workers = 3|workers = 3\nmemory_limit = 1M|" "$T/sevmond.conf"
start_sevmond
req POST /v1/scans -H "$AUTH" -H "$JSON" -d '{}'
check "memory_limit: a scan is refused with 503" code_is 503
req GET /v1/targets/vma -H "$AUTH"
check "memory_limit: reads still served" code_is 200
kill -TERM "$SVD_PID"; wait "$SVD_PID"; rc=$?
check "sevmond exits 0 (no leak, under ASan)" [ "$rc" = 0 ]

# --- SIGKILL under load: targets added and scans started through the API by four clients
# at once, sevmond killed -9 in the middle of it; after the restart every target whose add
# was acknowledged (201) exists, every scan acknowledged (202) exists and ends (done,
# interrupted, or failed: its target's queue was full),
# and every scan a client had seen done is still done with its results
tsec vma a | write_config
# keep every scan: retention would delete the load's early scans, not a crash
sed -i "s|^database = .*|database = $T/load.db|; s|^keep_scans = .*|keep_scans = 100000|" "$T/sevmond.conf"
start_sevmond
python3 - "$URL" "$TOKEN" "$T/ack" "unix://$T/a.sock" <<'PY' &
import json, sys, threading, time, urllib.request
url, token, out, uri = sys.argv[1:5]
acked = {"targets": [], "scans": [], "done": []}
lock = threading.Lock()
def call(method, path, body=None):
    req = urllib.request.Request(url + path, method=method, data=None if body is None else json.dumps(body).encode(),
                                 headers={"Authorization": "Bearer " + token, "Content-Type": "application/json"})
    with urllib.request.urlopen(req, timeout=5) as r:
        return r.status, json.load(r)
def worker(k):
    for i in range(10000):
        try:
            st, _ = call("POST", "/v1/targets", {"name": "load-%d-%d" % (k, i), "uri": uri})
            if st == 201:
                with lock: acked["targets"].append("load-%d-%d" % (k, i))
            st, d = call("POST", "/v1/scans", {"targets": ["vma"]})
            if st in (200, 201, 202):
                with lock: acked["scans"].append(d["id"])
                for _ in range(30 if k == 0 else 1):  # client 0 waits to see its scans end
                    st, s = call("GET", "/v1/scans/%s" % d["id"])
                    if s.get("state") != "running":
                        break
                    time.sleep(0.05)
                if s.get("state") == "done":
                    with lock: acked["done"].append(d["id"])
        except Exception:
            return  # the daemon is gone: what was acknowledged is recorded
        with lock:
            json.dump(acked, open(out + ".tmp", "w"))
threads = [threading.Thread(target=worker, args=(k,)) for k in range(4)]
[t.start() for t in threads]
[t.join() for t in threads]
with lock:
    json.dump(acked, open(out, "w"))
PY
LOAD=$!
for _ in $(seq 100); do [ -s "$T/ack.tmp" ] && break; sleep 0.05; done
sleep 1.5
kill -9 "$SVD_PID"; wait "$SVD_PID" 2>/dev/null
wait $LOAD
start_sevmond
req GET /v1/targets -H "$AUTH"; cp "$T/body" "$T/after.targets"
python3 - "$T/ack" "$T/after.targets" "$URL" "$TOKEN" >"$T/load.check" 2>&1 <<'PY'
import json, sys, urllib.error, urllib.request
ack = json.load(open(sys.argv[1])); have = {t["name"] for t in json.load(open(sys.argv[2]))}
url, token = sys.argv[3], sys.argv[4]
def get(p):
    r = urllib.request.Request(url + p, headers={"Authorization": "Bearer " + token})
    try:
        with urllib.request.urlopen(r, timeout=5) as f:
            return json.load(f)
    except urllib.error.HTTPError as e:
        return {"state": "HTTP %d" % e.code, "results": []}
lost_t = [t for t in ack["targets"] if t not in have]
# a scan acknowledged but not finished is a job in the store: the restarted daemon runs it
# (or marks it interrupted); wait for each to end
import time
def final(sid):
    for _ in range(200):
        st = get("/v1/scans/%s" % sid)["state"]
        if st not in ("queued", "running", "pending"):
            return st
        time.sleep(0.1)
    return st
states = {s: final(s) for s in ack["scans"]}
# failed is a final state too: under this load a target's queue (queue_per_target) fills
bad_s = [(s, st) for s, st in states.items() if st not in ("done", "interrupted", "failed")]
bad_d = [s for s in ack["done"] if get("/v1/scans/%s" % s)["state"] != "done" or not get("/v1/scans/%s/results" % s)["results"]]
print("targets acked %d lost %d; scans acked %d bad %d; done seen %d bad %d" % (
    len(ack["targets"]), len(lost_t), len(ack["scans"]), len(bad_s), len(ack["done"]), len(bad_d)))
if lost_t or bad_s or bad_d:
    print("lost:", lost_t[:5], "bad scans:", bad_s[:5], "bad done:", bad_d[:5])
    if bad_s:
        print("first bad scan:", json.dumps(get("/v1/scans/%s" % bad_s[0][0]))[:600],
              json.dumps(get("/v1/scans/%s/results" % bad_s[0][0]))[:600])
sys.exit(1 if lost_t or bad_s or bad_d or not ack["targets"] or not ack["scans"] else 0)
PY
lrc=$?
echo "# kill -9 under load: $(cat "$T/load.check" | tail -1)"
check "kill -9 under load: every acknowledged target is there" [ "$lrc" = 0 ]
check "kill -9 under load: every acknowledged scan ended (done, interrupted or failed), every one seen done has its results" grep -q "lost 0; scans acked [1-9][0-9]* bad 0; done seen [1-9][0-9]* bad 0" "$T/load.check"
kill -TERM "$SVD_PID"; wait "$SVD_PID"; rc=$?
check "sevmond exits 0 after the load (no leak, under ASan)" [ "$rc" = 0 ]

# --- the store on a full disk (a 4 MiB tmpfs; needs root to mount): writes answer 503
# store_full and write nothing, reads are served, and once there is room again the same
# requests work and the database checks intact
FULL=$T/full; mkdir -p "$FULL"
if mount -t tmpfs -o size=4m tmpfs "$FULL" 2>/dev/null; then
  tsec vma a | write_config
  sed -i "s|^database = .*|database = $FULL/sevmond.db|" "$T/sevmond.conf"
  start_sevmond
  scan '{"targets":["vma"]}'; wait_scan "$SCAN"
  dd if=/dev/zero of="$FULL/filler" bs=16k 2>/dev/null # until ENOSPC
  req POST /v1/targets -H "$AUTH" -H "$JSON" -d "{\"name\":\"full1\",\"uri\":\"unix://$T/a.sock\"}"
  check "full disk: adding a target is 503 store_full" eval 'code_is 503 && body_has store_full'
  for _ in 1 2 3; do scan '{"targets":["vma"]}' || break; wait_scan "$SCAN"; done
  req GET /v1/targets/vma -H "$AUTH"
  check "full disk: reads still served" code_is 200
  rm -f "$FULL/filler"
  req POST /v1/targets -H "$AUTH" -H "$JSON" -d "{\"name\":\"full2\",\"uri\":\"unix://$T/a.sock\"}"
  check "space back: adding a target works again" code_is 201
  scan '{"targets":["vma"]}'; wait_scan "$SCAN"
  check "space back: a scan completes" eval '[ "$SCAN_STATE" = done ]'
  kill -TERM "$SVD_PID"; wait "$SVD_PID"; rc=$?
  integ=$(python3 -c "import sqlite3,sys; print(sqlite3.connect(sys.argv[1]).execute('PRAGMA integrity_check').fetchone()[0])" "$FULL/sevmond.db")
  check "full disk: the database is intact (integrity_check: $integ), sevmond exits 0" eval '[ "$integ" = ok ] && [ "$rc" = 0 ]'
  grep -q "store_full\|disk\|full" "$T/sevmond.log" || true
  umount "$FULL"
else
  for c in "full disk: adding a target is 503 store_full" "full disk: reads still served" "space back: adding a target works again" \
           "space back: a scan completes" "full disk: the database is intact"; do ok "$c # SKIP cannot mount a tmpfs (not root)"; done
fi

[ "$failed" = 0 ] || { echo "# sevmond log:"; sed 's/^/# /' "$T/sevmond.log" | tail -40; }
exit $((failed > 0))
