#!/bin/sh
# sevmon-attest from the command line: exit codes and the reason it prints.
# Usage: test_attest_cli.sh PATH/TO/sevmon-attest   (run from tests/data). TAP output.
set -u
BIN=$1
TRUST=../../lib/attest/trust
TMP=$(mktemp -d /tmp/sevmon-attest-cli-XXXXXX)
trap 'rm -rf "$TMP"' EXIT
n=0; failed=0
check() { # name expected-status grep-pattern command...
	name=$1 want=$2 pat=$3; shift 3
	n=$((n + 1))
	out=$("$@" 2>&1); got=$?
	if [ "$got" -eq "$want" ] && printf '%s\n' "$out" | grep -q -- "$pat"; then
		echo "ok $n - $name"
	else
		echo "not ok $n - $name"; echo "# status $got (want $want), output:"
		printf '%s\n' "$out" | sed 's/^/#   /'; failed=$((failed + 1))
	fi
}
M=snp/virtee-report_milan.hex
MV=snp/virtee-vcek_milan.der
MC=snp/virtee-cert_chain_milan
MEAS=7a1e5c266c0108dbc9bb94fa926951320940915d0aafb42464bd88b579ea158d3e1a0dc39b2c60bd95b9c480cd81841f
RD=$(printf '%0128d' 0)

echo "1..9"
check cli_verify_milan_ok 0 '^OK: ok (Milan' "$BIN" verify $M --vcek $MV --chain $MC --trust-dir $TRUST --measurement $MEAS
check cli_verify_milan_wrong_binding 1 '^REJECTED: REPORT_DATA' "$BIN" verify $M --vcek $MV --chain $MC --trust-dir $TRUST --report-data "$RD"
check cli_verify_gosev_debug 1 '^REJECTED: DEBUG: policy: debug enabled (policy=0xb0000)' "$BIN" verify snp/gosevguest-attestation.bin --vcek snp/gosevguest-vcek.testcer --chain $MC --trust-dir $TRUST
check cli_verify_turin_chain_for_milan 1 '^REJECTED: CHAIN_SIG' "$BIN" verify $M --vcek $MV --chain snp/virtee-cert_chain_turin --trust-dir $TRUST
check cli_verify_bad_hex_arg 2 'report-data needs 128' "$BIN" verify $M --vcek $MV --chain $MC --report-data zz
check cli_help 0 'usage: sevmon attest verify' "$BIN" --help
check cli_sim_init 0 'sim chain written' "$BIN" sim-init "$TMP/sim"
check cli_sim_init_again_refused 1 'already exists' "$BIN" sim-init "$TMP/sim"
"$BIN" sim-report "$TMP/sim" --out "$TMP/r.bin" --report-data "$RD" >/dev/null 2>&1
check cli_sim_verify_with_anchor 0 '^OK' "$BIN" verify "$TMP/r.bin" --vcek "$TMP/sim/vcek.der" --chain "$TMP/sim/cert_chain.pem" --no-amd --trust "$TMP/sim/ark.pem" --report-data "$RD"
[ "$failed" -eq 0 ]
