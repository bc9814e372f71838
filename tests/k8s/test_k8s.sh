#!/usr/bin/env bash
# tests/k8s/test_k8s.sh SEVMOND — the Kubernetes manifests (deploy/k8s) through a real
# schema validator (validate.mjs: the npm package kubernetes-models, the API's OpenAPI
# schemas), and the ConfigMap's sevmond.conf through `sevmond --check`. The npm packages
# are installed at test time into .cache/k8s-validate (ignored by git), pinned below.
# TAP output (validate.mjs's cases, then the --check).
set -uo pipefail
SEVMOND=${1:?sevmond binary}
REPO=$(cd "$(dirname "$0")/../.." && pwd)
CACHE=$REPO/.cache/k8s-validate
# Pinned: 4.5 runs on the node of Debian 12 (18) as well as on newer ones.
PKGS="kubernetes-models@4.5.1 yaml@2.8.1"
T=$(mktemp -d /tmp/sevmon-k8s.XXXXXX)
trap 'rm -rf "$T"' EXIT
if ! command -v node >/dev/null || ! command -v npm >/dev/null; then
  echo "1..0 # SKIP no node/npm (deploy/install-deps installs them)"; exit 0
fi
mkdir -p "$CACHE"
if [ ! -f "$CACHE/.installed" ] || [ "$(cat "$CACHE/.installed")" != "$PKGS" ]; then
  ( cd "$CACHE" && [ -f package.json ] || echo '{"private":true}' > package.json
    # shellcheck disable=SC2086
    npm install --no-audit --no-fund --silent $PKGS ) >"$T/npm.log" 2>&1 ||
    { echo "1..1"; echo "not ok 1 - npm install $PKGS"; sed 's/^/# /' "$T/npm.log" | tail -5; exit 1; }
  echo "$PKGS" > "$CACHE/.installed"
fi
# run from the cache, where node finds the packages
cp "$REPO/tests/k8s/validate.mjs" "$CACHE/validate.mjs"
out=$(node "$CACHE/validate.mjs" "$REPO/deploy/k8s" "$T/sevmond.conf" 2>&1); rc=$?
n=$(printf '%s\n' "$out" | sed -n 's/^1\.\.\([0-9]*\)$/\1/p')
[ -n "$n" ] || { echo "1..1"; echo "not ok 1 - validate.mjs ran"; printf '%s\n' "$out" | sed 's/^/# /' | tail -8; exit 1; }
echo "1..$((n + 1))"
printf '%s\n' "$out" | grep -v '^1\.\.'
# the config as sevmond reads it, with the Secrets' files where the pod mounts them
printf 'placeholder-token-0123456789\n' > "$T/tokens"
sed -e "s|/etc/sevmond/tokens/tokens|$T/tokens|" "$T/sevmond.conf" > "$T/check.conf"
if chk=$("$SEVMOND" --config "$T/check.conf" --check 2>&1); then
  echo "ok $((n + 1)) - the ConfigMap's sevmond.conf passes sevmond --check"
else
  echo "not ok $((n + 1)) - the ConfigMap's sevmond.conf passes sevmond --check"; echo "# $chk"; rc=1
fi
exit $rc
