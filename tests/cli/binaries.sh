#!/usr/bin/env bash
# binaries.sh BINARY...: the command-line contract of every natsmock program.
#   --version  exit 0, one line with NM_VERSION (proto/nm_version.h)
#   --help     exit 0, a usage text; natsmock-harness: every long option of
#              its option tables is described (explore mode's in
#              `--explore 1 --help`)
#   --no-such-flag   a usage error: exit status 1 or 2, never a signal
#   natsmock-harness: runs a scenario with stdin closed
#   drivers (natsmock-driver*): stdin as a file of commands, /dev/null, a
#              directory, a closed descriptor: a hello line, no signal
# Every child runs under `timeout` so the test bounds its own time.
set -uo pipefail
src=${NM_SOURCE_DIR:?}
version=$(sed -n 's/^#define NM_VERSION "\(.*\)"/\1/p' "$src/proto/nm_version.h")
tmp=$(mktemp -d)
trap 'rm -rf "$tmp"' EXIT
fails=0
fail() { echo "FAIL: $*"; fails=$((fails + 1)); }

printf '{"id":1,"op":"exit"}\n' >"$tmp/cmds.jsonl"
for bin in "$@"; do
  name=$(basename "$bin")
  out=$(timeout 20 "$bin" --version </dev/null 2>&1); st=$?
  [ $st -eq 0 ] || fail "$name --version: exit $st"
  [ "$(printf '%s\n' "$out" | wc -l)" -eq 1 ] || fail "$name --version: not one line: $out"
  case "$out" in *"$version"*) ;; *) fail "$name --version: no $version in: $out" ;; esac

  help=$(timeout 20 "$bin" --help </dev/null 2>&1); st=$?
  [ $st -eq 0 ] || fail "$name --help: exit $st"
  printf '%s' "$help" | grep -qi usage || fail "$name --help: no usage text"

  bad=$(timeout 20 "$bin" --no-such-flag </dev/null 2>&1); st=$?
  if [ "$name" = natsmock ]; then
    # As nats-server 2.9.10: the flag named, the usage, exit status 0.
    case "$bad" in *"flag provided but not defined: -no-such-flag"*) ;;
      *) fail "natsmock --no-such-flag: the flag is not named" ;; esac
    [ $st -eq 0 ] || fail "natsmock --no-such-flag: exit $st (nats-server: 0)"
  else
    [ $st -eq 1 ] || [ $st -eq 2 ] || fail "$name --no-such-flag: exit $st (want 1 or 2)"
  fi

  if [ "$name" = natsmock-harness ]; then
    # Started with stdin closed, a scenario runs as with stdin open (the
    # harness holds 0-2 on /dev/null before its loops take descriptors).
    for drv in "$@"; do
      [ "$(basename "$drv")" = natsmock-driver ] || continue
      timeout 60 "$bin" --driver "$drv" "$src/scenarios/flush/flush-after-publish-burst.json" \
        <&- >"$tmp/out" 2>&1; st=$?
      [ $st -eq 0 ] || fail "$name with stdin closed: exit $st: $(tail -c 300 "$tmp/out")"
    done
    # Every long option the harness accepts is in its --help, and every one
    # of explore mode (harness/explore_cli.c) in `--explore N --help`. A table
    # that is not found fails: the check must not vanish when code moves.
    ehelp=$(timeout 20 "$bin" --explore 1 --help </dev/null 2>&1); st=$?
    [ $st -eq 0 ] || fail "$name --explore 1 --help: exit $st"
    for table in main explore_cli; do
      opts=$(grep -o '{"[a-z-]*", \(no\|required\|optional\)_argument' \
               "$src/harness/$table.c" | sed 's/{"\([a-z-]*\)".*/\1/')
      [ -n "$opts" ] || fail "natsmock-harness: no option table in harness/$table.c"
      for opt in $opts; do
        if [ $table = main ]; then
          printf '%s' "$help" | grep -q -- "--$opt" || fail "natsmock-harness --help: --$opt missing"
        elif [ "$opt" != help ]; then
          printf '%s' "$ehelp" | grep -q -- "--$opt" || fail "natsmock-harness --explore 1 --help: --$opt missing"
        fi
      done
    done
  fi

  case "$name" in natsmock-driver*) ;; *) continue ;; esac
  case "$name" in *nats-js*)
    [ -d "$(dirname "$bin")/node_modules" ] || { echo "skip stdin checks of $name: no node_modules"; continue; } ;;
  esac
  for kind in file devnull dir closed; do
    case $kind in
      file) timeout 20 "$bin" <"$tmp/cmds.jsonl" >"$tmp/out" 2>"$tmp/err"; st=$? ;;
      devnull) timeout 20 "$bin" </dev/null >"$tmp/out" 2>"$tmp/err"; st=$? ;;
      dir) timeout 20 "$bin" <"$tmp" >"$tmp/out" 2>"$tmp/err"; st=$? ;;
      closed) timeout 20 "$bin" <&- >"$tmp/out" 2>"$tmp/err"; st=$? ;;
    esac
    [ $st -lt 124 ] || fail "$name, stdin $kind: exit $st (signal or timeout): $(head -c 300 "$tmp/err")"
    grep -q '"ev":"hello"' "$tmp/out" || fail "$name, stdin $kind: no hello"
    if [ $kind = file ]; then
      grep -q '"id":1,"ev":"ok"' "$tmp/out" || fail "$name, stdin file: exit command not answered"
    fi
  done
done
echo "checked $# programs: $fails failure(s)"
[ $fails -eq 0 ]
