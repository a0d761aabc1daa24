"""tests/e2e/test_worker.py: timebridge-worker against a real PostgreSQL: NOTIFY wake-up latency, the timer
wake-up, retries with backoff ending dead, kill -9 mid-job plus a PostgreSQL restart with no job lost or
completed twice (the issue's must-show), schedules firing once across two workers, SIGTERM finishing the job
in flight, --once, and a worker started before its database.

The worker gets a PostgreSQL cluster of its own (tests/harness/stack.py Postgres), not the session stack's:
these tests kill workers and restart the server, and the stack's own worker would take their jobs. Jobs are
`diag.sleep` (src/worker/job_diag.c): a completed one writes one audit_log row with its job id in the same
transaction as its done mark, so "one row per job" is the exactly-once check. The lease is shortened with
TIMEBRIDGE_JOB_LEASE_S so a killed worker's job is taken back within seconds.
"""
import json
import os
import shutil
import signal
import statistics
import time

import pytest

import stack as harness

LEASE_S = 3             # TIMEBRIDGE_JOB_LEASE_S for every worker here
POLL_MS = 1000          # LIMIT_WORKER_POLL_MS: a wake-up by NOTIFY must be far quicker
BACKOFF_BASE_S = 5      # LIMIT_JOB_BACKOFF_BASE_S


class Bed:
    """A PostgreSQL cluster with the schema, and worker processes started on demand."""

    def __init__(self):
        self.build_dir = harness.find_build_dir()
        self.workdir = harness.make_workdir("tb-worker-")
        self.pg = harness.Postgres(self.workdir / "pg")
        self.pg.dir.mkdir(exist_ok=True)
        harness.chown_service(self.pg.dir)
        self.env = harness.app_env(self.pg, "http://127.0.0.1:9", TIMEBRIDGE_JOB_LEASE_S=LEASE_S)
        self.app = harness.App(self.build_dir, self.env, self.workdir, fcgi=0, workers=0, name="wk")
        self.procs = []
        self.problems = []

    def start(self):
        self.pg.start()
        self.app.migrate()
        return self

    def worker(self, name, *args, env=None):
        """Start `timebridge-worker --id NAME ARGS` and wait until it is listening."""
        log = self.workdir / f"{name}.log"
        p = harness.Proc(name, [self.app.bin("timebridge-worker"), "--id", name, *args], log,
                         env=env or self.env).start()
        self.procs.append(p)
        harness.wait_for(lambda: "started as" in log.read_text(errors="replace"), 20, f"{name} to start", p)
        return p

    def stop_worker(self, p):
        """SIGTERM; records a non-zero exit or a sanitizer report as a problem of the test."""
        self.problems += p.stop()
        if p in self.procs:
            self.procs.remove(p)

    def kill_worker(self, p):
        """kill -9, on purpose."""
        p.kill()
        if p in self.procs:
            self.procs.remove(p)

    def exited(self, p):
        """Forget a worker that exited by itself; a sanitizer report in its log is still a problem."""
        p.kill()  # only bookkeeping: it is not running
        self.problems += p.sanitizer_problems()
        if p in self.procs:
            self.procs.remove(p)

    def stop_workers(self):
        for p in list(self.procs):
            self.stop_worker(p)

    def sql(self, query, *params):
        return self.pg.sql(query, *params)

    def val(self, query, *params):
        rows = self.sql(query, *params)
        return rows[0][0] if rows else None

    def reset(self):
        self.sql("TRUNCATE jobs, audit_log, schedules RESTART IDENTITY")

    def enqueue(self, payload, kind="diag.sleep", max_attempts=8, delay_s=0):
        return int(self.val("INSERT INTO jobs (kind, payload, max_attempts, run_after) "
                            "VALUES (%s, %s::jsonb, %s::int, now() + make_interval(secs => %s::float8)) "
                            "RETURNING id", kind, json.dumps(payload), max_attempts, delay_s))

    def state(self, job_id):
        return self.val("SELECT state::text FROM jobs WHERE id = %s::bigint", job_id)

    def wait(self, predicate, timeout, what):
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            if predicate():
                return
            time.sleep(0.05)
        raise AssertionError(f"timed out after {timeout}s waiting for {what}\n{self.logs()}")

    def logs(self):
        out = [f"--- {p.name} ---\n{harness.tail(p.log_path, 25)}" for p in self.procs]
        out.append(f"--- postgres ---\n{harness.tail(self.pg.log_path, 15)}")
        return "\n".join(out)

    def close(self):
        for p in list(self.procs):
            p.kill()
        self.pg.stop()
        if not os.environ.get("TB_KEEP"):
            shutil.rmtree(self.workdir, ignore_errors=True)


@pytest.fixture(scope="module")
def bed():
    try:
        b = Bed().start()
    except harness.HarnessError as e:
        pytest.fail(f"the worker test bed did not start: {e}", pytrace=False)
    yield b
    b.close()


@pytest.fixture
def clean(bed):
    """A fresh queue for each test; every worker it started stopped cleanly (exit 0, no sanitizer report)."""
    if not bed.pg.running():
        bed.pg.start()
    bed.reset()
    bed.problems = []
    yield bed
    bed.stop_workers()
    assert bed.problems == [], "\n".join(bed.problems)


def audit_counts(bed):
    """{job id: number of audit rows} for diag.sleep."""
    rows = bed.sql("SELECT (detail->>'job_id')::bigint, count(*) FROM audit_log WHERE action = 'diag.sleep' "
                   "GROUP BY 1")
    return {int(j): int(n) for j, n in rows}


# ---- wake-up ------------------------------------------------------------------------------------------

def test_jobs_inserted_by_sql_run_on_notify_well_under_the_poll_interval(clean):
    bed = clean
    bed.worker("w-notify")
    time.sleep(0.3)
    ids = []
    for i in range(12):
        ids.append(bed.enqueue({"ms": 0, "tag": f"notify-{i}"}))
        # Spread the inserts over the poll period so a timer wake-up would show as large delays.
        time.sleep(0.05 + (i * 37 % 11) / 40)
    bed.wait(lambda: len(audit_counts(bed)) == len(ids), 10, "the jobs to run")
    # Both timestamps come from the database clock: insert (created_at) to the job's completing transaction.
    rows = bed.sql("SELECT extract(epoch FROM a.at - j.created_at) * 1000 FROM audit_log a "
                   "JOIN jobs j ON j.id = (a.detail->>'job_id')::bigint ORDER BY j.id")
    lat = [float(r[0]) for r in rows]
    print(f"NOTIFY wake-up latency ms: median {statistics.median(lat):.1f}, max {max(lat):.1f}, all "
          f"{[round(x, 1) for x in lat]}")
    assert max(lat) < POLL_MS / 4, f"a job waited for the timer, not the NOTIFY: {lat}"
    assert statistics.median(lat) < 100, lat


def test_a_delayed_job_runs_when_due_by_the_timer(clean):
    """No NOTIFY fires when run_after comes: the worker plans its wake-up from the next due job."""
    bed = clean
    bed.worker("w-timer")
    job = bed.enqueue({"ms": 0, "tag": "delayed"}, delay_s=1.5)
    time.sleep(0.5)
    assert bed.state(job) == "queued"
    bed.wait(lambda: bed.state(job) == "done", 10, "the delayed job")
    late = float(bed.val("SELECT extract(epoch FROM a.at - j.run_after) * 1000 FROM audit_log a "
                         "JOIN jobs j ON j.id = (a.detail->>'job_id')::bigint"))
    print(f"timer wake-up delay after run_after: {late:.1f} ms")
    assert 0 <= late < 400, late


# ---- retries -------------------------------------------------------------------------------------------

def test_retries_end_dead_after_max_attempts_with_the_last_error_kept(clean):
    bed = clean
    bed.worker("w-retry")
    dead = bed.enqueue({"ms": 0, "fail": True, "tag": "doomed", "retry_after_s": 0.2}, max_attempts=3)
    flaky = bed.enqueue({"ms": 0, "fail_attempts": 2, "tag": "flaky", "retry_after_s": 0.2}, max_attempts=5)
    # An unknown kind is retried (an old worker during a rolling upgrade), then dead like any failure.
    unknown = bed.enqueue({}, kind="no.such.kind", max_attempts=1)
    unknown_later = bed.enqueue({}, kind="no.such.kind")
    bed.wait(lambda: bed.state(dead) == "dead" and bed.state(flaky) == "done" and bed.state(unknown) == "dead"
             and bed.state(unknown_later) == "failed", 15, "the retries to settle")
    attempts, err = bed.sql("SELECT attempts, last_error FROM jobs WHERE id = %s::bigint", dead)[0]
    assert int(attempts) == 3
    assert "asked to fail (tag doomed, attempt 3)" in err
    assert int(bed.val("SELECT attempts FROM jobs WHERE id = %s::bigint", flaky)) == 3
    assert audit_counts(bed) == {flaky: 1}
    for job in (unknown, unknown_later):
        attempts, err = bed.sql("SELECT attempts, last_error FROM jobs WHERE id = %s::bigint", job)[0]
        assert int(attempts) == 1 and 'unknown job kind "no.such.kind"' in err


def test_deferral_waits_without_using_up_attempts(clean):
    """JOB_DEFER (a quota reset, a per-user backoff) requeues the job later without counting an attempt:
    a job with max_attempts 1 deferred three times still runs and completes."""
    bed = clean
    bed.worker("w-defer")
    job = bed.enqueue({"ms": 0, "defer_times": 3, "retry_after_s": 0.2, "tag": "defer"}, max_attempts=1)
    bed.wait(lambda: bed.state(job) == "done", 15, "the deferred job to complete")
    assert int(bed.val("SELECT attempts FROM jobs WHERE id = %s::bigint", job)) == 1
    assert audit_counts(bed) == {job: 1}


def test_backoff_is_exponential_with_jitter(clean):
    """Without an override the first retry waits LIMIT_JOB_BACKOFF_BASE_S with jitter in [base/2, base]."""
    bed = clean
    bed.worker("w-backoff")
    job = bed.enqueue({"ms": 0, "fail": True, "tag": "backoff"}, max_attempts=2)
    bed.wait(lambda: bed.state(job) == "failed", 10, "the first failure")
    delay = float(bed.val("SELECT extract(epoch FROM run_after - updated_at) FROM jobs WHERE id = %s::bigint", job))
    assert BACKOFF_BASE_S / 2 - 0.05 <= delay <= BACKOFF_BASE_S + 0.05, delay
    bed.wait(lambda: bed.state(job) == "dead", BACKOFF_BASE_S + 5, "the second attempt")
    assert "asked to fail (tag backoff, attempt 2)" in bed.val("SELECT last_error FROM jobs WHERE id = %s::bigint", job)


# ---- the must-show: kill -9 mid-job and a PostgreSQL restart ----------------------------------------------

def test_kill_9_mid_job_and_postgres_restart_lose_no_job_and_complete_none_twice(clean):
    bed = clean
    n = 50
    w1, w2 = bed.worker("w1"), bed.worker("w2")
    bed.sql("INSERT INTO jobs (kind, payload) SELECT 'diag.sleep', jsonb_build_object('ms', 200, 'tag', 'ks-' || i) "
            "FROM generate_series(1, %s::int) i", n)
    ids = [int(r[0]) for r in bed.sql("SELECT id FROM jobs ORDER BY id")]
    assert len(ids) == n

    def done():
        return int(bed.val("SELECT count(*) FROM jobs WHERE state = 'done'"))

    # kill -9 the first worker while it holds a job, once both have been at it for a while.
    bed.wait(lambda: done() >= 6, 20, "the first jobs")
    bed.wait(lambda: bed.val("SELECT count(*) FROM jobs WHERE state = 'running' AND lease_owner = 'w1'") not in
             (0, "0"), 10, "w1 to be mid-job")
    bed.kill_worker(w1)
    orphans = [int(r[0]) for r in bed.sql("SELECT id FROM jobs WHERE state = 'running' AND lease_owner = 'w1'")]
    assert orphans, "w1 was not mid-job when killed"

    # Restart PostgreSQL while w2 is mid-job.
    bed.wait(lambda: done() >= 12, 20, "more jobs")
    bed.wait(lambda: bed.val("SELECT count(*) FROM jobs WHERE state = 'running' AND lease_owner = 'w2'") not in
             (0, "0"), 10, "w2 to be mid-job")
    in_flight = [int(r[0]) for r in bed.sql("SELECT id FROM jobs WHERE state = 'running'")]
    done_before = done()
    bed.pg.restart()
    restarted_at = float(bed.val("SELECT extract(epoch FROM pg_postmaster_start_time())"))
    assert w2.alive(), "w2 exited when PostgreSQL restarted"
    w3 = bed.worker("w3")

    bed.wait(lambda: done() == n, 120, "every job to be done")
    states = dict((s, int(c)) for s, c in bed.sql("SELECT state::text, count(*) FROM jobs GROUP BY 1"))
    assert states == {"done": n}
    counts = audit_counts(bed)
    assert sorted(counts) == ids, "a job has no audit row (lost) or an unknown one appeared"
    assert [j for j, c in counts.items() if c != 1] == [], "a job completed more than once"
    assert int(bed.val("SELECT count(*) FROM audit_log")) == n

    # The orphans were taken again after their lease ran out, and finished by a live worker.
    for job in orphans:
        owner, attempts = bed.sql("SELECT a.detail->>'owner', j.attempts FROM audit_log a JOIN jobs j "
                                  "ON j.id = (a.detail->>'job_id')::bigint WHERE j.id = %s::bigint", job)[0]
        assert owner in ("w2", "w3") and int(attempts) >= 2, (job, owner, attempts)
    # w2 lived through the restart and went on working.
    after = int(bed.val("SELECT count(*) FROM audit_log WHERE detail->>'owner' = 'w2' "
                        "AND extract(epoch FROM at) > %s::float8", restarted_at))
    assert w2.alive() and after > 0, f"w2 did nothing after the restart\n{bed.logs()}"
    print(f"kill -9 orphans: {orphans}; in flight at the restart: {in_flight}; done before it: {done_before}; "
          f"w2 after it: {after}; "
          f"by owner: {bed.sql('SELECT detail->>%s, count(*) FROM audit_log GROUP BY 1 ORDER BY 1', 'owner')}")
    bed.stop_worker(w2)
    bed.stop_worker(w3)


@pytest.mark.parametrize("ms,noticed", [(700, "effects rolled back"), (1500, "lease lost")],
                         ids=["at-completion", "at-lease-renewal"])
def test_a_stalled_worker_whose_lease_ran_out_does_not_complete_the_job_again(clean, ms, noticed):
    """The other half of exactly-once: a worker frozen mid-job (SIGSTOP: a long pause, a swapped-out VM)
    loses its lease, another worker takes the job and completes it; when the first one wakes up, either its
    done mark matches no row and its effects roll back (a short job), or renewing the lease fails and it
    gives up (a job longer than a renewal period, LEASE_S / 3)."""
    bed = clean
    a = bed.worker("stalled")
    job = bed.enqueue({"ms": ms, "tag": "stall"})
    bed.wait(lambda: bed.val("SELECT lease_owner FROM jobs WHERE id = %s::bigint", job) == "stalled", 10,
             "the job to start")
    a.signal(signal.SIGSTOP)
    try:
        b = bed.worker("rescuer")
        bed.wait(lambda: bed.state(job) == "done", LEASE_S + 10, "the rescuer to complete the job")
    finally:
        a.signal(signal.SIGCONT)
    bed.wait(lambda: noticed in a.log_path.read_text(), 10, "the stalled worker to notice")
    time.sleep(0.3)
    assert audit_counts(bed) == {job: 1}
    assert bed.val("SELECT detail->>'owner' FROM audit_log") == "rescuer"
    assert int(bed.val("SELECT attempts FROM jobs WHERE id = %s::bigint", job)) == 2
    assert a.alive() and b.alive()


# ---- schedules -----------------------------------------------------------------------------------------

def test_due_schedules_fire_exactly_once_with_two_workers(clean):
    bed = clean
    bed.worker("s1")
    bed.worker("s2")
    n = 20
    # Due a moment from now, so both idle workers reach them at about the same time. A yearly cron, so the
    # only legitimate firing in this test is the first one.
    bed.sql("INSERT INTO schedules (name, kind, payload, cron, next_run_at) "
            "SELECT 'e2e-' || i, 'diag.sleep', jsonb_build_object('ms', 0, 'tag', 'sched-' || i), '0 0 1 1 *', "
            "now() + interval '1 second' FROM generate_series(1, %s::int) i", n)
    bed.wait(lambda: int(bed.val("SELECT count(*) FROM schedules WHERE last_run_at IS NOT NULL")) == n, 15,
             "the schedules to fire")
    bed.wait(lambda: int(bed.val("SELECT count(*) FROM jobs WHERE state = 'done'")) >= n, 15, "their jobs")
    time.sleep(1.5)  # room for a double firing to show up
    per_tag = bed.sql("SELECT payload->>'tag', count(*) FROM jobs GROUP BY 1 ORDER BY 1")
    assert len(per_tag) == n and all(int(c) == 1 for _, c in per_tag), per_tag
    assert int(bed.val("SELECT count(*) FROM audit_log")) == n
    wrong = bed.sql("SELECT name FROM schedules WHERE starts_with(name, 'e2e-') AND next_run_at <> "
                    "date_trunc('year', now() AT TIME ZONE 'UTC') AT TIME ZONE 'UTC' + interval '1 year'")
    assert wrong == [], f"next_run_at is not next 1 January 00:00 UTC for {wrong}"
    fired = sum(p.log_path.read_text(errors="replace").count("schedule e2e-") for p in bed.procs)
    assert fired == n, f"{fired} firings logged for {n} schedules"


def test_builtin_purge_schedule_is_registered(clean):
    bed = clean
    bed.worker("reg")
    bed.wait(lambda: bed.sql("SELECT 1 FROM schedules WHERE name = 'maintenance.purge'"), 10, "the registration")
    cron, kind = bed.sql("SELECT cron, kind FROM schedules WHERE name = 'maintenance.purge'")[0]
    assert kind == "maintenance.purge" and cron == "17 3 * * *"


def test_maintenance_purge_deletes_old_done_jobs(clean):
    bed = clean
    old = bed.enqueue({"ms": 0})
    bed.sql("UPDATE jobs SET state = 'done', finished_at = now() - interval '8 days' WHERE id = %s::bigint", old)
    recent = bed.enqueue({"ms": 0})
    bed.sql("UPDATE jobs SET state = 'done', finished_at = now() - interval '1 day' WHERE id = %s::bigint", recent)
    purge = bed.enqueue({}, kind="maintenance.purge")
    r = bed.app.run("timebridge-worker", "--once", timeout=30)
    assert r.returncode == 0, r.stderr
    assert bed.state(old) is None or bed.state(old) == ""
    assert bed.state(recent) == "done" and bed.state(purge) == "done"


# ---- stopping ------------------------------------------------------------------------------------------

def test_sigterm_finishes_the_job_in_flight_then_exits_0(clean):
    bed = clean
    w = bed.worker("w-term")
    job = bed.enqueue({"ms": 1500, "tag": "in-flight"})
    bed.wait(lambda: bed.state(job) == "running", 10, "the job to start")
    later = bed.enqueue({"ms": 0, "tag": "not-started"})
    t0 = time.monotonic()
    w.signal(signal.SIGTERM)
    try:
        rc = w.popen.wait(15)
    except Exception:
        pytest.fail(f"the worker did not stop after SIGTERM\n{bed.logs()}")
    took = time.monotonic() - t0
    assert rc == 0, bed.logs()
    assert bed.state(job) == "done" and audit_counts(bed) == {job: 1}
    assert took >= 0.5, f"exited {took:.2f}s after SIGTERM: did it wait for the job?"
    # Nothing new is started once the stop was asked for.
    assert bed.state(later) == "queued"
    assert "stopping after the job in flight" in w.log_path.read_text()
    bed.exited(w)


def test_once_runs_due_jobs_then_exits(clean):
    bed = clean
    ids = [bed.enqueue({"ms": 0, "tag": f"once-{i}"}) for i in range(3)]
    future = bed.enqueue({"ms": 0}, delay_s=3600)
    r = bed.app.run("timebridge-worker", "--once", timeout=30)
    assert r.returncode == 0, r.stderr
    assert [bed.state(j) for j in ids] == ["done"] * 3
    assert bed.state(future) == "queued"


def test_worker_started_before_its_database_waits_for_it(clean):
    bed = clean
    bed.pg.stop()
    w = bed.worker("w-early")
    time.sleep(1.5)
    assert w.alive(), f"the worker gave up while PostgreSQL was down\n{bed.logs()}"
    bed.pg.start()
    job = bed.enqueue({"ms": 0, "tag": "late-db"})
    bed.wait(lambda: bed.state(job) == "done", 20, "the job after PostgreSQL came up")
    bed.wait(lambda: "database working again" in w.log_path.read_text(), 5, "the recovery to be logged")
    assert w.log_path.read_text().count("database error") == 1, "an outage of seconds is logged once"
