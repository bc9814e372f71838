#!/usr/bin/env bash
# Forensics end to end on a live Debian kernel under QEMU (one guest, 256 MiB, 4-level
# paging as Volatility 3 reads it):
#   - placement (b), guest paused: `sevmon acquire` through the host agent on the guest's
#     RAM file gives, range by range, the bytes QMP dump-guest-memory writes at the same
#     pause (LiME and ELF); sealed, the same image SHA-256; unsealed, the same file;
#     killed midway and resumed, the same SHA-256; an altered byte and a wrong key are
#     refused;
#   - offline analysis: ps and modules of every image (LiME, ELF, raw, sealed, QEMU's own
#     dump) read in-process equal the live results of the paused guest;
#   - `sevmon isf`: the table validates against Volatility's ISF 6.2.0 schema, its offsets
#     are the profile's, and a reader that follows Volatility's steps (isf_check.py) lists
#     from the LiME image the processes the live guest has;
#   - placement (a), guest running: the agent in the guest on /proc/kcore; the image's
#     kernel read-only data equals a QMP dump taken after it.
# Figures (acquisition rate against `sevmon read` of the same bytes) go out as comments.
# usage: test_forensics.sh BUILD_DIR [KERNEL_PACKAGE]     TAP output
set -uo pipefail
B=$(cd "${1:?build dir}" && pwd)
PKG=${2:-linux-image-amd64}
REPO=$(cd "$(dirname "$0")/../.." && pwd)
TESTVM=$REPO/deploy/testvm
SEVMON=$B/ids-svc/cli/sevmon
AGENT=$B/agent-svc/sevmon-agent
CMP=$REPO/tests/e2e/image_cmp.py
ISFCHK=$REPO/tests/e2e/isf_check.py
SCHEMA=$REPO/tests/data/volatility3-isf-schema-6.2.0.json
WORK=$(mktemp -d "${TMPDIR:-/tmp}/sevmon-forensics.XXXXXX")
export SEVMON_CACHE=$WORK/profiles
G=$WORK/g
PIDS=()
. "$REPO/deploy/keys.sh"
keys_setup "$WORK/keys" "$SEVMON" || { echo "Bail out! cannot make keys"; exit 1; }
export SEVMON_KEY=$WORK/keys/ids.key
cleanup() {
  exec 2>/dev/null
  for p in "${PIDS[@]}"; do kill -9 "$p" 2>/dev/null; done
  "$TESTVM" stop "$G" >/dev/null 2>&1
  { wait; } 2>/dev/null; rm -rf "$WORK"
}
trap cleanup EXIT

N=18
echo "1..$N"
K=0; FAILS=0
ok() { K=$((K + 1)); echo "ok $K - $1"; }
not_ok() { K=$((K + 1)); FAILS=$((FAILS + 1)); echo "not ok $K - $1"; shift; for l in "$@"; do echo "# $l"; done; }
check() { local name=$1; shift; if "$@"; then ok "$name"; else not_ok "$name" "failed: $*"; fi; }
bail() { echo "# $1"; while [ $K -lt $N ]; do not_ok "skipped_after_setup_failure"; done; exit 1; }
qmp() { "$TESTVM" qmp "$G" "$1" >/dev/null; }
sha() { python3 -c 'import json,sys; print(json.load(open(sys.argv[1]))["image_sha256"])' "$1"; }

"$TESTVM" build --kernel-package "$PKG" --out "$G" --agent "$AGENT" \
  --agent-args "--listen tcp://0.0.0.0:7000 --memory kcore $KEYS_GUEST_AGENT" "${KEYS_GUEST_EXTRA[@]}" \
  >"$WORK/build.log" 2>&1 || bail "build failed: $(tail -n 3 "$WORK/build.log")"
URIA=$("$TESTVM" run "$G" --accel tcg --mem 256M --cpu max,la57=off --ram-file "$WORK/g.ram" \
       --agent-wait 2>"$WORK/run.log") || bail "run failed: $(tail -n 3 "$WORK/run.log")"
"$TESTVM" exec "$G" -- sh -c 'for i in 1 2 3; do setsid sleep 1000$i </dev/null >/dev/null 2>&1 & done' >/dev/null
"$AGENT" -q --memory "ramfile:$WORK/g.ram" --listen "unix://$WORK/b.sock" "${KEYS_AGENT[@]}" & PIDS+=($!)
for _ in $(seq 100); do [ -S "$WORK/b.sock" ] && break; sleep 0.05; done
URIB=unix://$WORK/b.sock
"$SEVMON" profile "$URIB" "${KEYS_CLI[@]}" >"$WORK/profile" 2>&1 || bail "no profile: $(tail -n 2 "$WORK/profile")"

# --- placement (b), the guest paused ------------------------------------------------------------
qmp '{"execute":"stop"}'
"$TESTVM" dump "$G" "$WORK/qmp.elf" >/dev/null 2>&1 || bail "QMP dump failed"
acq() { "$SEVMON" acquire "$URIB" "${KEYS_CLI[@]}" --quiet "$@"; }
acq --out "$WORK/b.lime" --plain 2>"$WORK/acq.log" || bail "acquire failed: $(cat "$WORK/acq.log")"
echo "# $(grep -o 'in [0-9.]* s, [0-9]* MiB/s' "$WORK/acq.log") (LiME, plain)"
check "placement_b_lime_equals_qmp_dump_range_by_range" python3 "$CMP" same "$WORK/b.lime" "$WORK/qmp.elf"
acq --out "$WORK/b.elf" --plain --format elf 2>/dev/null
check "placement_b_elf_equals_qmp_dump_range_by_range" python3 "$CMP" same "$WORK/b.elf" "$WORK/qmp.elf"
acq --out "$WORK/b.sealed" 2>"$WORK/acq-sealed.log"
echo "# $(grep -o 'in [0-9.]* s, [0-9]* MiB/s' "$WORK/acq-sealed.log") (LiME, sealed)"
/usr/bin/time -f "%e" "$SEVMON" read "$URIB" "${KEYS_CLI[@]}" --phys 0 $((256 << 20)) 2>"$WORK/read.time" >/dev/null
echo "# sevmon read of the same 256 MiB to /dev/null: $(tail -n 1 "$WORK/read.time") s (connection included)"
banner=$(grep '^banner=' "$WORK/profile" | cut -c8-40)
check "sealed_same_image_sha256_and_no_plaintext" eval \
  '[ "$(sha "$WORK/b.sealed.manifest.json")" = "$(sha "$WORK/b.lime.manifest.json")" ] && ! grep -qF "$banner" "$WORK/b.sealed" && grep -qF "$banner" "$WORK/b.lime"'
"$SEVMON" dump unseal "$WORK/b.sealed" --out "$WORK/b.unsealed" 2>/dev/null
check "unseal_gives_the_plain_image" cmp -s "$WORK/b.unsealed" "$WORK/b.lime"
rm -f "$WORK/b.unsealed"

# killed midway, then resumed
"$SEVMON" acquire "$URIB" "${KEYS_CLI[@]}" --quiet --out "$WORK/r.sealed" 2>/dev/null & apid=$!
for _ in $(seq 400); do
  sz=$(stat -c %s "$WORK/r.sealed" 2>/dev/null || echo 0)
  [ "$sz" -gt $((64 << 20)) ] && break; sleep 0.01
done
kill -9 $apid 2>/dev/null; wait $apid 2>/dev/null
partial=$(stat -c %s "$WORK/r.sealed" 2>/dev/null || echo 0)
acq --out "$WORK/r.sealed" --resume 2>"$WORK/resume.log" || cat "$WORK/resume.log" | sed 's/^/# /'
check "resume_after_kill_gives_the_same_sha256" eval \
  '[ -s "$WORK/r.sealed.manifest.json" ] && [ "$(sha "$WORK/r.sealed.manifest.json")" = "$(sha "$WORK/b.lime.manifest.json")" ] && grep -q resumed "$WORK/resume.log" && [ $partial -lt $((256 << 20)) ]'
echo "# killed at $partial bytes, resumed: $(grep -o '[0-9]* requests (resumed)' "$WORK/resume.log")"
rm -f "$WORK/r.sealed"

# an altered byte, a wrong key
# Offline commands authenticate each chunk they read (only those): for ps the altered
# byte goes into the chunk holding the first VMCOREINFO note, which its search must read;
# unseal reads everything and also meets the one at 100 MiB.
cp "$WORK/b.sealed" "$WORK/t.sealed"
printf 'X' | dd of="$WORK/t.sealed" bs=1 seek=$((100 << 20)) conv=notrunc 2>/dev/null
vmci_chunk=$(python3 -c 'import sys; print(open(sys.argv[1],"rb").read().find(b"VMCOREINFO\0") >> 20)' "$WORK/b.lime")
printf 'X' | dd of="$WORK/t.sealed" bs=1 seek=$((256 + vmci_chunk * ((1 << 20) + 41) + 100)) conv=notrunc 2>/dev/null
"$SEVMON" dump unseal "$WORK/t.sealed" --out "$WORK/t.out" 2>"$WORK/t.err"; rc1=$?
"$SEVMON" ps "$WORK/t.sealed" >/dev/null 2>"$WORK/t.ps.err"; rc2=$?
check "altered_sealed_image_refused" eval \
  '[ $rc1 != 0 ] && [ ! -e "$WORK/t.out" ] && grep -q altered "$WORK/t.err" && [ $rc2 != 0 ] && grep -q altered "$WORK/t.ps.err"'
rm -f "$WORK/t.sealed"
"$SEVMON" keygen --out "$WORK/other.key" >/dev/null
"$SEVMON" ps "$WORK/b.sealed" --key "$WORK/other.key" >/dev/null 2>"$WORK/wk.err"; rc1=$?
"$SEVMON" dump unseal "$WORK/b.sealed" --out "$WORK/wk.out" --key "$WORK/other.key" 2>"$WORK/wk2.err"; rc2=$?
check "wrong_key_refused_clearly" eval \
  '[ $rc1 != 0 ] && [ $rc2 != 0 ] && grep -q "private key it was sealed to" "$WORK/wk.err" && [ ! -e "$WORK/wk.out" ]'

# --- offline analysis of each format = the live results of the paused guest -------------------
"$SEVMON" ps "$URIB" "${KEYS_CLI[@]}" --json >"$WORK/live.ps" 2>/dev/null
"$SEVMON" modules "$URIB" "${KEYS_CLI[@]}" --json >"$WORK/live.mods" 2>/dev/null
python3 "$CMP" raw "$WORK/b.lime" "$WORK/b.raw"
offline_equal() { # label image
  "$SEVMON" ps "$2" --json >"$WORK/$1.ps" 2>"$WORK/$1.err" &&
    "$SEVMON" modules "$2" --json >"$WORK/$1.mods" 2>>"$WORK/$1.err" &&
    cmp -s "$WORK/$1.ps" "$WORK/live.ps" && cmp -s "$WORK/$1.mods" "$WORK/live.mods" &&
    python3 -c 'import json,sys; p=json.load(open(sys.argv[1]))["processes"]; sys.exit(0 if len(p) > 20 else 1)' "$WORK/$1.ps"
}
for f in lime:b.lime elf:b.elf raw:b.raw sealed:b.sealed qemu_elf:qmp.elf; do
  check "offline_ps_and_modules_equal_live_${f%%:*}" offline_equal "${f%%:*}" "$WORK/${f#*:}"
done
/usr/bin/time -f "%e" "$SEVMON" ps "$WORK/b.lime" --stats >/dev/null 2>"$WORK/off.time"
echo "# offline ps of the LiME image, warm: $(tail -n 1 "$WORK/off.time") s; $(grep -o '[0-9]* reads, [0-9]* bytes' "$WORK/off.time")"

# --- the ISF ---------------------------------------------------------------------------------
"$SEVMON" isf "$URIB" "${KEYS_CLI[@]}" --out "$WORK/k.json.xz" 2>"$WORK/isf.log"
echo "# $(tail -n 1 "$WORK/isf.log")"
check "isf_validates_against_the_schema" python3 "$ISFCHK" schema "$WORK/k.json.xz" "$SCHEMA"
check "isf_offsets_equal_the_profile" python3 "$ISFCHK" offsets "$WORK/k.json.xz" "$WORK/profile"
python3 "$ISFCHK" pslist "$WORK/k.json.xz" "$WORK/b.lime" >"$WORK/vol.ps" 2>"$WORK/vol.err"
python3 -c 'import json,sys
for p in json.load(open(sys.argv[1]))["processes"]: print(p["pid"], p["tgid"], p["ppid"], p["comm"])' \
  "$WORK/live.ps" >"$WORK/live.ps.txt"
check "isf_pslist_of_the_lime_image_equals_live_ps" eval 'cmp -s "$WORK/vol.ps" "$WORK/live.ps.txt" && [ $(wc -l <"$WORK/vol.ps") -gt 20 ]'
"$SEVMON" isf "$WORK/b.sealed" --out "$WORK/k2.json" 2>/dev/null
check "isf_from_an_image_has_the_same_types_and_symbols" python3 -c 'import json,lzma,sys
a = json.load(lzma.open(sys.argv[1], "rt")); b = json.load(open(sys.argv[2]))
for k in ("base_types", "user_types", "enums", "symbols"): assert a[k] == b[k], k' "$WORK/k.json.xz" "$WORK/k2.json"
qmp '{"execute":"cont"}'

# --- placement (a): the agent in the running guest, on /proc/kcore -----------------------------
rm -f "$WORK/b.raw" "$WORK/b.elf" "$WORK/b.sealed" "$WORK/qmp.elf"
"$SEVMON" acquire "$URIA" "${KEYS_CLI[@]}" --quiet --plain --out "$WORK/a.lime" 2>"$WORK/acq-a.log"
echo "# placement (a), TCG guest: $(grep -o 'in [0-9.]* s, [0-9]* MiB/s' "$WORK/acq-a.log")"
qmp '{"execute":"stop"}'
"$TESTVM" dump "$G" "$WORK/qmp2.elf" >/dev/null 2>&1
qmp '{"execute":"cont"}'
ksym() { grep -m1 " $1\$" "$WORK/kallsyms" | cut -d' ' -f1; }
"$TESTVM" exec "$G" -- cat /proc/kallsyms >"$WORK/kallsyms"
pb=$(grep '^phys_base=' "$WORK/profile" | cut -d= -f2)
ro0=$(( (0x$(ksym __start_rodata) - 0xffffffff80000000 + pb) & 0xffffffffffff ))
ro1=$(( (0x$(ksym __end_rodata) - 0xffffffff80000000 + pb) & 0xffffffffffff ))
check "placement_a_kernel_rodata_equals_qmp_dump" python3 "$CMP" pages "$WORK/a.lime" "$WORK/qmp2.elf" $ro0 $ro1
check "placement_a_manifest_lists_ranges_and_hashes" python3 -c 'import json,sys
m = json.load(open(sys.argv[1]))
assert m["format"] == "lime" and not m["sealed"] and len(m["ranges"]) >= 1
assert all(len(r["sha256"]) == 64 for r in m["ranges"]) and m["evidence"]["chain_ok"]
assert m["unreadable_bytes"] == sum(u["size"] for u in m["unreadable"])' "$WORK/a.lime.manifest.json"
[ $FAILS -eq 0 ]
