#!/usr/bin/env bash
# bench/http.sh: how much the FastCGI app costs over nginx alone. In one nginx run (the shipped config,
# rendered by nginx/render-dev.sh), wrk hits GET /healthz (nginx -> timebridge-fcgi) and GET /bench-baseline
# (`return 200` inside nginx, added only to the bench's rendered config), and prints requests/s, p50 and
# p99 latency of both and their ratio. Starts its own stack (tests/harness/stack.py) and stops it.
#   bench/http.sh            env: BENCH_SECONDS (10), BENCH_CONNECTIONS (32), TB_BUILD_DIR (build/dev)
set -euo pipefail

ROOT=$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)
cd "$ROOT"
# shellcheck source=tests/harness/lib.sh
. tests/harness/lib.sh

SECONDS_PER_RUN=${BENCH_SECONDS:-10}
CONNS=${BENCH_CONNECTIONS:-32}

tb_apt_ensure wrk python3:/usr/bin/python3
tb_bench_prepare "$ROOT"

tmp=$(mktemp -d)
stack_pid=
trap 'kill -TERM "$stack_pid" 2>/dev/null; wait "$stack_pid" 2>/dev/null; rm -rf "$tmp"' EXIT
/usr/bin/python3 tests/harness/stack.py up --build-dir "$TB_BUILD_DIR" \
	--nginx-extra 'location = /bench-baseline { access_log off; return 200 "ok\n"; }' \
	--info "$tmp/info.json" >"$tmp/stack.log" 2>&1 &
stack_pid=$!
tb_wait_for_file "$tmp/info.json" 60 "$stack_pid" || { cat "$tmp/stack.log"; tb_die "the stack did not start"; }
url=$(/usr/bin/python3 -c 'import json,sys; print(json.load(open(sys.argv[1]))["url"])' "$tmp/info.json")

# run NAME PATH: one warm-up second, then the measured run; prints "rps p50_ms p99_ms".
run() {
	wrk -t1 -c"$CONNS" -d1s "$url$2" >/dev/null
	wrk -t1 -c"$CONNS" -d"${SECONDS_PER_RUN}s" --latency "$url$2" >"$tmp/$1.txt"
	awk '
	function ms(v) { if (v ~ /us$/) return v / 1000; if (v ~ /ms$/) return v + 0; if (v ~ /s$/) return v * 1000; return v }
	/^Requests\/sec:/ { rps = $2 }
	$1 == "50%" { p50 = ms($2) }
	$1 == "99%" { p99 = ms($2) }
	/Non-2xx or 3xx responses/ { bad = $NF }
	END { printf "%.0f %.3f %.3f %d\n", rps, p50, p99, bad }' "$tmp/$1.txt"
}

read -r base_rps base_p50 base_p99 base_bad < <(run baseline /bench-baseline)
read -r app_rps app_p50 app_p99 app_bad < <(run healthz /healthz)

printf 'wrk, 1 thread, %s connections, %s s each, nginx 1 worker, timebridge-fcgi %s threads (%s)\n' \
	"$CONNS" "$SECONDS_PER_RUN" "${TIMEBRIDGE_FCGI_THREADS:-4}" "${TB_BUILD_DIR#"$ROOT"/}"
printf '%-34s %10s %10s %10s %8s\n' target req/s p50_ms p99_ms non-2xx
printf '%-34s %10s %10s %10s %8s\n' "nginx return 200 (/bench-baseline)" "$base_rps" "$base_p50" "$base_p99" "$base_bad"
printf '%-34s %10s %10s %10s %8s\n' "nginx -> fcgi (/healthz)" "$app_rps" "$app_p50" "$app_p99" "$app_bad"
awk -v a="$app_rps" -v b="$base_rps" 'BEGIN { if (b > 0) printf "ratio /healthz : baseline = %.2f (%.0f%% of nginx alone)\n", a / b, 100 * a / b }'
if [ "$app_bad" -ne 0 ] || [ "$base_bad" -ne 0 ]; then
	echo "error: non-2xx responses during the run" >&2
	exit 1
fi
