#!/usr/bin/env bash
# sevmond's discovery from libvirt against libvirt's own test driver (test:///NODE.xml: a
# node file of domain XMLs, read afresh by each connection; no libvirtd): the running
# domains with a vsock device become targets vsock://CID:PORT with the port and
# measurement of sevmond's metadata; domains that start and stop are followed; a domain
# without vsock, or with hostile values, is no target; an unreachable libvirt changes
# nothing. TAP output.
# usage: test_sevmond_libvirt.sh BUILD_DIR
set -u
BUILD=$(cd "${1:?build dir}" && pwd)
SEVMON=$BUILD/ids-svc/cli/sevmon
SEVMOND=$BUILD/ids-svc/sevmond/sevmond
T=$(mktemp -d /tmp/sevmond-libvirt.XXXXXX)
TOKEN=test-token-0123456789abcdef
PID=
cleanup() { [ -n "$PID" ] && kill -9 "$PID" 2>/dev/null; wait 2>/dev/null; [ -n "${KEEP:-}" ] || rm -rf "$T"; }
trap cleanup EXIT
n=0
ok() { n=$((n + 1)); echo "ok $n - $1"; }
nok() { n=$((n + 1)); echo "not ok $n - $1"; [ $# -gt 1 ] && echo "# $2"; }
check() { if eval "$2"; then ok "$1"; else nok "$1" "${3:-}"; fi; }
echo "1..7"

MEAS=$(printf '5e%.0s' $(seq 48))
dom() { # NAME CID [metadata attributes]
  printf "<domain type='test'><name>%s</name><memory>1048576</memory><os><type>hvm</type></os>" "$1"
  [ "$2" != - ] && printf "<devices><vsock model='virtio'><cid auto='no' address='%s'/></vsock></devices>" "$2"
  [ -n "${3:-}" ] && printf "<metadata><sevmon:agent xmlns:sevmon='urn:sevmon:libvirt:1' %s/></metadata>" "$3"
  printf '</domain>\n'
}
node() { { echo "<node>"; cat; echo "</node>"; } >"$T/node.new" && mv "$T/node.new" "$T/node.xml"; }
# (libvirt itself refuses CIDs under 3; a bad value in sevmond's metadata is sevmond's to refuse)
{ dom cvm-a 41 "port='7000' measurement='$MEAS'"; dom "cvm b" 42; dom plain -; dom evil 44 "measurement='not-hex'"; } | node

"$SEVMON" keygen --out "$T/ids.key" >/dev/null || { echo "Bail out! keygen"; exit 1; }
cat >"$T/sevmond.conf" <<CONF
[sevmond]
listen = 127.0.0.1:0
token = $TOKEN
database = $T/sevmond.db
key = $T/ids.key
connect_timeout = 1s
backoff_min = 5s
libvirt = test://$T/node.xml
libvirt_poll = 200ms
CONF
"$SEVMOND" --config "$T/sevmond.conf" --port-file "$T/port" 2>"$T/sevmond.log" & PID=$!
for _ in $(seq 200); do [ -s "$T/port" ] && break; sleep 0.05; done
[ -s "$T/port" ] || { echo "Bail out! sevmond did not start"; cat "$T/sevmond.log"; exit 1; }
URL=http://127.0.0.1:$(cat "$T/port")
targets() { # name=uri,... sorted
  curl -s -H "Authorization: Bearer $TOKEN" "$URL/v1/targets" |
    python3 -c 'import json,sys; print(",".join(sorted("%s=%s" % (t["name"], t["uri"]) for t in json.load(sys.stdin))))'
}
wait_targets() { for _ in $(seq 50); do [ "$(targets)" = "$1" ] && return 0; sleep 0.1; done; return 1; }

check libvirt_domains_with_vsock_are_targets 'wait_targets "cvm-a=vsock://41:7000,cvm-b=vsock://42:5000"' "$(targets)"
m=$(curl -s -H "Authorization: Bearer $TOKEN" "$URL/v1/targets/cvm-a")
check libvirt_measurement_from_the_metadata 'grep -q "$MEAS" <<<"$m"' "$m"
check libvirt_bad_metadata_refused_and_logged_once '[ "$(grep -c "domain evil: bad measurement" "$T/sevmond.log")" = 1 ]' "$(grep evil "$T/sevmond.log")"

# cvm-a stops, cvm-c starts
{ dom "cvm b" 42; dom cvm-c 43 "port='7001'"; dom plain -; } | node
check libvirt_follows_domains_that_stop_and_start 'wait_targets "cvm-b=vsock://42:5000,cvm-c=vsock://43:7001"' "$(targets)"
check libvirt_stopped_domain_removed_and_logged 'grep -q "target cvm-a: no longer in the libvirt: removed" "$T/sevmond.log"'

# libvirt unreachable (the node file gone): the targets stay as they were
rm -f "$T/node.xml"
sleep 1.5
check libvirt_unreachable_changes_nothing '[ "$(targets)" = "cvm-b=vsock://42:5000,cvm-c=vsock://43:7001" ] && grep -q "libvirt test://" "$T/sevmond.log"' "$(targets)"
kill -TERM "$PID"; wait "$PID"; rc=$?; PID=
check sevmond_exits_0 '[ $rc = 0 ]' "rc=$rc $(tail -5 "$T/sevmond.log")"
