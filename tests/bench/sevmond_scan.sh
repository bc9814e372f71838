#!/usr/bin/env bash
# sevmond_scan.sh BUILD_DIR [N] [WORKERS] — N agents (unix sockets, each its own key, the
# simulated SNP evidence) serving one guest dump; sevmond scans them all (banner, ps,
# modules) through the REST API. Prints: set-up time to all ready, scan wall time, the
# check time per target, sevmond's peak RSS (VmHWM). Dump: $SEVMOND_DUMP_A or
# .cache/introspect-dump/guest.elf.
set -eu
BUILD=$(cd "${1:?build dir}" && pwd); N=${2:-50}; W=${3:-4}
REPO=$(cd "$(dirname "${BASH_SOURCE[0]}")/../.." && pwd)
DUMP=${SEVMOND_DUMP_A:-$REPO/.cache/introspect-dump/guest.elf}
SEVMON=$BUILD/ids-svc/sevmon; AGENT=$BUILD/agent-svc/sevmon-agent; SEVMOND=$BUILD/ids-svc/sevmond/sevmond
T=$(mktemp -d /tmp/sevmond-bench.XXXXXX); PIDS=()
cleanup() { for p in "${PIDS[@]}"; do kill "$p" 2>/dev/null; done; wait 2>/dev/null; rm -rf "$T"; }
trap cleanup EXIT
MEAS=$(printf '5e%.0s' $(seq 48)); TOKEN=bench-token-0123456789abcdef
"$SEVMON" keygen --out "$T/ids.key" >/dev/null; "$SEVMON" attest sim-init "$T/sim" >/dev/null
export SEVMON_CACHE=$T/profiles
cat > "$T/conf" <<C
[sevmond]
listen = 127.0.0.1:0
token = $TOKEN
database = $T/db
key = $T/ids.key
trust = $T/sim/ark.pem
workers = $W
C
for i in $(seq "$N"); do
  "$SEVMON" keygen --out "$T/a$i.key" >/dev/null
  "$AGENT" --memory "image:$DUMP" --listen "unix://$T/a$i.sock" -q --key "$T/a$i.key" \
    --allow "$T/ids.key.pub" --attest "sim:$T/sim,measurement=$MEAS" 2>/dev/null &
  PIDS+=($!)
  printf '[target vm%d]\nuri = unix://%s/a%d.sock\nmeasurement = %s\nkey = %s\n' "$i" "$T" "$i" "$MEAS" \
    "$(awk '{print $2}' "$T/a$i.key.pub")" >> "$T/conf"
done
for i in $(seq "$N"); do while [ ! -S "$T/a$i.sock" ]; do sleep 0.02; done; done
t0=$(date +%s.%N)
"$SEVMOND" --config "$T/conf" --port-file "$T/port" 2>"$T/log" & SVD=$!; PIDS+=("$SVD")
while [ ! -s "$T/port" ]; do sleep 0.02; done
URL=http://127.0.0.1:$(cat "$T/port"); A="Authorization: Bearer $TOKEN"
ready() { curl -s -H "$A" "$URL/metrics" | awk '/^sevmond_sessions_ready /{print $2}'; }
while [ "$(ready)" != "$N" ]; do sleep 0.05; done
t1=$(date +%s.%N)
ID=$(curl -s -H "$A" -H 'Content-Type: application/json' -d '{}' "$URL/v1/scans" | python3 -c 'import json,sys; print(json.load(sys.stdin)["id"])')
while [ "$(curl -s -H "$A" "$URL/v1/scans/$ID" | python3 -c 'import json,sys; print(json.load(sys.stdin)["state"])')" = running ]; do sleep 0.02; done
t2=$(date +%s.%N)
curl -s -H "$A" "$URL/v1/scans/$ID/results" | python3 -c '
import json,sys; d=json.load(sys.stdin); r=d["results"]
ok=sum(x["status"]=="ok" for x in r); ms=sum(x["duration_ms"] for x in r); b=sum(x["bytes"] for x in r)
print("results %d ok of %d; check time %.1f ms/target; %d KiB from agents" % (ok, len(r), ms/max(1,len(r)/3), b/1024))'
echo "targets $N, workers $W: all sessions ready (connect+handshake+evidence+profile) in $(echo "$t1 - $t0" | bc) s; full scan in $(echo "$t2 - $t1" | bc) s"
grep -E "VmHWM|VmRSS" /proc/$SVD/status | tr -s ' \t' ' '
