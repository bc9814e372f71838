#!/usr/bin/env bash
# make_sevmond_dumps.sh OUTDIR — one boot of the test guest (deploy/testvm), two memory
# dumps: OUTDIR/a.elf, then a process started (`sevmon-intruder`, a shell script, as root), then OUTDIR/b.elf. sevmond's e2e test serves them in turn
# from one agent: the process must show up as a finding. Cached under .cache by the caller.
set -euo pipefail
OUT=${1:?usage: make_sevmond_dumps.sh OUTDIR}
REPO=$(cd "$(dirname "${BASH_SOURCE[0]}")/../.." && pwd)
TESTVM=${TESTVM:-$REPO/deploy/testvm}
PKG=${INTROSPECT_KERNEL_PACKAGE:-linux-image-6.1.0-56-amd64}
GUEST=$OUT/vm
mkdir -p "$OUT"
"$TESTVM" build --kernel-package "$PKG" --out "$GUEST" >&2
"$TESTVM" run "$GUEST" --mem 256M >&2
trap '"$TESTVM" stop "$GUEST" >&2 || true' EXIT
"$TESTVM" dump "$GUEST" "$OUT/a.elf.tmp" >&2
# a script: its comm is its file name
"$TESTVM" exec "$GUEST" -- sh -c 'printf "#!/bin/sh\nwhile :; do sleep 60; done\n" > /root/sevmon-intruder
  chmod +x /root/sevmon-intruder; setsid /root/sevmon-intruder </dev/null >/dev/null 2>&1 &' >&2
sleep 1
"$TESTVM" exec "$GUEST" -- sh -c 'ps | grep -v grep | grep -q sevmon-intruder' >&2 ||
  { echo "make_sevmond_dumps: the intruder did not start" >&2; exit 1; }
"$TESTVM" dump "$GUEST" "$OUT/b.elf.tmp" >&2
mv "$OUT/a.elf.tmp" "$OUT/a.elf"
mv "$OUT/b.elf.tmp" "$OUT/b.elf"
