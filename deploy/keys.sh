# keys.sh — keys and a simulated SEV-SNP chain for a test or demo set-up (source it).
#
#   keys_setup DIR SEVMON_BINARY
#     DIR/ids.key(.pub)    the IDS's static key pair
#     DIR/agent.key(.pub)  the agent's static key pair
#     DIR/sim/             a simulated ARK -> ASK -> VCEK chain (sevmon attest sim-init)
#   then sets:
#     KEYS_CLI             sevmon flags: --key, --trust (the sim ARK), --measurement, --pin
#     KEYS_AGENT           sevmon-agent flags for an agent on this host
#     KEYS_GUEST_AGENT     sevmon-agent flags for an agent inside a deploy/testvm guest
#     KEYS_GUEST_EXTRA     deploy/testvm build flags that copy the agent's files into the guest
# The simulated provider signs reports with a test key: it exercises the real verifier on
# machines without SEV, and is never trusted unless its ARK is passed with --trust.
KEYS_MEASUREMENT=$(printf 'a5%.0s' $(seq 48))

keys_setup() {
	local dir=$1 sevmon=$2
	mkdir -p "$dir"
	[ -s "$dir/ids.key" ] || "$sevmon" keygen --out "$dir/ids.key" --comment ids >/dev/null || return 1
	[ -s "$dir/agent.key" ] || "$sevmon" keygen --out "$dir/agent.key" --comment agent >/dev/null || return 1
	[ -s "$dir/sim/ark.pem" ] || "$sevmon" attest sim-init "$dir/sim" >/dev/null || return 1
	KEYS_CLI=(--key "$dir/ids.key" --trust "$dir/sim/ark.pem" --measurement "$KEYS_MEASUREMENT"
		--pin "$dir/agent.key.pub")
	KEYS_AGENT=(--key "$dir/agent.key" --allow "$dir/ids.key.pub"
		--attest "sim:$dir/sim,measurement=$KEYS_MEASUREMENT")
	KEYS_GUEST_AGENT="--key /etc/sevmon/agent.key --allow /etc/sevmon/ids.key.pub --attest sim:/etc/sevmon/sim,measurement=$KEYS_MEASUREMENT"
	KEYS_GUEST_EXTRA=(--extra "$dir/agent.key=/etc/sevmon/agent.key"
		--extra "$dir/ids.key.pub=/etc/sevmon/ids.key.pub" --extra "$dir/sim=/etc/sevmon/sim")
}
