# lib.sh — shared set-up for e2e tests that talk to a real sevmon-agent over the channel.
# Source it with SEVMON and SEVMON_AGENT set to the binaries. Then:
#   e2e_setup DIR          keys (DIR/ids.key, DIR/agent.key + .pub), a sim chain (DIR/sim),
#                          a 4 MiB memory image DIR/mem.img with E2E_PATTERN at 0x10000
#   e2e_start_agent SOCK [agent args...]   agent on unix://SOCK, log DIR/agent-<name>.log;
#                          sets AGENT_PID; waits until the socket exists
#   e2e_stop_agent         stops the agent started last
#   "${E2E_CLI[@]}"        the CLI channel flags: --key, --trust (sim ARK), --measurement
E2E_MEAS=$(printf '5e%.0s' $(seq 48))
E2E_PATTERN="SEVMON-SECRET-GUEST-PAGE-0123456789abcdef"

e2e_setup() {
	E2E_DIR=$1
	mkdir -p "$E2E_DIR"
	"$SEVMON" keygen --out "$E2E_DIR/ids.key" --comment ids >/dev/null || return 1
	"$SEVMON" keygen --out "$E2E_DIR/agent.key" --comment agent >/dev/null || return 1
	"$SEVMON" attest sim-init "$E2E_DIR/sim" >/dev/null || return 1
	head -c $((4 << 20)) /dev/urandom >"$E2E_DIR/mem.img"
	printf '%s' "$E2E_PATTERN" | dd of="$E2E_DIR/mem.img" bs=1 seek=$((0x10000)) conv=notrunc 2>/dev/null
	E2E_CLI=(--key "$E2E_DIR/ids.key" --trust "$E2E_DIR/sim/ark.pem" --measurement "$E2E_MEAS")
}

e2e_start_agent() {
	local sock=$1; shift
	rm -f "$sock"
	"$SEVMON_AGENT" --memory "image:$E2E_DIR/mem.img" --listen "unix://$sock" \
		--key "$E2E_DIR/agent.key" --allow "$E2E_DIR/ids.key.pub" \
		--attest "sim:$E2E_DIR/sim,measurement=$E2E_MEAS" "$@" \
		2>>"$E2E_DIR/agent-$(basename "$sock").log" &
	AGENT_PID=$!
	for _ in $(seq 100); do [ -S "$sock" ] && return 0; sleep 0.05; done
	return 1
}

e2e_stop_agent() {
	kill "$AGENT_PID" 2>/dev/null
	wait "$AGENT_PID" 2>/dev/null
}
