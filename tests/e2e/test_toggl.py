"""tests/e2e/test_toggl.py: the outbound Toggl side end to end: `timebridge toggl connect|refresh|status`,
`webhook setup|remove|status`, `import`, `reconcile` and the toggl.* jobs, against the fake Toggl
(tests/fakes/fake_toggl.py) and the real stack (PostgreSQL, nginx, the FastCGI app with the webhook receiver,
the worker).

The fake is shared with the other modules: every user here has its own Toggl ids (62_xxx_xxx), and whatever
a test changes globally in the fake (quota, injected failures) is put back by the `fake` helpers. Webhook
validation is real: the fake pings our callback through nginx while it creates the subscription."""
import json
import os
import pty
import select
import signal
import subprocess
import sys
import time
import urllib.parse
from pathlib import Path

import pytest
import requests

ROOT = Path(__file__).resolve().parents[2]
sys.path.insert(0, str(ROOT / "tests" / "harness"))
import stack as harness  # noqa: E402

PASSWORD = "toggl-e2e-password-0123"


class Fake:
    """The fake Toggl's control API, plus direct API calls as a Toggl user."""

    def __init__(self, base):
        self.base = base

    def post(self, path, body=None):
        r = requests.post(self.base + path, json=body if body is not None else {}, timeout=60)
        assert r.status_code == 200, (path, r.status_code, r.text)
        return r.json()

    def get(self, path, **params):
        r = requests.get(self.base + path, params=params, timeout=60)
        assert r.status_code == 200, (path, r.status_code, r.text)
        return r.json()

    def api(self, method, path, token, body=None):
        return requests.request(method, self.base + path, auth=(token, "api_token"), json=body, timeout=60)

    def subs(self, wid):
        return [s for s in self.get("/_control/subscriptions") if s["workspace_id"] == wid]

    def requests_since(self, index):
        return self.get("/_control/requests", since=index)

    def request_mark(self):
        reqs = self.get("/_control/requests")
        return reqs[-1]["index"] + 1 if reqs else 0

    def quota(self, **body):
        return self.post("/_control/quota", body)

    def fail(self, status, count=1, path_prefix="/", body=None):
        return self.post("/_control/fail", {"status": status, "count": count, "path_prefix": path_prefix,
                                            **({"body": body} if body else {})})

    def clear(self):
        self.post("/_control/fail", {"clear": True, "count": 0})
        self.quota(enabled=False, window_seconds=3600, limits={"free": 30, "starter": 240, "premium": 600,
                                                                 "enterprise": 600, "user": 30})


class TogglUser:
    """A timebridge user with a Toggl account in the fake: one organisation, one workspace."""

    def __init__(self, n, plan="free", timezone="UTC"):
        self.n = n
        self.email = f"toggl-e2e-{n}@example.com"
        self.toggl_id = 62_000_000 + n
        self.wid = 67_000_000 + n
        self.org = 65_000_000 + n
        self.token = f"e2e-token-{n}-0123456789abcdef"
        self.plan = plan
        self.timezone = timezone
        self.uid = None

    def fake_body(self, token=None):
        return {"id": self.toggl_id, "api_token": token or self.token, "email": f"t{self.n}@toggl.example",
                "fullname": f"Toggl user {self.n}", "timezone": self.timezone, "beginning_of_week": 0,
                "plan": self.plan, "organization_id": self.org,
                "workspaces": [{"id": self.wid, "name": f"Workspace {self.n}",
                                                   "organization_id": self.org}]}


def cli(stack, *args, input=None, env=None, timeout=300):
    """`timebridge ARGS` without raising: the CompletedProcess."""
    return stack.app.run("timebridge", *args, input=input, env=dict(stack.env, **(env or {})), timeout=timeout)


def ok(r):
    assert r.returncode == 0, f"exit {r.returncode}\nstdout: {r.stdout}\nstderr: {r.stderr}"
    return r


@pytest.fixture(scope="module")
def fake(fakes):
    if "toggl" not in fakes:
        pytest.skip("no fake Toggl")
    f = Fake(fakes["toggl"])
    f.clear()
    yield f
    f.clear()


@pytest.fixture(autouse=True)
def _clean_fake(request):
    """Whatever a test injected into the fake (quota, failures) does not leak into the next."""
    yield
    if "fake" in request.fixturenames:
        request.getfixturevalue("fake").clear()


def make_user(stack, db, fake, n, entries=None, connect=True, **kw):
    u = TogglUser(n, **kw)
    fake.post("/_control/users", u.fake_body())
    for bulk in entries or []:
        fake.post("/_control/bulk_entries", dict(bulk, user_id=u.toggl_id))
    ok(cli(stack, "user", "add", u.email, input=PASSWORD))
    u.uid = int(db.sql("SELECT id FROM users WHERE email = %s", u.email)[0][0])
    if connect:
        ok(cli(stack, "toggl", "connect", u.email, input=u.token + "\n"))
    return u


def entry_rows(db, u):
    return db.sql("SELECT count(*) FROM time_entries WHERE user_id = %s AND server_deleted_at IS NULL", u.uid)[0][0]


def summary(r):
    """The --json summary line of import/reconcile."""
    return json.loads(r.stdout.strip().splitlines()[-1])


def wait_for(pred, timeout=120, what="condition"):
    """Poll pred until it is true. The timeout is generous on purpose: CI machines are loaded, and a
    condition that holds returns at once."""
    end = time.monotonic() + timeout
    while time.monotonic() < end:
        v = pred()
        if v:
            return v
        time.sleep(0.1)
    raise AssertionError(f"timed out waiting for {what}")


def deferred(db, job):
    """The job came back to the queue for later (JOB_DEFER: a quota or a backoff), with its reason."""
    state, err = db.sql("SELECT state, last_error FROM jobs WHERE id = %s", job)[0]
    return state == "queued" and err is not None


# --------------------------------------------------------------------------------------------------------
# connect


@pytest.fixture(scope="module")
def ann(stack, db, fake):
    """User 1: free plan, Europe/Berlin, 250 projects (more than one page of 200), connected."""
    u = TogglUser(1, timezone="Europe/Berlin")
    fake.post("/_control/users", u.fake_body())
    for i in range(250):
        fake.post("/_control/projects", {"user_id": u.toggl_id, "name": f"Project {i:03d}"})
    fake.post("/_control/clients", {"user_id": u.toggl_id, "name": "ACME"})
    fake.post("/_control/tags", {"user_id": u.toggl_id, "name": "deep-work"})
    ok(cli(stack, "user", "add", u.email, input=PASSWORD))
    u.uid = int(db.sql("SELECT id FROM users WHERE email = %s", u.email)[0][0])
    return u


def test_connect_with_a_wrong_token_says_so_and_stores_nothing(stack, db, fake, ann):
    r = cli(stack, "toggl", "connect", ann.email, input="not-the-token-0000\n")
    assert r.returncode == 1
    assert "Toggl refused this API token" in r.stderr and "403" in r.stderr
    assert "https://track.toggl.com/profile" in r.stderr
    assert db.sql("SELECT count(*) FROM toggl_accounts WHERE user_id = %s", ann.uid)[0][0] == 0
    assert db.sql("SELECT count(*) FROM secrets WHERE user_id = %s", ann.uid)[0][0] == 0
    # A malformed token never leaves the machine.
    mark = fake.request_mark()
    r = cli(stack, "toggl", "connect", ann.email, input="has:colon\n")
    assert r.returncode == 1 and "not a Toggl API token" in r.stderr
    assert fake.requests_since(mark) == []
    r = cli(stack, "toggl", "connect", ann.email, input="")
    assert r.returncode == 2 and "no token" in r.stderr


def test_connect_stores_account_sealed_token_metadata_and_schedule(stack, db, fake, ann):
    mark = fake.request_mark()
    r = ok(cli(stack, "toggl", "connect", ann.email, "--json", input=ann.token + "\n"))
    acct = json.loads(r.stdout)
    assert acct["toggl_user_id"] == ann.toggl_id and acct["status"] == "ok"
    row = db.sql("SELECT toggl_user_id, time_zone, beginning_of_week, default_workspace_id, status "
                 "FROM toggl_accounts WHERE user_id = %s", ann.uid)[0]
    assert tuple(row) == (ann.toggl_id, "Europe/Berlin", 0, ann.wid, "ok")
    sealed = db.sql("SELECT sealed FROM secrets WHERE user_id = %s AND kind = 'toggl_token' AND ref = ''",
                    ann.uid)[0][0]
    assert sealed.startswith("v1:") and ann.token not in sealed
    # Metadata: organisation, workspace, every project page, clients, tags.
    assert db.sql("SELECT plan FROM toggl_organizations WHERE id = %s", ann.org)[0][0] == "Free"
    assert db.sql("SELECT organization_id, user_id FROM toggl_workspaces WHERE id = %s", ann.wid)[0] == \
        (ann.org, ann.uid)
    assert db.sql("SELECT count(*) FROM toggl_projects WHERE workspace_id = %s AND NOT deleted", ann.wid)[0][0] == 250
    assert db.sql("SELECT name FROM toggl_clients WHERE workspace_id = %s", ann.wid)[0][0] == "ACME"
    assert db.sql("SELECT name FROM toggl_tags WHERE workspace_id = %s", ann.wid)[0][0] == "deep-work"
    pages = [urllib.parse.parse_qs(q["query"]) for q in fake.requests_since(mark)
             if q["path"] == f"/api/v9/workspaces/{ann.wid}/projects"]
    assert [(p["page"], p["per_page"]) for p in pages] == [(["1"], ["200"]), (["2"], ["200"])]
    # The reconciliation is scheduled, twice a day by default.
    assert db.sql("SELECT cron, kind FROM schedules WHERE name = %s", f"toggl.reconcile:{ann.uid}")[0] == \
        ("0 2,14 * * *", "toggl.reconcile")
    # Quota budgets seen: the user-scoped one and the organisation's.
    buckets = {b for (b,) in db.sql("SELECT bucket FROM toggl_quota WHERE user_id = %s", ann.uid)}
    assert {"user", f"org:{ann.org}"} <= buckets
    assert db.sql("SELECT quota_remaining IS NOT NULL FROM toggl_accounts WHERE user_id = %s", ann.uid)[0][0]


def test_refresh_follows_deleted_and_renamed_projects(stack, db, fake, ann):
    listed = fake.api("GET", f"/api/v9/workspaces/{ann.wid}/projects?per_page=200&page=1", ann.token).json()
    first, second = listed[0]["id"], listed[1]["id"]
    fake.post("/_control/projects", {"action": "delete", "id": first})
    fake.post("/_control/projects", {"action": "update", "id": second, "name": "Renamed"})
    r = ok(cli(stack, "toggl", "refresh", ann.email, "--json"))
    assert json.loads(r.stdout)["projects"] == 249
    assert db.sql("SELECT deleted FROM toggl_projects WHERE id = %s", first)[0][0] is True
    assert db.sql("SELECT name FROM toggl_projects WHERE id = %s", second)[0][0] == "Renamed"


def test_token_reset_in_toggl_marks_invalid_token_pauses_jobs_and_reconnect_fixes(stack, db, fake):
    u = make_user(stack, db, fake, 2)
    fake.post("/_control/users", u.fake_body(token="e2e-token-2-NEW-0000000000"))   # reset in Toggl
    r = cli(stack, "toggl", "refresh", u.email)
    assert r.returncode == 1 and "refused the API token" in r.stderr
    status, detail = db.sql("SELECT status, status_detail FROM toggl_accounts WHERE user_id = %s", u.uid)[0]
    assert status == "invalid_token" and "403" in detail and "track.toggl.com/profile" in detail
    assert "invalid_token" in ok(cli(stack, "toggl", "status", u.email)).stdout
    # Nothing more is sent with a token known to be refused; jobs wait for the user.
    mark = fake.request_mark()
    assert cli(stack, "reconcile", u.email).returncode == 1
    assert [q for q in fake.requests_since(mark) if q["status"] == 403] == []
    job = int(ok(cli(stack, "jobs", "enqueue", "toggl.metadata", "--user", u.email)).stdout.split()[1])
    wait_for(lambda: db.sql("SELECT state FROM jobs WHERE id = %s", job)[0][0] == "paused", what="job paused")
    # Setting the current token repairs the account and resumes the paused job.
    ok(cli(stack, "toggl", "connect", u.email, input="e2e-token-2-NEW-0000000000\n"))
    assert db.sql("SELECT status, status_detail FROM toggl_accounts WHERE user_id = %s", u.uid)[0] == ("ok", None)
    wait_for(lambda: db.sql("SELECT state FROM jobs WHERE id = %s", job)[0][0] == "done", what="job resumed, done")


def test_a_403_on_one_workspace_is_not_a_broken_token(stack, db, fake, ann):
    r = cli(stack, "webhook", "setup", "67999999", "--user", ann.email)
    assert r.returncode == 3 and "not one of this user's Toggl workspaces" in r.stderr
    # A workspace we think is hers but Toggl refuses (403): the token still works, so it is not marked.
    db.sql("INSERT INTO toggl_workspaces (id, name, user_id) VALUES (67999997, 'gone', %s)", ann.uid)
    try:
        r = cli(stack, "webhook", "setup", "67999997")
        assert r.returncode == 1 and "403" in r.stderr and "the token works" in r.stderr
        assert db.sql("SELECT status FROM toggl_accounts WHERE user_id = %s", ann.uid)[0][0] == "ok"
    finally:
        db.sql("DELETE FROM toggl_workspaces WHERE id = 67999997")


# --------------------------------------------------------------------------------------------------------
# webhooks


def our_sub(fake, wid):
    subs = [s for s in fake.subs(wid) if s["description"].startswith("timebridge") and not s["deleted_at"]]
    assert len(subs) == 1, subs
    return subs[0]


def test_webhook_setup_creates_validates_and_receives(stack, db, fake, ann):
    r = ok(cli(stack, "webhook", "setup", str(ann.wid), "--json"))
    out = json.loads(r.stdout)
    assert out["result"] == "created" and out["enabled"] and out["validated_at"]
    sub = our_sub(fake, ann.wid)
    assert sub["validated_at"] and sub["enabled"]
    token = sub["url_callback"].rsplit("/", 1)[1]
    assert sub["url_callback"] == f"{stack.nginx.url}/webhook/toggl/{token}"
    assert len(token) >= 32 and all(c.isalnum() or c in "-_" for c in token)
    # Free plan: one webhook of three filters, time entries first.
    assert sub["event_filters"] == [{"entity": "time_entry", "action": "*"}, {"entity": "project", "action": "*"},
                                    {"entity": "client", "action": "*"}]
    # Our secret, sealed and bound to its row; the URL token only hashed; neither in clear anywhere.
    rid, sid, url, validated = db.sql("SELECT id, subscription_id, url_callback, validated_at FROM "
                                      "webhook_subscriptions WHERE user_id = %s AND revoked_at IS NULL", ann.uid)[0]
    assert sid == sub["subscription_id"] and validated is not None and url.endswith("/webhook/toggl/{token}")
    sealed = db.sql("SELECT sealed FROM secrets WHERE user_id = %s AND kind = 'webhook_secret' AND ref = %s",
                    ann.uid, str(rid))[0][0]
    assert sub["secret"] not in sealed
    dump = json.dumps(db.sql("SELECT * FROM webhook_subscriptions"), default=str)
    assert token not in dump and sub["secret"] not in dump
    # The ping the fake made during the create reached our receiver through nginx.
    pings = fake.get("/_control/deliveries", subscription_id=sub["subscription_id"])
    assert pings and pings[0]["event_id"] == 0 and pings[0]["status"] == 200
    # A change in Toggl arrives as a signed delivery and is stored.
    e = fake.post("/_control/entries", {"user_id": ann.toggl_id, "description": "via webhook",
                                        "start": "2026-01-05T09:00:00Z", "duration": 1800})
    wait_for(lambda: db.sql("SELECT description FROM time_entries WHERE id = %s", e["id"]), what="delivery stored")


def test_webhook_setup_on_a_paid_plan_also_subscribes_to_tags(stack, db, fake):
    u = make_user(stack, db, fake, 17, plan="starter")
    assert fake.api("GET", f"/webhooks/api/v1/limits/{u.wid}", u.token).json()["max_events_per_webhook"] > 3
    out = json.loads(ok(cli(stack, "webhook", "setup", str(u.wid), "--json")).stdout)
    assert out["result"] == "created" and out["validated_at"]
    assert our_sub(fake, u.wid)["event_filters"] == [
        {"entity": "time_entry", "action": "*"}, {"entity": "project", "action": "*"},
        {"entity": "client", "action": "*"}, {"entity": "tag", "action": "*"}]
    ok(cli(stack, "webhook", "remove", str(u.wid)))


def test_webhook_setup_twice_changes_nothing(stack, db, fake, ann):
    before = our_sub(fake, ann.wid)
    mark = fake.request_mark()
    out = json.loads(ok(cli(stack, "webhook", "setup", str(ann.wid), "--json")).stdout)
    assert out["result"] == "unchanged" and out["subscription_id"] == before["subscription_id"]
    assert {q["method"] for q in fake.requests_since(mark)} == {"GET"}
    after = our_sub(fake, ann.wid)
    assert after["history"] == before["history"] and after["url_callback"] == before["url_callback"]
    assert db.sql("SELECT count(*) FROM webhook_subscriptions WHERE user_id = %s AND revoked_at IS NULL",
                  ann.uid)[0][0] == 1


def test_webhook_status_shows_enabled_validated_pending_last_event(stack, db, fake, ann):
    text = ok(cli(stack, "webhook", "status", str(ann.wid))).stdout
    assert f"workspace {ann.wid}" in text and "enabled yes" in text and "validated 20" in text
    assert "pending events no" in text and "last event 20" in text
    rows = json.loads(ok(cli(stack, "webhook", "status", "--user", ann.email, "--json")).stdout)
    assert len(rows) == 1
    h = rows[0]
    assert h["upstream"] == "ok" and h["enabled"] is True and h["has_pending_events"] is False
    assert h["validated_at"] and h["last_event_at"] and h["workspace_id"] == ann.wid
    assert cli(stack, "webhook", "status", "67999998", "--user", ann.email).returncode == 3


def test_public_url_change_updates_our_callback(stack, db, fake, ann):
    port = stack.nginx.url.rsplit(":", 1)[1]
    moved = f"http://localhost:{port}"
    before = our_sub(fake, ann.wid)
    token = before["url_callback"].rsplit("/", 1)[1]
    out = json.loads(ok(cli(stack, "webhook", "setup", str(ann.wid), "--json",
                            env={"TIMEBRIDGE_PUBLIC_URL": moved})).stdout)
    assert out["result"] == "callback updated" and out["validated_at"]
    after = our_sub(fake, ann.wid)
    assert after["subscription_id"] == before["subscription_id"]
    assert after["url_callback"] == f"{moved}/webhook/toggl/{token}"   # same token, new host
    assert after["validated_at"] and after["history"][-1]["method"] == "PUT"
    # And back, so the rest of the module uses the stack's URL.
    out = json.loads(ok(cli(stack, "webhook", "setup", str(ann.wid), "--json")).stdout)
    assert out["result"] == "callback updated"
    assert our_sub(fake, ann.wid)["url_callback"] == before["url_callback"]


def test_foreign_subscription_is_never_touched_and_the_limit_error_names_it(stack, db, fake):
    u = make_user(stack, db, fake, 3)
    foreign = fake.post("/_control/subscriptions", {"workspace_id": u.wid, "user_id": u.toggl_id,
                                                    "description": "Zapier sync"})
    r = cli(stack, "webhook", "setup", str(u.wid))
    assert r.returncode == 5
    assert f"#{foreign['subscription_id']} \"Zapier sync\"" in r.stderr and "allows 1 enabled" in r.stderr
    assert db.sql("SELECT count(*) FROM webhook_subscriptions WHERE user_id = %s", u.uid)[0][0] == 0
    # Disabled by its owner in Toggl, it leaves room: ours is created, the foreign one still untouched.
    assert fake.api("PATCH", f"/webhooks/api/v1/subscriptions/{u.wid}/{foreign['subscription_id']}", u.token,
                    {"enabled": False}).status_code == 200
    text = ok(cli(stack, "webhook", "setup", str(u.wid))).stdout
    assert "[created]" in text and "not ours (left alone)" in text and "Zapier sync" in text
    f = [s for s in fake.subs(u.wid) if s["subscription_id"] == foreign["subscription_id"]][0]
    assert [h["method"] for h in f["history"]] == ["PATCH"]   # only the owner's own change
    assert f["url_callback"] == foreign["url_callback"] and f["description"] == "Zapier sync"
    ok(cli(stack, "webhook", "remove", str(u.wid)))
    f = [s for s in fake.subs(u.wid) if s["subscription_id"] == foreign["subscription_id"]][0]
    assert f["deleted_at"] is None


def test_webhook_remove_deletes_upstream_and_the_old_url_answers_404(stack, db, fake, ann):
    sub = our_sub(fake, ann.wid)
    url = sub["url_callback"]
    assert requests.post(url, data=b"{}", timeout=10).status_code == 401   # live: it wants a signature
    text = ok(cli(stack, "webhook", "remove", str(ann.wid))).stdout
    assert "404" in text
    gone = [s for s in fake.get("/_control/subscriptions") if s["subscription_id"] == sub["subscription_id"]][0]
    assert gone["deleted_at"]
    assert requests.post(url, data=b"{}", timeout=10).status_code == 404
    assert db.sql("SELECT revoked_at IS NOT NULL FROM webhook_subscriptions WHERE subscription_id = %s",
                  sub["subscription_id"])[0][0]
    assert db.sql("SELECT count(*) FROM secrets WHERE user_id = %s AND kind = 'webhook_secret'", ann.uid)[0][0] == 0
    assert cli(stack, "webhook", "status", str(ann.wid)).returncode == 3
    r = cli(stack, "webhook", "remove", str(ann.wid))
    assert r.returncode == 3 and "nothing to remove" in r.stderr


def test_webhook_setup_failing_at_toggl_leaves_no_live_url(stack, db, fake):
    u = make_user(stack, db, fake, 4)
    # Toggl cannot reach this callback: its create fails, and the row made for it is revoked.
    r = cli(stack, "webhook", "setup", str(u.wid), env={"TIMEBRIDGE_PUBLIC_URL": "http://127.0.0.1:1"})
    assert r.returncode == 1 and "did not respond with a 2xx" in r.stderr
    assert db.sql("SELECT count(*) FROM webhook_subscriptions WHERE user_id = %s AND revoked_at IS NULL",
                  u.uid)[0][0] == 0
    assert db.sql("SELECT count(*) FROM webhook_subscriptions WHERE user_id = %s AND revoked_at IS NOT NULL",
                  u.uid)[0][0] == 1
    assert db.sql("SELECT count(*) FROM secrets WHERE user_id = %s AND kind = 'webhook_secret'", u.uid)[0][0] == 0
    assert not [s for s in fake.subs(u.wid) if not s["deleted_at"]]
    # Fixed: the next setup works.
    assert "[created]" in ok(cli(stack, "webhook", "setup", str(u.wid))).stdout


def test_subscription_deleted_by_hand_in_toggl_is_recreated(stack, db, fake):
    u = make_user(stack, db, fake, 16)
    first = json.loads(ok(cli(stack, "webhook", "setup", str(u.wid), "--json")).stdout)
    assert fake.api("DELETE", f"/webhooks/api/v1/subscriptions/{u.wid}/{first['subscription_id']}",
                    u.token).status_code == 200
    rows = json.loads(ok(cli(stack, "webhook", "status", str(u.wid), "--json")).stdout)
    assert rows[0]["upstream"] == "missing" and "set it up again" in rows[0]["note"]
    again = json.loads(ok(cli(stack, "webhook", "setup", str(u.wid), "--json")).stdout)
    assert again["result"] == "created" and again["subscription_id"] != first["subscription_id"]
    assert again["validated_at"]
    assert db.sql("SELECT count(*) FROM webhook_subscriptions WHERE user_id = %s AND revoked_at IS NULL",
                  u.uid)[0][0] == 1
    assert db.sql("SELECT revoked_at IS NOT NULL FROM webhook_subscriptions WHERE subscription_id = %s",
                  first["subscription_id"])[0][0]


def test_webhook_jobs_for_the_admin_page(stack, db, fake):
    u = make_user(stack, db, fake, 5)
    job = int(ok(cli(stack, "jobs", "enqueue", "toggl.webhook_setup", json.dumps({"workspace_id": u.wid}),
                     "--user", u.email)).stdout.split()[1])
    wait_for(lambda: db.sql("SELECT state FROM jobs WHERE id = %s", job)[0][0] == "done", what="setup job")
    assert our_sub(fake, u.wid)["validated_at"]
    job = int(ok(cli(stack, "jobs", "enqueue", "toggl.webhook_remove", json.dumps({"workspace_id": u.wid}),
                     "--user", u.email)).stdout.split()[1])
    wait_for(lambda: db.sql("SELECT state FROM jobs WHERE id = %s", job)[0][0] == "done", what="remove job")
    assert not [s for s in fake.subs(u.wid) if not s["deleted_at"]]
    job = int(ok(cli(stack, "jobs", "enqueue", "toggl.webhook_setup", "{}", "--user", u.email)).stdout.split()[1])
    wait_for(lambda: db.sql("SELECT state FROM jobs WHERE id = %s", job)[0][0] == "dead", what="bad payload dead")
    assert "workspace_id" in db.sql("SELECT last_error FROM jobs WHERE id = %s", job)[0][0]


# --------------------------------------------------------------------------------------------------------
# quota, 402, 429, 5xx


def test_402_with_quota_headers_waits_for_the_reset(stack, db, fake):
    u = make_user(stack, db, fake, 6)
    mark = fake.request_mark()
    # The window must outlast the few steps up to the reconciliation's first request, even on a loaded
    # machine: spent budget that has already come back would mean no 402 to wait out.
    fake.quota(enabled=True, window_seconds=6, limits={"user": 3})
    t0 = time.monotonic()
    for _ in range(3):   # someone else (another app of the user) spends the user-scoped budget
        assert fake.api("GET", "/api/v9/me", u.token).status_code == 200
    r = ok(cli(stack, "reconcile", u.email, "--json"))
    assert time.monotonic() - t0 >= 4   # the budget comes back 6 s after the first spend, not before
    assert "quota (user budget) used up: waiting" in r.stderr
    answers = [q["status"] for q in fake.requests_since(mark) if q["path"] == "/api/v9/me/time_entries"]
    assert answers[0] == 402 and answers[-1] == 200
    assert summary(r)["quota_waits"] >= 1
    # The budget as Toggl last reported it is stored.
    assert db.sql("SELECT remaining FROM toggl_quota WHERE user_id = %s AND bucket = 'user'", u.uid)[0][0] >= 0


def test_quota_wait_beyond_the_limit_fails_clearly_without_spending(stack, db, fake):
    u = make_user(stack, db, fake, 7)
    fake.quota(enabled=True, window_seconds=600, limits={"user": 2})
    for _ in range(2):
        fake.api("GET", "/api/v9/me", u.token)
    r = cli(stack, "reconcile", u.email, "--max-wait", "5")
    assert r.returncode == 1 and "quota is used up" in r.stderr and "resets in" in r.stderr
    # A job retries at the reset, and the wait does not use up an attempt.
    mark = fake.request_mark()
    job = int(ok(cli(stack, "jobs", "enqueue", "toggl.reconcile", "--user", u.email)).stdout.split()[1])
    wait_for(lambda: deferred(db, job), what="job deferred")
    attempts, delay, err = db.sql("SELECT attempts, extract(epoch FROM run_after - now()), last_error FROM jobs "
                                  "WHERE id = %s", job)[0]
    assert attempts == 0 and 400 < float(delay) <= 602 and "quota" in err
    # It knew the budget was empty: it did not even ask.
    assert [q for q in fake.requests_since(mark) if q["user_id"] == u.toggl_id] == []
    db.sql("UPDATE jobs SET state = 'done' WHERE id = %s", job)


def test_402_without_quota_headers_is_a_paid_feature_reports_fall_back(stack, db, fake):
    u = make_user(stack, db, fake, 8, plan="starter",
                  entries=[{"count": 1500, "start": "2025-01-01", "end": "2025-06-30", "seed": 8}])
    fake.fail(402, path_prefix="/reports/", body="Workspace needs to have the detailed reports feature enabled")
    mark = fake.request_mark()
    r = ok(cli(stack, "import", u.email, "--since", "2025-01-01", "--until", "2025-06-30", "--json"))
    s = summary(r)
    assert s["method"] == "time_entries" and s["inserted"] == 1500 and s["fetched"] == 1500
    reports = [q for q in fake.requests_since(mark) if q["path"].startswith("/reports/")]
    assert [q["status"] for q in reports] == [402]   # asked once, never retried
    assert db.sql("SELECT premium FROM toggl_workspaces WHERE id = %s", u.wid)[0][0] is False
    assert entry_rows(db, u) == 1500


def test_reports_api_import_paged_by_next_row_number(stack, db, fake):
    u = make_user(stack, db, fake, 9, plan="starter", timezone="America/New_York",
                  entries=[{"count": 2500, "start": "2025-01-01", "end": "2025-12-31", "seed": 9}])
    mark = fake.request_mark()
    s = summary(ok(cli(stack, "import", u.email, "--since", "2025-01-01", "--until", "2025-12-31", "--json")))
    assert s["method"] == "reports" and s["inserted"] == 2500 and s["updated"] == 0
    bodies = [json.loads(q["body"]) for q in fake.requests_since(mark) if q["path"].startswith("/reports/")]
    assert [b["first_row_number"] for b in bodies[:3]] == [1, 1001, 2001]
    assert all(b["user_ids"] == [u.toggl_id] for b in bodies)
    # Tags come as ids in reports; the names are filled from the workspace's tags.
    fake_entries = {e["id"]: e for e in fake.get("/_control/entries", user_id=u.toggl_id)["entries"]}
    rows = db.sql("SELECT id, tags, tag_ids, description, extract(epoch FROM start)::bigint, duration "
                  "FROM time_entries WHERE user_id = %s", u.uid)
    assert len(rows) == 2500
    for eid, tags, tag_ids, desc, start, dur in rows:
        e = fake_entries[eid]
        assert (tags, tag_ids, desc, dur) == (e["tags"], e["tag_ids"], e["description"], e["duration"])
    s = summary(ok(cli(stack, "import", u.email, "--since", "2025-01-01", "--until", "2025-12-31", "--json")))
    assert (s["inserted"], s["updated"], s["deleted"], s["unchanged"]) == (0, 0, 0, 2500)


def backoff(db, u, t0):
    """The stored 429 backoff: (seconds from t0 to its end, seconds left now, strikes)."""
    a, b, strikes = db.sql("SELECT extract(epoch FROM rate_limited_until - %s::timestamptz), "
                           "extract(epoch FROM rate_limited_until - now()), rate_strikes FROM toggl_accounts "
                           "WHERE user_id = %s", t0, u.uid)[0]
    return float(a), float(b), strikes


def test_429_backs_off_at_least_a_minute_exponentially_and_persists(stack, db, fake):
    u = make_user(stack, db, fake, 10)
    fake.fail(429, path_prefix="/api/v9/me/time_entries")
    t0 = db.sql("SELECT now()")[0][0]
    r = cli(stack, "reconcile", u.email, "--max-wait", "0")
    assert r.returncode == 1 and "429" in r.stderr and "backing off" in r.stderr
    # 60..90 s from the 429, which came between t0 and now (however long the machine took).
    since_t0, left, strikes = backoff(db, u, t0)
    assert since_t0 >= 60 and left <= 90 and strikes == 1
    # The stored backoff holds for every later call of this token: nothing is sent before it ends.
    mark = fake.request_mark()
    r = cli(stack, "reconcile", u.email, "--max-wait", "0")
    assert r.returncode == 1 and "s left" in r.stderr
    assert [q for q in fake.requests_since(mark) if q["user_id"] == u.toggl_id] == []
    # A job: retried after the backoff, not counted as a failed attempt.
    job = int(ok(cli(stack, "jobs", "enqueue", "toggl.reconcile", "--user", u.email)).stdout.split()[1])
    wait_for(lambda: deferred(db, job), what="job deferred")
    attempts, gap = db.sql("SELECT j.attempts, extract(epoch FROM j.run_after - a.rate_limited_until) FROM jobs j, "
                           "toggl_accounts a WHERE j.id = %s AND a.user_id = %s", job, u.uid)[0]
    # It read the backoff, then deferred itself by what was left: never earlier, late only by its own pace.
    assert attempts == 0 and -1 < float(gap) < 30, "the job comes back when the backoff ends"
    db.sql("UPDATE jobs SET state = 'done' WHERE id = %s", job)
    # The next 429 in a row doubles the wait.
    db.sql("UPDATE toggl_accounts SET rate_limited_until = NULL WHERE user_id = %s", u.uid)
    fake.fail(429, path_prefix="/api/v9/me/time_entries")
    t0 = db.sql("SELECT now()")[0][0]
    assert cli(stack, "reconcile", u.email, "--max-wait", "0").returncode == 1
    since_t0, left, strikes = backoff(db, u, t0)
    assert since_t0 >= 120 and left <= 180 and strikes == 2
    # A success ends the streak.
    db.sql("UPDATE toggl_accounts SET rate_limited_until = NULL WHERE user_id = %s", u.uid)
    ok(cli(stack, "reconcile", u.email))
    assert db.sql("SELECT rate_strikes FROM toggl_accounts WHERE user_id = %s", u.uid)[0][0] == 0


def test_5xx_is_retried_with_jitter(stack, db, fake):
    u = make_user(stack, db, fake, 11)
    fake.fail(503, count=2, path_prefix="/api/v9/me/time_entries")
    r = ok(cli(stack, "reconcile", u.email, "--json"))
    assert r.stderr.count("timebridge: Toggl unavailable: retrying in") == 2
    fake.fail(500, count=10, path_prefix="/api/v9/me/time_entries", body="oops")
    r = cli(stack, "reconcile", u.email, "--max-wait", "2")
    assert r.returncode == 1 and "Toggl is unavailable" in r.stderr and "500 oops" in r.stderr


# --------------------------------------------------------------------------------------------------------
# import and reconciliation


@pytest.fixture(scope="module")
def big(stack, db, fake):
    """User 12: 25,000 entries in 2025, 5,000 of them within two days (a dense stretch over the 1000-row cap)."""
    return make_user(stack, db, fake, 12, entries=[
        {"count": 20000, "start": "2025-01-01", "end": "2025-12-31", "seed": 12},
        {"count": 5000, "start": "2025-06-10", "end": "2025-06-12", "seed": 13}])


def test_import_25000_entries_across_the_row_cap_twice(stack, db, fake, big):
    mark = fake.request_mark()
    s = summary(ok(cli(stack, "import", big.email, "--since", "2025-01-01", "--until", "2025-12-31", "--json")))
    assert s["method"] == "time_entries"
    assert (s["fetched"], s["inserted"], s["updated"], s["deleted"]) == (25000, 25000, 0, 0)
    assert s["splits"] >= 1   # the dense days came back full and were read again in halves
    assert entry_rows(db, big) == 25000
    windows = [urllib.parse.parse_qs(q["query"]) for q in fake.requests_since(mark)
               if q["path"] == "/api/v9/me/time_entries"]
    assert all("start_date" in w and "end_date" in w for w in windows)
    # Every field as Toggl has it.
    fake_entries = {e["id"]: e for e in fake.get("/_control/entries", user_id=big.toggl_id)["entries"]}
    rows = db.sql("SELECT id, project_id, description, billable, extract(epoch FROM start)::bigint, "
                  "extract(epoch FROM stop)::bigint, duration, tags, tag_ids, version FROM time_entries "
                  "WHERE user_id = %s", big.uid)
    for eid, pid, desc, bill, start, stop, dur, tags, tag_ids, version in rows:
        e = fake_entries[eid]
        assert (pid, desc, bill, dur, tags, tag_ids, version) == (e["project_id"], e["description"], e["billable"],
                                                                 e["duration"], e["tags"], e["tag_ids"], 1)
        assert stop - start == dur
    # Second run: nothing changes.
    before = db.sql("SELECT max(updated_at), sum(version) FROM time_entries WHERE user_id = %s", big.uid)[0]
    s = summary(ok(cli(stack, "import", big.email, "--since", "2025-01-01", "--until", "2025-12-31", "--json")))
    assert (s["fetched"], s["inserted"], s["updated"], s["deleted"], s["unchanged"]) == (25000, 0, 0, 0, 25000)
    assert db.sql("SELECT max(updated_at), sum(version) FROM time_entries WHERE user_id = %s", big.uid)[0] == before


def test_reconcile_repairs_a_missed_update_and_a_missed_delete(stack, db, fake, big):
    ok(cli(stack, "reconcile", big.email))   # the starting point of the next pull
    entries = fake.get("/_control/entries", user_id=big.toggl_id, limit=3)["entries"]
    changed, deleted = entries[1]["id"], entries[2]["id"]
    # No webhook for this user: Toggl tells nobody.
    fake.post("/_control/entries", {"action": "update", "id": changed, "description": "edited in Toggl"})
    fake.post("/_control/entries", {"action": "delete", "id": deleted})
    assert db.sql("SELECT description FROM time_entries WHERE id = %s", changed)[0][0] != "edited in Toggl"
    mark = fake.request_mark()
    s = summary(ok(cli(stack, "reconcile", big.email, "--json")))
    assert (s["updated"], s["deleted"], s["inserted"]) == (1, 1, 0)
    # One run is one request of the user's 30 an hour: without a webhook, the default schedule (twice a
    # day; a cron firing more often than every 10 minutes is refused, see test_toggl_client.c and the
    # settings page test) is far inside the quota.
    assert [q["path"] for q in fake.requests_since(mark)] == ["/api/v9/me/time_entries"]
    assert db.sql("SELECT description, version FROM time_entries WHERE id = %s", changed)[0] == ("edited in Toggl", 2)
    assert db.sql("SELECT server_deleted_at IS NOT NULL FROM time_entries WHERE id = %s", deleted)[0][0]
    # Again: nothing left to repair.
    s = summary(ok(cli(stack, "reconcile", big.email, "--json")))
    assert (s["updated"], s["deleted"], s["inserted"]) == (0, 0, 0)
    # And as the scheduled job kind.
    fake.post("/_control/entries", {"action": "update", "id": changed, "description": "edited again"})
    job = int(ok(cli(stack, "jobs", "enqueue", "toggl.reconcile", "--user", big.email)).stdout.split()[1])
    wait_for(lambda: db.sql("SELECT state FROM jobs WHERE id = %s", job)[0][0] == "done", what="reconcile job")
    assert db.sql("SELECT description FROM time_entries WHERE id = %s", changed)[0][0] == "edited again"


def test_import_sees_a_delete_nobody_told_us_about(stack, db, fake, big):
    victim = fake.get("/_control/entries", user_id=big.toggl_id, limit=10)["entries"][5]["id"]
    # Deleted in Toggl while the account's pull position is already past it: only an import can notice.
    fake.post("/_control/entries", {"action": "delete", "id": victim})
    db.sql("UPDATE toggl_accounts SET last_pull_at = now() + interval '1 hour' WHERE user_id = %s", big.uid)
    s = summary(ok(cli(stack, "import", big.email, "--since", "2025-01-01", "--until", "2025-12-31", "--json")))
    assert s["deleted"] == 1 and s["verified"] == 1 and s["inserted"] == 0
    assert db.sql("SELECT server_deleted_at IS NOT NULL FROM time_entries WHERE id = %s", victim)[0][0]
    db.sql("UPDATE toggl_accounts SET last_pull_at = now() WHERE user_id = %s", big.uid)


def test_import_interrupted_then_resumed_from_its_checkpoint(stack, db, fake):
    u = make_user(stack, db, fake, 13, entries=[{"count": 6000, "start": "2024-01-01", "end": "2024-12-31",
                                                 "seed": 14}])
    # A tight user budget makes the import wait after its first window: that is where it gets killed.
    fake.quota(enabled=True, window_seconds=30, limits={"user": 3})
    err = Path(stack.workdir) / "import-13.err"
    with open(err, "wb") as ef:
        p = subprocess.Popen([str(stack.app.bin("timebridge")), "import", u.email, "--since", "2024-01-01",
                              "--until", "2024-12-31"], env=stack.env, stdin=subprocess.DEVNULL,
                             stdout=subprocess.DEVNULL, stderr=ef, start_new_session=True,
                             **harness.as_service_kwargs())
    try:
        wait_for(lambda: "waiting" in err.read_text(), what="the import waiting for the quota")
        run = db.sql("SELECT id, state, fetched, cursor::text FROM toggl_import_runs WHERE user_id = %s", u.uid)[0]
        assert run[1] == "running" and run[2] > 0
        os.killpg(p.pid, signal.SIGKILL)
    finally:
        p.wait()
    checkpoint = json.loads(db.sql("SELECT cursor::text FROM toggl_import_runs WHERE id = %s", run[0])[0][0])
    assert checkpoint["method"] == "time_entries" and checkpoint["pos"] > 1704067200
    # Later: the quota window has passed.
    fake.clear()
    db.sql("DELETE FROM toggl_quota WHERE user_id = %s", u.uid)
    mark = fake.request_mark()
    s = summary(ok(cli(stack, "import", u.email, "--since", "2024-01-01", "--until", "2024-12-31", "--json")))
    assert s["resumes"] == 1 and s["run_id"] == run[0]
    assert s["inserted"] == 6000 and s["fetched"] == 6000   # counted over both processes, nothing twice
    starts = [urllib.parse.parse_qs(q["query"])["start_date"][0] for q in fake.requests_since(mark)
              if q["path"] == "/api/v9/me/time_entries"]
    first = time.strftime("%Y-%m-%dT%H:%M:%SZ", time.gmtime(checkpoint["pos"]))
    assert starts[0] == first   # it went on where it stopped, not from the start
    assert entry_rows(db, u) == 6000
    assert db.sql("SELECT state FROM toggl_import_runs WHERE id = %s", run[0])[0][0] == "done"
    s = summary(ok(cli(stack, "import", u.email, "--since", "2024-01-01", "--until", "2024-12-31", "--json")))
    assert (s["inserted"], s["updated"], s["resumes"]) == (0, 0, 0)


def test_import_progress_bar_only_on_a_terminal(stack, db, fake):
    u = make_user(stack, db, fake, 14, entries=[{"count": 3000, "start": "2024-01-01", "end": "2024-12-31",
                                                 "seed": 15}])
    plain = ok(cli(stack, "import", u.email, "--since", "2024-01-01", "--until", "2024-12-31")).stdout
    assert "\r" not in plain and "[#" not in plain
    assert "fetched 3000, inserted 3000, updated 0, unchanged 0, deleted 0" in plain
    master, slave = pty.openpty()
    p = subprocess.Popen([str(stack.app.bin("timebridge")), "import", u.email, "--since", "2024-01-01", "--until",
                          "2024-12-31", "--restart"], env=stack.env, stdin=subprocess.DEVNULL, stdout=slave,
                         stderr=subprocess.DEVNULL, **harness.as_service_kwargs())
    os.close(slave)
    out = b""
    while True:
        r, _, _ = select.select([master], [], [], 60)
        if not r:
            break
        try:
            chunk = os.read(master, 65536)
        except OSError:
            break
        if not chunk:
            break
        out += chunk
    p.wait(timeout=60)
    os.close(master)
    text = out.decode(errors="replace")
    assert p.returncode == 0 and "\r[" in text and "100%" in text and "unchanged 3000" in text


def test_import_as_a_job_shows_its_progress(stack, db, fake):
    u = make_user(stack, db, fake, 15, entries=[{"count": 2000, "start": "2024-03-01", "end": "2024-09-30",
                                                 "seed": 16}])
    job = int(ok(cli(stack, "jobs", "enqueue", "toggl.import",
                     json.dumps({"since": "2024-03-01", "until": "2024-09-30"}), "--user", u.email)).stdout.split()[1])
    wait_for(lambda: db.sql("SELECT state FROM jobs WHERE id = %s", job)[0][0] == "done", timeout=300,
             what="import job")
    progress = json.loads(db.sql("SELECT progress::text FROM jobs WHERE id = %s", job)[0][0])
    assert progress["percent"] == 100.0 and progress["fetched"] == 2000 and progress["inserted"] == 2000
    assert db.sql("SELECT job_id, state FROM toggl_import_runs WHERE user_id = %s", u.uid)[0] == (job, "done")
    last = json.loads(ok(cli(stack, "toggl", "status", u.email, "--json")).stdout)["last_import"]
    assert last["state"] == "done" and last["inserted"] == 2000
    job = int(ok(cli(stack, "jobs", "enqueue", "toggl.import", json.dumps({"since": "last week"}),
                     "--user", u.email)).stdout.split()[1])
    wait_for(lambda: db.sql("SELECT state FROM jobs WHERE id = %s", job)[0][0] == "dead", what="bad import job")


def test_import_refuses_bad_ranges(stack, db, fake, ann):
    for args in (["--since", "2025-13-01"], ["--since", "2025-02-01", "--until", "2025-01-01"],
                 ["--since", "1999-01-01"], []):
        r = cli(stack, "import", ann.email, *args)
        assert r.returncode in (1, 2), (args, r.stderr)
        assert r.stderr
    assert db.sql("SELECT count(*) FROM toggl_import_runs WHERE user_id = %s", ann.uid)[0][0] == 0


def test_unknown_project_in_entries_triggers_one_batched_metadata_refresh(stack, db, fake, big):
    project = fake.post("/_control/projects", {"user_id": big.toggl_id, "name": "Started after connecting"})
    for i in range(5):
        fake.post("/_control/entries", {"user_id": big.toggl_id, "project_id": project["id"],
                                        "start": f"2026-02-0{i + 1}T08:00:00Z", "duration": 600})
    t0 = db.sql("SELECT now()")[0][0]
    ok(cli(stack, "reconcile", big.email))
    jobs = db.sql("SELECT id FROM jobs WHERE kind = 'toggl.metadata' AND user_id = %s AND created_at >= %s",
                  big.uid, t0)
    assert len(jobs) == 1   # five entries, one refresh
    wait_for(lambda: db.sql("SELECT state FROM jobs WHERE id = %s", jobs[0][0])[0][0] == "done",
             what="metadata job")
    assert db.sql("SELECT name FROM toggl_projects WHERE id = %s", project["id"])[0][0] == "Started after connecting"


def test_import_naming_unknown_metadata_queues_one_batched_refresh(stack, db, fake):
    u = make_user(stack, db, fake, 18, entries=[{"count": 400, "start": "2024-04-01", "end": "2024-04-30",
                                                 "seed": 18}])
    # The names are lost here, and the import's own refresh cannot reach this workspace's projects (a 403
    # while the token works: the workspace is skipped), so the entries it stores name unknown ids.
    db.sql("DELETE FROM toggl_projects WHERE workspace_id = %s", u.wid)
    db.sql("DELETE FROM toggl_tags WHERE workspace_id = %s", u.wid)
    fake.fail(403, path_prefix=f"/api/v9/workspaces/{u.wid}/projects")
    t0 = db.sql("SELECT now()")[0][0]
    s = summary(ok(cli(stack, "import", u.email, "--since", "2024-04-01", "--until", "2024-04-30", "--json")))
    assert s["inserted"] == 400
    jobs = db.sql("SELECT id, dedupe_key FROM jobs WHERE kind = 'toggl.metadata' AND user_id = %s AND created_at >= %s",
                  u.uid, t0)
    assert [k for _, k in jobs] == [f"toggl.metadata:{u.uid}"]   # 400 entries, one refresh
    wait_for(lambda: db.sql("SELECT state FROM jobs WHERE id = %s", jobs[0][0])[0][0] == "done",
             what="metadata job")
    assert db.sql("SELECT count(*) FROM time_entries e WHERE e.user_id = %s AND e.project_id IS NOT NULL AND "
                  "NOT EXISTS (SELECT 1 FROM toggl_projects p WHERE p.id = e.project_id)", u.uid)[0][0] == 0
