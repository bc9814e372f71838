#!/usr/bin/env bash
# Faults on the IDS's side of a connection, with the real binaries: an agent killed -9 in
# the middle of a bulk read and of a request, an agent stopped (SIGSTOP) mid-request,
# agents that fail the handshake (close after msg1, never answer, half a frame then
# nothing). Each must end in a clear error within its deadline, never a hang or a partial
# result presented as whole.
# usage: test_faults.sh SEVMON SEVMON_AGENT
set -u
SEVMON=$1 SEVMON_AGENT=$2
here=$(cd "$(dirname "$0")" && pwd)
tool="python3 $here/chan_tool.py"
. "$here/lib.sh"
T=$(mktemp -d /tmp/sevmon-e2e-faults-XXXXXX)
FAKE=
cleanup() { e2e_stop_agent; [ -n "$FAKE" ] && kill "$FAKE" 2>/dev/null; rm -rf "$T"; }
trap cleanup EXIT
n=0
ok() { n=$((n + 1)); echo "ok $n - $1"; }
nok() { n=$((n + 1)); echo "not ok $n - $1"; [ $# -gt 1 ] && echo "# $2"; }
check() { if eval "$2"; then ok "$1"; else nok "$1" "${3:-}"; fi; }
ms_since() { echo $(( ($(date +%s%N) - $1) / 1000000 )); }
# established N: wait (up to 20 s) until the agent's log shows N sessions established, so a
# fault lands inside the request, not before the handshake (the machine may be slow)
established() { for _ in $(seq 400); do [ "$(grep -c "channel established" "$T/big.log")" -ge "$1" ] && return 0; sleep 0.05; done; return 1; }
echo "1..7"

e2e_setup "$T" || { echo "Bail out! setup failed"; exit 1; }
truncate -s 512M "$T/big.img"
printf '%s' "$E2E_PATTERN" | dd of="$T/big.img" bs=1 seek=$((0x10000)) conv=notrunc 2>/dev/null
start_big() { # an agent on the 512 MiB image, its log in $T/big.log
  rm -f "$T/big.sock"
  : >"$T/big.log"
  "$SEVMON_AGENT" --memory "image:$T/big.img" --listen "unix://$T/big.sock" \
    --key "$T/agent.key" --allow "$T/ids.key.pub" --attest "sim:$T/sim,measurement=$E2E_MEAS" \
    2>"$T/big.log" &
  AGENT_PID=$!
  for _ in $(seq 100); do [ -S "$T/big.sock" ] && return 0; sleep 0.05; done
  return 1
}

# 1: killed -9 in the middle of a bulk read: an error naming the connection, nothing written
start_big || { echo "Bail out! agent"; exit 1; }
t0=$(date +%s%N)
"$SEVMON" read "unix://$T/big.sock" --phys 0 $((512 << 20)) "${E2E_CLI[@]}" >"$T/bulk.out" 2>"$T/bulk.err" & rd=$!
established 1; sleep 0.2; kill -9 "$AGENT_PID"; wait "$AGENT_PID" 2>/dev/null # 512 MiB take seconds
wait $rd; rc=$?; dt=$(ms_since "$t0")
check fault_agent_killed_mid_bulk_read '[ $rc != 0 ] && [ ! -s "$T/bulk.out" ] && grep -qiE "ReadPhys: connection (closed|reset)" "$T/bulk.err" && [ $dt -lt 20000 ]' \
  "rc=$rc ${dt}ms out=$(stat -c %s "$T/bulk.out") $(cat "$T/bulk.err")"
echo "# killed mid bulk read: rc $rc after ${dt} ms: $(head -1 "$T/bulk.err")"

# 2: stopped (SIGSTOP) mid-request: the request deadline ends it
start_big || { echo "Bail out! agent"; exit 1; }
"$SEVMON" read "unix://$T/big.sock" --phys 0x10000 16 "${E2E_CLI[@]}" >/dev/null 2>&1 # warm: it answers
( established 2; sleep 0.2; kill -STOP "$AGENT_PID" ) &
t0=$(date +%s%N)
"$SEVMON" read "unix://$T/big.sock" --phys 0 $((512 << 20)) "${E2E_CLI[@]}" --timeout 1500 >"$T/stop.out" 2>"$T/stop.err"; rc=$?
dt=$(ms_since "$t0")
kill -CONT "$AGENT_PID"; e2e_stop_agent
check fault_agent_stopped_mid_request_deadline '[ $rc != 0 ] && [ ! -s "$T/stop.out" ] && grep -qiE "ReadPhys: deadline" "$T/stop.err" && [ $dt -lt 20000 ]' \
  "rc=$rc ${dt}ms $(cat "$T/stop.err")"
echo "# stopped mid request (--timeout 1500): rc $rc after ${dt} ms: $(head -1 "$T/stop.err")"

# 3: stopped before the handshake: the connect deadline ends it
start_big || { echo "Bail out! agent"; exit 1; }
kill -STOP "$AGENT_PID"
t0=$(date +%s%N)
"$SEVMON" info "unix://$T/big.sock" "${E2E_CLI[@]}" --connect-timeout 1000 >/dev/null 2>"$T/hs.err"; rc=$?
dt=$(ms_since "$t0")
kill -CONT "$AGENT_PID"; e2e_stop_agent
check fault_agent_stopped_before_handshake_deadline '[ $rc != 0 ] && [ $dt -lt 4000 ] && [ $dt -ge 900 ]' "rc=$rc ${dt}ms $(cat "$T/hs.err")"
echo "# stopped before the handshake (--connect-timeout 1000): rc $rc after ${dt} ms: $(head -1 "$T/hs.err")"

# 4-6: agents that fail the handshake
for how in close-after-msg1 silent half-frame; do
  rm -f "$T/fake.sock"
  $tool fakeagent "$T/fake.sock" "$how" & FAKE=$!
  for _ in $(seq 100); do [ -S "$T/fake.sock" ] && break; sleep 0.05; done
  t0=$(date +%s%N)
  "$SEVMON" info "unix://$T/fake.sock" "${E2E_CLI[@]}" --connect-timeout 1000 >/dev/null 2>"$T/fake.err"; rc=$?
  dt=$(ms_since "$t0")
  kill "$FAKE" 2>/dev/null; wait "$FAKE" 2>/dev/null; FAKE=
  check "fault_fake_agent_${how//-/_}_clear_error" '[ $rc != 0 ] && [ $dt -lt 4000 ] && grep -qiE "handshake: (connection closed|deadline)" "$T/fake.err"' \
    "rc=$rc ${dt}ms $(cat "$T/fake.err")"
  echo "# fake agent $how: rc $rc after ${dt} ms: $(head -1 "$T/fake.err")"
done

# 7: a ps whose agent is killed -9 while it answers, on a real guest's dump if there is one
dump=$here/../../.cache/introspect-dump/guest.elf
if [ -s "$dump" ]; then
  rm -f "$T/ps.sock"
  "$SEVMON_AGENT" -q --memory "image:$dump" --listen "unix://$T/ps.sock" \
    --key "$T/agent.key" --allow "$T/ids.key.pub" --attest "sim:$T/sim,measurement=$E2E_MEAS" & AGENT_PID=$!
  for _ in $(seq 100); do [ -S "$T/ps.sock" ] && break; sleep 0.05; done
  ( sleep 0.05; kill -9 "$AGENT_PID" ) &
  t0=$(date +%s%N)
  SEVMON_CACHE=$T/cache "$SEVMON" ps "unix://$T/ps.sock" "${E2E_CLI[@]}" >"$T/ps.out" 2>"$T/ps.err"; rc=$?
  dt=$(ms_since "$t0")
  wait
  check fault_agent_killed_mid_ps '[ $rc != 0 ] && [ $dt -lt 5000 ] && [ -s "$T/ps.err" ]' "rc=$rc ${dt}ms $(cat "$T/ps.err")"
  echo "# killed during ps (cold profile): rc $rc after ${dt} ms: $(head -1 "$T/ps.err")"
else
  ok "fault_agent_killed_mid_ps # SKIP no guest dump (.cache/introspect-dump)"
fi
