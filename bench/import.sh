#!/usr/bin/env bash
# bench/import.sh: history import rate from the fake Toggl, in entries per second. Seeds BENCH_ENTRIES
# finished entries over a year (a tenth of them packed into two days, so windows come back full and are
# split), then times, in one run: `timebridge import` through /me/time_entries windows (first run: every
# entry inserted; second run: every entry unchanged), the same through the Reports API v3 (a paid-plan
# user), and a baseline that only reads the same windows from the fake with keep-alive and parses the JSON,
# writing nothing: the ratio says what our checking, merging and committing costs on top of reading.
# Each figure is the median of BENCH_ROUNDS. Exits 1 when an import does not store every entry.
#   bench/import.sh    env: BENCH_ENTRIES (25000), BENCH_ROUNDS (3), BENCH_DURABLE (1: fsync and
#                      synchronous_commit on, as in production), TB_BUILD_DIR (build/dev)
set -euo pipefail

ROOT=$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)
cd "$ROOT"
# shellcheck source=tests/harness/lib.sh
. tests/harness/lib.sh

tb_apt_ensure python3:/usr/bin/python3
tb_bench_prepare "$ROOT"

exec /usr/bin/python3 - "$@" <<'PY'
import base64, calendar, http.client, json, os, statistics, sys, time, urllib.parse
from pathlib import Path

ROOT = Path.cwd()
sys.path.insert(0, str(ROOT / "tests" / "harness"))
sys.path.insert(0, str(ROOT / "tests" / "fakes"))
import stack as harness  # noqa: E402
import fake_toggl  # noqa: E402

N = int(os.environ.get("BENCH_ENTRIES", "25000"))
ROUNDS = int(os.environ.get("BENCH_ROUNDS", "3"))
DURABLE = os.environ.get("BENCH_DURABLE", "1") != "0"
SINCE, UNTIL = "2025-01-01", "2025-12-31"

server, _th, fake = fake_toggl.start(quiet=True)
st = harness.Stack(build_dir=os.environ["TB_BUILD_DIR"], env={"TIMEBRIDGE_TOGGL_URL": fake,
                                                             "TIMEBRIDGE_LOG_LEVEL": "warn"})
st.start()


def control(path, body):
    c = http.client.HTTPConnection(*urllib.parse.urlsplit(fake).netloc.split(":"))
    c.request("POST", path, json.dumps(body), {"Content-Type": "application/json"})
    r = c.getresponse()
    data = r.read()
    assert r.status == 200, data
    return json.loads(data)


def user(n, plan):
    email, tid, token = "bench-import-%d@example.com" % n, 8_100_000 + n, "bench-import-token-%d" % n
    control("/_control/users", {"id": tid, "api_token": token, "plan": plan, "organization_id": 8_500_000 + n,
                                "workspaces": [{"id": 8_700_000 + n, "name": "bench", "organization_id": 8_500_000 + n}]})
    control("/_control/bulk_entries", {"user_id": tid, "count": N - N // 10, "start": SINCE, "end": UNTIL, "seed": n})
    control("/_control/bulk_entries", {"user_id": tid, "count": N // 10, "start": "2025-06-10", "end": "2025-06-12",
                                       "seed": n + 100})
    st.app.cli("user", "add", email, input="bench-password-0123456789")
    st.app.cli("toggl", "connect", email, input=token + "\n")
    uid = st.pg.sql("SELECT id FROM users WHERE email = %s", email)[0][0]
    return email, token, uid


def import_once(email, uid, fresh):
    if fresh:
        st.pg.sql("DELETE FROM time_entries WHERE user_id = %s", uid)
    t0 = time.monotonic()
    r = st.app.run("timebridge", "import", email, "--since", SINCE, "--until", UNTIL, "--json", timeout=3600)
    dt = time.monotonic() - t0
    if r.returncode != 0:
        sys.exit("bench: import failed: " + r.stderr)
    s = json.loads(r.stdout.strip().splitlines()[-1])
    want = (N, 0) if fresh else (0, N)
    if s["fetched"] != N or (s["inserted"], s["unchanged"]) != want:
        sys.exit("bench: import counted %s, expected %d fetched and inserted/unchanged %s" % (s, N, want))
    stored = st.pg.sql("SELECT count(*) FROM time_entries WHERE user_id = %s", uid)[0][0]
    if stored != N:
        sys.exit("bench: %d entries stored, expected %d" % (stored, N))
    return N / dt, s


def baseline_once(token):
    """Read the same range from the fake the way the import does (windows sized for ~700 rows, a full
    window split in half), parse each answer, store nothing."""
    host, port = urllib.parse.urlsplit(fake).netloc.split(":")
    c = http.client.HTTPConnection(host, int(port))
    auth = "Basic " + base64.b64encode((token + ":api_token").encode()).decode()
    lo = calendar.timegm(time.strptime(SINCE, "%Y-%m-%d"))
    hi = lo + 365 * 86400
    span, got = 7 * 86400, 0
    t0 = time.monotonic()
    while lo < hi:
        end = min(lo + span, hi)
        q = urllib.parse.urlencode({"start_date": time.strftime("%Y-%m-%dT%H:%M:%SZ", time.gmtime(lo)),
                                    "end_date": time.strftime("%Y-%m-%dT%H:%M:%SZ", time.gmtime(end))})
        c.request("GET", "/api/v9/me/time_entries?" + q, headers={"Authorization": auth})
        rows = json.loads(c.getresponse().read())
        if len(rows) >= 1000:
            span = max(1, (end - lo) // 2)
            continue
        got += len(rows)
        span = max((end - lo) // 4, min((end - lo) * 4, int((end - lo) * 700 / max(1, len(rows)))))
        lo = end
    dt = time.monotonic() - t0
    if got != N:
        sys.exit("bench: baseline read %d entries, expected %d" % (got, N))
    return N / dt


try:
    if DURABLE:
        for k in ("fsync", "synchronous_commit", "full_page_writes"):
            st.pg.sql("ALTER SYSTEM SET %s = on" % k)
        st.pg.sql("SELECT pg_reload_conf()")
        time.sleep(1)
    free_email, free_token, free_uid = user(1, "free")
    paid_email, _paid_token, paid_uid = user(2, "starter")
    rows = {"baseline: read windows from the fake": [], "import, first run (insert)": [],
            "import, second run (unchanged)": [], "import via Reports API (insert)": []}
    last = {}
    for _ in range(ROUNDS):
        rows["baseline: read windows from the fake"].append(baseline_once(free_token))
        rate, last["first"] = import_once(free_email, free_uid, True)
        rows["import, first run (insert)"].append(rate)
        rate, last["second"] = import_once(free_email, free_uid, False)
        rows["import, second run (unchanged)"].append(rate)
        rate, last["reports"] = import_once(paid_email, paid_uid, True)
        rows["import via Reports API (insert)"].append(rate)
    base = rows["baseline: read windows from the fake"]
    print("import of %d entries from the fake Toggl (%d rounds, PostgreSQL %s, build %s, load %.1f)" % (
        N, ROUNDS, "durable" if DURABLE else "fsync off", os.path.relpath(os.environ["TB_BUILD_DIR"], ROOT),
        os.getloadavg()[0]))
    for name, rates in rows.items():
        # Each round's ratio is against the baseline of the same round: a busy machine slows both.
        ratio = statistics.median(r / b for r, b in zip(rates, base))
        print("  %-40s %9.0f entries/s  (runs: %s)  ratio to baseline %.2fx" % (
            name, statistics.median(rates), ", ".join("%.0f" % r for r in rates), ratio))
    f = last["first"]
    print("  windows import: %d requests, %d windows, %d splits; reports import: %d requests" % (
        f["requests"], f["windows"], f["splits"], last["reports"]["requests"]))
finally:
    problems = st.stop()
    fake_toggl.stop(server)
    for p in problems:
        print(p, file=sys.stderr)
PY
