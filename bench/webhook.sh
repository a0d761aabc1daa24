#!/usr/bin/env bash
# bench/webhook.sh: Toggl webhook deliveries per second through nginx, against a minimal baseline in the
# same run. wrk POSTs distinct, validly signed time_entry "created" events (bench/webhook.lua signs each one)
# to POST /webhook/toggl/{token} of timebridge-fcgi, and to bench/webhook_baseline.c (HMAC check + one
# upsert-with-NOTIFY statement, nothing else) behind a second nginx rendered from the same shipped config.
# Both use the same PostgreSQL, the same thread count and the same wrk settings; the runs alternate
# (ours, baseline, ours, baseline...) so drift hits both. Prints req/s, p50 and p99 of each run, the
# medians, our ratio to the baseline, and checks that every 2xx was stored (no event lost). Exits 1 on
# any non-2xx or socket error, or when a stored count disagrees.
# PostgreSQL runs durable by default (fsync, synchronous_commit and full_page_writes on, as in production:
# a 200 means the event is on disk), because then the commit is what limits, and a NOTIFY per event
# serialises commits (PostgreSQL takes one database-wide lock from NOTIFY's pre-commit to the end of the
# commit). BENCH_DURABLE=0 keeps the test cluster's fsync=off, where CPU limits instead.
# Every trigger of the deployment is on (BENCH_TE_TRIGGERS=off only shows what the other features' cost).
# Two of ours are measured: "timebridge", a subscriber without a Google connection (the target, >= 1.0x
# the baseline), and "tb+google", a second subscriber connected to Google, whose every event also marks
# its mirror row and queues a google.sync_entry job, so its commit carries a NOTIFY, like every baseline
# commit. That connection sits in a rate-limit backoff, so the jobs are queued and the worker woken but no
# job runs: the worker's Google calls would take the same 2 cores, and this bench measures the receiver.
# Each level of BENCH_CONNECTIONS is measured (deliveries in flight): 16, fewer than the FastCGI threads,
# and 64, more, where the commit is what limits. timebridge group-commits concurrent entry upserts (one
# statement and one commit for the deliveries in flight together, src/db/db_group.c); the baseline commits
# each delivery alone, as a naive receiver would. The mean batch of each level is printed.
# req/s on a shared 2-core machine swings 2x from one run to the next, so the CPU each side spends per
# event (its FastCGI program, its PostgreSQL backends, the worker's backends woken by its NOTIFYs, from
# /proc) is printed too: it does not swing, and says which side does more work.
#   bench/webhook.sh   env: BENCH_SECONDS (10), BENCH_CONNECTIONS ("16 64": each level is measured),
#                      BENCH_THREADS (2, wrk), BENCH_ROUNDS (2, per level),
#                      TIMEBRIDGE_FCGI_THREADS (32, the default; also the baseline's),
#                      BENCH_LOG_LEVEL (warn: the per-request info line is the operator's choice),
#                      BENCH_DURABLE (1), BENCH_TE_TRIGGERS (on; off disables the other features'
#                      triggers on time_entries, to see what they cost), BENCH_SETUP_SQL (a file of SQL
#                      run after the migrations, to measure a schema change before making it one),
#                      BENCH_GOOGLE (1; 0 skips tb+google, as does BENCH_TE_TRIGGERS=off),
#                      BENCH_IMPORT (1: then also bench/import.sh, for the import rate), TB_BUILD_DIR (build/dev)
set -euo pipefail

ROOT=$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)
cd "$ROOT"
# shellcheck source=tests/harness/lib.sh
. tests/harness/lib.sh

tb_apt_ensure wrk python3:/usr/bin/python3 gcc libfcgi-dev libpq-dev libssl-dev
tb_bench_prepare "$ROOT"
mkdir -p "$TB_BUILD_DIR/bench"
baseline=$TB_BUILD_DIR/bench/webhook_baseline
if [ ! -x "$baseline" ] || [ bench/webhook_baseline.c -nt "$baseline" ]; then
	gcc -O2 -Wall -Wextra -I"$(pg_config --includedir 2>/dev/null || echo /usr/include/postgresql)" \
		bench/webhook_baseline.c -o "$baseline" -lfcgi -lpq -lcrypto -lpthread
fi

export BASELINE_BIN=$baseline
/usr/bin/python3 - "$@" <<'PY'
import json, os, statistics, subprocess, sys, time, urllib.request
from pathlib import Path

ROOT = Path.cwd()
sys.path.insert(0, str(ROOT / "tests" / "harness"))
import stack as harness  # noqa: E402

SECONDS = int(os.environ.get("BENCH_SECONDS", "10"))
LEVELS = [int(c) for c in os.environ.get("BENCH_CONNECTIONS", "16 64").split()]
WRK_THREADS = int(os.environ.get("BENCH_THREADS", "2"))
ROUNDS = int(os.environ.get("BENCH_ROUNDS", "2"))
THREADS = os.environ.get("TIMEBRIDGE_FCGI_THREADS", "32")   # LIMIT_FCGI_THREADS_DEFAULT
LOG_LEVEL = os.environ.get("BENCH_LOG_LEVEL", "warn")
DURABLE = os.environ.get("BENCH_DURABLE", "1") != "0"
TE_TRIGGERS = os.environ.get("BENCH_TE_TRIGGERS", "on") != "off"
SECRET = "bench-secret-" + os.urandom(12).hex()
GOOGLE = os.environ.get("BENCH_GOOGLE", "1") != "0" and TE_TRIGGERS
EMAIL, TOGGL_USER, WS = "bench@example.com", 6_000_001, 7_000_001
EMAIL_G, TOGGL_USER_G, WS_G = "bench-google@example.com", 6_000_002, 7_000_002
START_G = int(time.time()) - 2 * 86400   # its entries end inside the mirror window (backfill_days, 30)

st = harness.Stack(build_dir=os.environ["TB_BUILD_DIR"],
                   env={"TIMEBRIDGE_FCGI_THREADS": THREADS, "TIMEBRIDGE_LOG_LEVEL": LOG_LEVEL})
st.start()
ng2 = None
try:
    st.app.cli("user", "add", EMAIL, input="bench-password-0123456789")
    uid = st.pg.sql("SELECT id FROM users WHERE email = %s", EMAIL)[0][0]
    st.pg.sql("INSERT INTO toggl_accounts (user_id, toggl_user_id) VALUES (%s, %s)", uid, TOGGL_USER)
    st.pg.sql("INSERT INTO toggl_workspaces (id, user_id) VALUES (%s, %s)", WS, uid)
    sub = json.loads(st.app.cli("webhook", "dev-create", EMAIL, WS, "--secret-stdin", input=SECRET + "\n").stdout)
    if GOOGLE:
        st.app.cli("user", "add", EMAIL_G, input="bench-password-0123456789")
        uid_g = st.pg.sql("SELECT id FROM users WHERE email = %s", EMAIL_G)[0][0]
        st.pg.sql("INSERT INTO toggl_accounts (user_id, toggl_user_id) VALUES (%s, %s)", uid_g, TOGGL_USER_G)
        st.pg.sql("INSERT INTO toggl_workspaces (id, user_id) VALUES (%s, %s)", WS_G, uid_g)
        st.pg.sql("INSERT INTO google_accounts (user_id, calendar_id, backoff_until) "
                  "VALUES (%s, 'bench-calendar', now() + interval '1 day')", uid_g)
        sub_g = json.loads(st.app.cli("webhook", "dev-create", EMAIL_G, WS_G, "--secret-stdin",
                                      input=SECRET + "\n").stdout)
    if DURABLE:
        for k in ("fsync", "synchronous_commit", "full_page_writes"):
            st.pg.sql("ALTER SYSTEM SET %s = on" % k)
        st.pg.sql("SELECT pg_reload_conf()")
        time.sleep(1)   # backends pick the new settings up at their next command after the SIGHUP
    if os.environ.get("BENCH_SETUP_SQL"):
        r = subprocess.run(["psql", "-X", "-q", "-v", "ON_ERROR_STOP=1", "-f", os.environ["BENCH_SETUP_SQL"],
                            st.pg.conninfo], capture_output=True, text=True)
        if r.returncode != 0:
            sys.exit("BENCH_SETUP_SQL failed: " + r.stderr)
    if not TE_TRIGGERS:
        st.pg.sql("ALTER TABLE time_entries DISABLE TRIGGER USER")
    settings = ", ".join("%s=%s" % (k, st.pg.sql("SHOW %s" % k)[0][0]) for k in ("fsync", "synchronous_commit"))
    if DURABLE and "off" in settings:
        sys.exit("bench: could not make PostgreSQL durable: " + settings)
    triggers = st.pg.sql("SELECT string_agg(tgname, ', ') FROM pg_trigger WHERE tgrelid = 'time_entries'::regclass "
                         "AND NOT tgisinternal AND tgenabled <> 'D'")[0][0]

    sock = st.workdir / "baseline.sock"
    env = dict(st.env, BASELINE_SECRET=SECRET)
    base = harness.Proc("baseline", [os.environ["BASELINE_BIN"], "--listen", sock, "--threads", THREADS,
                                     "--database", st.pg.conninfo], st.workdir / "baseline.log", env=env).start()
    st.extra_procs.append(base)
    harness.wait_for(lambda: harness.unix_socket_ready(sock), 20, str(sock), base)
    ng2 = harness.Nginx(upstream_sockets=[sock], workdir=st.workdir).start()

    # name: (url, Toggl user, workspace, first entry's start or None for the script's default)
    targets = {"timebridge": (st.nginx.url + "/webhook/toggl/" + sub["token"], TOGGL_USER, WS, None)}
    if GOOGLE:
        targets["tb+google"] = (st.nginx.url + "/webhook/toggl/" + sub_g["token"], TOGGL_USER_G, WS_G, START_G)
    targets["baseline"] = (ng2.url + "/webhook/toggl/" + sub["token"], TOGGL_USER, WS, None)
    lua = str(ROOT / "bench" / "webhook.lua")

    def wrk(target, seconds, rnd, conns):
        url, toggl_user, ws, start = target
        r = subprocess.run(["wrk", "-t%d" % WRK_THREADS, "-c%d" % conns, "-d%ds" % seconds, "--latency",
                            "-s", lua, url, "--", SECRET, str(rnd), str(toggl_user), str(ws)]
                           + ([str(start)] if start else []),
                           capture_output=True, text=True, timeout=seconds + 60)
        if r.returncode != 0:
            sys.exit("wrk failed:\n" + r.stdout + r.stderr)
        lines = [l for l in r.stdout.splitlines() if l.startswith("{")]
        return json.loads(lines[-1])

    def ticks(pids):
        n = 0
        for pid in pids:
            try:
                stat = Path("/proc/%d/stat" % pid).read_text()
            except OSError:
                continue
            f = stat[stat.rindex(")") + 2:].split()
            n += int(f[11]) + int(f[12])   # utime + stime
        return n

    # Warm-up (caches, prepared statements, connections), then alternate the measured runs.
    rnd = 0
    for name in targets:
        wrk(targets[name], 2, rnd, LEVELS[-1])
        rnd += 1
    # Every connection has been used by now; the baseline's are the ones that ran its upsert.
    backends = [(int(r[0]), r[1] or "", r[2] or "") for r in st.pg.sql(
        "SELECT pid, application_name, query FROM pg_stat_activity WHERE backend_type = 'client backend' "
        "AND pid <> pg_backend_pid()")]
    ours = ([p.popen.pid for p in st.app.fcgi], [b[0] for b in backends if b[1].startswith("timebridge-fcgi")])
    groups = {"timebridge": ours, "tb+google": ours,
              "baseline": ([base.popen.pid], [b[0] for b in backends if "bench_baseline" in b[2]])}
    workers = [b[0] for b in backends if b[1].startswith("timebridge-worker")]
    hz = os.sysconf("SC_CLK_TCK")
    def batch_counters():
        """Group commit counters of our FastCGI program (both our targets), from /metrics."""
        out = {}
        for line in urllib.request.urlopen(st.nginx.url + "/metrics", timeout=10).read().decode().splitlines():
            for name in ("batches", "batched_events", "batch_splits"):
                if line.startswith("timebridge_webhook_%s_total " % name):
                    out[name] = int(float(line.split()[1]))
        return out

    results = {(level, name): [] for level in LEVELS for name in targets}
    batching = {}
    for level, i in [(level, i) for level in LEVELS for i in range(ROUNDS)]:
        if i == 0:
            first = batch_counters()
        for name in targets:
            pids = groups[name] + (workers,)
            before = [ticks(g) for g in pids]
            r = wrk(targets[name], SECONDS, rnd, level)
            n = max(1, r["requests"] - r["non2xx"] - r["socket_errors"])
            r["cpu_ms"] = [(ticks(g) - b) * 1000.0 / hz / n for g, b in zip(pids, before)]
            results[(level, name)].append(r)
            rnd += 1
        if i == ROUNDS - 1:
            last = batch_counters()
            batching[level] = {k: last.get(k, 0) - first.get(k, 0) for k in last}

    def ok(name):
        return sum(r["requests"] - r["non2xx"] - r["socket_errors"] for (_, n), runs in results.items() if n == name
                   for r in runs)

    def stored(sub_id, user):
        return (int(st.pg.sql("SELECT count(*) FROM webhook_events WHERE subscription = %s AND result = 'applied'",
                              sub_id)[0][0]),
                int(st.pg.sql("SELECT count(*) FROM time_entries WHERE user_id = %s", user)[0][0]))

    # Every lookup of the hot path must stay an index lookup as the tables grow (a generic plan made
    # while a table was empty once scanned webhook_events for every event). Read before this script's own
    # count(*)s: a few scans while the tables are small are harmless, one per delivery reads rows by the
    # billion, so the rows read say it.
    scans = dict((r[0], (int(r[1]), int(r[2]), int(r[3]))) for r in st.pg.sql(
        "SELECT relname, seq_scan, seq_tup_read, n_live_tup FROM pg_stat_user_tables "
        "WHERE relname IN ('webhook_events', 'time_entries')"))
    ours_2xx = ok("timebridge")
    stored_events, stored_entries = stored(sub["id"], uid)
    if GOOGLE:
        google_2xx = ok("tb+google")
        google_events, google_entries = stored(sub_g["id"], uid_g)
        google_mirror = int(st.pg.sql("SELECT count(*) FROM google_mirror WHERE user_id = %s AND state = 'pending'",
                                      uid_g)[0][0])
        google_jobs = int(st.pg.sql("SELECT count(*) FROM jobs WHERE kind = 'google.sync_entry' AND user_id = %s",
                                    uid_g)[0][0])
        google_status = st.pg.sql("SELECT status FROM google_accounts WHERE user_id = %s", uid_g)[0][0]
    base_rows = int(st.pg.sql("SELECT count(*) FROM bench_baseline")[0][0])
finally:
    problems = (ng2.stop() if ng2 else []) + st.stop()

print("webhook bench: wrk %d threads, %s connections, %d s x %d rounds each, nginx 1 worker, %s FastCGI threads "
      "each, log level %s, %s" % (WRK_THREADS, " and ".join(map(str, LEVELS)), SECONDS, ROUNDS, THREADS, LOG_LEVEL,
                                   os.path.relpath(os.environ["TB_BUILD_DIR"], ROOT)))
print("PostgreSQL: %s; enabled triggers on time_entries: %s%s" % (settings, triggers or "none",
      "; setup SQL " + os.environ["BENCH_SETUP_SQL"] if os.environ.get("BENCH_SETUP_SQL") else ""))
med = {k: {m: statistics.median(r[m] for r in runs) for m in ("rps", "p50_ms", "p99_ms")}
       for k, runs in results.items()}
cpu = {k: [statistics.median(r["cpu_ms"][i] for r in runs) for i in range(3)] for k, runs in results.items()}


def ratios(level, a, b, note):
    ka, kb = (level, a), (level, b)
    r = med[ka]["rps"] / med[kb]["rps"] if med[kb]["rps"] else 0
    print("ratio %s : %s = %.2fx req/s%s; p50 %.2fx, p99 %.2fx; CPU per event %.2fx" % (
        a, b, r, note, med[ka]["p50_ms"] / med[kb]["p50_ms"], med[ka]["p99_ms"] / med[kb]["p99_ms"],
        sum(cpu[ka]) / sum(cpu[kb]) if sum(cpu[kb]) else 0))


for level in LEVELS:
    print("\n-- %d connections --" % level)
    print("%-12s %6s %10s %9s %9s %8s %8s" % ("target", "round", "req/s", "p50_ms", "p99_ms", "non-2xx", "sock_err"))
    for name in targets:
        for i, r in enumerate(results[(level, name)]):
            print("%-12s %6d %10.0f %9.3f %9.3f %8d %8d" % (name, i + 1, r["rps"], r["p50_ms"], r["p99_ms"],
                                                           r["non2xx"], r["socket_errors"]))
    for name in targets:
        m = med[(level, name)]
        print("%-12s %6s %10.0f %9.3f %9.3f" % (name, "median", m["rps"], m["p50_ms"], m["p99_ms"]))
    print("CPU per event, ms (medians): program + its PostgreSQL backends + the worker's (NOTIFY wake-ups) = total")
    for name in targets:
        c = cpu[(level, name)]
        print("%-12s %6.3f + %6.3f + %6.3f = %6.3f" % (name, c[0], c[1], c[2], sum(c)))
    b = batching.get(level, {})
    print("group commit (our FastCGI program): %d batches of %.1f events on average, %d split after a failure" % (
        b.get("batches", 0), b.get("batched_events", 0) / max(1, b.get("batches", 0)), b.get("batch_splits", 0)))
    ratios(level, "timebridge", "baseline", " (target >= 1.0x)")
    if GOOGLE:
        ratios(level, "tb+google", "baseline", " (Google connected: a mirror row, a job and a NOTIFY per event)")
        ratios(level, "tb+google", "timebridge", " (what a Google connection costs)")
print()
print("non-2xx (socket errors): " + ", ".join("%s %d (%d)" % (
    name, sum(r["non2xx"] for (_, n), runs in results.items() if n == name for r in runs),
    sum(r["socket_errors"] for (_, n), runs in results.items() if n == name for r in runs)) for name in targets))
print("stored: %d applied events and %d entries for %d 2xx deliveries (warm-up included in the stored counts); "
      "baseline rows %d" % (stored_events, stored_entries, ours_2xx, base_rows))
if GOOGLE:
    print("stored tb+google: %d applied events, %d entries, %d pending mirror rows and %d google.sync_entry jobs "
          "for %d 2xx deliveries; Google connection %s" % (google_events, google_entries, google_mirror,
                                                             google_jobs, google_2xx, google_status))
print("sequential scans during the bench (all programs): webhook_events %d reading %d rows, time_entries %d "
      "reading %d rows" % (scans.get("webhook_events", (0, 0, 0))[:2] + scans.get("time_entries", (0, 0, 0))[:2]))
bad = sum(r["non2xx"] + r["socket_errors"] for runs in results.values() for r in runs)
if any(n_read > n_rows for _, n_read, n_rows in scans.values()):
    print("error: sequential scans read more rows than the table holds: a statement scans per event",
          file=sys.stderr)
    bad += 1
for p in problems:
    print("stack: " + p, file=sys.stderr)
if GOOGLE and (google_events < google_2xx or not google_entries == google_events == google_mirror == google_jobs):
    print("error: tb+google lost an event, a mirror row or a job", file=sys.stderr)
    bad += 1
if bad or stored_events < ours_2xx or stored_entries != stored_events:
    print("error: non-2xx responses, socket errors or lost events", file=sys.stderr)
    sys.exit(1)
PY

# The import rate from the fake Toggl, in entries per second (bench/import.sh, one round; BENCH_IMPORT=0
# skips it, bench/import.sh alone gives medians of three).
if [ "${BENCH_IMPORT:-1}" != 0 ]; then
	echo
	echo "import rate (bench/import.sh):"
	BENCH_ROUNDS=1 TB_BUILD_DIR=$TB_BUILD_DIR bash bench/import.sh
fi
