#!/usr/bin/env bash
# Run a statically linked test_mem_kcore as /init of a real Linux guest under QEMU (TCG),
# so the kcore source is checked against a real /proc/kcore even where the host kernel has
# none. Prints the guest's TAP; exits with the guest test's status.
# Usage: mem_kcore_guest.sh TEST_BINARY
# Kernel: $SEVMON_GUEST_KERNEL, else Debian's current generic kernel fetched by deploy/testvm
# into .cache (the same package the other guest tests use).
set -euo pipefail
bin=$1
repo=$(cd "$(dirname "$0")/../.." && pwd)
kernel=${SEVMON_GUEST_KERNEL:-}
if [ -z "$kernel" ]; then
  vm=$repo/.cache/vm/kcore-guest
  [ -s "$vm/vmlinuz" ] || "$repo/deploy/testvm" build --kernel-package linux-image-amd64 --out "$vm" >&2
  kernel=$vm/vmlinuz
fi
busybox=$(command -v busybox || true)
if [ -z "$kernel" ] || [ ! -r "$kernel" ] || [ -z "$busybox" ]; then
  echo "1..0 # SKIP no guest kernel (set SEVMON_GUEST_KERNEL) or no busybox"
  exit 0
fi
work=$(mktemp -d "${TMPDIR:-/tmp}/sevmon-kcore-guest-XXXXXX")
trap 'rm -rf "$work"' EXIT
mkdir -p "$work/root/bin" "$work/root/proc" "$work/root/sys" "$work/root/tmp"
cp "$busybox" "$work/root/bin/busybox"
cp "$bin" "$work/root/test_mem_kcore"
cat > "$work/root/init" <<'EOF'
#!/bin/busybox sh
/bin/busybox mount -t proc proc /proc
/bin/busybox mount -t sysfs sysfs /sys
/bin/busybox mount -t tmpfs tmpfs /tmp
echo
echo "@@TAP-BEGIN"
/test_mem_kcore
echo "@@TAP-END rc=$?"
/bin/busybox poweroff -f
EOF
chmod +x "$work/root/init"
(cd "$work/root" && find . | cpio -o -H newc 2>/dev/null | gzip -1 > "$work/initrd.gz")
# TCG: boots a distribution kernel in ~10 s; 300 s covers a loaded machine.
timeout 300 qemu-system-x86_64 -M q35 -accel tcg -m 512 -nographic -nodefaults \
  -serial "file:$work/console.log" -kernel "$kernel" -initrd "$work/initrd.gz" \
  -append "console=ttyS0 quiet panic=-1" -no-reboot </dev/null >/dev/null 2>&1 || true
tr -d '\r' < "$work/console.log" | sed -n '/@@TAP-BEGIN/,/^@@TAP-END/p' > "$work/tap"
if ! grep -q '^@@TAP-END rc=' "$work/tap"; then
  echo "1..1"; echo "not ok 1 - guest did not finish"; tail -n 20 "$work/console.log" | sed 's/^/# /'
  exit 1
fi
grep -E '^(1\.\.|ok |not ok |#)' "$work/tap"
rc=$(sed -n 's/^@@TAP-END rc=//p' "$work/tap")
exit "$rc"
