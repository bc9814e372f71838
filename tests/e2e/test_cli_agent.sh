#!/usr/bin/env bash
# End to end: the real sevmon-agent serving a memory image, the real sevmon CLI reading it
# over unix, TCP and a socketpair. Every valid range must come back byte for byte; invalid
# ones must give a clear error and exit code; malformed input must cost the agent only that
# connection. TAP output.
# usage: test_cli_agent.sh BUILD_DIR
set -u
B=$(cd "${1:?build dir}" && pwd)
AGENT=$B/agent-svc/sevmon-agent
SEVMON=$B/ids-svc/cli/sevmon
MKIMG=$B/tests/make_list_image
T=$(mktemp -d /tmp/sevmon-e2e.XXXXXX)
AGENT_PID=
. "$(dirname "$0")/../../deploy/keys.sh"
keys_setup "$T/keys" "$SEVMON" || { echo "Bail out! cannot make keys"; exit 1; }
cleanup() { [ -n "$AGENT_PID" ] && kill "$AGENT_PID" 2>/dev/null; wait 2>/dev/null; rm -rf "$T"; }
trap cleanup EXIT

n=0; failed=0
ok() { n=$((n+1)); echo "ok $n - $1"; }
notok() { n=$((n+1)); failed=$((failed+1)); echo "not ok $n - $1"; }
check() { local name=$1; shift; if "$@"; then ok "$name"; else notok "$name"; fi; }

"$MKIMG" "$T/img.raw" 2000 8 || { echo "Bail out! cannot make image"; exit 1; }
IMG_SIZE=$(stat -c %s "$T/img.raw")
PORT=$(python3 -c 'import socket; s=socket.socket(); s.bind(("127.0.0.1",0)); print(s.getsockname()[1])')
"$AGENT" --memory "image:$T/img.raw" --listen "unix://$T/a.sock" --listen "tcp://127.0.0.1:$PORT" \
  "${KEYS_AGENT[@]}" 2>"$T/agent.log" &
AGENT_PID=$!
for _ in $(seq 100); do [ -S "$T/a.sock" ] && break; sleep 0.05; done

# expected bytes of [addr, addr+len) straight from the image file
expect() { python3 - "$T/img.raw" "$1" "$2" <<'PY'
import sys
f = open(sys.argv[1], 'rb'); f.seek(int(sys.argv[2], 0)); sys.stdout.buffer.write(f.read(int(sys.argv[3], 0)))
PY
}

# Socketpair: one end to the agent (--adopt-fd), the other to the CLI (fd://N).
read_socketpair() { python3 - "$AGENT" "$SEVMON" "$T/img.raw" "$@" <<'PY'
import socket, subprocess, sys
agent, sevmon, img = sys.argv[1:4]; rest = sys.argv[4:]
a, b = socket.socketpair()
sep = rest.index('--')
agent_args, rest = rest[:sep], rest[sep + 1:]
cli_args = rest[rest.index('--') + 1:]; rest = rest[:rest.index('--')]
ag = subprocess.Popen([agent, '--memory', 'image:' + img, '--adopt-fd', str(a.fileno()), '-q'] + agent_args,
                      pass_fds=[a.fileno()])
a.close()
cli = subprocess.run([sevmon, 'read', 'fd://%d' % b.fileno()] + rest + cli_args, pass_fds=[b.fileno()],
                     stdout=subprocess.PIPE)
b.close()
ag.terminate(); ag.wait()
sys.stdout.buffer.write(cli.stdout)
sys.exit(cli.returncode)
PY
}

same_bytes() { # uri-or-"socketpair" addr len
  local got
  if [ "$1" = socketpair ]; then
    read_socketpair "${KEYS_AGENT[@]}" -- --phys "$2" "$3" -- "${KEYS_CLI[@]}" >"$T/got" || return 1
  else "$SEVMON" read "$1" --phys "$2" "$3" "${KEYS_CLI[@]}" >"$T/got" || return 1; fi
  expect "$2" "$3" >"$T/want"
  cmp -s "$T/got" "$T/want"
}

echo "1..18"
ranges="0x0:1 0x1000:16 0xfff:2 0x100000:4096 0x7ffff0:16 0x0:$IMG_SIZE 0x123457:1048577 0x200001:3000000"
for uri in "unix://$T/a.sock" "tcp://127.0.0.1:$PORT" socketpair; do
  good=1
  for r in $ranges; do same_bytes "$uri" "${r%%:*}" "${r##*:}" || { good=0; echo "# mismatch at $r over $uri"; }; done
  check "read_exact_bytes_${uri%%:*}" [ $good = 1 ]
done

# Invalid ranges: past the end, straddling the end, kernel-virtual on an image.
"$SEVMON" read "unix://$T/a.sock" --phys "$IMG_SIZE" 16 "${KEYS_CLI[@]}" >/dev/null 2>"$T/err"; rc=$?
check "read_past_end_exit_1" [ $rc = 1 ]
check "read_past_end_message" grep -q "not mapped" "$T/err"
"$SEVMON" read "unix://$T/a.sock" --phys $((IMG_SIZE - 8)) 16 "${KEYS_CLI[@]}" >"$T/out" 2>/dev/null; rc=$?
check "read_straddling_end_fails_whole" [ $rc = 1 ] && [ ! -s "$T/out" ]
"$SEVMON" read "tcp://127.0.0.1:$PORT" --virt 0xffffffff81000000 16 "${KEYS_CLI[@]}" >/dev/null 2>"$T/err"; rc=$?
check "read_virt_on_image_not_supported" [ $rc = 1 ]
"$SEVMON" read "unix://$T/a.sock" --phys 0 0 "${KEYS_CLI[@]}" >/dev/null 2>&1; rc=$?
check "read_zero_length_usage" [ $rc = 2 ]
"$SEVMON" read "unix://$T/a.sock" --phys 0xffffffffffffffff 2 "${KEYS_CLI[@]}" >/dev/null 2>&1; rc=$?
check "read_wrapping_range_usage" [ $rc = 2 ]
"$SEVMON" read "unix://$T/nothing.sock" --phys 0 1 "${KEYS_CLI[@]}" >/dev/null 2>"$T/err"; rc=$?
check "connect_missing_socket_exit_3" [ $rc = 3 ] && grep -q "not found" "$T/err"
"$SEVMON" info "tcp://127.0.0.1:1" "${KEYS_CLI[@]}" >/dev/null 2>"$T/err"; rc=$?
check "connect_refused_exit_3" [ $rc = 3 ] && grep -q "refused" "$T/err"
"$SEVMON" info "bogus://x" "${KEYS_CLI[@]}" >/dev/null 2>"$T/err"; rc=$?
check "bad_uri_exit_3" [ $rc = 3 ] && grep -qi "uri" "$T/err"

# Malformed input: each costs only its own connection; the agent keeps serving.
send_raw() { python3 - "$T/a.sock" "$1" <<'PY'
import socket, sys, time
s = socket.socket(socket.AF_UNIX); s.connect(sys.argv[1])
s.sendall(bytes.fromhex(sys.argv[2])); time.sleep(0.05)
s.settimeout(2)
try:
    data = s.recv(65536)
except Exception:
    data = b''
s.close()
PY
}
hdr() { printf '%08x%04x%02x00%08x%08x%08x' "$1" "$2" "$3" 0 0 "$4"; } # id method flags total
malformed=(
  "0000"                                   # zero-length frame
  "0010$(hdr 1 2 1 0)"                     # frame shorter than it says, then EOF
  "0014$(printf '%08x%04x%02x01%08x%08x%08x' 1 2 1 0 0 0)"  # reserved byte set
  "0014$(hdr 1 2 0x80 0)"                  # unknown flag
  "0014$(hdr 1 2 0 0x7fffffff)"            # total length far over the limit
  "0014$(hdr 1 2 9 0)"                     # continuation without a start
  "$(head -c 4000 /dev/urandom | od -An -tx1 | tr -d ' \n')"  # garbage
)
for m in "${malformed[@]}"; do send_raw "$m"; done
check "agent_alive_after_malformed" kill -0 "$AGENT_PID"
check "agent_serves_after_malformed" same_bytes "unix://$T/a.sock" 0x1000 64
closed=$(grep -c "closed.*reason=" "$T/agent.log")
check "agent_logged_each_bad_connection" [ "$closed" -ge ${#malformed[@]} ]
check "agent_logged_rejected_request" grep -q "rejected: EFAULT" "$T/agent.log"

# There is no plaintext mode: an RPC envelope sent without the channel gets no answer, and
# the agent closes that connection (it is not a valid handshake message).
python3 - "$T/a.sock" >"$T/plain" <<'PY2'
import socket, struct, sys
s = socket.socket(socket.AF_UNIX); s.connect(sys.argv[1]); s.settimeout(5)
env = struct.pack('>IHBBIII', 7, 1, 1, 0, 0, 0, 0)
s.sendall(struct.pack('>H', len(env)) + env)
try:
    print("closed" if s.recv(65536) == b"" else "answered")
except socket.timeout:
    print("timeout")
PY2
check "plaintext_rpc_refused_connection_closed" [ "$(cat "$T/plain")" = closed ]
check "agent_alive_at_end" kill -0 "$AGENT_PID"
echo "# agent log: $(wc -l <"$T/agent.log") lines"
[ $failed = 0 ]
