#!/usr/bin/env bash
# Prints the folder with PostgreSQL's initdb and pg_ctl, found the way the test harness finds it
# (testkit/src/postgres.rs, `bindir`): TODO_CONNECT_PG_BINDIR, else the initdb on PATH (with
# pg_ctl beside it), else — the last resort — Debian's newest /usr/lib/postgresql/<version>/bin.
# Exits 1 with the reason on stderr when there is none. Used by test.sh, abuse.sh and
# loadtest-backends.sh.
set -euo pipefail
if [ -n "${TODO_CONNECT_PG_BINDIR:-}" ]; then
  if [ -x "$TODO_CONNECT_PG_BINDIR/initdb" ] && [ -x "$TODO_CONNECT_PG_BINDIR/pg_ctl" ]; then
    echo "$TODO_CONNECT_PG_BINDIR"
    exit 0
  fi
  echo "TODO_CONNECT_PG_BINDIR=$TODO_CONNECT_PG_BINDIR has no initdb and pg_ctl" >&2
  exit 1
fi
if initdb=$(command -v initdb) && [ -x "$(dirname "$initdb")/pg_ctl" ]; then
  dirname "$initdb"
  exit 0
fi
debian=$(find /usr/lib/postgresql -mindepth 2 -maxdepth 2 -name bin -type d 2>/dev/null | sort -V | tail -1)
if [ -n "$debian" ] && [ -x "$debian/initdb" ]; then
  echo "$debian"
  exit 0
fi
echo "no PostgreSQL initdb (set TODO_CONNECT_PG_BINDIR, put it on PATH, or run scripts/setup.sh)" >&2
exit 1
