#!/usr/bin/env bash
# Rootkit detection end to end: one live Debian guest under QEMU (TCG) with the test
# rootkit modules (tests/rootkit/kmod, built for its kernel) and sevmon-agent inside, also
# read from the host through its RAM file. A clean guest must give zero findings over
# repeated sweeps in both placements (a: the agent in the guest over /proc/kcore; b: the
# agent outside, over the RAM file); then each technique is loaded, the guest's own view
# is shown fooled where the technique hides something, sevmon must report it with the
# right check, kind, module and MITRE technique, and the module is unloaded (where the
# technique allows) and the check is clean again.
#
# usage: tests/rootkit/test_rootkit_detect.sh BUILD_DIR [KERNEL_PACKAGE]     TAP output
#   KERNEL_PACKAGE  default linux-image-amd64 (6.1); linux-image-6.12-amd64 for 6.12
# Environment: TESTVM_CACHE (downloads, shared with deploy/testvm), RK_KEEP=1 (keep the work
# directory), RK_CLEAN_ONLY=1 (only the clean sweeps: for flavours).
# shellcheck disable=SC2016  # checkx conditions are single-quoted on purpose (eval'ed later)
set -uo pipefail
B=$(cd "${1:?build dir}" && pwd)
PKG=${2:-linux-image-amd64}
HERE=$(cd "$(dirname "$0")" && pwd)
REPO=$(cd "$HERE/../.." && pwd)
TESTVM=$REPO/deploy/testvm
SEVMON=$B/ids-svc/cli/sevmon
AGENT=$B/agent-svc/sevmon-agent
WORK=$(mktemp -d "${TMPDIR:-/tmp}/sevmon-rkd.XXXXXX")
export SEVMON_CACHE=$WORK/profiles
G=$WORK/guest
KO=$WORK/ko
AGENT_PID=
. "$REPO/deploy/keys.sh"
cleanup() {
  [ -n "$AGENT_PID" ] && kill "$AGENT_PID" 2>/dev/null
  "$TESTVM" stop "$G" >/dev/null 2>&1
  wait 2>/dev/null
  if [ -n "${RK_KEEP:-}" ]; then echo "# kept $WORK"; else rm -rf "$WORK"; fi
}
trap cleanup EXIT

CLEAN_B=3 # clean sweeps in placement (b); (a) gets one: its agent runs under TCG
if [ -n "${RK_CLEAN_ONLY:-}" ]; then N=$((CLEAN_B + 3)); else N=53; fi
echo "1..$N"
K=0; FAILS=0
ok() { K=$((K + 1)); echo "ok $K - $1"; }
not_ok() { K=$((K + 1)); FAILS=$((FAILS + 1)); echo "not ok $K - $1"; shift; for l in "$@"; do echo "# $l"; done; }
check() { local name=$1; shift; if "$@"; then ok "$name"; else not_ok "$name" "failed: $*"; fi; }
checkx() { if eval "$2"; then ok "$1"; else not_ok "$1" "failed: $2"; fi; }
bail() { echo "# $1"; while [ $K -lt $N ]; do not_ok "skipped_after_setup_failure"; done; exit 1; }
note() { echo "# $*"; }

keys_setup "$WORK/keys" "$SEVMON" || bail "cannot make keys"
g() { "$TESTVM" exec "$G" --timeout 60 -- sh -c "$1"; }
p() { g "cat /sys/module/$1/parameters/$2" 2>/dev/null | tr -d '\n'; }
insmod() { g "insmod /lib/rootkit/$*" >"$WORK/insmod.out" 2>&1 || { sed 's/^/# /' "$WORK/insmod.out"; return 1; }; }
rmmod() { g "rmmod $1" >"$WORK/rmmod.out" 2>&1 || { sed 's/^/# /' "$WORK/rmmod.out"; return 1; }; }

# --- the guest: modules built for its kernel, the agent inside -------------------------------
"$TESTVM" build --kernel-package "$PKG" --out "$G" >"$WORK/build0.log" 2>&1 ||
  bail "testvm build failed: $(tail -n 3 "$WORK/build0.log")"
REL=$(sed -n 's/^kernel_release=//p' "$G/info")
note "kernel package $PKG -> release $REL"
if [ -z "${RK_CLEAN_ONLY:-}" ]; then
  "$HERE/build-modules.sh" "$REL" "$KO" >"$WORK/modules.log" 2>&1 ||
    bail "module build failed: $(tail -n 5 "$WORK/modules.log")"
  EXTRA=(--extra "$KO=/lib/rootkit" --extra "$B/tests/rk_bpf_load=/bin/rk_bpf_load")
else
  EXTRA=()
fi
"$TESTVM" build --kernel-package "$PKG" --out "$G" --agent "$AGENT" \
  --agent-args "--listen tcp://0.0.0.0:7000 --memory kcore $KEYS_GUEST_AGENT" \
  "${KEYS_GUEST_EXTRA[@]}" "${EXTRA[@]}" >"$WORK/build.log" 2>&1 ||
  bail "testvm build failed: $(tail -n 3 "$WORK/build.log")"
URI_A=$("$TESTVM" run "$G" --accel tcg --ram-file "$WORK/g.ram" --agent-wait --timeout 300 \
  2>"$WORK/run.log") || bail "testvm run failed: $(tail -n 3 "$WORK/run.log")"
note "$(grep -E '^(accel|boot_seconds)=' "$G/run.env" | tr '\n' ' ')"
"$AGENT" -q --memory "ramfile:$WORK/g.ram" --listen "unix://$WORK/b.sock" "${KEYS_AGENT[@]}" &
AGENT_PID=$!
for _ in $(seq 100); do [ -S "$WORK/b.sock" ] && break; sleep 0.05; done
URI_B=unix://$WORK/b.sock
# some processes of its own, as a guest has
g 'for i in 1 2 3 4 5; do setsid sleep 1000$i </dev/null >/dev/null 2>&1 & done' >/dev/null

# sweep URI OUT [NAME...]: sevmon check --json; its exit status
sweep() {
  local uri=$1 out=$2; shift 2
  "$SEVMON" check "$uri" "$@" "${KEYS_CLI[@]}" --json --stats >"$out" 2>"$out.err"
}
# FILE: every check ran (ok) and raised no finding
clean() {
  python3 - "$1" <<'PY'
import json, sys
bad = []
for l in open(sys.argv[1]):
    r = json.loads(l)
    if not r["ok"]:
        bad.append(f'{r["check"]}: {r.get("error")}')
    for f in r.get("findings", []):
        bad.append(f'{r["check"]}: {f["severity"]} {f["kind"]} {f["subject"]} {json.dumps(f.get("detail"))}')
for b in bad:
    print("#", b)
sys.exit(1 if bad else 0)
PY
}
# found FILE CHECK KIND TECHNIQUE FIELD=VALUE...: a finding of that check and kind with that
# technique whose subject or detail has each FIELD=VALUE (subject=..., module=..., ...;
# FIELD~=PREFIX for a prefix)
# check_clean FILE CHECK: that check ran and raised nothing
check_clean() {
  python3 - "$1" "$2" <<'PY'
import json, sys
for l in open(sys.argv[1]):
    r = json.loads(l)
    if r["check"] == sys.argv[2]:
        for f in r.get("findings", []):
            print("#", f["kind"], f["subject"], json.dumps(f.get("detail")))
        sys.exit(0 if r["ok"] and not r.get("findings") else 1)
sys.exit(1)
PY
}
found() {
  python3 - "$@" <<'PY'
import json, sys
path, check, kind, tech, *want = sys.argv[1:]
def matches(f):
    d = dict(f.get("detail") or {})
    d["subject"] = f["subject"]
    for w in want:
        if "~=" in w:  # FIELD~=PREFIX
            k, v = w.split("~=", 1)
            if not str(d.get(k)).startswith(v):
                return False
            continue
        k, v = w.split("=", 1)
        if str(d.get(k)) != v:
            return False
    return f["kind"] == kind and f.get("technique") == tech
seen = []
for l in open(path):
    r = json.loads(l)
    for f in r.get("findings", []):
        seen.append(f'{r["check"]}: {f["kind"]} {f["subject"]} {f.get("technique")} {json.dumps(f.get("detail"))}')
        if r["check"] == check and matches(f):
            sys.exit(0)
for s in seen:
    print("#", s)
print(f"# wanted {check} {kind} {tech} {want}")
sys.exit(1)
PY
}
stats() { grep '^# sweep' "$1.err" | sed 's/^# //'; }

# --- clean: zero findings, sweep after sweep, both placements -------------------------------
for i in $(seq "$CLEAN_B"); do
  sweep "$URI_B" "$WORK/clean-b$i.jsonl"; rc=$?
  note "placement (b) sweep $i: $(stats "$WORK/clean-b$i.jsonl")"
  checkx "clean_guest_no_findings_placement_b_sweep_$i" '[ $rc = 0 ] && clean "$WORK/clean-b$i.jsonl"'
done
sweep "$URI_A" "$WORK/clean-a.jsonl"; rc=$?
note "placement (a) sweep: $(stats "$WORK/clean-a.jsonl")"
checkx "clean_guest_no_findings_placement_a" '[ $rc = 0 ] && clean "$WORK/clean-a.jsonl"'
# both placements read the same kernel: the same processes, modules and views
checkx "placements_agree_on_the_views" 'python3 - "$WORK/clean-a.jsonl" "$WORK/clean-b1.jsonl" <<'"'"'PY'"'"'
import json, sys
def load(p):
    return {json.loads(l)["check"]: json.loads(l).get("result") for l in open(p)}
a, b = load(sys.argv[1]), load(sys.argv[2])
def mods(r): return sorted(m["name"] for m in r["modules"])
ok = mods(a["modules"]) == mods(b["modules"]) and a["banner"] == b["banner"] and \
    a["hidden_modules"]["views"] == b["hidden_modules"]["views"]
sys.exit(0 if ok else 1)
PY'
if [ -n "${RK_CLEAN_ONLY:-}" ]; then
  checkx "clean_guest_help_lists_every_check" '"$SEVMON" check --help | grep -q hidden_procs'
  [ $FAILS -eq 0 ]
  exit
fi

# --- rk_hide_task: a sleeping process unlinked from the task list -----------------------------
g 'setsid sleep 100001 </dev/null >/dev/null 2>&1 &'
TP=$(g 'sleep 0.3; pidof sleep' | tr ' ' '\n' | sort -n | tail -n 1)
note "target process: sleep, pid $TP"
# ps: in ps (/proc, i.e. the pid IDR); sysrq: in SysRq-t (for_each_process, the task list)
tviews() {
  g "ps -o pid | tr -d ' ' | grep -qx $TP && echo -n ps=1 || echo -n ps=0
    dmesg -c >/dev/null; echo t >/proc/sysrq-trigger
    dmesg -c | grep -q 'pid:$TP ' && echo ' sysrq=1' || echo ' sysrq=0'"
}
# list: unlinked from the task list (hidden_procs); proc: /proc's readdir wrapped (hooks:
# the /proc root inode's file operations); both: both findings
for spec in "list:ps=1 sysrq=0" "proc:ps=0 sysrq=1" "both:ps=0 sysrq=0"; do
  m=${spec%%:*}; want=${spec#*:}
  if insmod rk_hide_task.ko pid="$TP" mode="$m"; then
    v=$(tviews)
    note "rk_hide_task mode=$m: guest views $v"
    check "hide_task_${m}_fools_the_guest" [ "$v" = "$want" ]
    sweep "$URI_B" "$WORK/task-$m.jsonl" hidden_procs hooks
    det=; [ $m != proc ] && det='found "$WORK/task-$m.jsonl" hidden_procs hidden_process T1014 subject="$TP:sleep" pid="$TP"'
    [ $m != list ] && det="${det:+$det && }"'found "$WORK/task-$m.jsonl" hooks proc_fops_replaced T1014 module=rk_hide_task'
    checkx "hide_task_${m}_detected" "$det"
    checkx "hide_task_${m}_unloads_clean_again" 'rmmod rk_hide_task && sweep "$URI_B" "$WORK/task-$m-after.jsonl" hidden_procs hooks &&
      clean "$WORK/task-$m-after.jsonl"'
  else
    for t in fools detected unloads; do not_ok "hide_task_${m}_$t" "insmod failed"; done
  fi
done

# --- hooks: each module registers or writes one; sevmon names the hook point and the module --
# hook MODULE KIND TECHNIQUE 'guest proof' [insmod args]: load, prove it live in the guest,
# find it, unload, clean again.
hook() {
  local mod=$1 kind=$2 tech=$3 proof=$4; shift 4
  if insmod "$mod.ko" "$@"; then
    checkx "${mod}_live_in_the_guest" "$proof"
    sweep "$URI_B" "$WORK/$mod.jsonl" hooks text
    # what the kernel patched for it (ftrace sites, static keys) is not a text finding
    checkx "${mod}_detected_${kind}_text_sees_only_the_kernels_patching" 'found "$WORK/$mod.jsonl" hooks "$kind" "$tech" module="$mod" &&
      { [ "$mod" = rk_tcp_seq ] || check_clean "$WORK/$mod.jsonl" text; }'
    checkx "${mod}_unloads_clean_again" 'rmmod "$mod" && sweep "$URI_B" "$WORK/$mod-after.jsonl" hooks text &&
      clean "$WORK/$mod-after.jsonl"'
  else
    for t in live detected unloads; do not_ok "${mod}_$t" "insmod failed"; done
  fi
}
# ftrace IPMODIFY redirect of __x64_sys_kill: kill -0 31338 "succeeds" (no such pid)
hook rk_ftrace ftrace_hook T1014 '[ "$(g "kill -0 31338 2>/dev/null; echo \$?")" = 0 ]'
# kprobe + kretprobe on __x64_sys_openat: hits grow
hook rk_kprobe kprobe_hook T1014 'g "cat /etc/passwd >/dev/null"; [ "$(p rk_kprobe hits)" -gt 0 ]'
# netfilter PRE_ROUTING: loopback pings are seen
hook rk_netfilter netfilter_hook T1205 'g "ping -c 2 -W 2 127.0.0.1 >/dev/null"; [ "$(p rk_netfilter hits)" -gt 0 ]'
# keyboard notifier: keys injected through QMP are logged
keys() {
  for k in s e v; do
    "$TESTVM" qmp "$G" "{\"execute\":\"send-key\",\"arguments\":{\"keys\":[{\"type\":\"qcode\",\"data\":\"$k\"}]}}" >/dev/null
  done
  sleep 1
  [[ " $(p rk_keyboard keys) " == *" 31 18 47 "* ]]
}
hook rk_keyboard keyboard_notifier T1056.001 'keys'
# tcp4/tcp6 seq_ops->show replaced: a listener on 4444 vanishes from /proc/net/tcp
g 'mkdir -p /tmp/www; setsid httpd -f -p 127.0.0.1:4444 -h /tmp/www </dev/null >/dev/null 2>&1 & sleep 1'
hook rk_tcp_seq seq_ops_hooked T1014 '[ "$(g "grep -c :115C /proc/net/tcp")" = 0 ] &&
  g "nc -w 3 127.0.0.1 4444 </dev/null >/dev/null"' port=4444
checkx "rk_tcp_seq_rodata_change_detected_text" 'found "$WORK/rk_tcp_seq.jsonl" text rodata_modified T1014 \
  symbol="tcp4_seq_ops+0x18" module=rk_tcp_seq'
g 'killall httpd 2>/dev/null; true'

# --- rk_syscall: sys_call_table[__NR_kill] replaced (CR0.WP, then through a vmap alias) -----
for how in cr0 alias; do
  args=; [ $how = alias ] && args=rk_alias=1
  # shellcheck disable=SC2086
  if insmod rk_syscall.ko $args; then
    entry=$(p rk_syscall entry); hook=$(p rk_syscall hook)
    note "rk_syscall ($how): slot $(p rk_syscall slot) = $entry, hook $hook, dispatch=$(p rk_syscall dispatch)"
    sweep "$URI_B" "$WORK/sys-$how.jsonl" syscalls text
    checkx "syscall_${how}_table_entry_hooked_detected" '[ -n "$hook" ] && [ "$entry" = "$hook" ] &&
      found "$WORK/sys-$how.jsonl" syscalls syscall_hooked T1014 subject="x64 62 kill" module=rk_syscall &&
      found "$WORK/sys-$how.jsonl" text rodata_modified T1014 symbol="sys_call_table+0x1f0" module=rk_syscall'
    checkx "syscall_${how}_unloads_clean_again" 'rmmod rk_syscall && sweep "$URI_B" "$WORK/sys-$how-after.jsonl" syscalls text &&
      clean "$WORK/sys-$how-after.jsonl"'
  else
    not_ok "syscall_${how}_table_entry_hooked_detected" "insmod failed"; not_ok "syscall_${how}_unloads_clean_again" "not loaded"
  fi
done

# --- rk_patch_text: the ftrace NOP at __x64_sys_sethostname's entry replaced ---------------
# hook: by a call into the module (sethostname runs module code); nop: by other NOPs
for spec in "hook:" "nop:mode=nop rk_alias=1"; do
  m=${spec%%:*}; args=${spec#*:}
  # shellcheck disable=SC2086
  if insmod rk_patch_text.ko $args; then
    bytes=$(p rk_patch_text bytes); h0=$(p rk_patch_text hits)
    name=$(g 'hostname testvm && hostname'); h1=$(p rk_patch_text hits)
    note "rk_patch_text mode=$m: $(p rk_patch_text site) = $bytes, hits $h0 -> $h1"
    if [ $m = hook ]; then proof='[ "${bytes:0:2}" = e8 ] && [ "$name" = testvm ] && [ "${h1:-0}" -gt "${h0:-0}" ]'
    else proof='[ "$bytes" = 9090909090 ] && [ "$name" = testvm ]'; fi
    checkx "patch_text_${m}_applied_and_kernel_works" "$proof"
    sweep "$URI_B" "$WORK/patch-$m.jsonl" text
    want='found "$WORK/patch-$m.jsonl" text ftrace_site_altered T1014 symbol~=__x64_sys_sethostname'
    [ $m = hook ] && want="$want module=rk_patch_text"
    checkx "patch_text_${m}_detected_text" "$want"
    checkx "patch_text_${m}_unloads_clean_again" 'rmmod rk_patch_text && sweep "$URI_B" "$WORK/patch-$m-after.jsonl" text &&
      clean "$WORK/patch-$m-after.jsonl"'
  else
    for t in applied detected unloads; do not_ok "patch_text_${m}_$t" "insmod failed"; done
  fi
done

# --- eBPF: a kprobe-type program loaded and held by a process --------------------------------
g 'setsid /bin/rk_bpf_load rk_bpf_probe </dev/null >/tmp/bpf.out 2>&1 & sleep 1'
checkx "bpf_program_loaded_in_the_guest" '[[ "$(g "cat /tmp/bpf.out")" == loaded* ]]'
sweep "$URI_B" "$WORK/bpf.jsonl" bpf
checkx "bpf_kprobe_program_detected_and_listed" 'found "$WORK/bpf.jsonl" bpf bpf_program T1014 name=rk_bpf_probe type=kprobe &&
  "$SEVMON" bpf "$URI_B" "${KEYS_CLI[@]}" | grep -q " kprobe  *rk_bpf_probe "'
checkx "bpf_program_unloaded_clean_again" 'g "killall rk_bpf_load; sleep 1"; sweep "$URI_B" "$WORK/bpf-after.jsonl" bpf &&
  clean "$WORK/bpf-after.jsonl"'

# --- rk_hide_module: off the module list (and off /sys/module) --------------------------------
mviews() {
  g 'grep -q "^rk_hide_module " /proc/modules && echo -n procmod=1 || echo -n procmod=0
    [ -d /sys/module/rk_hide_module ] && echo " sysfs=1" || echo " sysfs=0"'
}
if insmod rk_hide_module.ko; then
  v=$(mviews)
  note "rk_hide_module hide_sysfs=0: guest views $v"
  check "hide_module_list_fools_lsmod" [ "$v" = "procmod=0 sysfs=1" ]
  sweep "$URI_B" "$WORK/mod-list.jsonl" hidden_modules modules
  checkx "hide_module_list_detected_via_sysfs_and_module_area" 'found "$WORK/mod-list.jsonl" hidden_modules \
    hidden_module T1014 module=rk_hide_module in="['"'"'sysfs'"'"', '"'"'module_area'"'"']"'
  checkx "hide_module_list_not_in_sevmon_modules_either" '! grep -q "\"rk_hide_module\"" <(grep "\"check\":\"modules\"" "$WORK/mod-list.jsonl")'
  sweep "$URI_A" "$WORK/mod-list-a.jsonl" hidden_modules
  checkx "hide_module_list_detected_placement_a" 'found "$WORK/mod-list-a.jsonl" hidden_modules hidden_module T1014 module=rk_hide_module'
  g 'echo 1 >/sys/module/rk_hide_module/parameters/unhide'
  checkx "hide_module_list_unhides_unloads_clean_again" 'rmmod rk_hide_module &&
    sweep "$URI_B" "$WORK/mod-list-after.jsonl" hidden_modules && clean "$WORK/mod-list-after.jsonl"'
else
  for t in fools_lsmod detected not_in_modules detected_a unloads; do not_ok "hide_module_list_$t" "insmod failed"; done
fi
# Last: it cannot be unloaded.
if insmod rk_hide_module.ko hide_sysfs=1; then
  v=$(mviews)
  note "rk_hide_module hide_sysfs=1: guest views $v"
  check "hide_module_sysfs_fools_lsmod_and_sysfs" [ "$v" = "procmod=0 sysfs=0" ]
  sweep "$URI_B" "$WORK/mod-sysfs.jsonl" hidden_modules
  checkx "hide_module_sysfs_detected_by_carving" 'found "$WORK/mod-sysfs.jsonl" hidden_modules hidden_module T1014 \
    module=rk_hide_module in="['"'"'module_area'"'"']"'
  # the sweep exits 1: a high finding
  sweep "$URI_B" "$WORK/final.jsonl"; rc=$?
  checkx "sweep_with_a_high_finding_exits_1" '[ $rc = 1 ]'
  # offline: the same checks on a memory image of the guest, read here without an agent
  if "$TESTVM" dump "$G" "$WORK/g.elf" >"$WORK/dump.log" 2>&1; then
    "$SEVMON" check "$WORK/g.elf" hidden_modules hidden_procs syscalls text --json >"$WORK/offline.jsonl" 2>"$WORK/offline.err"
    checkx "offline_image_hidden_module_found_other_checks_clean" 'found "$WORK/offline.jsonl" hidden_modules hidden_module \
      T1014 module=rk_hide_module && check_clean "$WORK/offline.jsonl" syscalls && check_clean "$WORK/offline.jsonl" text'
    rm -f "$WORK/g.elf"
  else
    not_ok "offline_image_hidden_module_found_other_checks_clean" "testvm dump failed: $(tail -n 2 "$WORK/dump.log")"
  fi
else
  for t in fools detected exits offline; do not_ok "hide_module_sysfs_$t" "insmod failed"; done
fi
checkx "no_kernel_splat" '[ -z "$(g "dmesg | grep -E \"BUG:|WARNING:|Oops|general protection\"")" ]'
while [ $K -lt $N ]; do not_ok "test_count_short_of_plan"; done
[ $FAILS -eq 0 ]
