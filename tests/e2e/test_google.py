"""tests/e2e/test_google.py: Google Calendar out, end to end: the OAuth consent round trip through nginx
against the fake Google (state, PKCE, replays, denial, fewer scopes, disconnect), and the mirror driven by the
worker (insert, 409 → patch, patch, delete with 404/410 as done, 400 dead with the error on the entry, running
entries, colour rules, per-user backoff on rate and quota errors, 5xx retries, 401 refresh and retry,
invalid_grant then reconnect, the calendar deleted by the user, validation putting back an event deleted by
hand, kill -9 of a worker mid-sync, an entry updated or deleted while its sync is in flight, a bulk import,
the backfill, the CLI) and a signed webhook through nginx reaching the calendar.

The module has a stack of its own (two workers, a short job lease so a killed worker's job comes back within
seconds) and a fake Google of its own, so nothing another test module does to Google can disturb it. Time
entries are written with SQL the way the Toggl side writes them (a real change bumps `version`), which is all
the mirror sees; one test goes through a real signed webhook instead. Sessions come from
`timebridge session create`."""
import base64
import importlib.util
import json
import re
import sys
import time
import urllib.parse
from datetime import datetime, timedelta, timezone
from pathlib import Path

import pytest
import requests

import stack as harness

ROOT = Path(__file__).resolve().parents[2]
LEASE_S = 4
CLIENT_ID = "tb-e2e-google.apps.googleusercontent.com"
CLIENT_SECRET = "tb-e2e-google-secret"
SCOPE = "https://www.googleapis.com/auth/calendar.app.created"
WS = 48_000_001
TZ = "Europe/Zurich"

_ids = iter(range(int(time.time()) * 1000, 1 << 62))


def next_id():
    return next(_ids)


def event_id(entry_id):
    """What src/gcal/mirror.c computes: base32hex("tb" + id), lowercase, no padding."""
    return base64.b32hexencode(b"tb%d" % entry_id).decode().lower().rstrip("=")


def utc(dt):
    return dt.astimezone(timezone.utc)


def parse_time(s):
    return datetime.fromisoformat(s.replace("Z", "+00:00"))


def wait_until(fn, timeout=20, what="condition", interval=0.05):
    deadline = time.monotonic() + timeout
    last = None
    while time.monotonic() < deadline:
        last = fn()
        if last:
            return last
        time.sleep(interval)
    raise AssertionError(f"timed out after {timeout}s waiting for {what} (last: {last!r})")


def _load_fake_google():
    path = ROOT / "tests" / "fakes" / "fake_google.py"
    spec = importlib.util.spec_from_file_location("fake_google_gcal", path)
    module = importlib.util.module_from_spec(spec)
    sys.modules[spec.name] = module
    spec.loader.exec_module(module)
    return module


class Google:
    """The module's own fake Google, through its control API."""

    def __init__(self):
        self.module = _load_fake_google()
        self.server, _thread, self.url = self.module.start(quiet=True)

    def ctl(self, method, path, body=None, **params):
        r = requests.request(method, self.url + "/_control" + path, json=body, params=params, timeout=10)
        assert r.status_code == 200, r.text
        return r.json()

    def events(self, email, calendar_id=None):
        params = {"user": email}
        if calendar_id:
            params["calendar_id"] = calendar_id
        return self.ctl("GET", "/events", **params)

    def event(self, email, eid, calendar_id=None):
        found = [e for e in self.events(email, calendar_id) if e["id"] == event_id(eid)]
        assert len(found) <= 1, found
        return found[0] if found else None

    def calendars(self, email):
        return [c for c in self.ctl("GET", "/calendars", user=email) if not c["primary"]]

    def log(self, since=0):
        return self.ctl("GET", "/events_log", since=since)

    def log_seq(self):
        log = self.log()
        return log[-1]["seq"] if log else 0

    def stop(self):
        self.module.stop(self.server)


class Bed:
    """The stack, the fake Google, and helpers to make users, sessions, connections and entries."""

    def __init__(self):
        self.google = Google()
        g = self.google.url
        env = {"TIMEBRIDGE_GOOGLE_AUTH_URL": f"{g}/o/oauth2/v2/auth", "TIMEBRIDGE_GOOGLE_TOKEN_URL": f"{g}/token",
               "TIMEBRIDGE_GOOGLE_REVOKE_URL": f"{g}/revoke", "TIMEBRIDGE_GOOGLE_API_URL": f"{g}/calendar/v3",
               "GOOGLE_CLIENT_ID": CLIENT_ID, "GOOGLE_CLIENT_SECRET": CLIENT_SECRET,
               "TIMEBRIDGE_JOB_LEASE_S": LEASE_S}
        self.stack = harness.Stack(env=env, workers=2)
        self.url = self.stack.nginx.url
        self.callback = self.url + "/oauth/google/callback"
        # Only our exact redirect URI is accepted, as Google does for a registered client.
        self.google.ctl("POST", "/clients", {"client_id": CLIENT_ID, "client_secret": CLIENT_SECRET,
                                             "redirect_uris": [self.callback]})
        self.extra_workers = 0

    def start(self):
        self.stack.start()
        # Faster backfills than production's 5/s, so the tests do not wait for pacing.
        self.sql("UPDATE settings SET value = '50' WHERE key = 'GOOGLE_BACKFILL_RATE'")
        return self

    def sql(self, q, *p):
        return self.stack.pg.sql(q, *p)

    def cli(self, *args, check=True):
        return self.stack.app.cli(*args, check=check)

    # ---- users and sessions ----
    def user(self, email, tz=TZ):
        self.stack.app.cli("user", "add", email, input="gcal-e2e-password-0123456789")
        uid = int(self.sql("SELECT id FROM users WHERE email = %s", email)[0][0])
        self.sql("INSERT INTO toggl_accounts (user_id, toggl_user_id, email, time_zone) VALUES (%s, %s, %s, %s)",
                 uid, 60_000_000 + uid, email, tz)
        self.sql("INSERT INTO toggl_workspaces (id, name, user_id) VALUES (%s, 'ws', %s) ON CONFLICT DO NOTHING",
                 WS, uid)
        return uid

    def session(self, email):
        return {"tb_session": self.cli("session", "create", email).stdout.strip()}

    def get(self, path, cookies=None, **kw):
        return requests.get(self.url + path if path.startswith("/") else path, cookies=cookies,
                            allow_redirects=False, timeout=30, **kw)

    # ---- the consent round trip ----
    def start_url(self, cookies):
        r = self.get("/oauth/google/start", cookies)
        assert r.status_code == 302, (r.status_code, r.text)
        return r.headers["Location"]

    def consent(self, auth_url, google_email, decision="allow"):
        """What the browser does at Google: returns the callback URL Google redirects to."""
        self.google.ctl("POST", "/consent", {"email": google_email, "auto": decision, "drop_scopes": [],
                                            "grant_scopes": None})
        r = requests.get(auth_url, allow_redirects=False, timeout=10)
        assert r.status_code == 302, (r.status_code, r.text)
        return r.headers["Location"]

    def connect(self, email, google_email, cookies=None):
        cookies = cookies or self.session(email)
        cb = self.consent(self.start_url(cookies), google_email)
        r = self.get(cb, cookies)
        assert r.status_code == 303 and r.headers["Location"] == "/google", (r.status_code, r.text)
        return cookies

    def connected(self, email, google_email):
        """A user connected to Google with its calendar made: (user id, calendar id)."""
        uid = self.user(email)
        self.connect(email, google_email)
        cal = wait_until(lambda: self.calendar_id(uid), 20, "the calendar")
        self.idle(uid)
        return uid, cal

    def calendar_id(self, uid):
        r = self.sql("SELECT calendar_id FROM google_accounts WHERE user_id = %s", uid)
        return r[0][0] if r else None

    def account(self, uid):
        r = self.sql("SELECT status, status_detail, scopes, backoff_until, backoff_level, validation::text "
                     "FROM google_accounts WHERE user_id = %s", uid)
        if not r:
            return None
        return dict(zip(("status", "detail", "scopes", "backoff_until", "backoff_level", "validation"), r[0]))

    def idle(self, uid, timeout=30):
        """No google job of the user is running or due within half a minute (paused ones wait on purpose, and
        the self-rescheduled validation and refreshes are minutes away)."""
        wait_until(lambda: not self.sql("SELECT 1 FROM jobs WHERE user_id = %s AND kind LIKE 'google.%%' "
                                        "AND (state = 'running' OR (state IN ('queued', 'failed') "
                                        "AND run_after < now() + interval '30 seconds'))", uid),
                   timeout, f"user {uid}'s google jobs to finish")

    # ---- entries, written the way the Toggl side writes them ----
    def put(self, uid, eid, start, stop=None, description="work", project=None, tags=(), tag_ids=(),
            billable=False, deleted=False):
        dur = -int(start.timestamp()) if stop is None else int((stop - start).total_seconds())
        self.sql(
            "INSERT INTO time_entries (id, user_id, toggl_user_id, workspace_id, project_id, description, billable, "
            "start, stop, duration, tags, tag_ids, at, server_deleted_at) "
            "VALUES (%s, %s, %s, %s, %s, %s, %s, %s, %s, %s, %s::text[], %s::bigint[], now(), "
            "CASE WHEN %s THEN now() END) "
            "ON CONFLICT (id) DO UPDATE SET project_id = EXCLUDED.project_id, description = EXCLUDED.description, "
            "billable = EXCLUDED.billable, start = EXCLUDED.start, stop = EXCLUDED.stop, "
            "duration = EXCLUDED.duration, tags = EXCLUDED.tags, tag_ids = EXCLUDED.tag_ids, at = now(), "
            "server_deleted_at = EXCLUDED.server_deleted_at, version = time_entries.version + 1, updated_at = now()",
            eid, uid, 60_000_000 + uid, WS, project, description, billable, start, stop, dur, list(tags),
            list(tag_ids), deleted)
        return eid

    def entry(self, uid, minutes_ago=90, length=30, **kw):
        start = datetime.now(timezone.utc).replace(microsecond=0) - timedelta(minutes=minutes_ago)
        return self.put(uid, next_id(), start, start + timedelta(minutes=length), **kw), start

    def mirror(self, eid):
        r = self.sql("SELECT m.state, m.event_state, m.synced_version, m.last_error, m.event_id, te.version "
                     "FROM google_mirror m JOIN time_entries te ON te.id = m.entry_id WHERE m.entry_id = %s", eid)
        if not r:
            return None
        return dict(zip(("state", "event_state", "synced_version", "last_error", "event_id", "version"), r[0]))

    def synced(self, eid, timeout=20):
        def ok():
            m = self.mirror(eid)
            return m if m and m["state"] == "synced" and m["synced_version"] == m["version"] else None
        return wait_until(ok, timeout, f"entry {eid} synced")

    def job(self, eid):
        r = self.sql("SELECT state, attempts, last_error, run_after, lease_owner FROM jobs "
                     "WHERE kind = 'google.sync_entry' AND dedupe_key = %s ORDER BY id DESC LIMIT 1", str(eid))
        return dict(zip(("state", "attempts", "last_error", "run_after", "lease_owner"), r[0])) if r else None

    def csrf(self, cookies):
        """The CSRF token of a session, as its pages carry it in their forms."""
        for path in ("/google", "/", "/settings", "/tokens"):
            r = self.get(path, cookies)
            m = re.search(r'name="csrf"\s+value="([^"]+)"', r.text) or \
                re.search(r'value="([^"]+)"\s+name="csrf"', r.text)
            if m:
                return m.group(1)
        pytest.fail("no page with a CSRF token: the admin pages are not there yet")


@pytest.fixture(scope="module")
def bed():
    b = Bed()
    try:
        b.start()
    except harness.HarnessError as e:
        b.google.stop()
        pytest.fail(f"the stack did not start: {e}", pytrace=False)
    # A failing test's report gets this stack's log tails too (conftest.py's hook).
    live = getattr(sys.modules.get("conftest"), "_live_stacks", [])
    live.append(b.stack)
    yield b
    live.remove(b.stack)
    problems = b.stack.stop()
    b.google.stop()
    if problems:
        pytest.fail("the stack did not stop cleanly:\n" + "\n".join(problems), pytrace=False)


@pytest.fixture(scope="module")
def alice(bed):
    """A connected user, for the tests that only need one: (user id, calendar id, google email)."""
    uid, cal = bed.connected("alice@example.com", "alice.g@example.com")
    return uid, cal, "alice.g@example.com"


# ---- OAuth consent ---------------------------------------------------------------------------------------

def test_start_needs_a_session(bed):
    r = bed.get("/oauth/google/start")
    assert r.status_code == 303 and r.headers["Location"].startswith("/login")
    r = bed.get("/oauth/google/start", {"tb_session": "x" * 43})
    assert r.status_code == 303


def test_start_redirects_to_google_with_every_parameter(bed):
    bed.user("start@example.com")
    cookies = bed.session("start@example.com")
    loc = bed.start_url(cookies)
    parts = urllib.parse.urlsplit(loc)
    q = urllib.parse.parse_qs(parts.query)
    assert f"{parts.scheme}://{parts.netloc}{parts.path}" == bed.google.url + "/o/oauth2/v2/auth"
    assert q["client_id"] == [CLIENT_ID]
    assert q["redirect_uri"] == [bed.callback]
    assert q["response_type"] == ["code"]
    assert q["scope"] == [SCOPE]
    assert q["access_type"] == ["offline"]
    assert q["prompt"] == ["consent"]
    assert q["include_granted_scopes"] == ["true"]
    assert q["code_challenge_method"] == ["S256"]
    assert re.fullmatch(r"[A-Za-z0-9_-]{43}", q["code_challenge"][0])
    state = q["state"][0]
    assert re.fullmatch(r"[A-Za-z0-9_-]{43}", state)
    # Stored hashed, with the verifier sealed: neither secret is in the table in the clear.
    rows = bed.sql("SELECT state_hash, session_hash, verifier_sealed FROM google_oauth_states")
    assert rows and all(state not in "".join(r) for r in rows)
    assert all(r[2].startswith("v1:") for r in rows)
    assert all(cookies["tb_session"] not in "".join(r) for r in rows)
    # A fresh state and challenge every time.
    q2 = urllib.parse.parse_qs(urllib.parse.urlsplit(bed.start_url(cookies)).query)
    assert q2["state"] != q["state"] and q2["code_challenge"] != q["code_challenge"]


def test_connect_stores_the_grant_sealed_and_creates_the_calendar_in_the_toggl_zone(bed):
    uid = bed.user("connect@example.com", tz="America/New_York")
    bed.connect("connect@example.com", "connect.g@example.com")
    acct = bed.account(uid)
    assert acct["status"] == "ok" and acct["scopes"] == SCOPE
    grants = [g for g in bed.google.ctl("GET", "/tokens")["grants"] if g["email"] == "connect.g@example.com"]
    assert len(grants) == 1 and grants[0]["refresh_token"]
    sealed = bed.sql("SELECT sealed FROM secrets WHERE user_id = %s AND kind = 'google_refresh'", uid)[0][0]
    assert sealed.startswith("v1:") and grants[0]["refresh_token"] not in sealed
    access = bed.sql("SELECT access_sealed, access_expires_at > now() + interval '50 minutes' FROM google_accounts "
                     "WHERE user_id = %s", uid)[0]
    assert access[0].startswith("v1:") and access[1]
    cal = wait_until(lambda: bed.calendar_id(uid), 20, "the calendar")
    cals = bed.google.calendars("connect.g@example.com")
    assert [(c["id"], c["summary"], c["timeZone"], c["created_by_client"]) for c in cals] == \
        [(cal, "Toggl", "America/New_York", CLIENT_ID)]
    assert bed.sql("SELECT count(*) FROM audit_log WHERE user_id = %s AND action = 'google.connect'", uid)[0][0] == 1


def test_tampered_state_is_400_and_stores_nothing(bed):
    uid = bed.user("tamper@example.com")
    cookies = bed.session("tamper@example.com")
    cb = bed.consent(bed.start_url(cookies), "tamper.g@example.com")
    bad = re.sub(r"state=([^&]+)", lambda m: "state=" + m.group(1)[:-2] + ("AA" if m.group(1)[-2:] != "AA" else "BB"),
                 cb)
    r = bed.get(bad, cookies)
    assert r.status_code == 400 and "not valid" in r.text
    assert bed.account(uid) is None
    code = urllib.parse.parse_qs(urllib.parse.urlsplit(cb).query)["code"][0]
    assert [c["used"] for c in bed.google.ctl("GET", "/tokens")["codes"] if c["code"] == code] == [False]
    # Missing state: the same.
    r = bed.get(re.sub(r"&?state=[^&]+", "", cb), cookies)
    assert r.status_code == 400 and bed.account(uid) is None
    # The untampered answer still works: nothing was lost.
    r = bed.get(cb, cookies)
    assert r.status_code == 303 and bed.account(uid)["status"] == "ok"


def test_replayed_callback_and_replayed_code_are_400(bed):
    uid = bed.user("replay@example.com")
    cookies = bed.session("replay@example.com")
    cb = bed.consent(bed.start_url(cookies), "replay.g@example.com")
    assert bed.get(cb, cookies).status_code == 303
    wait_until(lambda: bed.calendar_id(uid), 20, "the calendar")
    bed.idle(uid)
    q = ("SELECT g.access_sealed, g.updated_at, s.sealed FROM google_accounts g JOIN secrets s "
         "ON s.user_id = g.user_id AND s.kind = 'google_refresh' WHERE g.user_id = %s")
    before = bed.sql(q, uid)
    # The same callback again: the state was single use.
    r = bed.get(cb, cookies)
    assert r.status_code == 400 and "already used" in r.text
    # The old code with a fresh, valid state: Google refuses the used code; nothing changes.
    fresh = urllib.parse.parse_qs(urllib.parse.urlsplit(bed.start_url(cookies)).query)["state"][0]
    code = urllib.parse.parse_qs(urllib.parse.urlsplit(cb).query)["code"][0]
    r = bed.get(f"{bed.callback}?code={urllib.parse.quote(code)}&state={fresh}", cookies)
    assert r.status_code == 400 and "invalid_grant" in r.text and "Nothing was stored" in r.text
    assert bed.sql(q, uid) == before


def test_expired_state_is_400(bed):
    uid = bed.user("expired@example.com")
    cookies = bed.session("expired@example.com")
    cb = bed.consent(bed.start_url(cookies), "expired.g@example.com")
    bed.sql("UPDATE google_oauth_states SET created_at = now() - interval '11 minutes' WHERE user_id = %s", uid)
    r = bed.get(cb, cookies)
    assert r.status_code == 400 and "10 minutes" in r.text
    assert bed.account(uid) is None


def test_state_of_another_session_is_400(bed):
    uid = bed.user("twosessions@example.com")
    mine, other = bed.session("twosessions@example.com"), bed.session("twosessions@example.com")
    cb = bed.consent(bed.start_url(mine), "two.g@example.com")
    r = bed.get(cb, other)
    assert r.status_code == 400 and "another session" in r.text
    assert bed.account(uid) is None
    bed.user("intruder@example.com")
    cb = bed.consent(bed.start_url(mine), "two.g@example.com")
    r = bed.get(cb, bed.session("intruder@example.com"))
    assert r.status_code == 400 and bed.account(uid) is None


def test_access_denied_is_shown_kindly_and_stores_nothing(bed):
    uid = bed.user("denied@example.com")
    cookies = bed.session("denied@example.com")
    cb = bed.consent(bed.start_url(cookies), "denied.g@example.com", decision="deny")
    assert "error=access_denied" in cb
    r = bed.get(cb, cookies)
    assert r.status_code == 200 and "chose not to" in r.text and "/oauth/google/start" in r.text
    assert bed.account(uid) is None
    assert not bed.sql("SELECT 1 FROM secrets WHERE user_id = %s", uid)


def test_fewer_scopes_than_needed_are_stored_and_the_user_is_told(bed):
    uid = bed.user("fewer@example.com")
    cookies = bed.session("fewer@example.com")
    # Granular consent: the person unticks the one permission timebridge needs (the page asked for two here,
    # as an incremental grant would show them).
    url = bed.start_url(cookies).replace(urllib.parse.quote(SCOPE, safe=""),
                                         urllib.parse.quote("https://www.googleapis.com/auth/calendar.readonly "
                                                            + SCOPE, safe=""))
    bed.google.ctl("POST", "/consent", {"email": "fewer.g@example.com", "auto": "allow", "drop_scopes": [SCOPE]})
    cb = requests.get(url, allow_redirects=False, timeout=10).headers["Location"]
    r = bed.get(cb, cookies)
    assert r.status_code == 200 and "less than needed" in r.text and "calendar.readonly" in r.text
    acct = bed.account(uid)
    assert acct["status"] == "needs_reconnect" and acct["scopes"] == "https://www.googleapis.com/auth/calendar.readonly"
    assert "calendar.app.created" in acct["detail"]
    time.sleep(1)
    assert bed.calendar_id(uid) is None and not bed.google.calendars("fewer.g@example.com")


def test_disconnect_needs_csrf_then_revokes_and_deletes(bed):
    uid = bed.user("bye@example.com")
    cookies = bed.connect("bye@example.com", "bye.g@example.com")
    wait_until(lambda: bed.calendar_id(uid), 20, "the calendar")
    eid, _ = bed.entry(uid)
    bed.synced(eid)
    r = requests.post(bed.url + "/google/disconnect", data={}, cookies=cookies, allow_redirects=False, timeout=10)
    assert r.status_code == 403 and bed.account(uid)["status"] == "ok"
    r = requests.post(bed.url + "/google/disconnect", data={"csrf": bed.csrf(cookies)}, cookies=cookies,
                      allow_redirects=False, timeout=10)
    assert r.status_code == 303 and r.headers["Location"] == "/google"
    wait_until(lambda: bed.account(uid) is None, 20, "the connection deleted")
    grants = [g for g in bed.google.ctl("GET", "/tokens")["grants"] if g["email"] == "bye.g@example.com"]
    assert grants and all(g["revoked"] for g in grants)
    assert not bed.sql("SELECT 1 FROM secrets WHERE user_id = %s AND kind = 'google_refresh'", uid)
    assert not bed.sql("SELECT 1 FROM google_mirror WHERE user_id = %s", uid)
    # Entries changed now queue nothing.
    later, _ = bed.entry(uid)
    assert not bed.sql("SELECT 1 FROM jobs WHERE user_id = %s AND kind = 'google.sync_entry' "
                       "AND state <> 'done'", uid)
    # Connecting again adopts the calendar this client made before: no second calendar, no duplicate event.
    cal = [c["id"] for c in bed.google.calendars("bye.g@example.com")]
    bed.connect("bye@example.com", "bye.g@example.com", cookies)
    assert wait_until(lambda: bed.calendar_id(uid), 20, "the calendar") == cal[0]
    bed.synced(eid)
    bed.synced(later)
    bed.idle(uid)
    assert [c["id"] for c in bed.google.calendars("bye.g@example.com")] == cal
    assert sorted(e["id"] for e in bed.google.events("bye.g@example.com", cal[0])) == \
        sorted([event_id(eid), event_id(later)])


# ---- the mirror ------------------------------------------------------------------------------------------

def test_entry_becomes_one_event_with_everything_shown(bed, alice):
    uid, cal, gmail = alice
    bed.sql("INSERT INTO toggl_clients (id, workspace_id, name) VALUES (71, %s, 'Acme') ON CONFLICT DO NOTHING", WS)
    bed.sql("INSERT INTO toggl_projects (id, workspace_id, client_id, name, color) VALUES (72, %s, 71, 'Apollo', "
            "'#2da608') ON CONFLICT DO NOTHING", WS)
    eid, start = bed.entry(uid, description="Design <review> & more", project=72, tags=("deep", "q3"),
                           tag_ids=(5, 6), billable=True, length=75)
    m = bed.synced(eid)
    assert m["event_id"] == event_id(eid) and m["event_state"] == "live"
    ev = bed.google.event(gmail, eid, cal)
    assert ev["status"] == "confirmed" and ev["summary"] == "Design <review> & more"
    assert utc(parse_time(ev["start"]["dateTime"])) == start
    assert utc(parse_time(ev["end"]["dateTime"])) == start + timedelta(minutes=75)
    assert ev["colorId"] == "10"
    for line in ("Project: Apollo", "Client: Acme", "Tags: deep, q3", "Billable: yes", "Duration: 1:15:00",
                 f"https://track.toggl.com/timer?workspace_id={WS}&time_entry_id={eid}"):
        assert line in ev["description"]
    assert ev["extendedProperties"]["private"]["toggl_entry_id"] == str(eid)
    assert ev["extendedProperties"]["private"]["toggl_project_id"] == "72"
    # Exactly one insert, and nothing rejected.
    assert [r["method"] for r in bed.google.log() if r["event_id"] == event_id(eid)] == ["insert"]
    # No description:
    eid2, _ = bed.entry(uid, description=None)
    bed.synced(eid2)
    assert bed.google.event(gmail, eid2, cal)["summary"] == "(No description)"


def test_changes_are_patched_and_a_tombstone_deletes_the_event(bed, alice):
    uid, cal, gmail = alice
    eid, start = bed.entry(uid, description="first")
    bed.synced(eid)
    seq = bed.google.log_seq()
    bed.put(uid, eid, start, start + timedelta(minutes=45), description="second")
    bed.synced(eid)
    ev = bed.google.event(gmail, eid, cal)
    assert ev["summary"] == "second" and utc(parse_time(ev["end"]["dateTime"])) == start + timedelta(minutes=45)
    assert [r["method"] for r in bed.google.log(seq) if r["event_id"] == event_id(eid)] == ["patch"]
    # A change that is not one (same version) queues nothing.
    bed.sql("UPDATE time_entries SET at = now() WHERE id = %s", eid)
    assert bed.job(eid)["state"] == "done"
    bed.put(uid, eid, start, start + timedelta(minutes=45), description="second", deleted=True)
    wait_until(lambda: (bed.mirror(eid) or {}).get("state") == "deleted", 20, "deleted")
    assert bed.google.event(gmail, eid, cal)["status"] == "cancelled"
    assert bed.mirror(eid)["event_state"] == "cancelled"


def test_insert_409_means_patch(bed, alice):
    uid, cal, gmail = alice
    eid = next_id()
    start = datetime.now(timezone.utc).replace(microsecond=0) - timedelta(hours=3)
    # The event exists already (a crash after an insert, or by hand), with stale content.
    bed.google.ctl("POST", "/events", {"user": gmail, "calendar_id": cal, "event": {
        "id": event_id(eid), "summary": "stale", "start": {"dateTime": "2020-01-01T00:00:00Z"},
        "end": {"dateTime": "2020-01-01T01:00:00Z"}}})
    seq = bed.google.log_seq()
    bed.put(uid, eid, start, start + timedelta(minutes=20), description="fresh")
    bed.synced(eid)
    assert [(r["method"], r["status"]) for r in bed.google.log(seq) if r["event_id"] == event_id(eid)] == \
        [("insert", 409), ("patch", 200)]
    ev = bed.google.event(gmail, eid, cal)
    assert ev["summary"] == "fresh" and utc(parse_time(ev["start"]["dateTime"])) == start


def test_delete_answered_404_or_410_counts_as_done(bed, alice):
    uid, cal, gmail = alice
    for purge, status in ((True, 404), (False, 410)):
        eid, start = bed.entry(uid)
        bed.synced(eid)
        bed.google.ctl("POST", "/delete_event", {"user": gmail, "calendar_id": cal, "event_id": event_id(eid),
                                                 "purge": purge})
        seq = bed.google.log_seq()
        bed.put(uid, eid, start, start + timedelta(minutes=30), deleted=True)
        wait_until(lambda: (bed.mirror(eid) or {}).get("state") == "deleted", 20, "deleted")
        assert [(r["method"], r["status"]) for r in bed.google.log(seq) if r["event_id"] == event_id(eid)] == \
            [("delete", status)]
        assert bed.job(eid)["state"] == "done"


def test_400_is_dead_with_the_error_on_the_entry(bed, alice):
    uid, cal, gmail = alice
    bed.google.ctl("POST", "/fail", {"error": "badRequest", "count": 1, "path_contains": "/events",
                                     "method": "POST"})
    eid, _ = bed.entry(uid)
    wait_until(lambda: (bed.job(eid) or {}).get("state") == "dead", 20, "the job dead")
    m = bed.mirror(eid)
    assert m["state"] == "error" and "400" in m["last_error"] and "Bad Request" in m["last_error"]
    assert "400" in bed.job(eid)["last_error"]
    assert bed.job(eid)["attempts"] == 1
    # A later change of the entry tries again (and now succeeds).
    bed.put(uid, eid, datetime.now(timezone.utc).replace(microsecond=0) - timedelta(hours=1),
            datetime.now(timezone.utc).replace(microsecond=0), description="fixed")
    bed.synced(eid)


def test_server_errors_are_retried(bed, alice):
    uid, cal, gmail = alice
    bed.google.ctl("POST", "/fail", {"error": "backendError", "count": 1, "path_contains": "/events",
                                     "method": "POST"})
    eid, _ = bed.entry(uid)
    wait_until(lambda: (bed.mirror(eid) or {}).get("state") == "retrying", 10, "retrying")
    assert "500" in bed.mirror(eid)["last_error"]
    bed.synced(eid, timeout=30)
    assert bed.google.event(gmail, eid, cal)["status"] == "confirmed"


def refresh_job(bed, eid):
    r = bed.sql("SELECT id, extract(epoch FROM run_after - now()), payload->>'refresh' FROM jobs "
                "WHERE kind = 'google.sync_entry' AND dedupe_key = %s AND state = 'queued'", str(eid))
    return r[0] if r else None


def test_running_entry_is_grey_extended_then_stopped(bed, alice):
    uid, cal, gmail = alice
    bed.sql("INSERT INTO google_color_rules (user_id, kind, ref_id, color_id) VALUES (%s, 'tag', 901, 4)", uid)
    eid = next_id()
    start = datetime.now(timezone.utc).replace(microsecond=0) - timedelta(seconds=20)
    bed.put(uid, eid, start, None, description="running", tags=("x",), tag_ids=(901,))
    bed.synced(eid)
    ev = bed.google.event(gmail, eid, cal)
    assert ev["colorId"] == "8"
    assert utc(parse_time(ev["end"]["dateTime"])) == start + timedelta(minutes=1)
    # The sync queued the next refresh itself, running_refresh_min (5) from now.
    job = wait_until(lambda: refresh_job(bed, eid), 10, "the next refresh queued")
    assert 4 * 60 < float(job[1]) <= 5 * 60 and job[2] == "true"
    # Due now (as if 5 minutes had passed; the entry started half an hour ago, without a version change):
    bed.sql("UPDATE time_entries SET start = start - interval '30 minutes' WHERE id = %s", eid)
    seq = bed.google.log_seq()
    bed.sql("UPDATE jobs SET run_after = now() WHERE id = %s", job[0])
    wait_until(lambda: [r for r in bed.google.log(seq) if r["event_id"] == event_id(eid)], 20, "the refresh")
    bed.synced(eid)
    ev = bed.google.event(gmail, eid, cal)
    assert utc(parse_time(ev["end"]["dateTime"])) >= datetime.now(timezone.utc) - timedelta(seconds=10)
    assert wait_until(lambda: refresh_job(bed, eid), 10, "the next refresh queued again")
    # A broken chain (the queued refresh lost) is caught by the hourly google.refresh_running.
    bed.sql("DELETE FROM jobs WHERE kind = 'google.sync_entry' AND dedupe_key = %s AND state = 'queued'", str(eid))
    bed.sql("UPDATE google_mirror SET synced_at = now() - interval '7 minutes' WHERE entry_id = %s", eid)
    seq = bed.google.log_seq()
    bed.cli("jobs", "enqueue", "google.refresh_running")
    wait_until(lambda: [r for r in bed.google.log(seq) if r["event_id"] == event_id(eid)], 20, "the catch-up")
    # Stopped: the real end, the colour of its rules, and no more refreshes.
    stop = datetime.now(timezone.utc).replace(microsecond=0)
    bed.put(uid, eid, start - timedelta(minutes=30), stop, description="running", tags=("x",), tag_ids=(901,))
    bed.synced(eid)
    ev = bed.google.event(gmail, eid, cal)
    assert utc(parse_time(ev["end"]["dateTime"])) == stop and ev["colorId"] == "4"
    bed.idle(uid)
    assert refresh_job(bed, eid) is None


def test_colour_rules_tag_then_project_then_client_then_workspace(bed, alice):
    uid, cal, gmail = alice
    bed.sql("INSERT INTO toggl_clients (id, workspace_id, name) VALUES (81, %s, 'C') ON CONFLICT DO NOTHING", WS)
    bed.sql("INSERT INTO toggl_projects (id, workspace_id, client_id, name, color) VALUES (82, %s, 81, 'P', "
            "'#9e5bd9') ON CONFLICT DO NOTHING", WS)
    eid, start = bed.entry(uid, project=82, tags=("t",), tag_ids=(83,))
    bed.synced(eid)
    assert bed.google.event(gmail, eid, cal)["colorId"] == "3"      # nearest to the project's purple
    expected = []
    for kind, ref, color in (("workspace", WS, 1), ("client", 81, 2), ("project", 82, 5), ("tag", 83, 6)):
        bed.sql("INSERT INTO google_color_rules (user_id, kind, ref_id, color_id) VALUES (%s, %s, %s, %s)",
                uid, kind, ref, color)
        bed.put(uid, eid, start, start + timedelta(minutes=30), project=82, tags=("t",), tag_ids=(83,))
        bed.synced(eid)
        expected.append(str(color))
        assert bed.google.event(gmail, eid, cal)["colorId"] == str(color), kind
    bed.sql("DELETE FROM google_color_rules WHERE user_id = %s AND kind <> 'tag'", uid)
    # No project and no rule: the calendar's colour (colorId cleared by the patch).
    bed.sql("DELETE FROM google_color_rules WHERE user_id = %s", uid)
    bed.put(uid, eid, start, start + timedelta(minutes=30), project=None)
    bed.synced(eid)
    assert "colorId" not in bed.google.event(gmail, eid, cal)


def test_an_event_deleted_by_hand_comes_back_with_its_id_on_the_next_change(bed, alice):
    uid, cal, gmail = alice
    eid, start = bed.entry(uid, description="keep me")
    bed.synced(eid)
    bed.google.ctl("POST", "/delete_event", {"user": gmail, "calendar_id": cal, "event_id": event_id(eid)})
    seq = bed.google.log_seq()
    bed.put(uid, eid, start, start + timedelta(minutes=31), description="keep me")
    bed.synced(eid)
    ev = bed.google.event(gmail, eid, cal)
    assert ev["status"] == "confirmed" and ev["id"] == event_id(eid)
    assert [r["method"] for r in bed.google.log(seq) if r["event_id"] == event_id(eid)] == ["patch"]


# ---- tokens ----------------------------------------------------------------------------------------------

def test_401_gets_one_refresh_and_one_retry(bed, alice):
    uid, cal, gmail = alice
    before = bed.sql("SELECT access_sealed FROM google_accounts WHERE user_id = %s", uid)[0][0]
    refreshes = len([r for r in bed.google.ctl("GET", "/requests") if r["path"] == "/token"])
    bed.google.ctl("POST", "/expire_tokens", {"email": gmail})
    eid, _ = bed.entry(uid)
    bed.synced(eid)
    assert bed.job(eid)["attempts"] == 1
    after = bed.sql("SELECT access_sealed FROM google_accounts WHERE user_id = %s", uid)[0][0]
    assert after != before
    assert len([r for r in bed.google.ctl("GET", "/requests") if r["path"] == "/token"]) == refreshes + 1


def test_access_token_is_refreshed_a_minute_early(bed, alice):
    uid, cal, gmail = alice
    bed.sql("UPDATE google_accounts SET access_expires_at = now() + interval '50 seconds' WHERE user_id = %s", uid)
    seq = len(bed.google.ctl("GET", "/requests"))
    eid, _ = bed.entry(uid)
    bed.synced(eid)
    paths = [r["path"] for r in bed.google.ctl("GET", "/requests", since=seq)]
    assert paths[0] == "/token" and not [r for r in bed.google.ctl("GET", "/requests", since=seq)
                                         if r["status"] == 401]


def test_invalid_grant_pauses_then_a_reconnect_resumes_everything(bed):
    uid, cal = bed.connected("grant@example.com", "grant.g@example.com")
    bed.google.ctl("POST", "/invalid_grant", {"email": "grant.g@example.com"})
    bed.google.ctl("POST", "/expire_tokens", {"email": "grant.g@example.com"})
    e1, _ = bed.entry(uid, description="during the outage")
    wait_until(lambda: (bed.account(uid) or {}).get("status") == "needs_reconnect", 20, "needs_reconnect")
    assert "invalid_grant" in bed.account(uid)["detail"]
    wait_until(lambda: (bed.job(e1) or {}).get("state") == "paused", 20, "the job paused")
    assert bed.mirror(e1)["state"] == "paused"
    # Paused, not dead, and uncounted; new changes are born paused.
    assert bed.job(e1)["attempts"] == 0
    e2, _ = bed.entry(uid, description="also during the outage")
    assert bed.job(e2)["state"] == "paused"
    time.sleep(1)
    assert bed.google.event("grant.g@example.com", e1, cal) is None
    # Reconnect: the same calendar, and everything waiting goes through.
    bed.connect("grant@example.com", "grant.g@example.com")
    assert bed.account(uid)["status"] == "ok"
    for e in (e1, e2):
        bed.synced(e)
        assert bed.google.event("grant.g@example.com", e, cal)["status"] == "confirmed"
    assert bed.calendar_id(uid) == cal


# ---- per-user backoff ------------------------------------------------------------------------------------

@pytest.mark.parametrize("error", ["userRateLimitExceeded", "quotaExceeded", "tooManyRequests"])
def test_rate_and_quota_errors_back_off_that_user_only(bed, error):
    ua, cal_a = bed.connected(f"slow-{error}@example.com", f"slow-{error}.g@example.com")
    ub, cal_b = bed.connected(f"fast-{error}@example.com", f"fast-{error}.g@example.com")
    bed.google.ctl("POST", "/fail", {"error": error, "count": 1, "path_contains": urllib.parse.quote(cal_a)})
    seq = bed.google.log_seq()
    a1, _ = bed.entry(ua)
    until = wait_until(lambda: (bed.account(ua) or {}).get("backoff_until"), 10, "a backoff")
    a2, _ = bed.entry(ua)
    b1, _ = bed.entry(ub)
    bed.synced(b1, timeout=10)       # the other user is not held back
    assert bed.account(ua)["backoff_level"] == 1 and bed.account(ub)["backoff_until"] is None
    assert "rate limit" in (bed.mirror(a1)["last_error"] or "") or bed.mirror(a1)["state"] == "synced"
    for e in (a1, a2):
        bed.synced(e, timeout=20)
    # Google refused the first call; nothing of that user reached it again before the backoff ended, and the
    # rate error cost no attempt.
    refused = [r for r in bed.google.ctl("GET", "/rejected") if urllib.parse.quote(cal_a) in r["path"]]
    assert [r["status"] for r in refused] == [429 if error == "tooManyRequests" else 403]
    calls = [r for r in bed.google.log(seq) if r["event_id"] in (event_id(a1), event_id(a2))]
    assert sorted(r["event_id"] for r in calls) == sorted([event_id(a1), event_id(a2)])
    assert all(datetime.fromtimestamp(r["t_wall"], timezone.utc) >= until - timedelta(milliseconds=50)
               for r in calls), (calls, until)
    assert bed.job(a1)["attempts"] == 1 and bed.job(a2)["attempts"] == 1
    wait_until(lambda: bed.account(ua)["backoff_level"] == 0, 10, "the backoff reset")


# ---- the calendar --------------------------------------------------------------------------------------

def test_calendar_deleted_by_the_user_is_recreated_and_everything_mirrored_again_once(bed):
    uid, cal = bed.connected("gone@example.com", "gone.g@example.com")
    old = [bed.entry(uid, minutes_ago=60 * (i + 2))[0] for i in range(3)]
    ancient, _ = bed.entry(uid, minutes_ago=60 * 24 * 60)           # outside the window, never mirrored
    deleted, dstart = bed.entry(uid, minutes_ago=30)
    for e in old + [deleted]:
        bed.synced(e)
    bed.put(uid, deleted, dstart, dstart + timedelta(minutes=30), deleted=True)
    wait_until(lambda: bed.mirror(deleted)["state"] == "deleted", 20, "deleted")
    bed.google.ctl("POST", "/delete_calendar", {"user": "gone.g@example.com", "calendar_id": cal})
    new_entry, _ = bed.entry(uid, minutes_ago=20)
    new_cal = wait_until(lambda: (bed.calendar_id(uid) or cal) != cal and bed.calendar_id(uid), 20, "a new calendar")
    for e in old + [new_entry]:
        bed.synced(e)
    bed.idle(uid)
    cals = bed.google.calendars("gone.g@example.com")
    assert sorted((c["id"], c["deleted"]) for c in cals) == sorted([(cal, True), (new_cal, False)])
    events = bed.google.events("gone.g@example.com", new_cal)
    ids = [e["id"] for e in events]
    assert sorted(ids) == sorted(event_id(e) for e in old + [new_entry])   # each once; no deleted, no ancient
    assert event_id(ancient) not in ids and event_id(deleted) not in ids


def test_renamed_calendar_is_patched(bed, alice):
    uid, cal, gmail = alice
    bed.sql("UPDATE google_accounts SET calendar_name = 'Time (Toggl)' WHERE user_id = %s", uid)
    bed.cli("jobs", "enqueue", "google.calendar", "{}", "--user", "alice@example.com")
    wait_until(lambda: [c for c in bed.google.calendars(gmail) if c["id"] == cal][0]["summary"] == "Time (Toggl)",
               20, "the rename")
    assert len(bed.google.calendars(gmail)) == 1


# ---- validation ----------------------------------------------------------------------------------------

def validate_now(bed, email, uid):
    """Run the user's validation now, through the catch-up fan-out (the way the hourly schedule does)."""
    bed.sql("UPDATE google_accounts SET validated_at = NULL WHERE user_id = %s", uid)
    before = bed.account(uid)["validation"]
    bed.cli("jobs", "enqueue", "google.validate")
    wait_until(lambda: bed.account(uid)["validation"] != before, 20, "a validation")
    bed.idle(uid)
    return json.loads(bed.account(uid)["validation"])


def test_validation_puts_back_events_deleted_or_edited_by_hand(bed):
    uid, cal = bed.connected("valid@example.com", "valid.g@example.com")
    gmail = "valid.g@example.com"
    es = [bed.entry(uid, minutes_ago=60 * (i + 1), description=f"e{i}")[0] for i in range(5)]
    for e in es:
        bed.synced(e)
    stats = validate_now(bed, "valid@example.com", uid)
    assert stats["checked"] >= 5 and stats["queued"] == 0 and stats["missing"] == 0
    bed.google.ctl("POST", "/delete_event", {"user": gmail, "calendar_id": cal, "event_id": event_id(es[0])})
    bed.google.ctl("POST", "/delete_event", {"user": gmail, "calendar_id": cal, "event_id": event_id(es[1]),
                                             "purge": True})
    bed.google.ctl("POST", "/patch_event", {"user": gmail, "calendar_id": cal, "event_id": event_id(es[2]),
                                            "patch": {"summary": "edited by hand", "colorId": "11"}})
    bed.google.ctl("POST", "/patch_event", {"user": gmail, "calendar_id": cal, "event_id": event_id(es[3]),
                                            "patch": {"end": {"dateTime": "2031-01-01T00:00:00Z"}}})
    stats = validate_now(bed, "valid@example.com", uid)
    assert stats["missing"] == 2 and stats["changed"] == 2 and stats["queued"] == 4, stats
    for i, e in enumerate(es):
        bed.synced(e)
        ev = bed.google.event(gmail, e, cal)
        assert ev["status"] == "confirmed" and ev["summary"] == f"e{i}" and "colorId" not in ev
    stats = validate_now(bed, "valid@example.com", uid)
    assert stats["queued"] == 0 and stats["ok"] == stats["checked"]
    # A deleted entry whose event is back in the calendar: deleted again.
    bed.put(uid, es[4], *(lambda s: (s, s + timedelta(minutes=30)))(
        utc(parse_time(bed.google.event(gmail, es[4], cal)["start"]["dateTime"]))), description="e4", deleted=True)
    wait_until(lambda: bed.mirror(es[4])["state"] == "deleted", 20, "deleted")
    bed.google.ctl("POST", "/patch_event", {"user": gmail, "calendar_id": cal, "event_id": event_id(es[4]),
                                            "patch": {"status": "confirmed"}})
    stats = validate_now(bed, "valid@example.com", uid)
    assert stats["deleted_but_present"] == 1
    wait_until(lambda: bed.google.event(gmail, es[4], cal)["status"] == "cancelled", 20, "cancelled again")


def test_validation_reschedules_itself_at_the_interval(bed):
    uid, cal = bed.connected("sched@example.com", "sched.g@example.com")

    def queued():
        r = bed.sql("SELECT id, extract(epoch FROM run_after - now()) FROM jobs WHERE user_id = %s "
                    "AND kind = 'google.validate' AND state = 'queued'", uid)
        return r[0] if r else None
    # Connecting started the chain: the first validation SYNC_VALIDATE_INTERVAL (10) minutes out.
    job = wait_until(queued, 10, "a queued validation")
    assert 9 * 60 < float(job[1]) <= 10 * 60
    assert bed.account(uid)["validation"] is None
    bed.sql("UPDATE settings SET value = '3' WHERE key = 'SYNC_VALIDATE_INTERVAL'")
    try:
        bed.sql("UPDATE jobs SET run_after = now() WHERE id = %s", job[0])       # as if the time had come
        wait_until(lambda: bed.account(uid)["validation"], 20, "the validation")
        nxt = wait_until(lambda: (lambda q: q if q and q[0] != job[0] else None)(queued()), 10, "the next one")
        assert 2 * 60 < float(nxt[1]) <= 3 * 60                                  # the setting, read each time
    finally:
        bed.sql("UPDATE settings SET value = '10' WHERE key = 'SYNC_VALIDATE_INTERVAL'")
    # The hourly catch-up leaves a user whose chain is alive alone.
    bed.cli("jobs", "enqueue", "google.validate")
    time.sleep(1)
    assert queued()[0] == nxt[0] and 2 * 60 < float(queued()[1]) <= 3 * 60


# ---- crashes and races ---------------------------------------------------------------------------------

def worker_of(bed, owner):
    pid = int(owner.rsplit(":", 1)[1])
    return next(p for p in bed.stack.app.workers if p.popen.pid == pid)


def replace_worker(bed, dead):
    bed.stack.app.workers.remove(dead)
    bed.extra_workers += 1
    name = f"app-worker-r{bed.extra_workers}"
    p = harness.Proc(name, [bed.stack.app.bin("timebridge-worker")], bed.stack.workdir / f"{name}.log",
                     env=bed.stack.env).start()
    bed.stack.app.workers.append(p)
    wait_until(lambda: "started as" in p.log_path.read_text(errors="replace"), 20, f"{name} to start")


def test_kill_9_mid_sync_leaves_one_event_and_the_entry_synced(bed, alice):
    uid, cal, gmail = alice
    bed.google.ctl("POST", "/delay", {"seconds": 2.5, "count": 1, "path_contains": "/events", "method": "POST"})
    started = bed.google.ctl("GET", "/delay")["started"]
    eid, _ = bed.entry(uid, description="survives kill -9")
    wait_until(lambda: bed.google.ctl("GET", "/delay")["started"] > started, 10, "the insert in flight")
    owner = bed.job(eid)["lease_owner"]
    victim = worker_of(bed, owner)
    victim.kill()
    replace_worker(bed, victim)
    # The held insert completes at Google after its client died; the job comes back when its lease runs out,
    # its insert is a 409, then a patch.
    m = bed.synced(eid, timeout=LEASE_S * 4 + 10)
    assert m["event_state"] == "live"
    evs = [e for e in bed.google.events(gmail, cal) if e["id"] == event_id(eid)]
    assert len(evs) == 1 and evs[0]["summary"] == "survives kill -9" and evs[0]["status"] == "confirmed"
    methods = [(r["method"], r["status"]) for r in bed.google.log() if r["event_id"] == event_id(eid)]
    assert methods == [("insert", 200), ("insert", 409), ("patch", 200)], methods


def test_update_while_the_sync_is_in_flight_is_not_lost(bed, alice):
    uid, cal, gmail = alice
    bed.google.ctl("POST", "/delay", {"seconds": 1.5, "count": 1, "path_contains": "/events", "method": "POST"})
    started = bed.google.ctl("GET", "/delay")["started"]
    eid, start = bed.entry(uid, description="version one")
    wait_until(lambda: bed.google.ctl("GET", "/delay")["started"] > started, 10, "the insert in flight")
    bed.put(uid, eid, start, start + timedelta(minutes=50), description="version two")
    m = bed.synced(eid, timeout=20)
    assert m["version"] == 2 and m["synced_version"] == 2
    ev = bed.google.event(gmail, eid, cal)
    assert ev["summary"] == "version two" and utc(parse_time(ev["end"]["dateTime"])) == start + timedelta(minutes=50)
    assert [r["method"] for r in bed.google.log() if r["event_id"] == event_id(eid)] == ["insert", "patch"]
    # The second job ran while the first held the entry (two workers): it waited for it, it did not race it.
    log = "".join(p.read_text(errors="replace") for p in bed.stack.workdir.glob("app-worker*.log"))
    assert f"entry {eid} changed during the call" in log


def test_delete_while_the_insert_is_in_flight_does_not_resurrect(bed, alice):
    uid, cal, gmail = alice
    bed.google.ctl("POST", "/delay", {"seconds": 1.5, "count": 1, "path_contains": "/events", "method": "POST"})
    started = bed.google.ctl("GET", "/delay")["started"]
    eid, start = bed.entry(uid, description="short-lived")
    wait_until(lambda: bed.google.ctl("GET", "/delay")["started"] > started, 10, "the insert in flight")
    bed.put(uid, eid, start, start + timedelta(minutes=30), description="short-lived", deleted=True)
    wait_until(lambda: (bed.mirror(eid) or {}).get("state") == "deleted", 20, "deleted")
    bed.idle(uid)
    assert bed.google.event(gmail, eid, cal)["status"] == "cancelled"
    assert bed.mirror(eid)["event_state"] == "cancelled"


# ---- volume ----------------------------------------------------------------------------------------------

def test_bulk_import_queues_only_the_mirror_window(bed):
    uid, cal = bed.connected("bulk@example.com", "bulk.g@example.com")
    base = next_id() * 100
    t0 = time.monotonic()
    bed.sql("INSERT INTO time_entries (id, user_id, toggl_user_id, workspace_id, description, start, stop, "
            "duration, at) SELECT %s + g, %s, %s, %s, 'old ' || g, now() - make_interval(days => 40) "
            "- make_interval(hours => g), now() - make_interval(days => 40) - make_interval(hours => g) "
            "+ interval '30 minutes', 1800, now() FROM generate_series(1, 25000) g",
            base, uid, 60_000_000 + uid, WS)
    bed.sql("INSERT INTO time_entries (id, user_id, toggl_user_id, workspace_id, description, start, stop, "
            "duration, at) SELECT %s + 30000 + g, %s, %s, %s, 'new ' || g, now() - make_interval(hours => g), "
            "now() - make_interval(hours => g) + interval '30 minutes', 1800, now() FROM generate_series(1, 40) g",
            base, uid, 60_000_000 + uid, WS)
    took = time.monotonic() - t0
    queued = int(bed.sql("SELECT count(*) FROM jobs WHERE user_id = %s AND kind = 'google.sync_entry'", uid)[0][0])
    assert queued == 40, queued
    assert int(bed.sql("SELECT count(*) FROM google_mirror WHERE user_id = %s", uid)[0][0]) == 40
    print(f"bulk import of 25,040 entries with the trigger: {took:.2f} s")
    bed.idle(uid, timeout=60)
    assert len(bed.google.events("bulk.g@example.com", cal)) == 40


def test_backfill_on_connect_mirrors_the_window_paced(bed):
    uid = bed.user("backfill@example.com")
    now = datetime.now(timezone.utc).replace(microsecond=0)
    recent = [bed.put(uid, next_id(), now - timedelta(days=d, hours=1), now - timedelta(days=d))
              for d in range(0, 29)]
    old = [bed.put(uid, next_id(), now - timedelta(days=d, hours=1), now - timedelta(days=d)) for d in (31, 60)]
    gone = bed.put(uid, next_id(), now - timedelta(days=2, hours=3), now - timedelta(days=2, hours=2), deleted=True)
    assert not bed.sql("SELECT 1 FROM jobs WHERE user_id = %s", uid)         # not connected: nothing queued
    bed.connect("backfill@example.com", "backfill.g@example.com")
    cal = wait_until(lambda: bed.calendar_id(uid), 20, "the calendar")
    wait_until(lambda: bed.sql("SELECT count(*) FROM jobs WHERE user_id = %s AND kind = 'google.sync_entry'",
                               uid)[0][0] == len(recent), 20, "the backfill queued")
    spread = bed.sql("SELECT extract(epoch FROM max(run_after) - min(run_after)) FROM jobs WHERE user_id = %s "
                     "AND kind = 'google.sync_entry'", uid)[0][0]
    assert abs(float(spread) - (len(recent) - 1) / 50) < 0.2                 # paced at GOOGLE_BACKFILL_RATE
    bed.idle(uid)
    ids = sorted(e["id"] for e in bed.google.events("backfill.g@example.com", cal))
    assert ids == sorted(event_id(e) for e in recent)
    assert all(event_id(e) not in ids for e in old + [gone])


# ---- the command line ----------------------------------------------------------------------------------

def test_cli_status_and_sync(bed, alice):
    uid, cal, gmail = alice
    bed.synced(bed.entry(uid)[0])
    out = bed.cli("google", "status", "alice@example.com").stdout
    assert "google:      ok" in out and cal in out and "synced" in out
    st = json.loads(bed.cli("google", "status", "alice@example.com", "--json").stdout)
    assert st["status"] == "ok" and st["calendar_id"] == cal and any(m["state"] == "synced" for m in st["mirror"])
    eid, _ = bed.entry(uid, description="cli")
    bed.synced(eid)
    bed.google.ctl("POST", "/patch_event", {"user": gmail, "calendar_id": cal, "event_id": event_id(eid),
                                            "patch": {"summary": "scribbled"}})
    assert "queued a sync of entry" in bed.cli("google", "sync", "alice@example.com", "--entry", str(eid)).stdout
    wait_until(lambda: bed.google.event(gmail, eid, cal)["summary"] == "cli", 20, "the forced resync")
    r = bed.cli("google", "sync", "alice@example.com", "--entry", "12345", check=False)
    assert r.returncode == 3 and "no time entry" in r.stderr
    r = bed.cli("google", "sync", "alice@example.com", "--entry", "abc", check=False)
    assert r.returncode == 2
    r = bed.cli("google", "status", "nobody@example.com", check=False)
    assert r.returncode == 3
    bed.user("notconnected@example.com")
    assert "not connected" in bed.cli("google", "status", "notconnected@example.com").stdout
    r = bed.cli("google", "sync", "notconnected@example.com", check=False)
    assert r.returncode == 3 and "has not connected Google" in r.stderr
    assert "full resync" in bed.cli("google", "sync", "alice@example.com").stdout
    bed.idle(uid)


def test_session_create_makes_a_working_session(bed):
    bed.user("sess@example.com")
    cookie = bed.cli("session", "create", "sess@example.com").stdout.strip()
    assert re.fullmatch(r"[A-Za-z0-9_-]{43}", cookie)
    assert bed.get("/oauth/google/start", {"tb_session": cookie}).status_code == 302
    assert bed.cli("session", "create", "nobody@example.com", check=False).returncode == 3
    assert bed.cli("session", "create", check=False).returncode == 2


# ---- through a real webhook ------------------------------------------------------------------------------

def test_signed_webhook_through_nginx_reaches_the_calendar(bed):
    import hashlib
    import hmac
    uid, cal = bed.connected("hook@example.com", "hook.g@example.com")
    ws = WS + 7
    bed.sql("INSERT INTO toggl_workspaces (id, name, user_id) VALUES (%s, 'hook', %s)", ws, uid)
    info = json.loads(bed.cli("webhook", "dev-create", "hook@example.com", str(ws)).stdout)
    eid = next_id()
    start = int(time.time()) - 3600
    me = 60_000_000 + uid
    payload = {"at": time.strftime("%Y-%m-%dT%H:%M:%S+00:00", time.gmtime()), "billable": False,
               "description": "from a webhook", "duration": 1200, "duronly": True, "id": eid, "project_id": None,
               "server_deleted_at": None, "start": time.strftime("%Y-%m-%dT%H:%M:%SZ", time.gmtime(start)),
               "stop": time.strftime("%Y-%m-%dT%H:%M:%SZ", time.gmtime(start + 1200)), "tag_ids": None,
               "tags": [], "task_id": None, "uid": me, "user_id": me, "wid": ws, "workspace_id": ws}
    meta = {"action": "created", "event_user_id": str(me), "model": "time_entry", "model_owner_id": str(me),
            "path": f"/api/v9/workspaces/{ws}/time_entries", "request_body": "{}", "request_type": "POST",
            "time_entry_id": str(eid), "workspace_id": str(ws)}
    body = json.dumps({"event_id": next_id(), "created_at": "2024-01-01T00:00:00.000Z", "creator_id": me,
                       "metadata": meta, "payload": payload, "subscription_id": 1,
                       "timestamp": "2024-01-01T00:00:00.000000000Z", "url_callback": info["url"]},
                      separators=(",", ":")).encode()
    sig = "sha256=" + hmac.new(info["secret"].encode(), body, hashlib.sha256).hexdigest()
    r = requests.post(bed.url + "/webhook/toggl/" + info["token"], data=body, timeout=10,
                      headers={"Content-Type": "application/json", "X-Webhook-Signature-256": sig})
    assert r.status_code == 200, r.text
    assert bed.sql("SELECT result FROM webhook_events WHERE body->'payload'->>'id' = %s", str(eid)) == [("applied",)]
    bed.synced(eid)
    assert bed.google.event("hook.g@example.com", eid, cal)["summary"] == "from a webhook"
