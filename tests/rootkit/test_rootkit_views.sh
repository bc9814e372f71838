#!/usr/bin/env bash
# Rootkit techniques on a live Debian kernel under QEMU: each test module (tests/rootkit/kmod,
# built for the guest's kernel by build-modules.sh) is loaded into one booted guest, and the
# guest's OWN views are shown to be fooled where the technique hides something (lsmod,
# /proc/modules, /sys/module, ps, /proc, SysRq-t, netstat, /proc/net/tcp{,6}, kill(2)), or the
# hook is shown to be live where it hides nothing (counters in /sys/module/rk_*/parameters,
# dmesg). Then it is unloaded (where the technique allows) and the view is shown restored.
# This is the "the rootkit really works" half of a detection test; see tests/rootkit/README.md.
#
# usage: tests/rootkit/test_rootkit_views.sh [KERNEL_PACKAGE]          TAP output
#   KERNEL_PACKAGE  default linux-image-amd64; e.g. linux-image-6.12.118+deb12-amd64-unsigned
# Environment:
#   TESTVM          the testvm to use (default deploy/testvm)
#   TESTVM_CACHE    download/build cache (default REPO/.cache), shared with testvm
#   RK_BUILD_ARGS   extra `testvm build` arguments (e.g. --agent PATH ...), word-split
#   RK_RUN_ARGS     extra `testvm run` arguments (e.g. --ram-file PATH), word-split
#   RK_OBSERVE      a command run as `$RK_OBSERVE TECHNIQUE GUEST_DIR` while each technique is
#                   active (after the guest view was checked); its output becomes TAP comments.
#                   The hook point for "and sevmon reports it".
#   RK_KEEP=1       keep the work directory (guest, logs) and print its path
# One guest boot per run; modules that cannot be unloaded (a hidden rk_hide_module) come last.
# shellcheck disable=SC2016,SC2034  # checkx conditions are single-quoted on purpose (eval'ed later)
set -uo pipefail
PKG=${1:-linux-image-amd64}
HERE=$(cd "$(dirname "$0")" && pwd)
REPO=$(cd "$HERE/../.." && pwd)
TESTVM=${TESTVM:-$REPO/deploy/testvm}
WORK=$(mktemp -d "${TMPDIR:-/tmp}/sevmon-rk.XXXXXX")
G=$WORK/guest
KO=$WORK/ko
cleanup() {
  "$TESTVM" stop "$G" >/dev/null 2>&1
  if [ -n "${RK_KEEP:-}" ]; then echo "# kept $WORK"; else rm -rf "$WORK"; fi
}
trap cleanup EXIT

N=34
echo "1..$N"
K=0; FAILS=0
ok() { K=$((K + 1)); echo "ok $K - $1"; }
not_ok() { K=$((K + 1)); FAILS=$((FAILS + 1)); echo "not ok $K - $1"; shift; for l in "$@"; do echo "# $l"; done; }
skip() { K=$((K + 1)); echo "ok $K - $1 # SKIP $2"; }
check() { local name=$1; shift; if "$@"; then ok "$name"; else not_ok "$name" "failed: $*"; fi; }
# checkx NAME 'shell condition': for compound conditions (evaluated here, with the globals).
checkx() { if eval "$2"; then ok "$1"; else not_ok "$1" "failed: $2"; fi; }
bail() { echo "# $1"; while [ $K -lt $N ]; do not_ok "skipped_after_setup_failure"; done; exit 1; }
note() { echo "# $*"; }

# g 'shell code': run it in the guest (as root, busybox sh); stdout is the guest's.
g() { "$TESTVM" exec "$G" --timeout 60 -- sh -c "$1"; }
# p MODULE PARAM: a parameter of a loaded module.
p() { g "cat /sys/module/$1/parameters/$2" 2>/dev/null | tr -d '\n'; }
# Kernel splats since boot (SysRq-t prints "Call Trace:" per task: not a splat).
SPLAT='BUG:|WARNING:|Oops|corruption|general protection|kernel panic|ftrace bug|ftrace failed|Unable to handle'
no_splat() {
  local s
  s=$(g "dmesg | grep -E '$SPLAT'")
  [ -z "$s" ] || { echo "$s" | head -n 20 | sed 's/^/# /'; return 1; }
}
observe() { # TECHNIQUE
  [ -n "${RK_OBSERVE:-}" ] || return 0
  $RK_OBSERVE "$1" "$G" 2>&1 | sed 's/^/# observe: /'
}
insmod() { g "insmod /lib/rootkit/$*" >"$WORK/insmod.out" 2>&1 || { sed 's/^/# /' "$WORK/insmod.out"; return 1; }; }
rmmod() { g "rmmod $1" >"$WORK/rmmod.out" 2>&1 || { sed 's/^/# /' "$WORK/rmmod.out"; return 1; }; }
loaded() { g "grep -q '^$1 ' /proc/modules"; }
gt0() { [ "${1:-0}" -gt 0 ] 2>/dev/null; }

# --- guest with the modules built for its kernel ----------------------------------------------
# First build: only to learn the kernel release (cheap: the package is cached by then).
"$TESTVM" build --kernel-package "$PKG" --out "$G" >"$WORK/build0.log" 2>&1 ||
  bail "testvm build failed: $(tail -n 3 "$WORK/build0.log")"
REL=$(sed -n 's/^kernel_release=//p' "$G/info")
note "kernel package $PKG -> release $REL"
"$HERE/build-modules.sh" "$REL" "$KO" >"$WORK/modules.log" 2>&1 ||
  bail "module build failed: $(tail -n 5 "$WORK/modules.log")"
# shellcheck disable=SC2086  # RK_BUILD_ARGS is a list of arguments
"$TESTVM" build --kernel-package "$PKG" --out "$G" --extra "$KO=/lib/rootkit" ${RK_BUILD_ARGS:-} \
  >"$WORK/build.log" 2>&1 || bail "testvm build failed: $(tail -n 3 "$WORK/build.log")"
# No agent unless RK_BUILD_ARGS built one in.
noagent=--no-agent
[[ " ${RK_BUILD_ARGS:-} " != *" --agent "* ]] || noagent=
# shellcheck disable=SC2086
"$TESTVM" run "$G" $noagent --timeout 300 ${RK_RUN_ARGS:-} >/dev/null 2>"$WORK/run.log" ||
  bail "testvm run failed: $(tail -n 3 "$WORK/run.log")"
note "$(grep -E '^(accel|boot_seconds)=' "$G/run.env" | tr '\n' ' ')"

# Unsigned out-of-tree modules load unless lockdown is on (Debian: only under EFI Secure Boot;
# QEMU's -kernel boot is BIOS, so none) or module.sig_enforce=1.
lock=$(g 'mount -t securityfs securityfs /sys/kernel/security 2>/dev/null
  cat /sys/kernel/security/lockdown; cat /sys/module/module/parameters/sig_enforce' | tr '\n' ' ')
note "lockdown / sig_enforce: $lock"
checkx "unsigned_modules_allowed_lockdown_none" '[[ $lock == "[none] "*" N "* ]]'

# --- rk_kprobe: kprobe + kretprobe (hides nothing: the counters prove it live) ---------------
if insmod rk_kprobe.ko; then
  g 'cat /etc/passwd /etc/group >/dev/null'
  h=$(p rk_kprobe hits); r=$(p rk_kprobe returns)
  listed=$(g 'grep -c __x64_sys_openat /sys/kernel/debug/kprobes/list')
  note "rk_kprobe: hits=$h returns=$r, debugfs kprobes/list lines: $listed"
  checkx "kprobe_live_counts_openat" 'gt0 "$h" && gt0 "$r" && gt0 "$listed"'
  observe kprobe
  checkx "kprobe_unloads" 'rmmod rk_kprobe && ! loaded rk_kprobe && no_splat'
else
  not_ok "kprobe_live_counts_openat" "insmod failed"; not_ok "kprobe_unloads" "not loaded"
fi

# --- rk_ftrace: ftrace IPMODIFY redirect of __x64_sys_kill: kill -0 31338 "succeeds" --------
before=$(g 'kill -0 31338 2>/dev/null; echo $?')
if insmod rk_ftrace.ko; then
  during=$(g 'kill -0 31338 2>/dev/null; echo $?')
  calls=$(p rk_ftrace calls)
  ef=$(g 'mount -t tracefs tracefs /sys/kernel/tracing 2>/dev/null
    grep __x64_sys_kill /sys/kernel/tracing/enabled_functions')
  note "rk_ftrace: kill -0 31338 (no such pid) before=$before during=$during, calls=$calls"
  note "enabled_functions: $ef"
  checkx "ftrace_hook_fools_kill_for_magic_pid" '[ "$before" != 0 ] && [ "$during" = 0 ] && gt0 "$calls"'
  observe ftrace
  checkx "ftrace_unloads_and_kill_is_honest_again" 'rmmod rk_ftrace && no_splat &&
    [ "$(g "kill -0 31338 2>/dev/null; echo \$?")" != 0 ]'
else
  not_ok "ftrace_hook_fools_kill_for_magic_pid" "insmod failed"; not_ok "ftrace_unloads_and_kill_is_honest_again" "not loaded"
fi

# --- rk_syscall: sys_call_table[__NR_kill] replaced ----------------------------------------
if insmod rk_syscall.ko; then
  entry=$(p rk_syscall entry); hook=$(p rk_syscall hook); orig=$(p rk_syscall orig)
  disp=$(p rk_syscall dispatch)
  during=$(g 'kill -0 31337 2>/dev/null; echo $?'); calls=$(p rk_syscall calls)
  note "rk_syscall: table slot $(p rk_syscall slot): $orig -> $entry (hook $hook); dispatch=$disp;" \
    "kill -0 31337 -> $during, hook calls=$calls"
  checkx "syscall_table_entry_points_into_module" '[ -n "$hook" ] && [ "$entry" = "$hook" ] && [ "$orig" != "$hook" ]'
  if [ "$disp" = x64_sys_call ]; then
    # x86-64 dispatches through the x64_sys_call() switch (BHI fix): the table is not used.
    checkx "syscall_table_hook_not_on_dispatch_path_x64_sys_call" '[ "$during" != 0 ] && [ "$calls" = 0 ]'
  else
    checkx "syscall_table_hook_fools_kill_for_magic_pid" '[ "$during" = 0 ] && gt0 "$calls"'
  fi
  note "rk_syscall wrote the table with: $(p rk_syscall rk_method)"
  observe syscall
  checkx "syscall_unloads_table_restored" 'rmmod rk_syscall && no_splat'
else
  for t in syscall_table_entry_points_into_module syscall_hook_effect syscall_unloads_table_restored; do
    not_ok "$t" "insmod failed"; done
fi
# The same through a vmap() alias (the path taken where CR4.CET forbids clearing CR0.WP).
if insmod rk_syscall.ko rk_alias=1; then
  entry=$(p rk_syscall entry); hook=$(p rk_syscall hook); how=$(p rk_syscall rk_method)
  note "rk_syscall rk_alias=1: entry $entry, hook $hook, method $how"
  checkx "syscall_table_write_via_vmap_alias" '[ -n "$hook" ] && [ "$entry" = "$hook" ] && [ "$how" = alias ] &&
    rmmod rk_syscall && no_splat'
else
  not_ok "syscall_table_write_via_vmap_alias" "insmod failed"
fi

# --- rk_patch_text: the entry NOP of __x64_sys_sethostname -> call stub / other NOPs --------
if insmod rk_patch_text.ko; then
  bytes=$(p rk_patch_text bytes); h0=$(p rk_patch_text hits)
  name=$(g 'hostname testvm && hostname')
  h1=$(p rk_patch_text hits)
  note "rk_patch_text mode=hook: $(p rk_patch_text site) = $bytes, hits $h0 -> $h1 after hostname" \
    "(written with: $(p rk_patch_text rk_method))"
  checkx "patch_text_inline_hook_runs_and_kernel_still_works" '[ "${bytes:0:2}" = e8 ] &&
    [ "$name" = testvm ] && [ "${h1:-0}" -gt "${h0:-0}" ]'
  observe patch_text
  checkx "patch_text_unloads" 'rmmod rk_patch_text && no_splat'
else
  not_ok "patch_text_inline_hook_runs_and_kernel_still_works" "insmod failed"; not_ok "patch_text_unloads" "not loaded"
fi
# mode=nop, written through the vmap() alias (inside stop_machine) for coverage of that path.
if insmod rk_patch_text.ko mode=nop rk_alias=1; then
  bytes=$(p rk_patch_text bytes)
  name=$(g 'hostname testvm && hostname')
  note "rk_patch_text mode=nop: $(p rk_patch_text site) = $bytes (written with: $(p rk_patch_text rk_method))"
  checkx "patch_text_nop_mode_changes_bytes_harmlessly" '[ "$bytes" = 9090909090 ] && [ "$name" = testvm ]'
  observe patch_text_nop
  checkx "patch_text_nop_unloads" 'rmmod rk_patch_text && no_splat'
else
  not_ok "patch_text_nop_mode_changes_bytes_harmlessly" "insmod failed"; not_ok "patch_text_nop_unloads" "not loaded"
fi

# --- rk_netfilter: PRE_ROUTING hook; loopback packets and a "magic packet" knock -------------
if insmod rk_netfilter.ko; then
  g 'ping -c 2 -W 2 127.0.0.1 >/dev/null; timeout 5 nslookup rk-knock 127.0.0.1 >/dev/null 2>&1; true'
  h=$(p rk_netfilter hits); kn=$(p rk_netfilter knocks)
  note "rk_netfilter: hits=$h knocks=$kn"
  checkx "netfilter_hook_sees_packets_and_knock" 'gt0 "$h" && gt0 "$kn" && g "dmesg | grep -q \"rk_netfilter: knock\""'
  observe netfilter
  checkx "netfilter_unloads" 'rmmod rk_netfilter && no_splat'
else
  not_ok "netfilter_hook_sees_packets_and_knock" "insmod failed"; not_ok "netfilter_unloads" "not loaded"
fi

# --- rk_keyboard: keyboard notifier; keys injected with QMP send-key (PS/2 keyboard) --------
vt=$(grep -c '^CONFIG_VT=y' "$G/config" 2>/dev/null)
kbn=$(g 'grep -c " register_keyboard_notifier$" /proc/kallsyms')
if [ "${vt:-0}" = 0 ] || [ "${kbn:-0}" = 0 ]; then
  skip "keyboard_notifier_logs_keys" "kernel without CONFIG_VT (register_keyboard_notifier)"
  skip "keyboard_unloads" "kernel without CONFIG_VT"
elif insmod rk_keyboard.ko; then
  for k in s e v; do
    "$TESTVM" qmp "$G" "{\"execute\":\"send-key\",\"arguments\":{\"keys\":[{\"type\":\"qcode\",\"data\":\"$k\"}]}}" >/dev/null
  done
  sleep 1
  h=$(p rk_keyboard hits); keys=$(p rk_keyboard keys)
  note "rk_keyboard: hits=$h keys='$keys' (s e v = 31 18 47); input: $(g 'grep -h ^N: /proc/bus/input/devices | tr "\n" " "')"
  checkx "keyboard_notifier_logs_keys" '[ "${h:-0}" -ge 3 ] && [[ " $keys " == *" 31 18 47 "* ]]'
  observe keyboard
  checkx "keyboard_unloads" 'rmmod rk_keyboard && no_splat'
else
  not_ok "keyboard_notifier_logs_keys" "insmod failed"; not_ok "keyboard_unloads" "not loaded"
fi

# --- rk_tcp_seq: port 4444 vanishes from /proc/net/tcp{,6} and netstat while listening -------
# Two listeners on one port: 127.0.0.1:4444 (tcp4) and [::1]:4444 (tcp6, v6 only).
g 'mkdir -p /tmp/www; for a in 127.0.0.1 "[::1]"; do setsid httpd -f -p "$a:4444" -h /tmp/www </dev/null >/dev/null 2>&1 & done; sleep 1'
# Listening rows only (state 0A): the connect test leaves TIME_WAIT rows behind.
views() {
  g 'l() { awk "\$2 ~ /:115C\$/ && \$4 == \"0A\"" "$1" | wc -l; }
    echo "netstat=$(netstat -ltn | grep -c ":4444 ") tcp=$(l /proc/net/tcp) tcp6=$(l /proc/net/tcp6)"'
}
connect() { g 'nc -w 3 127.0.0.1 4444 </dev/null >/dev/null && nc -w 3 ::1 4444 </dev/null >/dev/null'; }
v0=$(views)
check "tcp_seq_listeners_up_and_listed" [ "$v0" = "netstat=2 tcp=1 tcp6=1" ]
if insmod rk_tcp_seq.ko port=4444; then
  v1=$(views)
  note "rk_tcp_seq: before: $v0; loaded: $v1; tables hooked: $(p rk_tcp_seq tables)"
  check "tcp_seq_hides_port_from_proc_net_tcp_and_netstat" [ "$v1" = "netstat=0 tcp=0 tcp6=0" ]
  check "tcp_seq_hidden_listeners_still_accept" connect
  observe tcp_seq
  v2=
  rows=$(g 'for f in /proc/net/tcp /proc/net/tcp6; do awk "\$2 ~ /:115C\$/" $f | wc -l; done' | tr '\n' ' ')
  note "rows with local port 4444 (any state) while hidden: $rows; rows dropped so far: $(p rk_tcp_seq hidden)"
  checkx "tcp_seq_unloads_and_port_reappears" 'rmmod rk_tcp_seq && no_splat && v2=$(views) && [ "$v2" = "$v0" ]'
  note "after unload: $v2"
else
  for t in tcp_seq_hides_port_from_proc_net_tcp_and_netstat tcp_seq_hidden_listeners_still_accept tcp_seq_unloads_and_port_reappears; do
    not_ok "$t" "insmod failed"; done
fi
g 'killall httpd 2>/dev/null; true'

# --- rk_hide_task: a sleeping process hidden from the task list and/or /proc -----------------
g 'setsid sleep 100001 </dev/null >/dev/null 2>&1 &'
TP=$(g 'sleep 0.3; pidof sleep' | awk '{print $1}')
note "target process: sleep, pid $TP"
# ps=in ps; ls=in ls /proc; stat=/proc/PID/stat opens; kill=kill -0 works; sysrq=in SysRq-t.
tviews() {
  g "ps -o pid | tr -d ' ' | grep -qx $TP && echo -n ps=1 || echo -n ps=0
    ls /proc 2>/dev/null | grep -qx $TP && echo -n ' ls=1' || echo -n ' ls=0'
    cat /proc/$TP/stat >/dev/null 2>&1 && echo -n ' stat=1' || echo -n ' stat=0'
    kill -0 $TP 2>/dev/null && echo -n ' kill=1' || echo -n ' kill=0'
    dmesg -c >/dev/null; echo t >/proc/sysrq-trigger
    dmesg -c | grep -q 'pid:$TP ' && echo ' sysrq=1' || echo ' sysrq=0'"
}
t0=$(tviews)
checkx "hide_task_target_visible_everywhere" '[ -n "$TP" ] && [ "$t0" = "ps=1 ls=1 stat=1 kill=1 sysrq=1" ]'
# mode, expected views while loaded
for spec in "list:ps=1 ls=1 stat=1 kill=1 sysrq=0" "proc:ps=0 ls=0 stat=1 kill=1 sysrq=1" \
            "both:ps=0 ls=0 stat=1 kill=1 sysrq=0"; do
  m=${spec%%:*}; want=${spec#*:}
  if insmod rk_hide_task.ko pid="$TP" mode="$m"; then
    t1=$(tviews)
    note "rk_hide_task mode=$m: $t1 (dropped /proc entries: $(p rk_hide_task hidden_entries))"
    case $m in list) what=task_list_walkers ;; proc) what=ps_and_proc_readdir ;; *) what=ps_proc_readdir_and_task_list ;; esac
    check "hide_task_mode_${m}_fools_$what" [ "$t1" = "$want" ]
    observe "hide_task_$m"
    checkx "hide_task_mode_${m}_unloads_and_task_reappears" 'rmmod rk_hide_task && no_splat && [ "$(tviews)" = "$t0" ]'
  else
    not_ok "hide_task_mode_${m}_fools" "insmod failed"; not_ok "hide_task_mode_${m}_unloads" "not loaded"
  fi
done
# The hidden task may exit while hidden (its list node is self-linked), and unload still works.
if insmod rk_hide_task.ko pid="$TP" mode=both; then
  # busybox init reaps its adopted zombies within a second or two.
  gone=$(g "kill $TP; for i in \$(seq 50); do kill -0 $TP 2>/dev/null || { echo yes; break; }; sleep 0.1; done")
  checkx "hide_task_target_exits_while_hidden_then_unloads" '[ "$gone" = yes ] && rmmod rk_hide_task && no_splat'
else
  not_ok "hide_task_target_exits_while_hidden_then_unloads" "insmod failed"
fi

# --- rk_hide_module: gone from lsmod, /proc/modules, /proc/kallsyms (and /sys/module) -------
# mviews: lsmod=listed by lsmod; procmod=in /proc/modules; ksyms=its symbols in /proc/kallsyms;
# sysfs=/sys/module/rk_hide_module exists.
mviews() {
  g 'lsmod | grep -q "^rk_hide_module " && echo -n lsmod=1 || echo -n lsmod=0
    grep -q "^rk_hide_module " /proc/modules && echo -n " procmod=1" || echo -n " procmod=0"
    grep -q "\[rk_hide_module\]" /proc/kallsyms && echo -n " ksyms=1" || echo -n " ksyms=0"
    [ -d /sys/module/rk_hide_module ] && echo " sysfs=1" || echo " sysfs=0"'
}
alive_msgs() { g 'dmesg | grep -c "rk_hide_module: still running while hidden"'; }
if insmod rk_hide_module.ko; then
  sleep 2
  m1=$(mviews)
  note "rk_hide_module hide_sysfs=0: $m1; alive messages: $(alive_msgs)"
  checkx "hide_module_list_only_fools_lsmod_proc_modules_kallsyms" '[ "$m1" = "lsmod=0 procmod=0 ksyms=0 sysfs=1" ] &&
    gt0 "$(alive_msgs)"'
  observe hide_module_list
  g 'rmmod rk_hide_module 2>/dev/null'; rc=$?
  g 'echo 1 >/sys/module/rk_hide_module/parameters/unhide'
  m2=$(mviews)
  note "rmmod while hidden: status $rc; after unhide: $m2"
  checkx "hide_module_list_only_unhides_and_unloads" '[ "$rc" != 0 ] && [ "$m2" = "lsmod=1 procmod=1 ksyms=1 sysfs=1" ] &&
    rmmod rk_hide_module && [ "$(mviews)" = "lsmod=0 procmod=0 ksyms=0 sysfs=0" ] && no_splat'
else
  not_ok "hide_module_list_only_fools_lsmod_proc_modules_kallsyms" "insmod failed"
  not_ok "hide_module_list_only_unhides_and_unloads" "not loaded"
fi
# Last: this one cannot be unloaded.
n0=$(alive_msgs)
if insmod rk_hide_module.ko hide_sysfs=1; then
  sleep 2
  m3=$(mviews)
  note "rk_hide_module hide_sysfs=1: $m3; alive messages $n0 -> $(alive_msgs)"
  checkx "hide_module_sysfs_fools_lsmod_proc_modules_kallsyms_sysfs" '[ "$m3" = "lsmod=0 procmod=0 ksyms=0 sysfs=0" ] &&
    [ "$(alive_msgs)" -gt "${n0:-0}" ]'
  observe hide_module_sysfs
  checkx "hide_module_sysfs_cannot_be_unloaded_guest_still_fine" '! g "rmmod rk_hide_module 2>/dev/null" &&
    [ "$(g "echo hi")" = hi ] && no_splat'
else
  not_ok "hide_module_sysfs_fools_lsmod_proc_modules_kallsyms_sysfs" "insmod failed"
  not_ok "hide_module_sysfs_cannot_be_unloaded_guest_still_fine" "not loaded"
fi

note "taint: $(g 'cat /proc/sys/kernel/tainted')"
check "no_kernel_splat_in_the_whole_run" no_splat
while [ $K -lt $N ]; do not_ok "test_count_short_of_plan"; done
[ $FAILS -eq 0 ]
