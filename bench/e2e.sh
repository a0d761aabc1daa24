#!/usr/bin/env bash
# bench/e2e.sh: Toggl webhook in, Google event out, end to end. Signed webhooks go through the shipped nginx
# config at a fixed rate (200/s) and at full speed, with 1 and then 4 workers; for each, the time from the
# webhook's 200 to its event existing at the fake Google (p50, p99) and the entries mirrored per second,
# against a baseline measured in the same run (an events.insert sent straight to the fake). The work is in
# bench/e2e.py; this wrapper builds and prepares like bench/http.sh.
#   bench/e2e.sh     env: BENCH_RATE (200), BENCH_SECONDS (10), BENCH_FULL (3000 webhooks),
#                    BENCH_CONNECTIONS (16 senders), TIMEBRIDGE_FCGI_THREADS (8), TB_BUILD_DIR (build/dev)
set -euo pipefail

ROOT=$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)
cd "$ROOT"
# shellcheck source=tests/harness/lib.sh
. tests/harness/lib.sh

tb_apt_ensure python3:/usr/bin/python3 python3-requests python3-psycopg2
tb_bench_prepare "$ROOT"

exec /usr/bin/python3 bench/e2e.py --build-dir "$TB_BUILD_DIR"
