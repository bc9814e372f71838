#!/usr/bin/env bash
# tests/rootkit/build-modules.sh: build the test rootkit modules (tests/rootkit/kmod/*.c) for one
# Debian kernel release, against that kernel's own Debian header packages.
#
# usage: tests/rootkit/build-modules.sh RELEASE OUTDIR
#   RELEASE  a Debian kernel release, e.g. 6.1.0-57-amd64 or 6.12.118+deb12-amd64
#            (a testvm guest's DIR/info has it as kernel_release=)
#   OUTDIR   receives rk_*.ko (created; old rk_*.ko there are replaced)
#
# Headers: linux-headers-RELEASE, the linux-headers-*-common and linux-kbuild-* it depends on,
# fetched with apt-get download into $CACHE/debs/ and unpacked with dpkg-deb -x into
# $CACHE/kheaders/RELEASE/root (nothing is installed on the host). The packages expect to live in
# /usr/src and /usr/lib: the top-level Makefile's absolute include and every absolute symlink
# are re-pointed into the unpacked tree, so `make -C TREE M=DIR modules` works from the cache.
# Built modules are cached in $CACHE/rootkit-ko/RELEASE-HASH (HASH: the sources, this script and
# the compiler), so a second run for the same release and sources only copies.
# $CACHE is $TESTVM_CACHE, else REPO/.cache (shared with deploy/testvm; flock'ed).
# Environment: RK_CC=gcc-N to force a compiler (default: the one the kernel was built with).
set -euo pipefail

HERE=$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)
REPO=$(cd "$HERE/../.." && pwd)
SRC=$HERE/kmod
CACHE=${TESTVM_CACHE:-$REPO/.cache}
LOCK_WAIT_S=900
DOWNLOAD_TIMEOUT_S=600

log() { printf 'build-modules: %s\n' "$*" >&2; }
die() { log "error: $*"; exit 1; }

[ $# -eq 2 ] || { sed -n '2,8s/^# \{0,1\}//p' "$0" >&2; exit 2; }
REL=$1
OUT=$2
[[ $REL =~ ^[0-9]+\.[0-9]+[-.+0-9a-z]*$ ]] || die "bad release '$REL'"
for t in apt-get apt-cache dpkg-deb make flock sha256sum modinfo; do
  command -v "$t" >/dev/null || die "$t not found"
done

mkdir -p "$CACHE/debs" "$CACHE/kheaders" "$CACHE/rootkit-ko" "$OUT"
OUT=$(cd "$OUT" && pwd)
KH=$CACHE/kheaders/$REL

candidate() { apt-cache policy "$1" 2>/dev/null | awk '$1 == "Candidate:" && $2 != "(none)" { print $2; exit }'; }

# Path of PKG's .deb in the cache (downloaded once; names as deploy/testvm uses them).
fetch() {
  local pkg=$1 ver f tmp
  ver=$(candidate "$pkg")
  if [ -z "$ver" ]; then
    f=$(ls "$CACHE"/debs/"$pkg"_*.deb 2>/dev/null | sort -V | tail -n1)
    [ -n "$f" ] || die "apt knows no '$pkg' and none is cached (apt-get update?)"
    echo "$f"; return
  fi
  f=$(ls "$CACHE/debs/${pkg}_${ver//:/%3a}"_*.deb 2>/dev/null | head -n1)
  if [ -z "$f" ]; then
    tmp=$(mktemp -d "$CACHE/debs/.dl.XXXXXX")
    log "apt-get download $pkg=$ver"
    (cd "$tmp" && timeout "$DOWNLOAD_TIMEOUT_S" apt-get download -q "$pkg=$ver" >"$tmp/log" 2>&1) ||
      { cat "$tmp/log" >&2; rm -rf "$tmp"; die "apt-get download $pkg=$ver failed"; }
    f=$CACHE/debs/$(basename "$tmp"/*.deb)
    mv "$tmp"/*.deb "$f"
    rm -rf "$tmp"
  fi
  echo "$f"
}

# The header tree of RELEASE, fetched and fixed up once.
headers() {
  local hdr=linux-headers-$REL deps p deb root l t
  local -a pkgs
  [ -f "$KH/.complete" ] && return 0
  deps=$(apt-cache depends "$hdr" 2>/dev/null |
    awk '$1 ~ /Depends:$/ && $2 ~ /^linux-(headers-.*-common|kbuild-)/ { print $2 }' | sort -u)
  [ -n "$deps" ] || die "apt-cache depends $hdr names no -common/kbuild package (unknown release? apt-get update?)"
  mapfile -t pkgs <<<"$hdr"$'\n'"$deps"
  rm -rf "$KH"; mkdir -p "$KH"
  root=$KH/root
  for p in "${pkgs[@]}"; do
    deb=$(fetch "$p")
    log "unpacking $(basename "$deb")"
    dpkg-deb -x "$deb" "$root"
  done
  # Absolute symlinks (lib/modules/REL/build -> /usr/src/..., ...) -> relative, inside the tree.
  while IFS= read -r l; do
    t=$(readlink "$l")
    case $t in /*) ln -sfn "$(realpath -m --relative-to="$(dirname "$l")" "$root$t")" "$l" ;; esac
  done < <(find "$root" -type l)
  # The flavour tree's Makefile includes the -common tree by absolute path.
  for p in "$root"/usr/src/linux-headers-*/Makefile; do
    sed -i -E "s#^include /usr/src/#include $root/usr/src/#" "$p"
  done
  [ -f "$root/usr/src/$hdr/.config" ] || die "$hdr has no .config"
  printf '%s\n' "${pkgs[@]}" >"$KH/packages"
  touch "$KH/.complete"
}

exec 9>"$CACHE/.kheaders.lock"
flock -w "$LOCK_WAIT_S" 9 || die "cache $CACHE busy for ${LOCK_WAIT_S}s"
headers   # the lock is held to the end: one build per cache at a time
TREE=$KH/root/usr/src/linux-headers-$REL

# The compiler the kernel was built with (CONFIG_CC_VERSION_TEXT, e.g. "gcc-12 (Debian
# 12.2.0-14+deb12u1) 12.2.0"; Debian's kbuild Makefile sets CC to that gcc-N).
cc_text=$(sed -n 's/^CONFIG_CC_VERSION_TEXT="\(.*\)"$/\1/p' "$TREE/.config")
cc=${RK_CC:-${cc_text%% *}}
command -v "$cc" >/dev/null || die "the kernel was built with '$cc_text': install ${cc} (apt-get install ${cc}) or set RK_CC"
have=$("$cc" --version | head -n1)
[ "$have" = "$cc_text" ] || log "note: kernel built with '$cc_text', building with '$have'"

hash=$( { cat "$SRC"/*.c "$SRC"/*.h "$SRC"/Kbuild "$0"; echo "$have"; } | sha256sum | cut -c1-16)
KO=$CACHE/rootkit-ko/$REL-$hash
if [ ! -f "$KO/.complete" ]; then
  work=$(mktemp -d "$CACHE/rootkit-ko/.build.XXXXXX")
  trap 'rm -rf "$work"' EXIT
  cp "$SRC"/*.c "$SRC"/*.h "$SRC"/Kbuild "$work/"
  # 6.12 headers ship a vmlinux, so kbuild wants pahole (dwarves) for module BTF; without it,
  # build the modules without BTF (they load the same; only BPF tooling would miss it).
  nobtf=()
  [ ! -f "$TREE/vmlinux" ] || command -v pahole >/dev/null || nobtf=(CONFIG_DEBUG_INFO_BTF_MODULES=)
  log "building for $REL with $have${nobtf:+ (no pahole: no module BTF)}"
  if ! make -C "$TREE" M="$work" CC="$cc" "${nobtf[@]}" modules -j2 >"$work/build.log" 2>&1; then
    cat "$work/build.log" >&2
    die "module build failed"
  fi
  grep -E 'warning:|error:' "$work/build.log" | grep -v 'Skipping BTF' >&2 || true
  for ko in "$work"/*.ko; do
    vm=$(modinfo -F vermagic "$ko")
    [ "${vm%% *}" = "$REL" ] || die "$(basename "$ko") has vermagic '$vm', not $REL"
  done
  rm -rf "$KO"; mkdir -p "$KO"
  cp "$work"/*.ko "$work/build.log" "$KO/"
  touch "$KO/.complete"
fi
rm -f "$OUT"/rk_*.ko
cp "$KO"/*.ko "$OUT/"
log "$(ls "$OUT"/rk_*.ko | wc -l) modules for $REL in $OUT"
