#!/usr/bin/env bash
# sevmond_scan.sh BUILD_DIR [N] [WORKERS] [CHECKS] — N agents of the fleet harness
# (tests/fleet/fleet: unix sockets, each its own key, the simulated SNP evidence, one
# guest image); sevmond connects to all of them at start and scans them all through the
# REST API (CHECKS: a JSON array, default banner+ps+modules). Prints: time from start to
# every session ready (connect + handshake + evidence + kernel profile), handshakes per
# second, the scan's wall time, the check time per target, sevmond's peak RSS (VmHWM).
# Image: FLEET_IMAGE or the fleet's cached one.
set -eu
BUILD=$(cd "${1:?build dir}" && pwd); N=${2:-50}; W=${3:-4}
CHECKS=${4:-'["banner","ps","modules"]'}
REPO=$(cd "$(dirname "${BASH_SOURCE[0]}")/../.." && pwd)
FLEET=$REPO/tests/fleet/fleet; SEVMOND=$BUILD/ids-svc/sevmond/sevmond
T=$(mktemp -d /tmp/sevmond-bench.XXXXXX); SVD=
cleanup() { [ -z "$SVD" ] || kill "$SVD" 2>/dev/null; "$FLEET" down "$T/fleet"; wait 2>/dev/null; rm -rf "$T"; }
trap cleanup EXIT
"$FLEET" up "$T/fleet" "$N" --build "$BUILD"
F=$T/fleet; TOKEN=bench-token-0123456789abcdef
export SEVMON_CACHE=${SEVMON_CACHE:-$T/profiles} # set it to keep profiles between runs (warm)
cat > "$T/conf" <<C
[sevmond]
listen = 127.0.0.1:0
token = $TOKEN
database = $T/db
key = $F/keys/ids.key
trust = $F/sim/ark.pem
workers = $W
C
# the fleet's targets file: "NAME URI pin=FILE measurement=HEX"
while read -r name uri pin meas; do
  printf '[target %s]\nuri = %s\nmeasurement = %s\nkey = %s\n' "$name" "$uri" "${meas#measurement=}" \
    "$(awk '{print $2}' "${pin#pin=}")" >> "$T/conf"
done < <(grep -v '^#' "$F/targets")
t0=$(date +%s.%N)
"$SEVMOND" --config "$T/conf" --port-file "$T/port" 2>"$T/log" & SVD=$!
while [ ! -s "$T/port" ]; do sleep 0.01; done
URL=http://127.0.0.1:$(cat "$T/port"); A="Authorization: Bearer $TOKEN"
ready() { curl -s -H "$A" "$URL/metrics" | awk '/^sevmond_sessions_ready /{print $2}'; }
while [ "$(ready)" != "$N" ]; do sleep 0.02; done
t1=$(date +%s.%N)
ID=$(curl -s -H "$A" -H 'Content-Type: application/json' -d "{\"checks\":$CHECKS}" "$URL/v1/scans" |
  python3 -c 'import json,sys; print(json.load(sys.stdin)["id"])')
# polls stay light (curl, grep): on 2 cores a python per poll would slow what it measures
while curl -s -H "$A" "$URL/v1/scans/$ID" | grep -q '"state": *"running"'; do sleep 0.02; done
t2=$(date +%s.%N)
curl -s -H "$A" "$URL/v1/scans/$ID/results" | python3 -c '
import json,sys; d=json.load(sys.stdin); r=d["results"]; n=len({x["target"] for x in r}) or 1
ok=sum(x["status"]=="ok" for x in r); ms=sum(x["duration_ms"] for x in r); b=sum(x["bytes"] for x in r)
print("results %d ok of %d; check time %.1f ms/target; %d KiB from agents" % (ok, len(r), ms/n, b/1024))'
echo "targets $N, workers $W, checks $CHECKS: all sessions ready (connect+handshake+evidence+profile) in $(echo "$t1 - $t0" | bc) s ($(echo "scale=0; $N / ($t1 - $t0)" | bc) sessions/s); full scan in $(echo "$t2 - $t1" | bc) s"
grep -E "VmHWM|VmRSS" /proc/$SVD/status | tr -s ' \t' ' '
grep -c . "$T/log" | sed 's/^/sevmond log lines: /'
