#!/usr/bin/env bash
# bench/grafana.sh: how fast the Grafana JSON API answers, against the same aggregate run as bare SQL.
# Starts its own stack (tests/harness/stack.py: a fresh PostgreSQL cluster, migrations, timebridge-fcgi,
# nginx), generates 1,000,000 time entries for 50 users over 3 years with generate_series, then times two
# POST /api/grafana/query requests through nginx, hours by project in daily buckets:
#   (a) one user, a 1-year range;   (b) the admin, all users, a 90-day range;
# and, in the same run, the very statement the server runs (its text printed by bench/grafana_stmt.c from
# src/db/stmt.c) with the same parameters and settings, PREPAREd once and EXECUTEd with psql. Prints p50 and
# p99 of both and their ratio. Targets: ratio <= 1.5, and p50 <= 100 ms for (a).
#   bench/grafana.sh    env: BENCH_RUNS (50 timed runs, after 5 warm-ups), BENCH_ENTRIES (1000000),
#                            TB_BUILD_DIR (default: build/dev, an optimised unsanitised build via ./dev build)
set -euo pipefail

ROOT=$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)
cd "$ROOT"
# shellcheck source=tests/harness/lib.sh
. tests/harness/lib.sh

PY=/usr/bin/python3
tb_apt_ensure "python3:$PY" python3-requests postgresql-client-15:/usr/bin/psql gcc
tb_bench_prepare "$ROOT"

tmp=$(mktemp -d)
trap 'rm -rf "$tmp"' EXIT
# The statement text exactly as the server has it.
cc -I"$ROOT/src" -I"$TB_BUILD_DIR" -o "$tmp/grafana_stmt" bench/grafana_stmt.c src/db/stmt.c
"$tmp/grafana_stmt" series >"$tmp/series.sql"
"$tmp/grafana_stmt" settings >"$tmp/settings.sql"

TB_BUILD_DIR=$TB_BUILD_DIR BENCH_TMP=$tmp "$PY" - <<'PYEOF'
import json
import math
import os
import re
import statistics
import subprocess
import sys
import time
from datetime import datetime, timedelta, timezone
from pathlib import Path

import requests

ROOT = Path.cwd()
sys.path.insert(0, str(ROOT / "tests" / "harness"))
import stack as harness  # noqa: E402

TMP = Path(os.environ["BENCH_TMP"])
RUNS = int(os.environ.get("BENCH_RUNS", "50"))
WARM = 5
N = int(os.environ.get("BENCH_ENTRIES", "1000000"))
USERS = 50
TZ = "Europe/Prague"

GENERATE = f"""
SET session_replication_role = replica;  -- bulk load: no Google/webhook triggers
INSERT INTO users (email) SELECT 'bench' || u || '@bench.example' FROM generate_series(1, {USERS}) u;
CREATE TEMP TABLE bu AS SELECT row_number() OVER (ORDER BY id) AS u, id FROM users WHERE email LIKE 'bench%@bench.example';
INSERT INTO toggl_accounts (user_id, toggl_user_id, time_zone, beginning_of_week)
    SELECT id, 900000 + u, '{TZ}', 1 FROM bu;
INSERT INTO toggl_workspaces (id, name, user_id) SELECT 800000 + u, 'Workspace ' || u, id FROM bu;
INSERT INTO toggl_clients (id, workspace_id, name)
    SELECT 800000 + u * 10 + c, 800000 + u, 'Client ' || u || '-' || c FROM bu, generate_series(0, 2) c;
INSERT INTO toggl_projects (id, workspace_id, client_id, name, color, billable, rate, currency)
    SELECT 8000000 + u * 100 + p, 800000 + u, CASE WHEN p < 7 THEN 800000 + u * 10 + p % 3 END,
           'Project ' || u || '-' || p, '#2da608', p % 2 = 0, CASE WHEN p % 2 = 0 THEN 50 + p END, 'EUR'
    FROM bu, generate_series(0, 7) p;
-- {N} entries: user g % 50, evenly over 1095 days up to now, 5 to 75 minutes long (some cross midnight),
-- one in nine without a project, one in 97 deleted; plus a 3-day entry and a running one per user.
INSERT INTO time_entries (id, user_id, toggl_user_id, workspace_id, project_id, description, billable, start, stop,
                          duration, tags, at, server_deleted_at)
SELECT g, bu.id, 900000 + bu.u, 800000 + bu.u,
       CASE WHEN g % 9 = 0 THEN NULL ELSE 8000000 + bu.u * 100 + (g / {USERS}) % 8 END,
       'task ' || (g % 40), (g / {USERS}) % 8 % 2 = 0, s, s + make_interval(secs => d), d,
       CASE g % 4 WHEN 0 THEN '{{}}'::text[] WHEN 1 THEN ARRAY['dev'] WHEN 2 THEN ARRAY['dev', 'meeting']
            ELSE ARRAY['ops'] END,
       s, CASE WHEN g % 97 = 0 THEN s END
FROM (SELECT g, 1 + g % {USERS} AS u,
             now() - interval '1095 days' + make_interval(secs => (g / {USERS}) * (1095 * 86400.0 / ({N} / {USERS}))
                                                          + (g % {USERS}) * 7) AS s,
             300 + (g::bigint * 7919) % 4200 AS d
      FROM generate_series(1, {N}) g) x JOIN bu ON bu.u = x.u;
INSERT INTO time_entries (id, user_id, toggl_user_id, workspace_id, project_id, description, billable, start, stop,
                          duration, at)
SELECT {N} + u, id, 900000 + u, 800000 + u, 8000000 + u * 100, 'long', true, now() - interval '50 days',
       now() - interval '47 days', 3 * 86400, now() FROM bu
UNION ALL
SELECT {N} + {USERS} + u, id, 900000 + u, 800000 + u, 8000000 + u * 100 + 1, 'running', false,
       now() - interval '2 hours', NULL, -extract(epoch FROM now() - interval '2 hours')::bigint, now() FROM bu;
"""


def pctl(xs, p):
    xs = sorted(xs)
    k = (len(xs) - 1) * p / 100
    lo, hi = math.floor(k), math.ceil(k)
    return xs[lo] + (xs[hi] - xs[lo]) * (k - lo)


def iso(dt):
    return dt.strftime("%Y-%m-%dT%H:%M:%S.") + f"{dt.microsecond // 1000:03d}Z"


def main():
    s = harness.Stack(build_dir=os.environ["TB_BUILD_DIR"])
    s.start()
    try:
        return run(s)
    finally:
        for p in s.stop():
            print(p, file=sys.stderr)


def run(s):
    psql = ["psql", "-X", "-q", "-v", "ON_ERROR_STOP=1", s.pg.conninfo]
    # A server-sized cache: the data set is ~0.5 GB with its indexes.
    subprocess.run(psql + ["-c", "ALTER SYSTEM SET shared_buffers = '512MB'"], check=True)
    s.pg.restart()
    t0 = time.monotonic()
    subprocess.run(psql, input=GENERATE, text=True, check=True)
    subprocess.run(psql + ["-c", "VACUUM ANALYZE"], check=True)
    gen_s = time.monotonic() - t0
    count = s.pg.sql("SELECT count(*) FROM time_entries")[0][0]

    s.app.cli("user", "add", "bench-admin@bench.example", "--admin", input="bench-password-0123456789")
    admin = s.app.cli("token", "create", "bench-admin@bench.example").stdout.split()[-1]
    user = s.app.cli("token", "create", "bench1@bench.example").stdout.split()[-1]
    uid = s.pg.sql("SELECT id FROM users WHERE email = 'bench1@bench.example'")[0][0]

    now = datetime.now(timezone.utc).replace(microsecond=0)
    cases = [
        ("(a) one user, 1 year, daily by project", user, f"{{{uid}}}", now - timedelta(days=365), now, 43200000),
        ("(b) admin, all users, 90 days, daily", admin, None, now - timedelta(days=90), now, 7200000),
    ]
    settings = (TMP / "settings.sql").read_text().strip()
    series = (TMP / "series.sql").read_text().strip()
    http = requests.Session()
    rows = []
    for name, token, users, frm, to, interval_ms in cases:
        body = {"app": "dashboard", "requestId": "Q1", "timezone": "browser",
                "range": {"from": iso(frm), "to": iso(to), "raw": {"from": "now-1y", "to": "now"}},
                "intervalMs": interval_ms, "maxDataPoints": 1000,
                "targets": [{"refId": "A", "target": "hours", "datasource": {"type": "simpod-json-datasource"},
                             "payload": {"group_by": "project", "bucket": "day", "tz": TZ}}]}
        headers = {"Authorization": "Bearer " + token, "Content-Type": "application/json"}
        data = json.dumps(body)
        times, size, nseries = [], 0, 0
        for i in range(WARM + RUNS):
            t1 = time.perf_counter()
            r = http.post(s.nginx.url + "/api/grafana/query", data=data, headers=headers, timeout=60)
            raw = r.content
            dt = (time.perf_counter() - t1) * 1000
            if r.status_code != 200:
                raise SystemExit(f"{name}: {r.status_code} {r.text[:500]}")
            if i >= WARM:
                times.append(dt)
            size = len(raw)
        nseries = len(json.loads(raw))
        # The same statement with psql: settings as grafana_begin() sets them (per session here), the
        # parameters the server passes (count: the bound of grafana_plan_buckets for daily buckets).
        hours = (to - frm).total_seconds() / 3600
        bound = math.ceil(hours / 23) + 1
        params = [users, iso(frm), iso(to), TZ, "day", "1", "1", "project", None, "hours", str(bound)]
        lit = ", ".join("NULL" if p is None else "'" + p.replace("'", "''") + "'" for p in params)
        # psql prints nothing it need not: unaligned, no headers, to /dev/null.
        script = ["\\pset format unaligned", "\\pset tuples_only on",
                  settings.replace("$1", "'5000'").replace("$2", "'65536'").replace(", true)", ", false)")
                  .replace("set_config('transaction_read_only', 'on', false)", "1") + " \\g /dev/null",
                  f"PREPARE q AS {series};", "\\timing on"]
        script += [f"EXECUTE q({lit}) \\g /dev/null"] * (WARM + RUNS)
        out = subprocess.run(psql, input="\n".join(script) + "\n", text=True, capture_output=True, check=True).stdout
        sql = [float(m) for m in re.findall(r"^Time: ([0-9.]+) ms", out, re.M)][WARM:]
        if len(sql) != RUNS:
            raise SystemExit(f"psql timing lines: {len(sql)}\n{out[-2000:]}")
        rows.append((name, times, sql, size, nseries))

    print(f"bench/grafana.sh: {count:,} entries ({USERS} users, 3 years; generated in {gen_s:.0f} s), "
          f"{RUNS} timed runs after {WARM} warm-ups, through nginx; build {os.environ['TB_BUILD_DIR']}")
    print(f"{'query':40} {'p50_ms':>8} {'p99_ms':>8} {'sql_p50':>8} {'sql_p99':>8} {'x_p50':>6} {'x_p99':>6}"
          f" {'series':>6} {'bytes':>8}")
    ok = True
    for name, times, sql, size, nseries in rows:
        p50, p99, s50, s99 = pctl(times, 50), pctl(times, 99), pctl(sql, 50), pctl(sql, 99)
        print(f"{name:40} {p50:8.1f} {p99:8.1f} {s50:8.1f} {s99:8.1f} {p50 / s50:6.2f} {p99 / s99:6.2f}"
              f" {nseries:6d} {size:8d}")
        ok &= p50 / s50 <= 1.5
        if name.startswith("(a)"):
            ok &= p50 <= 100
    print("targets: p50 ratio to bare SQL <= 1.5; (a) p50 <= 100 ms:", "met" if ok else "NOT met")
    return 0


sys.exit(main())
PYEOF
