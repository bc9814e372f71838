#!/usr/bin/env bash
# The shipped deploy files: the sample config parses (sevmond --check), and the systemd
# units pass `systemd-analyze verify` (with the built binaries in place of /usr/bin, which
# verify requires to exist). TAP; the unit checks are skipped without systemd-analyze.
# usage: test_deploy_units.sh SEVMOND SEVMON_AGENT
set -u
SEVMOND=$(realpath "${1:?sevmond}"); AGENT=$(realpath "${2:?sevmon-agent}")
REPO=$(cd "$(dirname "${BASH_SOURCE[0]}")/../.." && pwd)
T=$(mktemp -d /tmp/sevmon-units.XXXXXX); trap 'rm -rf "$T"' EXIT
n=0; failed=0
ok() { n=$((n+1)); echo "ok $n - $1"; }
notok() { n=$((n+1)); failed=$((failed+1)); echo "not ok $n - $1"; }
echo "1..4"
if "$SEVMOND" --config "$REPO/deploy/sevmond.conf" --check >"$T/out" 2>&1; then
  ok "deploy/sevmond.conf parses"; else notok "deploy/sevmond.conf parses"; sed 's/^/# /' "$T/out"; fi
if grep -q "^User=sevmon" "$REPO/deploy/sevmond.service" && grep -q "^NoNewPrivileges=yes" "$REPO/deploy/sevmond.service" &&
   grep -q "^ProtectSystem=strict" "$REPO/deploy/sevmond.service" && grep -q "^CapabilityBoundingSet=$" "$REPO/deploy/sevmond.service"; then
  ok "sevmond.service: dedicated user, no capabilities, strict"; else notok "sevmond.service hardening"; fi
for u in sevmond sevmon-agent; do
  if ! command -v systemd-analyze >/dev/null; then ok "# SKIP $u.service: no systemd-analyze"; continue; fi
  sed "s|/usr/bin/sevmond|$SEVMOND|g; s|/usr/bin/sevmon-agent|$AGENT|g" "$REPO/deploy/$u.service" > "$T/$u.service"
  if systemd-analyze verify "$T/$u.service" >"$T/v" 2>&1 && [ ! -s "$T/v" ]; then
    ok "$u.service: systemd-analyze verify"; else notok "$u.service: systemd-analyze verify"; sed 's/^/# /' "$T/v"; fi
done
exit $((failed > 0))
