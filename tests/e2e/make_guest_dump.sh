#!/usr/bin/env bash
# make_guest_dump.sh OUTDIR — boot a Debian 6.1 kernel (KASLR on, TCG `max` CPU: 5-level
# paging) with deploy/testvm, record what the guest says about itself, then dump its memory.
#   OUTDIR/guest.elf       QMP dump-guest-memory (paging:false), ELF core
#   OUTDIR/kallsyms.txt    /proc/kallsyms (root in the initramfs: real addresses)
#   OUTDIR/ps.txt          pid tgid ppid uid name, from /proc/*/status
#   OUTDIR/modules.txt     /proc/modules
#   OUTDIR/release.txt     uname -r
#   OUTDIR/vmcoreinfo.txt  /sys/kernel/vmcoreinfo ("%pa %x": note address, note size in hex)
# Everything is fetched and built at test time under the worktree's .cache (not in git).
set -euo pipefail
OUT=${1:?usage: make_guest_dump.sh OUTDIR}
REPO=$(cd "$(dirname "${BASH_SOURCE[0]}")/../.." && pwd)
TESTVM=${TESTVM:-$REPO/deploy/testvm}
PKG=${INTROSPECT_KERNEL_PACKAGE:-linux-image-6.1.0-56-amd64}
GUEST=$OUT/vm
[ -x "$TESTVM" ] || { echo "make_guest_dump: $TESTVM not found (set TESTVM=)" >&2; exit 1; }
mkdir -p "$OUT"
"$TESTVM" build --kernel-package "$PKG" --out "$GUEST" >&2
# TCG on purpose: its `max` CPU has LA57, so the kernel runs 5-level page tables
# (INTROSPECT_CPU='max,la57=off' gives a 4-level guest).
"$TESTVM" run "$GUEST" --mem 256M --accel tcg --cpu "${INTROSPECT_CPU:-max}" >&2
trap '"$TESTVM" stop "$GUEST" >&2 || true' EXIT
x() { "$TESTVM" exec "$GUEST" -- "$@"; }
x cat /proc/kallsyms > "$OUT/kallsyms.txt"
x cat /proc/modules > "$OUT/modules.txt"
x uname -r > "$OUT/release.txt"
x cat /sys/kernel/vmcoreinfo > "$OUT/vmcoreinfo.txt"
# The listing shell leaves itself out; its awk children die before the dump anyway.
x sh -c 'for d in /proc/[0-9]*; do p=${d#/proc/}; [ "$p" = "$$" ] && continue;
  awk -v p=$p "/^Name:/{n=\$2} /^Tgid:/{t=\$2} /^PPid:/{pp=\$2} /^Uid:/{u=\$2}
  END{print p, t, pp, u, n}" $d/status 2>/dev/null; done' > "$OUT/ps.txt"
"$TESTVM" dump "$GUEST" "$OUT/guest.elf" >&2
