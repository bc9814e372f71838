#!/bin/sh
# A stand-in for sevmon-agent inside test guests (busybox sh): listens on TCP 7000 and, per
# connection, prints one line naming itself and the arguments it was started with, then echoes.
if [ "${1-}" = --serve-one ]; then
  printf 'SEVMON-STANDIN-AGENT %s\n' "$(cat /run/standin-agent.args)"
  exec cat
fi
printf '%s' "$*" >/run/standin-agent.args
exec nc -ll -p 7000 -e "$0" --serve-one
