#!/usr/bin/env bash
# Real AF_VSOCK: inside a Debian guest (the vsock_loopback module), the sevmon CLI talks to
# the agent over vsock://1:PORT (CID 1 = local), and reads exactly the guest's own bytes.
# The host has no vhost-vsock, so the whole exchange happens in the guest.
# usage: test_vsock_guest.sh BUILD_DIR     TAP output
set -uo pipefail
B=$(cd "${1:?build dir}" && pwd)
REPO=$(cd "$(dirname "$0")/../.." && pwd)
TESTVM=$REPO/deploy/testvm
W=$(mktemp -d "${TMPDIR:-/tmp}/sevmon-vsock.XXXXXX")
G=$W/g
trap '[ -n "${KEEP:-}" ] || { "$TESTVM" stop "$G" >/dev/null 2>&1; rm -rf "$W"; }' EXIT
S=$B/ids-svc/cli/sevmon
. "$REPO/deploy/keys.sh"
keys_setup "$W/keys" "$S" || { echo "Bail out! cannot make keys"; exit 1; }
# The CLI's files inside the guest (the agent's come with KEYS_GUEST_EXTRA).
G_CLI="--key /etc/sevmon/ids.key --trust /etc/sevmon/sim/ark.pem --measurement $KEYS_MEASUREMENT --pin /etc/sevmon/agent.key.pub"
echo "1..4"
K=0; FAILS=0
check() { local name=$1; shift; K=$((K + 1)); if "$@"; then echo "ok $K - $name"; else FAILS=$((FAILS + 1)); echo "not ok $K - $name"; fi; }

# The dynamic sevmon CLI with the shared libraries it needs, into the guest.
extras=(--extra "$B/ids-svc/cli/sevmon=/usr/local/bin/sevmon")
# (each library's real file under the name the loader looks for)
while read -r lib; do extras+=(--extra "$(readlink -f "$lib")=$lib"); done < <(ldd "$B/ids-svc/cli/sevmon" | grep -o '/[^ ]*' | sort -u)
"$TESTVM" build --kernel-package linux-image-amd64 --out "$G" --agent "$B/agent-svc/sevmon-agent" \
  --agent-args "--listen tcp://0.0.0.0:7000 --listen vsock://any:7001 --memory kcore $KEYS_GUEST_AGENT" \
  "${KEYS_GUEST_EXTRA[@]}" --extra "$W/keys/ids.key=/etc/sevmon/ids.key" \
  --extra "$W/keys/agent.key.pub=/etc/sevmon/agent.key.pub" "${extras[@]}" \
  >"$W/build.log" 2>&1 || { echo "# $(tail -n 3 "$W/build.log")"; }
"$TESTVM" run "$G" --accel tcg --agent-wait >/dev/null 2>"$W/run.log" || echo "# $(tail -n 3 "$W/run.log")"

gx() { "$TESTVM" exec "$G" -- "$@"; }
gx /usr/local/bin/sevmon info vsock://1:7001 $G_CLI >"$W/info" 2>&1
check "vsock_loopback_info_over_af_vsock" grep -q "memory source:    kcore" "$W/info"
addr=$(gx sh -c "grep ' linux_banner\$' /proc/kallsyms" | cut -d' ' -f1)
gx /usr/local/bin/sevmon read vsock://local:7001 $G_CLI --virt "0x$addr" 64 >"$W/banner" 2>"$W/err"
gx head -c 64 /proc/version >"$W/version"
check "vsock_read_virt_equals_proc_version" cmp -s "$W/banner" "$W/version"
gx /usr/local/bin/sevmon read vsock://1:7999 $G_CLI --phys 0x1000 16 >/dev/null 2>"$W/err"; rc=$?
check "vsock_no_listener_refused_exit_3" [ $rc = 3 ]
gx /usr/local/bin/sevmon ps vsock://1:7001 $G_CLI --json >"$W/ps.json" 2>"$W/err"
check "vsock_ps_lists_init" python3 -c 'import json,sys; p=json.load(open(sys.argv[1]))["processes"]; sys.exit(0 if any(x["pid"]==1 for x in p) else 1)' "$W/ps.json"
[ $FAILS -eq 0 ]
