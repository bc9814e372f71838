#!/usr/bin/env bash
# run_introspect_dump.sh TESTBIN — make the guest dump once (into .cache), then run TESTBIN.
set -euo pipefail
REPO=$(cd "$(dirname "${BASH_SOURCE[0]}")/../.." && pwd)
export INTROSPECT_DUMP_DIR=${INTROSPECT_DUMP_DIR:-$REPO/.cache/introspect-dump}
if [ ! -s "$INTROSPECT_DUMP_DIR/guest.elf" ]; then
  "$REPO/tests/e2e/make_guest_dump.sh" "$INTROSPECT_DUMP_DIR" >&2
fi
exec "$1"
