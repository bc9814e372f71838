#!/usr/bin/env bash
# replay.sh REPLAY_EXE NAME — the regression inputs of one harness (tests/fuzz/regress/NAME)
# through its replay build (TAP); none yet is one passing case.
here=$(cd "$(dirname "$0")" && pwd)
files=("$here/regress/$2"/*)
if [ ! -e "${files[0]}" ]; then echo "1..1"; echo "ok 1 - no regression inputs for $2 # SKIP none yet"; exit 0; fi
exec "$1" "${files[@]}"
