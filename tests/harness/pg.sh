#!/usr/bin/env bash
# tests/harness/pg.sh: command-line face of the PostgreSQL helpers in lib.sh, for the Python harness.
#   pg.sh init DATADIR SOCKDIR PORT [fast]   create a cluster (as the service user when root)
#   pg.sh start DATADIR LOGFILE              start it and wait until it accepts connections
#   pg.sh stop DATADIR                       fast shutdown
#   pg.sh createdb SOCKDIR PORT NAME         create a database unless it exists
set -euo pipefail
# shellcheck source=tests/harness/lib.sh
. "$(dirname "${BASH_SOURCE[0]}")/lib.sh"

cmd=${1:-}
[ $# -gt 0 ] && shift
case "$cmd" in
init) tb_ensure_service_user; tb_pg_init "$@" ;;
start) tb_pg_start "$@" ;;
stop) tb_pg_stop "$@" ;;
createdb) tb_pg_createdb "$@" ;;
*) tb_die "usage: pg.sh init|start|stop|createdb ..." ;;
esac
