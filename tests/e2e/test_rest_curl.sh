#!/usr/bin/env bash
# sevmond's REST layer through a real HTTP client: curl against rest_testd (the server with
# the in-test backend) on 127.0.0.1:<ephemeral> and a unix socket. Every route with a good
# token; missing/wrong tokens; malformed JSON; unknown routes; wrong methods; oversized and
# non-JSON bodies; overload; asynchronous live views, also with a client that hangs up
# first; /metrics checked against the exposition format; every path of docs/openapi.json
# requested; then a clean shutdown (rest_testd exits non-zero on leaked handles or
# unfinished work, and under ASan on leaks). TAP output.
# usage: test_rest_curl.sh REST_TESTD PROM_CHECK OPENAPI_JSON
# Checks passed to eval are single-quoted on purpose: they expand when they run.
# shellcheck disable=SC2016
set -u
TESTD=${1:?rest_testd}
PROM_CHECK=${2:?prom_check}
OPENAPI=${3:?openapi.json}
T=$(mktemp -d /tmp/sevmon-rest.XXXXXX)
TOKEN=test-token-0123456789abcdef
PIDS=()
cleanup() { for p in "${PIDS[@]}"; do kill "$p" 2>/dev/null; done; wait 2>/dev/null; rm -rf "$T"; }
trap cleanup EXIT

n=0; failed=0
ok() { n=$((n+1)); echo "ok $n - $1"; }
notok() { n=$((n+1)); failed=$((failed+1)); echo "not ok $n - $1"; }
check() { local name=$1; shift; if "$@"; then ok "$name"; else notok "$name"; fi; }

start_testd() { # name extra-args...
  local name=$1; shift
  "$TESTD" --token "$TOKEN" --port-file "$T/$name.port" "$@" 2>"$T/$name.log" &
  LAST_PID=$!
  PIDS+=("$LAST_PID")
  for _ in $(seq 200); do [ -s "$T/$name.port" ] && break; sleep 0.025; done
  [ -s "$T/$name.port" ] || { echo "Bail out! rest_testd did not start"; cat "$T/$name.log"; exit 1; }
}

start_testd main --unix "$T/api.sock"
MAIN_PID=$LAST_PID
URL=http://127.0.0.1:$(cat "$T/main.port")
AUTH="Authorization: Bearer $TOKEN"
JSON="Content-Type: application/json"

# req METHOD PATH [curl args...]: status in $CODE, body in $T/body, headers in $T/hdr
req() {
  local m=$1 p=$2; shift 2
  CODE=$(curl -s -o "$T/body" -D "$T/hdr" -w '%{http_code}' -X "$m" "$@" "$URL$p")
}
body_has() { grep -q -- "$1" "$T/body"; }
# wait_metric BASE_URL LINE: poll /metrics (up to 5 s) until LINE appears; the body stays in $T/body
wait_metric() {
  for _ in $(seq 100); do
    curl -s -o "$T/body" -H "$AUTH" "$1/metrics"
    grep -qF -- "$2" "$T/body" && return 0
    sleep 0.05
  done
  echo "# metric line not seen: $2"; return 1
}
hdr_has() { grep -qi -- "$1" "$T/hdr"; }
code_is() { [ "$CODE" = "$1" ] || { echo "# got $CODE: $(head -c 300 "$T/body")"; return 1; }; }
err_is() { code_is "$1" && body_has "\"error\":{\"code\":\"$2\",\"message\":"; }

# --- health and auth
req GET /healthz
check "healthz without a token: 200" code_is 200
check "healthz body" body_has '"status":"ok"'
req GET /v1/targets
check "no token: 401 unauthorized" err_is 401 unauthorized
check "401 carries WWW-Authenticate: Bearer" hdr_has '^www-authenticate: Bearer'
req GET /v1/targets -H "Authorization: Bearer wrong-token-0123456789abc"
check "wrong token: 401" err_is 401 unauthorized
req GET /v1/targets -H "Authorization: Basic $TOKEN"
check "wrong scheme: 401" err_is 401 unauthorized
req GET /no/such/route
check "unknown route without a token: 401 (routes are not disclosed)" code_is 401
req GET /metrics
check "metrics needs a token" code_is 401

# --- targets
req GET /v1/targets -H "$AUTH"
check "list targets: 200" code_is 200
check "list targets has vm1 and vm2" eval 'body_has "\"name\":\"vm1\"" && body_has "\"name\":\"vm2\""'
req GET /v1/targets/vm1 -H "$AUTH"
check "get target: 200 with state and attestation" eval 'code_is 200 && body_has "\"attestation\":{\"status\":\"verified\"}"'
req GET /v1/targets/nope -H "$AUTH"
check "get unknown target: 404 not_found" err_is 404 not_found
req GET /v1/targets/bad%2fname -H "$AUTH"
check "target name outside the charset: 400" err_is 400 bad_request
req POST /v1/targets -H "$AUTH" -H "$JSON" -d '{"name":"vm9","uri":"vsock://9:5000","key":"'"$(printf 'ab%.0s' $(seq 32))"'"}'
check "add target: 201" eval 'code_is 201 && body_has "\"name\":\"vm9\""'
req POST /v1/targets -H "$AUTH" -H "$JSON" -d '{"name":"vm9","uri":"vsock://9:5000"}'
check "add existing target: 409 conflict" err_is 409 conflict
req GET /v1/targets/vm9 -H "$AUTH"
check "added target is served" code_is 200
req DELETE /v1/targets/vm9 -H "$AUTH"
check "remove target: 204" code_is 204
req DELETE /v1/targets/vm9 -H "$AUTH"
check "remove it again: 404" err_is 404 not_found

# --- bodies
req POST /v1/targets -H "$AUTH" -H "$JSON" -d '{"name":'
check "malformed JSON: 400 bad_json" err_is 400 bad_json
req POST /v1/targets -H "$AUTH" -H "$JSON" -d '[1,2]'
check "JSON that is not an object: 400" err_is 400 bad_json
req POST /v1/targets -H "$AUTH" -H "$JSON" -d '{"name":"a","uri":"u","name":"b"}'
check "duplicate keys: 400" err_is 400 bad_json
req POST /v1/targets -H "$AUTH" -H "$JSON" -d '{"name":"vm8","uri":"vsock://8:1","colour":"red"}'
check "unknown field: 400" err_is 400 bad_request
req POST /v1/targets -H "$AUTH" -H "$JSON" -d '{"name":"vm8"}'
check "missing field: 400" err_is 400 bad_request
req POST /v1/targets -H "$AUTH" -H "$JSON" -d '{"name":"vm8","uri":"vsock://8:1","key":"xyz"}'
check "bad key: 400" err_is 400 bad_request
req POST /v1/targets -H "$AUTH" -H "Content-Type: text/plain" -d '{"name":"vm8","uri":"u"}'
check "not JSON: 415" err_is 415 unsupported_media_type
req POST /v1/targets -H "$AUTH" -d '{"name":"vm8","uri":"u"}'
check "form content type: 415" err_is 415 unsupported_media_type
head -c $((1024 * 1024 + 1)) /dev/zero | tr '\0' ' ' >"$T/big.json"
req POST /v1/targets -H "$AUTH" -H "$JSON" --data-binary @"$T/big.json"
check "body of 1 MiB + 1: 413" code_is 413
req POST /v1/targets -H "$AUTH" -H "$JSON" -H "Transfer-Encoding: chunked" --data-binary @"$T/big.json"
check "chunked body of 1 MiB + 1: 413" code_is 413
req GET /healthz
check "server still serving after 413s" code_is 200

# --- routes and methods
req GET /v1/nothing -H "$AUTH"
check "unknown route: 404" err_is 404 not_found
req GET /v1/targets/vm1/nothing -H "$AUTH"
check "unknown sub-route: 404" err_is 404 not_found
req PATCH /v1/targets/vm1 -H "$AUTH"
check "wrong method: 405" err_is 405 method_not_allowed
check "405 carries Allow: GET, PUT, DELETE" hdr_has '^allow: GET, PUT, DELETE'
req DELETE /v1/scans -H "$AUTH"
check "DELETE on scans: 405 with Allow: POST" eval 'code_is 405 && hdr_has "^allow: POST"'

# --- live views (asynchronous: the test backend answers from a timer)
for v in banner processes modules; do
  req GET "/v1/targets/vm1/$v" -H "$AUTH"
  check "live $v: 200" eval "code_is 200 && body_has '\"target\":\"vm1\"'"
done
req GET /v1/targets/vm2/banner -H "$AUTH"
check "banner text" body_has 'Linux version 6.1.0'
req GET /v1/targets/vm1/processes -H "$AUTH"
check "process list has systemd with pid 1" body_has '{"pid":1,"ppid":0,"uid":0,"comm":"systemd"}'
req GET /v1/targets/nope/banner -H "$AUTH"
check "live view of an unknown target: 404" err_is 404 not_found
req GET /v1/targets/overload/modules -H "$AUTH"
check "backend overloaded: 503 with Retry-After" eval 'err_is 503 overloaded && hdr_has "^retry-after: 1"'
# Twenty at once on the one loop: all answered.
PAR=()
for i in $(seq 20); do
  curl -s -o /dev/null -w '%{http_code}\n' -H "$AUTH" "$URL/v1/targets/vm$((i % 2 + 1))/processes" >"$T/par.$i" &
  PAR+=($!)
done
wait "${PAR[@]}"
check "20 concurrent live views: all 200" [ "$(cat "$T"/par.* | sort -u)" = 200 ]

# A client that hangs up before its answer: curl gives up after 0.3 s, the backend needs 1.5 s.
curl -s -m 0.3 -o /dev/null -H "$AUTH" "$URL/v1/targets/slow/processes"
check "client gave up on the slow live view (curl timeout)" [ $? = 28 ]
check "hang-up counted as 499" wait_metric "$URL" 'sevmond_http_requests_total{route="/v1/targets/{name}/processes",method="GET",code="499"} 1'
check "hang-up cancelled the backend work" wait_metric "$URL" 'sevmond_live_views_total{outcome="cancelled"} 1'
req GET /healthz
check "server alive after the hang-up" code_is 200

# Raw clients: one that resets (RST) while its live view is pending, one that sends
# garbage instead of HTTP, one that sends half a request and vanishes.
raw_clients() { python3 - "$(cat "$T/main.port")" "$TOKEN" <<'PY'
import socket, struct, sys, time
port, tok = int(sys.argv[1]), sys.argv[2]
def conn():
    return socket.create_connection(("127.0.0.1", port), timeout=5)
s = conn()
s.sendall(("GET /v1/targets/slow/banner HTTP/1.1\r\nHost: x\r\nAuthorization: Bearer %s\r\n\r\n" % tok).encode())
time.sleep(0.1)
s.setsockopt(socket.SOL_SOCKET, socket.SO_LINGER, struct.pack("ii", 1, 0))
s.close()
g = conn()
g.sendall(b"\x16\x03\x01\x00\xff garbage \r\n\r\n")
reply = g.recv(100)
g.close()
h = conn()
h.sendall(b"POST /v1/targets HTTP/1.1\r\nHost: x\r\nContent-Length: 100\r\n\r\n{\"na")
h.close()
sys.exit(0 if reply.startswith(b"HTTP/1.1 400") or reply == b"" else 1)
PY
}
check "reset, garbage and truncated clients are handled (garbage gets 400 or a close)" raw_clients
check "the reset client's view counted as 499" wait_metric "$URL" 'route="/v1/targets/{name}/banner",method="GET",code="499"} 1'
req GET /healthz
check "server alive after the raw clients" code_is 200

# --- scans and findings
req POST /v1/scans -H "$AUTH" -H "$JSON" -d '{}'
check "scan all targets: 202 with an id" eval 'code_is 202 && body_has "\"id\":\"s-"'
SCAN=$(sed -n 's/.*"id":"\([^"]*\)".*/\1/p' "$T/body")
req POST /v1/scans -H "$AUTH" -H "$JSON" -d '{"targets":["vm1"],"checks":["banner","ps"]}'
check "scan some targets: 202" code_is 202
req GET "/v1/scans/$SCAN" -H "$AUTH"
check "scan status: 200" eval 'code_is 200 && body_has "\"state\":\"done\""'
req GET "/v1/scans/$SCAN/results" -H "$AUTH"
check "scan results: 200 with per-target entries" eval 'code_is 200 && body_has "\"target\":\"vm2\""'
req GET /v1/scans/s-999 -H "$AUTH"
check "unknown scan: 404" err_is 404 not_found
req POST /v1/scans -H "$AUTH" -H "$JSON" -d '{"targets":["nope"]}'
check "scan of an unknown target: 404" err_is 404 not_found
req POST /v1/scans -H "$AUTH" -H "$JSON" -d '{"targets":[]}'
check "scan with an empty target list: 400" err_is 400 bad_request
req POST /v1/scans -H "$AUTH" -H "$JSON" -d '{"targets":"vm1"}'
check "scan targets not an array: 400" err_is 400 bad_request
count() { grep -o '"kind":' "$T/body" | wc -l; }
req GET /v1/findings -H "$AUTH"
check "findings: 200, all four" eval 'code_is 200 && [ "$(count)" = 4 ]'
req GET '/v1/findings?target=vm1' -H "$AUTH"
check "findings of vm1: two" eval 'code_is 200 && [ "$(count)" = 2 ] && ! body_has vm2'
req GET '/v1/findings?severity=high' -H "$AUTH"
check "findings of severity >= high: two" eval 'code_is 200 && [ "$(count)" = 2 ]'
req GET '/v1/findings?since=1700000250&limit=1' -H "$AUTH"
check "findings since, limited to one" eval 'code_is 200 && [ "$(count)" = 1 ] && body_has syscall_hooked'
req GET '/v1/findings?technique=T1014' -H "$AUTH"
check "findings of technique T1014: one" eval 'code_is 200 && [ "$(count)" = 1 ] && body_has syscall_hooked'
req GET '/v1/findings?check=ps&target=vm2' -H "$AUTH"
check "findings of check ps on vm2: one" eval 'code_is 200 && [ "$(count)" = 1 ] && body_has process_vanished'
for q in 'limit=0' 'limit=1001' 'limit=x' 'since=-1' 'severity=bogus' 'target=a%2fb' 'target=a&target=b' 'since=%zz' \
    'technique=T14' 'technique=rootkit' 'check=Bad-Name' 'check=' ; do
  req GET "/v1/findings?$q" -H "$AUTH"
  check "findings?$q: 400" err_is 400 bad_request
done

# --- metrics
req GET /metrics -H "$AUTH"
check "metrics: 200 text/plain 0.0.4" eval 'code_is 200 && hdr_has "^content-type: text/plain; version=0.0.4"'
check "metrics parse as the exposition format (every sample typed)" "$PROM_CHECK" <"$T/body"
check "metrics carry request counts and latency histogram" eval 'body_has "^sevmond_http_requests_total{route=\"/healthz\",method=\"GET\",code=\"200\"}" && body_has "^sevmond_http_request_duration_seconds_bucket{route=\"/v1/targets\",le=\"+Inf\"}"'
check "metrics carry the backend's gauges" body_has '^sevmond_targets 4$'

# --- the OpenAPI document: every documented path is served
"$TESTD" --doc-paths "$OPENAPI" >"$T/paths" || echo "Bail out! cannot read $OPENAPI"
check "document lists paths" [ "$(wc -l <"$T/paths")" -ge 10 ]
while read -r p; do
  req GET "$p" -H "$AUTH"
  check "documented $p is served (GET: $CODE)" [ "$CODE" != 404 ]
done <"$T/paths"

# --- unix socket listener
CODE=$(curl -s -o "$T/body" -w '%{http_code}' --unix-socket "$T/api.sock" -H "$AUTH" http://x/v1/targets)
check "unix socket: list targets 200" eval 'code_is 200 && body_has vm1'

# --- bounded in-flight: a server allowing one asynchronous request at a time
start_testd small --max-inflight 1 --max-body 64 --max-conns 3
SMALL_PID=$LAST_PID
SURL=http://127.0.0.1:$(cat "$T/small.port")
curl -s -o "$T/slow.body" -H "$AUTH" "$SURL/v1/targets/slow/banner" &
SLOW=$!
wait_metric "$SURL" 'sevmond_http_inflight 1' >/dev/null
CODE=$(curl -s -o "$T/body" -D "$T/hdr" -w '%{http_code}' -H "$AUTH" "$SURL/v1/targets/vm1/banner")
check "second live view past max-inflight: 503" err_is 503 overloaded
wait "$SLOW"
check "the first one still completes" grep -q '"banner"' "$T/slow.body"
B65='{"name":"vm10","uri":"'$(printf 'a%.0s' $(seq 41))'"}'
[ ${#B65} = 65 ] || echo "Bail out! test body is ${#B65} bytes"
CODE=$(curl -s -o "$T/body" -w '%{http_code}' -H "$AUTH" -H "$JSON" -d "$B65" "$SURL/v1/targets")
check "body of 65 bytes past a 64-byte limit: 413" code_is 413

# --- bounded connections: with 3 held open (idle), a fourth is closed at accept
exec 4<>"/dev/tcp/127.0.0.1/$(cat "$T/small.port")" 5<>"/dev/tcp/127.0.0.1/$(cat "$T/small.port")" \
  6<>"/dev/tcp/127.0.0.1/$(cat "$T/small.port")"
sleep 0.2
curl -s -o /dev/null -m 5 "$SURL/healthz"; rc=$?
check "connection past max-conns is closed (curl rc $rc: empty reply or reset)" eval '[ $rc = 52 ] || [ $rc = 56 ]'
exec 4>&- 5>&- 6>&-
for _ in $(seq 100); do
  CODE=$(curl -s -o "$T/body" -w '%{http_code}' "$SURL/healthz"); [ "$CODE" = 200 ] && break; sleep 0.05
done
check "served again once connections closed" code_is 200
CODE=$(curl -s -o "$T/body" -w '%{http_code}' -H "$AUTH" "$SURL/metrics")
check "refused connection counted" grep -q '^sevmond_http_connections_refused_total{reason="max_conns"} 1$' "$T/body"

# --- close drains: a live view pending at SIGTERM still gets its answer
curl -s -o "$T/drain.body" -H "$AUTH" "$SURL/v1/targets/slow/modules" &
SLOW=$!
wait_metric "$SURL" 'sevmond_http_inflight 1' >/dev/null
kill -TERM "$SMALL_PID"
for _ in $(seq 100); do
  curl -s -o /dev/null -m 2 "$SURL/healthz"; rc=$?; [ $rc = 7 ] && break; sleep 0.05
done
check "no new connections once closing (curl rc $rc: refused)" [ $rc = 7 ]
wait "$SLOW"
check "pending live view answered during the drain" grep -q '"modules"' "$T/drain.body"

# --- 5,000 connection attempts at once from one host (127.0.0.2), never sending a byte and
# held open: that host gets its 32 (max_conns_per_source) and no more; a client from another
# address (127.0.0.1) is served throughout, the server stays small, every refusal counted
start_testd flood
FLOOD_PID=$LAST_PID
FURL=http://127.0.0.1:$(cat "$T/flood.port")
python3 - "$(cat "$T/flood.port")" 5000 >"$T/flood.out" 2>&1 <<'PY' &
import resource, select, socket, sys, time
port, n = int(sys.argv[1]), int(sys.argv[2])
soft, hard = resource.getrlimit(resource.RLIMIT_NOFILE)
resource.setrlimit(resource.RLIMIT_NOFILE, (min(hard, n + 64), hard))
socks = []
for _ in range(n):
    s = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
    s.bind(("127.0.0.2", 0))
    s.setblocking(False)
    s.connect_ex(("127.0.0.1", port))
    socks.append(s)
p = select.poll()
pending = {s.fileno() for s in socks}
for fd in pending:
    p.register(fd, select.POLLOUT)
end = time.monotonic() + 30
while pending and time.monotonic() < end:
    for fd, _ in p.poll(500):
        p.unregister(fd)
        pending.discard(fd)
print("connected", n - len(pending), flush=True)
time.sleep(60)
PY
FLOODER=$!
PIDS+=("$FLOODER")
for _ in $(seq 300); do [ -s "$T/flood.out" ] && break; sleep 0.1; done
good=0
for _ in $(seq 10); do
  CODE=$(curl -s -o "$T/body" -m 5 -w '%{http_code}' -H "$AUTH" "$FURL/v1/targets"); [ "$CODE" = 200 ] && good=$((good + 1))
done
CODE=$(curl -s -o "$T/body" -w '%{http_code}' -H "$AUTH" "$FURL/metrics")
refused=$(sed -n 's/^sevmond_http_connections_refused_total{reason="per_source"} //p' "$T/body")
conns=$(sed -n 's/^sevmond_http_connections //p' "$T/body")
rss=$(awk '/^VmRSS/ {print $2}' "/proc/$FLOOD_PID/status")
check "5,000 idle connections from one host: another host served 10 of 10 ($(cat "$T/flood.out"); $good)" [ "$good" = 10 ]
check "that host holds at most 32 connections, the rest refused and counted (open $conns, refused ${refused:-0})" \
  eval '[ "${conns%.*}" -le 33 ] && [ "${refused%.*}" -ge 1000 ]'
check "the server stays small under the flood (RSS ${rss} kB)" eval '[ -n "$rss" ] && [ "$rss" -lt 131072 ]'
echo "# REST: 5,000 connection attempts from one host held: $good of 10 requests from another served; open $conns, refused ${refused:-0}, RSS ${rss} kB"
kill "$FLOODER" 2>/dev/null; wait "$FLOODER" 2>/dev/null

# --- shutdown: clean, nothing left on the loop, nothing leaked (ASan builds check leaks)
for pair in "main:$MAIN_PID" "small:$SMALL_PID" "flood:$FLOOD_PID"; do
  name=${pair%%:*} pid=${pair#*:}
  kill -TERM "$pid" 2>/dev/null
  wait "$pid"; rc=$?
  check "$name server: SIGTERM gives a clean exit (rc $rc)" [ "$rc" = 0 ]
  [ "$rc" = 0 ] || sed 's/^/# /' "$T/$name.log" | head -40
done
PIDS=()

echo "1..$n"
[ "$failed" = 0 ]
