#!/usr/bin/env bash
# The protocol document must list every status code of lib/base/err.h with its number and name,
# and every method of idl/sevmon.proto with its id: the doc is checked against the code.
set -u
root=$(cd "$(dirname "$0")/../.." && pwd)
doc=$root/docs/protocol.md
n=0; fail=0
echo "1..2"
missing=$(grep -oE 'X\([A-Z0-9_]+, [0-9]+,' "$root/lib/base/err.h" | sed -E 's/X\(([A-Z0-9_]+), ([0-9]+),/\2 \1/' |
  while read -r num name; do grep -qE "^\| $num \| $name \|" "$doc" || echo "$name($num)"; done)
if [ -z "$missing" ]; then echo "ok 1 - protocol_doc_status_codes_listed"; else
  echo "# missing from docs/protocol.md: $missing"; echo "not ok 1 - protocol_doc_status_codes_listed"; fi
missing=$(grep -oE 'rpc ([A-Za-z]+)\(.*method_id\) = [0-9]+' "$root/idl/sevmon.proto" |
  sed -E 's/rpc ([A-Za-z]+)\(.*= ([0-9]+)/\2 \1/' |
  while read -r id name; do grep -qE "^\| $id \| $name \|" "$doc" || echo "$name($id)"; done)
if [ -z "$missing" ]; then echo "ok 2 - protocol_doc_methods_listed"; else
  echo "# missing from docs/protocol.md: $missing"; echo "not ok 2 - protocol_doc_methods_listed"; fi
