#!/usr/bin/env bash
# test_replicas.sh BUILD_DIR [N] — sevmond replicas sharing one PostgreSQL store over a
# fleet of N (default 300) real agents (tests/fleet/fleet: each its own key and simulated
# SNP evidence, all serving one real Debian guest's memory). A real PostgreSQL server is
# started here (tests/pg/pgserver: a temporary directory, a unix socket) and stopped at
# the end. What is checked, from the database where it says so:
#   three replicas: every target owned exactly once, each replica about a third; a scan
#     asked of one replica is run by each target's owner, once per target and check, and
#     its progress and results are read through the others
#   kill -9 of one replica mid-scan: its targets are owned and scanned by the others
#     within two lease periods; nothing committed is lost; no target's results come from
#     two replicas in overlapping intervals
#   the killed replica back (same name): it takes back a share, the others shed theirs
#   SIGTERM of a replica: its leases are handed over at once (no lease expiry waited for)
#   PostgreSQL crashed and restarted under a running scan: the replicas reconnect, are
#     ready again, the scan completes, nothing committed before the crash is gone
# TAP output. Figures (hand-over times) are printed as comments.
set -uo pipefail
B=$(cd "${1:?build dir}" && pwd)
N=${2:-300}
REPO=$(cd "$(dirname "$0")/../.." && pwd)
FLEET=$REPO/tests/fleet/fleet
PGS=$REPO/tests/pg/pgserver
SEVMOND=$B/ids-svc/sevmond/sevmond
W=$(mktemp -d /tmp/sevmon-rep.XXXXXX)
chmod 0711 "$W" # the PostgreSQL server runs as nobody when we are root: it must reach $W/pg
export SEVMON_CACHE=$W/profiles
TOKEN=replica-token-0123456789abcdef
# Lease length and renewal of the replicas (short, so a test of hand-overs is quick; the
# defaults are 15 s / 5 s).
LEASE_S=5
RENEW_MS=1000
declare -A PID PORT
cleanup() {
  for r in "${!PID[@]}"; do kill -9 "${PID[$r]}" 2>/dev/null; done
  "$FLEET" down "$W/f" >/dev/null 2>&1
  "$PGS" stop "$W/pg" >/dev/null 2>&1
  wait 2>/dev/null
  rm -rf "$W"
}
trap cleanup EXIT

T=16
echo "1..$T"
K=0
ok() { K=$((K + 1)); echo "ok $K - $1"; }
not_ok() { K=$((K + 1)); echo "not ok $K - $1"; shift; for l in "$@"; do echo "# $l"; done; }
check() { local name=$1; shift; if "$@" >&2; then ok "$name"; else not_ok "$name"; fi; }
bail() { echo "# $1"; while [ $K -lt $T ]; do not_ok "skipped_after_setup_failure"; done; exit 1; }
now_ms() { date +%s%3N; }
sql() { "$PGS" psql "$W/pg" -c "$1"; }

URI=$("$PGS" start "$W/pg" 2>"$W/pg.err") || bail "no PostgreSQL: $(tail -n 3 "$W/pg.err")"
"$FLEET" image >/dev/null 2>"$W/image.log" || bail "no guest image: $(tail -n 3 "$W/image.log")"
"$FLEET" up "$W/f" "$N" --build "$B" 2>"$W/up.log" || bail "fleet up: $(tail -n 3 "$W/up.log")"
MEAS=$(awk 'NR>1 {sub("measurement=", "", $4); print $4; exit}' "$W/f/targets")

config() { # NAME
  cat >"$W/$1.conf" <<EOF
[sevmond]
listen = 127.0.0.1:0
token = $TOKEN
store = $URI
replica = $1
targets_file = $W/f/targets
key = $W/f/keys/ids.key
trust = $W/sim-ark.pem
workers = 4
queue_per_target = 8
connect_timeout = 10s
request_timeout = 10s
backoff_min = 200ms
backoff_max = 2s
lease = ${LEASE_S}s
lease_renew = ${RENEW_MS}ms
claim_batch = 32
EOF
}
cp "$W/f/sim/ark.pem" "$W/sim-ark.pem"
start() { # NAME
  config "$1"
  rm -f "$W/$1.port"
  "$SEVMOND" --config "$W/$1.conf" --port-file "$W/$1.port" 2>>"$W/$1.log" &
  PID[$1]=$!
  for _ in $(seq 300); do [ -s "$W/$1.port" ] && break; sleep 0.1; done
  [ -s "$W/$1.port" ] || return 1
  PORT[$1]=$(cat "$W/$1.port")
}
api() { # NAME METHOD PATH [BODY] -> body on stdout
  curl -s -m 20 -H "Authorization: Bearer $TOKEN" -H 'Content-Type: application/json' \
    -X "$2" ${4:+-d "$4"} "http://127.0.0.1:${PORT[$1]}$3"
}
ready() { [ "$(curl -s -o /dev/null -w '%{http_code}' "http://127.0.0.1:${PORT[$1]}/readyz")" = 200 ]; }
wait_until() { # SECONDS CMD...: poll every 0.2 s
  local end=$(($(now_ms) + $1 * 1000)); shift
  while [ "$(now_ms)" -lt $end ]; do "$@" && return 0; sleep 0.2; done
  return 1
}
owned_by() { sql "SELECT count(*) FROM leases WHERE owner = '$1' AND expires_at > sevmon_now_ms()"; }
owners() { sql "SELECT owner || '=' || count(*) FROM leases WHERE expires_at > sevmon_now_ms() AND owner != '' GROUP BY owner ORDER BY owner" | tr '\n' ' '; }
all_owned() { [ "$(sql "SELECT count(*) FROM leases WHERE owner != '' AND expires_at > sevmon_now_ms()")" = "$N" ]; }
balanced() { # REPLICAS...: all owned, each within 10 % of its share
  all_owned || return 1
  local share=$(((N + $# - 1) / $#)) r c
  for r in "$@"; do
    c=$(owned_by "$r")
    [ "$c" -ge $((share - share / 10 - 1)) ] && [ "$c" -le "$share" ] || return 1
  done
}
all_ready() { [ "$(sql "SELECT count(*) FROM targets WHERE state = 'ready'")" = "$N" ]; }
scan() { # REPLICA -> id
  # the three checks this test counts (the default sweep grows with the registry)
  api "$1" POST /v1/scans '{"checks":["banner","ps","modules"]}' | python3 -c 'import json,sys; print(json.load(sys.stdin)["id"])'
}
scan_state() { api "$1" GET "/v1/scans/$2" | python3 -c 'import json,sys; print(json.load(sys.stdin)["state"])' 2>/dev/null; }
scan_done() { [ "$(scan_state "$1" "$2")" = done ]; }
# each (target, check) of scan ID exactly once, by the target's owner at the time
once_each() {
  local got
  got=$(sql "SELECT count(*), count(DISTINCT target), count(*) FILTER (WHERE status = 'ok') FROM results WHERE scan_id = $1" | tr '|' ' ')
  [ "$got" = "$((N * 3)) $N $((N * 3))" ] || {
    echo "# scan $1: results, targets, ok = $got"
    sql "SELECT count(*) || ' ' || replica || ': ' || left(error, 160) FROM results WHERE scan_id = $1 AND status != 'ok' GROUP BY replica, error ORDER BY 1 DESC LIMIT 5" | sed 's/^/#   /'
    return 1
  }
}
# no target's results from two replicas in overlapping intervals [job start, commit]
no_overlap() {
  local n
  n=$(sql "WITH j AS (SELECT scan_id, target, replica, min(started_at) s, max(at) e FROM results WHERE replica != '' GROUP BY 1, 2, 3) SELECT count(*) FROM j a JOIN j b ON a.target = b.target AND a.replica < b.replica AND a.s < b.e AND b.s < a.e")
  [ "$n" = 0 ] || { echo "# $n overlapping pairs"; return 1; }
}

# --- 1..4: three replicas share the fleet
for r in ra rb rc; do start $r || bail "replica $r did not start: $(tail -n 5 "$W/$r.log")"; done
check "three replicas ready" wait_until 60 eval 'ready ra && ready rb && ready rc'
check "every target owned exactly once, a third each" wait_until 90 balanced ra rb rc
echo "# owners: $(owners)"
check "every session ready" wait_until 240 all_ready
m=0
for r in ra rb rc; do
  v=$(api $r GET /metrics | awk '/^sevmond_targets_owned /{print $2}')
  m=$((m + ${v%.*}))
done
check "the replicas' /metrics own $N in all" [ "$m" = "$N" ]

# --- 5..7: one scan, asked of one replica, run by the owners, read through the others
t0=$(now_ms)
S1=$(scan ra)
check "scan asked of ra is done, read through rb" wait_until 120 scan_done rb "$S1"
echo "# scan of $N targets by 3 replicas: $(($(now_ms) - t0)) ms"
check "each target and check once, by its owner" eval 'once_each $S1 && [ "$(sql "SELECT count(*) FROM results r JOIN leases l ON l.target = r.target WHERE r.scan_id = $S1 AND r.replica != l.owner")" = 0 ]'
check "results and findings readable through every replica" eval '
  for r in ra rb rc; do
    api $r GET /v1/scans/$S1/results | python3 -c "import json,sys; d=json.load(sys.stdin); assert len(d[\"results\"])==$((N*3)), len(d[\"results\"])" || exit 1
    api $r GET /v1/targets/vm0007 | grep -q "\"owner\"" || exit 1
    api $r GET "/v1/findings?limit=5" | python3 -c "import json,sys; json.load(sys.stdin)" || exit 1
  done'

# --- 8..10: kill -9 one replica mid-scan
before=$(sql "SELECT count(*) FROM results")
S2=$(scan rc)
sleep 0.5
killed_at=$(now_ms)
kill -9 "${PID[rb]}"; wait "${PID[rb]}" 2>/dev/null; unset 'PID[rb]'
B_TARGETS=$(sql "SELECT count(*) FROM leases WHERE owner = 'rb'")
took_over() { [ "$(sql "SELECT count(*) FROM leases WHERE owner = 'rb'")" = 0 ] && all_owned; }
wait_until 60 took_over; over_ms=$(($(now_ms) - killed_at))
wait_until 120 scan_done ra "$S2"; done_ms=$(($(now_ms) - killed_at))
echo "# kill -9 of rb ($B_TARGETS targets): leases taken over after $over_ms ms, scan done after $done_ms ms (lease ${LEASE_S}s)"
check "its targets owned and scanned by the others within two lease periods" eval '[ $over_ms -le $((2 * LEASE_S * 1000)) ] && scan_done ra $S2 && [ "$(sql "SELECT count(*) FROM results WHERE scan_id = $S2 AND at > $killed_at + 2 * $LEASE_S * 1000")" = 0 ]'
check "nothing committed lost, each target and check once" eval 'once_each $S2 && [ "$(sql "SELECT count(*) FROM results")" -ge $((before + N * 3)) ]'
check "no target scanned by two replicas at once (from the database)" no_overlap

# --- 11: the replica comes back and takes a share
start rb || bail "rb did not restart"
check "rb back: it takes back a share, the others shed" wait_until 60 balanced ra rb rc
echo "# owners: $(owners)"

# --- 12..13: SIGTERM hands the leases over with no gap
wait_until 120 all_ready
C_TARGETS=$(owned_by rc)
term_at=$(now_ms)
kill -TERM "${PID[rc]}"
gap_max=0
handed() { [ "$(sql "SELECT count(*) FROM leases WHERE owner = 'rc'")" = 0 ] && all_owned; }
wait_until 30 handed; hand_ms=$(($(now_ms) - term_at))
wait "${PID[rc]}"; rc_exit=$?; unset 'PID[rc]'
echo "# SIGTERM of rc ($C_TARGETS targets): all owned by ra and rb after $hand_ms ms (lease expiry would be ${LEASE_S}000 ms)"
check "SIGTERM: exit 0, leases handed over before any lease could expire" eval '[ $rc_exit = 0 ] && [ $hand_ms -lt $((LEASE_S * 1000)) ] && balanced ra rb'
S3=$(scan rb)
check "two replicas scan the whole fleet" eval 'wait_until 120 scan_done ra $S3 && once_each $S3'

# --- 14..16: PostgreSQL crashes and restarts under a running scan
before=$(sql "SELECT count(*) FROM results")
S4=$(scan ra)
sleep 1
committed=$(sql "SELECT count(*) FROM results")
"$PGS" restart "$W/pg" immediate 2>"$W/pgr.err" || bail "postgres restart: $(cat "$W/pgr.err")"
back_at=$(now_ms)
check "replicas reconnect and are ready again" wait_until 60 eval 'ready ra && ready rb'
echo "# after the PostgreSQL restart: ready again in $(($(now_ms) - back_at)) ms"
check "the scan running across the crash completes, each target and check once" eval 'wait_until 180 scan_done ra $S4 && once_each $S4'
check "nothing committed before the crash is lost; no overlap" eval '[ "$(sql "SELECT count(*) FROM results")" -ge "$committed" ] && [ "$committed" -ge "$before" ] && no_overlap'

for r in ra rb; do kill -TERM "${PID[$r]}"; done
for r in ra rb; do wait "${PID[$r]}"; unset "PID[$r]"; done
exit 0
