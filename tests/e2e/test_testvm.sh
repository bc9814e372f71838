#!/usr/bin/env bash
# End-to-end test of deploy/testvm: build guests from Debian's generic and cloud kernel packages
# (6.1) and from a 6.12 -unsigned image ("+" in the release, zstd payload), boot them under QEMU,
# and check what the guest itself reports against the package's facts.
# TAP output. Needs qemu-system-x86_64 and Debian's apt archive (or .cache/debs filled already).
set -uo pipefail

REPO=$(cd "$(dirname "$0")/../.." && pwd)
TESTVM=$REPO/deploy/testvm
STANDIN=$REPO/tests/e2e/standin-agent.sh
MEM=512M
MEM_BYTES=$((512 << 20))
# Arguments given at `run` time, which the stand-in agent echoes back over the forwarded port.
RUN_AGENT_ARGS='--listen tcp://0.0.0.0:7000 --memory kcore --tag e2e'

N=23
echo "1..$N"
if ! command -v qemu-system-x86_64 >/dev/null; then
  for ((i = 1; i <= N; i++)); do echo "ok $i # SKIP qemu-system-x86_64 not installed"; done
  exit 0
fi

# Short path: QEMU's unix sockets must fit in sun_path.
WORK=$(mktemp -d "${TMPDIR:-/tmp}/testvm-e2e.XXXXXX")
G=$WORK/generic
C=$WORK/cloud
U=$WORK/k612
cleanup() {
  "$TESTVM" stop "$G" >/dev/null 2>&1
  "$TESTVM" stop "$C" >/dev/null 2>&1
  "$TESTVM" stop "$U" >/dev/null 2>&1
  rm -rf "$WORK"
}
trap cleanup EXIT

K=0
FAILS=0
ok() { K=$((K + 1)); echo "ok $K - $1"; }
not_ok() { K=$((K + 1)); FAILS=$((FAILS + 1)); echo "not ok $K - $1"; shift; for l in "$@"; do echo "# $l"; done; }
# check NAME CONDITION-COMMAND... : ok when the command succeeds.
check() { local name=$1; shift; if "$@"; then ok "$name"; else not_ok "$name" "failed: $*"; fi; }
info() { "$TESTVM" info "$1" "$2" 2>/dev/null; }
# Modules of DIR's test_modules (and vsock_loopback, a base module) missing from /proc/modules
# text $2; prints them, true if none is missing.
modules_missing() {
  local m missing=
  for m in $(info "$1" test_modules) vsock_loopback; do
    awk -v m="$m" '$1 == m { f = 1 } END { exit !f }' <<<"$2" || missing+=" $m"
  done
  echo "$missing"
  [ -n "$(info "$1" test_modules)" ] && [ -z "$missing" ]
}
alive() { local st; st=$(sed 's/.*) //' "/proc/$1/stat" 2>/dev/null | cut -d' ' -f1); [ -n "$st" ] && [ "$st" != Z ]; }

# --- generic flavour, from the meta package -------------------------------------------------
t0=$SECONDS
"$TESTVM" build --kernel-package linux-image-amd64 --out "$G" --agent "$STANDIN" >"$WORK/build-g.log" 2>&1
build_rc=$?
KREL=$(info "$G" kernel_release)
PKG=$(info "$G" package)
if [ $build_rc -eq 0 ] && [ -n "$KREL" ] && [ "$PKG" = "linux-image-$KREL" ] &&
   [ "$(info "$G" requested_package)" = linux-image-amd64 ] && [ -s "$G/vmlinuz" ] && [ -s "$G/initrd.gz" ]; then
  ok "testvm_build_meta_package_resolves_to_versioned_image"
else
  not_ok "testvm_build_meta_package_resolves_to_versioned_image" "build rc=$build_rc package=$PKG release=$KREL" \
    "$(tail -n 5 "$WORK/build-g.log")"
fi
echo "# generic build: $PKG $(info "$G" package_version) in $((SECONDS - t0)) s"

URI=$("$TESTVM" run "$G" --mem "$MEM" --ram-file "$WORK/generic.ram" --agent-wait \
      --agent-args "$RUN_AGENT_ARGS" 2>"$WORK/run-g.log")
run_rc=$?
if [ $run_rc -eq 0 ] && [[ $URI =~ ^tcp://127\.0\.0\.1:([0-9]+)$ ]]; then
  ok "testvm_run_prints_agent_uri"
  PORT=${BASH_REMATCH[1]}
else
  not_ok "testvm_run_prints_agent_uri" "rc=$run_rc uri='$URI'" "$(tail -n 15 "$WORK/run-g.log")"
  PORT=
fi
GPID=$(cat "$G/qemu.pid" 2>/dev/null)
echo "# generic boot (TCG unless kvm): $(sed -n 's/^boot_seconds=//p' "$G/run.env" 2>/dev/null) s, accel $(sed -n 's/^accel=//p' "$G/run.env" 2>/dev/null)"

version=$("$TESTVM" exec "$G" -- cat /proc/version 2>&1)
banner=$(info "$G" banner)
if [[ -n $KREL && $version == "Linux version $KREL "* && $version == "$banner" ]]; then
  ok "testvm_exec_proc_version_matches_package_banner"
else
  not_ok "testvm_exec_proc_version_matches_package_banner" "guest: $version" "info:  $banner"
fi

modules=$("$TESTVM" exec "$G" -- cat /proc/modules 2>&1)
if missing=$(modules_missing "$G" "$modules"); then
  ok "testvm_exec_proc_modules_lists_test_modules"
else
  not_ok "testvm_exec_proc_modules_lists_test_modules" "missing:$missing" "$(head -n 5 <<<"$modules")"
fi

out=$("$TESTVM" exec "$G" -- sh -c 'echo out; echo err >&2; exit 7' 2>"$WORK/err")
rc=$?
if [ $rc -eq 7 ] && [ "$out" = out ] && [ "$(cat "$WORK/err")" = err ]; then
  ok "testvm_exec_returns_status_and_separates_stderr"
else
  not_ok "testvm_exec_returns_status_and_separates_stderr" "rc=$rc out='$out' err='$(cat "$WORK/err")'"
fi

# shellcheck disable=SC2016  # the $HOME must reach the guest unexpanded
out=$("$TESTVM" exec "$G" -- printf '%s|' 'a  b' '$HOME' "it's" '' 2>&1)
check "testvm_exec_passes_argv_verbatim" [ "$out" = 'a  b|$HOME|it'"'"'s||' ]

# QEMU takes one client per chardev: concurrent callers must queue, not fail or mix replies.
for i in 1 2 3; do
  "$TESTVM" exec "$G" -- sh -c "sleep 0.3; echo job$i" >"$WORK/job$i" 2>&1 &
done
wait
check "testvm_exec_concurrent_callers_queue" \
  bash -c 'for i in 1 2 3; do [ "$(cat "$1/job$i")" = "job$i" ] || exit 1; done' _ "$WORK"

"$TESTVM" run "$G" >/dev/null 2>"$WORK/err"
rc=$?
check "testvm_run_refuses_a_running_dir" \
  bash -c '[ "$1" -eq 255 ] && grep -q "already running" "$2" && "$3" status "$4" >/dev/null' \
  _ "$rc" "$WORK/err" "$TESTVM" "$G"

reply=
if [ -n "$PORT" ]; then
  reply=$(python3 - "$PORT" <<'EOF' 2>&1
import socket, sys
s = socket.create_connection(("127.0.0.1", int(sys.argv[1])), timeout=20)
s.settimeout(20)
f = s.makefile("rb")
first = f.readline().decode().strip()
s.sendall(b"ping-through-hostfwd\n")
print(first + " / " + f.readline().decode().strip())
EOF
)
fi
check "testvm_hostfwd_reaches_agent_with_run_args" \
  [ "$reply" = "SEVMON-STANDIN-AGENT $RUN_AGENT_ARGS / ping-through-hostfwd" ]

size=$(stat -c %s "$WORK/generic.ram" 2>/dev/null)
check "testvm_ram_file_has_guest_ram_size" [ "${size:-0}" -eq "$MEM_BYTES" ]

# The live file holds the running kernel: its banner is in guest RAM.
check "testvm_ram_file_holds_live_kernel_banner" \
  bash -c '[ -n "$1" ] && grep -a -q -F "$1" "$2"' _ "$banner" "$WORK/generic.ram"

"$TESTVM" dump "$G" "$WORK/generic.core" 2>"$WORK/dump.log"
dump=$(python3 - "$WORK/generic.core" <<'EOF' 2>&1
import struct, sys
d = open(sys.argv[1], "rb").read()
assert d[:4] == b"\x7fELF" and d[4] == 2, "not an ELF64 file"
phoff, = struct.unpack_from("<Q", d, 0x20)
phentsize, phnum = struct.unpack_from("<HH", d, 0x36)
found = {}
for i in range(phnum):
    ptype, = struct.unpack_from("<I", d, phoff + i * phentsize)
    off, = struct.unpack_from("<Q", d, phoff + i * phentsize + 8)
    size, = struct.unpack_from("<Q", d, phoff + i * phentsize + 32)
    if ptype != 4:   # PT_NOTE
        continue
    p = off
    while p + 12 <= off + size:
        nsz, dsz, _ = struct.unpack_from("<III", d, p)
        name = d[p + 12:p + 12 + nsz].rstrip(b"\0")
        desc = p + 12 + ((nsz + 3) & ~3)
        found[name] = d[desc:desc + dsz]
        p = desc + ((dsz + 3) & ~3)
vi = found.get(b"VMCOREINFO")
assert vi is not None, "no VMCOREINFO note: %r" % list(found)
for line in vi.decode().splitlines():
    if line.startswith(("OSRELEASE=", "NUMBER(pgtable_l5_enabled)=")):
        print(line)
EOF
)
if grep -qx "OSRELEASE=$KREL" <<<"$dump"; then
  ok "testvm_dump_is_elf_with_vmcoreinfo_note"
else
  not_ok "testvm_dump_is_elf_with_vmcoreinfo_note" "$dump" "$(cat "$WORK/dump.log")"
fi

# -cpu max under TCG offers LA57; the kernel must then run with 5-level paging, and VMCOREINFO
# must say so (the IDS reads pgtable_l5_enabled from there).
la57=$("$TESTVM" exec "$G" -- grep -c -w la57 /proc/cpuinfo 2>/dev/null)
l5=$(sed -n 's/^NUMBER(pgtable_l5_enabled)=//p' <<<"$dump")
echo "# generic, -cpu max: cpuinfo la57 lines=${la57:-?}, VMCOREINFO pgtable_l5_enabled=${l5:-?}"
if [ "${la57:-0}" -gt 0 ]; then want=1; else want=0; fi
check "testvm_cpu_max_la57_matches_vmcoreinfo_l5" [ "${l5:-none}" = "$want" ]

"$TESTVM" stop "$G" 2>"$WORK/stop.log"
stop_rc=$?
if [ $stop_rc -eq 0 ] && [ -n "$GPID" ] && ! alive "$GPID" && [ ! -e "$G/qemu.pid" ]; then
  ok "testvm_stop_leaves_no_qemu_process"
else
  not_ok "testvm_stop_leaves_no_qemu_process" "rc=$stop_rc pid=$GPID" "$(cat "$WORK/stop.log")"
fi

"$TESTVM" exec "$G" -- true 2>"$WORK/err"
rc=$?
check "testvm_exec_after_stop_fails_clearly" bash -c '[ "$1" -eq 255 ] && grep -q "not running" "$2"' _ "$rc" "$WORK/err"

# --- cloud flavour, 4-level paging ------------------------------------------------------------
t0=$SECONDS
"$TESTVM" build --kernel-package linux-image-cloud-amd64 --out "$C" >"$WORK/build-c.log" 2>&1
build_rc=$?
CREL=$(info "$C" kernel_release)
if [ $build_rc -eq 0 ] && [ "$(info "$C" flavour)" = cloud-amd64 ] && [ "$(info "$C" package)" = "linux-image-$CREL" ]; then
  ok "testvm_build_cloud_flavour"
else
  not_ok "testvm_build_cloud_flavour" "rc=$build_rc release=$CREL" "$(tail -n 5 "$WORK/build-c.log")"
fi
echo "# cloud build: $(info "$C" package) in $((SECONDS - t0)) s; builtin: $(info "$C" modules_builtin)"

"$TESTVM" run "$C" --cpu max,la57=off --no-agent >/dev/null 2>"$WORK/run-c.log"
run_rc=$?
echo "# cloud boot (cpu max,la57=off): $(sed -n 's/^boot_seconds=//p' "$C/run.env" 2>/dev/null) s"
rel=$("$TESTVM" exec "$C" -- uname -r 2>&1)
vmalloc=$("$TESTVM" exec "$C" -- sh -c "awk '/^VmallocTotal/ { print \$2 }' /proc/meminfo" 2>&1)
# VmallocTotal is 32 TiB with 4-level paging, 12.5 PiB with 5-level.
if [ $run_rc -eq 0 ] && [ -n "$CREL" ] && [ "$rel" = "$CREL" ] && [ "${vmalloc:-0}" -lt $((1 << 36)) ]; then
  ok "testvm_cloud_boots_with_4_level_paging"
else
  not_ok "testvm_cloud_boots_with_4_level_paging" "rc=$run_rc uname=$rel vmalloc_kb=$vmalloc" "$(tail -n 10 "$WORK/run-c.log")"
fi

"$TESTVM" stop "$C" 2>/dev/null
check "testvm_cloud_stop" bash -c '! "$1" status "$2" >/dev/null' _ "$TESTVM" "$C"

# --- 6.12: "+" in the release, zstd payload, -unsigned image --------------------------------------
# The series meta package names the current 6.12 image; its -unsigned twin (the same modules, a
# vmlinuz without the Secure Boot signature) is built and booted: one download, one boot.
IMG=$("$TESTVM" resolve linux-image-6.12-amd64 2>"$WORK/resolve.log")
if [[ $IMG =~ ^linux-image-6\.12\.[0-9]+\+deb[0-9]+-amd64$ ]]; then
  ok "testvm_resolve_series_meta_package"
else
  not_ok "testvm_resolve_series_meta_package" "got '$IMG'" "$(tail -n 3 "$WORK/resolve.log")"
fi

# Without apt lists (and no apt-get update), a meta package resolves to its last answer: the
# 6.1 image the first build used, not the newest cached .deb (a 6.12 one by now).
mkdir -p "$WORK/nolists/partial"
printf 'Dir::State::Lists "%s";\nDir::Cache::pkgcache "";\nDir::Cache::srcpkgcache "";\n' \
  "$WORK/nolists" >"$WORK/apt.conf"
offline=$(APT_CONFIG=$WORK/apt.conf TESTVM_NO_APT_UPDATE=1 "$TESTVM" resolve linux-image-amd64 \
          2>"$WORK/offline.log")
if [ -n "$PKG" ] && [ "$offline" = "$PKG" ]; then
  ok "testvm_resolve_offline_reuses_last_answer"
else
  not_ok "testvm_resolve_offline_reuses_last_answer" "want '$PKG', got '$offline'" "$(cat "$WORK/offline.log")"
fi

t0=$SECONDS
"$TESTVM" build --kernel-package "$IMG-unsigned" --out "$U" >"$WORK/build-u.log" 2>&1
build_rc=$?
UREL=$(info "$U" kernel_release)
if [ $build_rc -eq 0 ] && [ -n "$IMG" ] && [ "linux-image-$UREL" = "$IMG" ] &&
   [ "$(info "$U" package)" = "$IMG-unsigned" ] && [ "$(info "$U" flavour)" = amd64 ]; then
  ok "testvm_build_6_12_unsigned_release_and_flavour"
else
  not_ok "testvm_build_6_12_unsigned_release_and_flavour" "rc=$build_rc release=$UREL" \
    "package=$(info "$U" package) flavour=$(info "$U" flavour)" "$(tail -n 5 "$WORK/build-u.log")"
fi
echo "# 6.12 build: $(info "$U" package) $(info "$U" package_version) in $((SECONDS - t0)) s"

ubanner=$(info "$U" banner)
if [[ -n $UREL && $ubanner == "Linux version $UREL "* && $(info "$U" build_id) =~ ^[0-9a-f]{40}$ ]]; then
  ok "testvm_build_6_12_banner_and_build_id_from_zstd_payload"
else
  not_ok "testvm_build_6_12_banner_and_build_id_from_zstd_payload" "banner: $ubanner" \
    "build_id: $(info "$U" build_id)"
fi

"$TESTVM" run "$U" --no-agent >/dev/null 2>"$WORK/run-u.log"
run_rc=$?
echo "# 6.12 boot: $(sed -n 's/^boot_seconds=//p' "$U/run.env" 2>/dev/null) s"
version=$("$TESTVM" exec "$U" -- cat /proc/version 2>&1)
modules=$("$TESTVM" exec "$U" -- cat /proc/modules 2>&1)
if [ $run_rc -eq 0 ] && [ -n "$ubanner" ] && [ "$version" = "$ubanner" ] &&
   missing=$(modules_missing "$U" "$modules"); then
  ok "testvm_6_12_boots_and_loads_test_modules"
else
  not_ok "testvm_6_12_boots_and_loads_test_modules" "rc=$run_rc guest: $version" \
    "missing:$missing" "$(tail -n 10 "$WORK/run-u.log")"
fi
"$TESTVM" stop "$U" 2>/dev/null

[ "$K" -eq "$N" ] || echo "# planned $N tests, ran $K"
exit $((FAILS > 0))
