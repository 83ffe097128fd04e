#!/bin/bash
# A stand-in scheduler command for fault injection (test/faults/README.md). Installed as a
# symlink named after the command (sbatch, squeue, sacct, scontrol, scancel, qsub, qstat,
# ...) in a folder put first on PATH. Each call reads the rules in $QDO_FAULTS/rules and does
# what the first rule for this command says; without a matching rule (or without
# $QDO_FAULTS) it runs the real command, found on PATH without this folder.
#
# Rules, one per line ("#" comments):   COMMAND COUNT ACTION [ARGUMENT...]
#   COMMAND  sbatch, squeue, ... ; "sacct-c" is `sacct -c`; "*" any command
#   COUNT    how many calls the rule applies to (then it is spent), or "*" for all
#   ACTION   pass                  run the real command
#            delay SECONDS         wait, then run the real command
#            fail EXIT MESSAGE...  print MESSAGE on stderr, exit EXIT; nothing is run
#            garbage TEXT...       print TEXT on stdout, exit 0; nothing is run
#            empty                 print nothing, exit 0 (an answer that lags)
#            hang                  never answer (until killed)
#            stale                 print what the last real run printed, exit 0
#            pass-then-fail EXIT MESSAGE...  run the real command (it takes effect), hide
#                                  its output, print MESSAGE, exit EXIT
#            pass-then-garbage TEXT...       run it, print TEXT instead of its output
#            pass-then-hang                  run it, then never answer
# Every call is logged to $QDO_FAULTS/calls.log: "<epoch> <command> <action> <args>".
set -u
cmd=$(basename "$0")
self=$(cd "$(dirname "$0")" && pwd -P)
key=$cmd
[ "$cmd" = sacct ] && [ "${1:-}" = -c ] && key=sacct-c

# The real command: PATH without this folder.
real_path=''
IFS=: read -r -a dirs <<<"$PATH"
for d in "${dirs[@]}"; do
  [ -n "$d" ] && [ "$(cd "$d" 2>/dev/null && pwd -P)" = "$self" ] && continue
  real_path+="${real_path:+:}$d"
done
real=$(PATH=$real_path command -v "$cmd") || { echo "stand-in: no real $cmd on PATH" >&2; exit 127; }

dir=${QDO_FAULTS:-}
action=pass
args=()
if [ -n "$dir" ] && [ -f "$dir/rules" ]; then
  exec 9>>"$dir/rules.lock"
  flock 9
  out=''
  found=0
  while IFS= read -r line || [ -n "$line" ]; do
    read -r -a f <<<"$line"
    if [ "$found" = 0 ] && [ "${#f[@]}" -ge 3 ] && [ "${f[0]:0:1}" != '#' ] && { [ "${f[0]}" = "$key" ] || [ "${f[0]}" = '*' ]; } && [ "${f[1]}" != 0 ]; then
      found=1
      action=${f[2]}
      args=("${f[@]:3}")
      if [ "${f[1]}" != '*' ]; then
        f[1]=$((f[1] - 1))
        line="${f[*]}"
      fi
    fi
    out+="$line"$'\n'
  done <"$dir/rules"
  printf '%s' "$out" >"$dir/rules"
  echo "$(date +%s.%N) $key $action $*" >>"$dir/calls.log"
  flock -u 9
fi

run_real() {  # runs the real command, keeping its stdout for "stale"
  local o rc
  o=$("$real" "$@"; echo "~$?")
  rc=${o##*~}
  o=${o%~*}
  [ -n "$dir" ] && [ "$rc" = 0 ] && printf '%s' "$o" >"$dir/last.$key.out"
  printf '%s' "$o"
  return "$rc"
}

case $action in
  pass) run_real "$@"; exit ;;
  delay) sleep "${args[0]:-1}"; run_real "$@"; exit ;;
  fail) echo "${args[*]:1}" >&2; exit "${args[0]:-1}" ;;
  garbage) echo "${args[*]}"; exit 0 ;;
  empty) exit 0 ;;
  hang) exec sleep 100000 ;;
  stale) [ -f "$dir/last.$key.out" ] && cat "$dir/last.$key.out"; exit 0 ;;
  pass-then-fail) run_real "$@" >/dev/null 2>&1; echo "${args[*]:1}" >&2; exit "${args[0]:-1}" ;;
  pass-then-garbage) run_real "$@" >/dev/null 2>&1; echo "${args[*]}"; exit 0 ;;
  pass-then-hang) run_real "$@" >/dev/null 2>&1; exec sleep 100000 ;;
  *) echo "stand-in: unknown action $action in $dir/rules" >&2; exit 2 ;;
esac
