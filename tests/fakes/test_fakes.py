"""Self-tests of the fake Toggl and fake Google (tests/fakes/fake_*.py).

Run: cd /work/main && /usr/bin/python3 -m pytest tests/fakes -q
These pin the behaviour that timebridge's end-to-end tests, benchmarks and demo mode rely on.
"""

import base64
import hashlib
import hmac
import http.client
import json
import os
import re
import select
import subprocess
import sys
import threading
import time
import urllib.parse
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer

import pytest
import requests

HERE = os.path.dirname(os.path.abspath(__file__))
sys.path.insert(0, HERE)

import fake_google  # noqa: E402
import fake_toggl  # noqa: E402

FIXTURES = os.path.join(os.path.dirname(os.path.dirname(os.path.dirname(HERE))), "shared", "fixtures")
VECTORS = os.path.join(FIXTURES, "toggl-webhook-signature-vectors.json")
SCOPE_APP = "https://www.googleapis.com/auth/calendar.app.created"
SCOPE_RO = "https://www.googleapis.com/auth/calendar.events.readonly"


# ---------------------------------------------------------------------------------------------------------
# Fixtures


@pytest.fixture(scope="module")
def toggl():
    server, _, base = fake_toggl.start(quiet=True)
    yield base
    fake_toggl.stop(server)


@pytest.fixture(scope="module")
def google():
    server, _, base = fake_google.start(quiet=True)
    yield base
    fake_google.stop(server)


@pytest.fixture
def tg(toggl):
    """Fresh fake Toggl with one premium user (token 'tok', id 42, workspace 100)."""
    requests.post(toggl + "/_control/reset").raise_for_status()
    requests.post(toggl + "/_control/users", json={
        "api_token": "tok", "id": 42, "email": "ann@example.com", "fullname": "Ann Example",
        "timezone": "Europe/Berlin", "default_workspace_id": 100, "beginning_of_week": 1, "organization_id": 500,
        "workspaces": [{"id": 100, "name": "Main", "organization_id": 500}], "plan": "premium",
        "password": "secret-pw"}).raise_for_status()
    s = requests.Session()
    s.auth = ("tok", "api_token")
    s.base = toggl
    return s


@pytest.fixture
def gg(google):
    requests.post(google + "/_control/reset").raise_for_status()
    return google


class Callback:
    """A tiny webhook receiver: records raw requests, answers with self.responder(raw_body)."""

    def __init__(self):
        self.requests = []
        self.cond = threading.Condition()
        self.responder = lambda body: (200, b"")
        outer = self

        class H(BaseHTTPRequestHandler):
            protocol_version = "HTTP/1.1"

            def do_POST(self):
                body = self.rfile.read(int(self.headers.get("Content-Length") or 0))
                status, out = outer.responder(body)
                with outer.cond:
                    outer.requests.append({"path": self.path, "headers": dict(self.headers), "body": body})
                    outer.cond.notify_all()
                self.send_response(status)
                self.send_header("Content-Length", str(len(out)))
                self.end_headers()
                self.wfile.write(out)

            def log_message(self, *a):
                pass

        self.server = ThreadingHTTPServer(("127.0.0.1", 0), H)
        self.server.daemon_threads = True
        threading.Thread(target=self.server.serve_forever, daemon=True).start()
        self.url = "http://127.0.0.1:%d/webhook/toggl/abc" % self.server.server_address[1]

    def validating(self):
        """Answer pings with {"validation_code": code} (the synchronous validation), events with 200."""
        def respond(body):
            d = json.loads(body)
            if d.get("validation_code"):
                return 200, json.dumps({"validation_code": d["validation_code"]}).encode()
            return 200, b""
        self.responder = respond
        return self

    def wait(self, n, timeout=60.0):
        """Until n requests came (generous: CI machines are loaded; it returns as soon as they are there)."""
        end = time.time() + timeout
        with self.cond:
            while len(self.requests) < n and time.time() < end:
                self.cond.wait(0.05)
        return self.requests

    def close(self):
        self.server.shutdown()
        self.server.server_close()


@pytest.fixture
def callback():
    cb = Callback()
    yield cb
    cb.close()


def verify(secret, req):
    sig = req["headers"]["X-Webhook-Signature-256"]
    return hmac.compare_digest(sig, "sha256=" + hmac.new(secret.encode(), req["body"], hashlib.sha256).hexdigest())


def make_sub(tg, callback, wid=100, **kw):
    body = {"url_callback": callback.url, "event_filters": [{"entity": "*", "action": "*"}],
            "description": "timebridge test", "enabled": True, "secret": "s3cret"}
    body.update(kw)
    return tg.post(tg.base + "/webhooks/api/v1/subscriptions/%d" % wid, json=body)


def new_entry(tg, **kw):
    body = {"created_with": "tests", "workspace_id": 100, "start": "2024-03-01T09:00:00Z", "duration": 3600,
            "description": "Work"}
    body.update(kw)
    return tg.post(tg.base + "/api/v9/workspaces/100/time_entries", json=body)


# ---------------------------------------------------------------------------------------------------------
# Toggl: signatures, auth, API v9


def test_signature_vectors_verify_with_fake_signing():
    with open(VECTORS) as f:
        vectors = json.load(f)["vectors"]
    assert len(vectors) >= 2
    for v in vectors:
        assert v["header"] == "X-Webhook-Signature-256"
        assert fake_toggl.sign(v["secret"], v["body"].encode()) == v["signature"], v["name"]


def test_auth_unknown_token_is_403_plain_text(tg):
    r = requests.get(tg.base + "/api/v9/me", auth=("nope", "api_token"))
    assert r.status_code == 403
    assert r.headers["Content-Type"].startswith("text/plain")
    assert r.text and not r.text.startswith("{")
    assert requests.get(tg.base + "/api/v9/me").status_code == 403
    assert requests.get(tg.base + "/api/v9/me", auth=("ann@example.com", "secret-pw")).status_code == 200


def test_me_fields_and_related_data(tg):
    me = tg.get(tg.base + "/api/v9/me").json()
    for k in ("id", "api_token", "email", "fullname", "timezone", "default_workspace_id", "beginning_of_week",
              "image_url", "created_at", "updated_at", "at", "country_id", "has_password", "openid_email",
              "openid_enabled", "oauth_providers", "2fa_enabled", "authorization_updated_at", "intercom_hash",
              "toggl_accounts_id"):
        assert k in me, k
    assert me["timezone"] == "Europe/Berlin" and me["default_workspace_id"] == 100 and me["id"] == 42
    assert me["projects"] is None
    new_entry(tg)
    rel = tg.get(tg.base + "/api/v9/me", params={"with_related_data": "true"}).json()
    assert isinstance(rel["projects"], list) and len(rel["time_entries"]) == 1
    assert rel["workspaces"][0]["id"] == 100
    orgs = tg.get(tg.base + "/api/v9/me/organizations").json()
    assert orgs[0]["id"] == 500
    assert tg.get(tg.base + "/api/v9/me/workspaces").json()[0]["organization_id"] == 500


def test_control_users_lists_users_whose_organization_is_only_on_their_workspaces(tg):
    """GET /_control/users once crashed (KeyError) for a user made without a top-level organization_id."""
    r = requests.post(tg.base + "/_control/users", json={
        "api_token": "tok-77", "id": 77, "plan": "starter",
        "workspaces": [{"id": 700, "name": "A", "organization_id": 900},
                       {"id": 701, "name": "B", "organization_id": 901, "plan": "premium"}]})
    assert r.status_code == 200, r.text
    assert r.json()["organization_id"] == 900, "the organisation of the default (first) workspace"
    # A top-level organisation that none of the workspaces is in.
    r = requests.post(tg.base + "/_control/users", json={
        "api_token": "tok-78", "id": 78, "organization_id": 902, "workspaces": [{"id": 702, "organization_id": 900}]})
    assert r.status_code == 200, r.text
    r = requests.get(tg.base + "/_control/users")
    assert r.status_code == 200, r.text
    users = {u["id"]: u for u in r.json()}
    assert (users[77]["organization_id"], users[77]["plan"], users[77]["workspace_ids"]) == (900, "starter",
                                                                                              [700, 701])
    assert (users[78]["organization_id"], users[78]["workspace_ids"]) == (902, [702])
    assert users[42]["organization_id"] == 500 and users[42]["plan"] == "premium"
    # The API sees the organisations of the workspaces, nothing invented.
    orgs = requests.get(tg.base + "/api/v9/me/organizations", auth=("tok-77", "api_token")).json()
    assert sorted((o["id"], o["pricing_plan_name"]) for o in orgs) == [(900, "Starter"), (901, "Premium")]
    orgs = requests.get(tg.base + "/api/v9/me/organizations", auth=("tok-78", "api_token")).json()
    assert [o["id"] for o in orgs] == [900]


def test_time_entry_lifecycle_and_shape(tg):
    r = tg.post(tg.base + "/_control/projects", json={"user_id": 42, "name": "Site", "color": "#2da608",
                                                      "rate": 100})
    pid = r.json()["id"]
    r = new_entry(tg, duration=-1, start="2024-03-01T09:00:00Z", project_id=pid, tags=["deep-work"])
    assert r.status_code == 200  # create answers 200, not 201
    e = r.json()
    assert list(e)[:17] == ["id", "workspace_id", "project_id", "task_id", "billable", "start", "stop",
                            "duration", "description", "tags", "tag_ids", "duronly", "at", "server_deleted_at",
                            "user_id", "uid", "wid"]
    assert e["duration"] == -1 and e["stop"] is None and e["pid"] == pid and e["tags"] == ["deep-work"]
    assert e["start"] == "2024-03-01T09:00:00+00:00"
    assert re.fullmatch(r"\d{4}-\d\d-\d\dT\d\d:\d\d:\d\d(\.\d{1,6})?Z", e["at"])
    assert tg.get(tg.base + "/api/v9/me/time_entries/current").json()["id"] == e["id"]
    # stop, then stop again -> 409
    r = tg.patch(tg.base + "/api/v9/workspaces/100/time_entries/%d/stop" % e["id"])
    assert r.status_code == 200 and r.json()["duration"] >= 0 and r.json()["stop"]
    r = tg.patch(tg.base + "/api/v9/workspaces/100/time_entries/%d/stop" % e["id"])
    assert r.status_code == 409 and r.text == "Time entry already stopped"
    cur = tg.get(tg.base + "/api/v9/me/time_entries/current")
    assert cur.status_code == 200 and cur.text == "null"
    # update
    r = tg.put(tg.base + "/api/v9/workspaces/100/time_entries/%d" % e["id"], json={"description": "Deep work"})
    assert r.status_code == 200 and r.json()["description"] == "Deep work"
    # an entry without project omits legacy pid, and description is null when unset
    r = new_entry(tg, description=None)
    assert "pid" not in r.json() and r.json()["description"] is None
    # delete -> tombstone visible only through `since`
    t_before = int(time.time()) - 5
    assert tg.delete(tg.base + "/api/v9/workspaces/100/time_entries/%d" % e["id"]).status_code == 200
    assert tg.get(tg.base + "/api/v9/me/time_entries/%d" % e["id"]).status_code == 404
    listed = tg.get(tg.base + "/api/v9/me/time_entries").json()
    assert e["id"] not in [x["id"] for x in listed]
    since = tg.get(tg.base + "/api/v9/me/time_entries", params={"since": t_before}).json()
    gone = [x for x in since if x["id"] == e["id"]]
    assert gone and gone[0]["server_deleted_at"]


def test_create_validation_errors_are_plain_text(tg):
    r = tg.post(tg.base + "/api/v9/workspaces/100/time_entries",
                json={"workspace_id": 100, "start": "2024-03-01T09:00:00Z", "duration": 10})
    assert r.status_code == 400 and "created_with" in r.text and r.headers["Content-Type"].startswith("text/plain")
    assert new_entry(tg, workspace_id=101).status_code == 400
    assert new_entry(tg, start="yesterday").status_code == 400
    assert new_entry(tg, stop="2024-03-01T09:30:00Z", duration=60).status_code == 400  # disagree
    assert new_entry(tg, project_id=999).status_code == 400
    assert tg.post(tg.base + "/api/v9/workspaces/999/time_entries", json={}).status_code == 403


def test_starting_an_entry_stops_the_running_one(tg):
    a = new_entry(tg, duration=-1, start="2024-03-01T09:00:00Z").json()
    b = new_entry(tg, duration=-1, start="2024-03-01T10:00:00Z").json()
    entries = {x["id"]: x for x in tg.get(tg.base + "/api/v9/me/time_entries").json()}
    assert entries[a["id"]]["stop"] == "2024-03-01T10:00:00+00:00"
    assert entries[b["id"]]["stop"] is None


def test_time_entries_filters_and_1000_row_cap(tg):
    r = requests.post(tg.base + "/_control/bulk_entries",
                      json={"user_id": 42, "count": 1500, "start": "2024-01-01", "end": "2024-03-01", "seed": 7})
    assert r.json()["created"] == 1500
    rows = tg.get(tg.base + "/api/v9/me/time_entries").json()
    assert len(rows) == 1000  # hard cap
    starts = [x["start"] for x in rows]
    assert starts == sorted(starts, reverse=True)  # newest first
    r = tg.get(tg.base + "/api/v9/me/time_entries", params={"start_date": "2024-01-01"})
    assert r.status_code == 400
    r = tg.get(tg.base + "/api/v9/me/time_entries", params={"start_date": "2024-01-10", "end_date": "2024-01-12"})
    got = r.json()
    assert got and all("2024-01-10" <= x["start"][:10] < "2024-01-12" for x in got)
    r = tg.get(tg.base + "/api/v9/me/time_entries", params={"start_date": "bad", "end_date": "2024-01-12"})
    assert r.status_code == 400 and "Invalid start date" in r.text
    before = tg.get(tg.base + "/api/v9/me/time_entries", params={"before": "2024-01-05"}).json()
    assert before and all(x["start"] < "2024-01-05" for x in before)


def test_bulk_seed_creates_every_entry(tg):
    # How fast it seeds is bench/import.sh's business (it prints the times); no timed assertion here.
    r = requests.post(tg.base + "/_control/bulk_entries",
                      json={"user_id": 42, "count": 25000, "start": "2022-01-01", "end": "2024-01-01", "seed": 1})
    assert r.json()["created"] == 25000
    st = requests.get(tg.base + "/_control/state").json()
    assert st["entries"] == 25000


def test_projects_pagination(tg):
    for i in range(230):
        requests.post(tg.base + "/_control/projects", json={"user_id": 42, "name": "P%03d" % i})
    p1 = tg.get(tg.base + "/api/v9/workspaces/100/projects").json()
    assert len(p1) == 151  # default per_page
    a = tg.get(tg.base + "/api/v9/workspaces/100/projects", params={"per_page": 500, "page": 1}).json()
    b = tg.get(tg.base + "/api/v9/workspaces/100/projects", params={"per_page": 500, "page": 2}).json()
    assert len(a) == 200 and len(b) == 30  # max 200 per page: more than 200 projects need two pages
    assert len({p["id"] for p in a + b}) == 230
    assert re.fullmatch(r"#[0-9a-f]{6}", a[0]["color"])
    tags = tg.get(tg.base + "/api/v9/workspaces/100/tags").json()
    assert tags == []
    assert tg.get(tg.base + "/api/v9/workspaces/100/clients", params={"status": "bogus"}).status_code == 400


def test_quota_sliding_window_and_402_with_headers(tg):
    # The window outlasts the next few requests even on a loaded machine.
    window = 5
    requests.post(tg.base + "/_control/quota",
                  json={"enabled": True, "window_seconds": window, "limits": {"premium": 3, "user": 2}})
    remaining = []
    t0 = time.monotonic()
    for _ in range(3):
        r = tg.get(tg.base + "/api/v9/workspaces/100/projects")
        assert r.status_code == 200
        remaining.append(int(r.headers["X-Toggl-Quota-Remaining"]))
        assert 0 < int(r.headers["X-Toggl-Quota-Resets-In"]) <= window
    assert remaining == [2, 1, 0]
    r = tg.get(tg.base + "/api/v9/workspaces/100/projects")
    assert r.status_code == 402
    assert r.headers["X-Toggl-Quota-Remaining"] == "0" and "X-Toggl-Quota-Resets-In" in r.headers
    # user-scoped budget is separate
    assert tg.get(tg.base + "/api/v9/me").status_code == 200
    assert tg.get(tg.base + "/api/v9/me").status_code == 200
    assert tg.get(tg.base + "/api/v9/me").status_code == 402
    q = {x["organization_id"]: x for x in tg.get(tg.base + "/api/v9/me/quota").json()}
    assert q[None]["total"] == 2 and q[500]["total"] == 3 and q[500]["remaining"] == 0
    # The window slides: the budget comes back, not before the oldest request is `window` s old. A refused
    # request does not count, so asking again until then is fine.
    deadline = time.monotonic() + window + 60
    while tg.get(tg.base + "/api/v9/workspaces/100/projects").status_code == 402:
        assert time.monotonic() < deadline, "the quota window never slid"
        time.sleep(0.2)
    assert time.monotonic() - t0 >= window - 0.5


def test_quota_headers_present_when_quotas_off(tg):
    r = tg.get(tg.base + "/api/v9/me")
    assert int(r.headers["X-Toggl-Quota-Remaining"]) > 1000 and "X-Toggl-Quota-Resets-In" in r.headers


def test_forced_429_and_5xx(tg):
    requests.post(tg.base + "/_control/fail", json={"status": 429, "count": 2})
    requests.post(tg.base + "/_control/fail", json={"status": 503, "count": 1, "path_prefix": "/api/v9/me"})
    r = tg.get(tg.base + "/api/v9/me")
    assert r.status_code == 429 and r.headers["Content-Type"].startswith("text/plain")
    assert tg.get(tg.base + "/api/v9/me").status_code == 429
    assert tg.get(tg.base + "/api/v9/me").status_code == 503
    assert tg.get(tg.base + "/api/v9/me").status_code == 200


def test_reports_free_plan_402_without_quota_headers(tg):
    requests.post(tg.base + "/_control/users", json={
        "api_token": "free", "id": 7, "workspaces": [{"id": 200, "organization_id": 600}], "plan": "free"})
    r = requests.post(tg.base + "/reports/api/v3/workspace/200/search/time_entries", auth=("free", "api_token"),
                      json={"start_date": "2024-01-01", "end_date": "2024-01-31"})
    assert r.status_code == 402
    assert "X-Toggl-Quota-Remaining" not in r.headers and "X-Toggl-Quota-Resets-In" not in r.headers


def test_reports_pagination(tg):
    requests.post(tg.base + "/_control/bulk_entries",
                  json={"user_id": 42, "count": 2600, "start": "2023-01-01", "end": "2023-12-01", "seed": 3})
    url = tg.base + "/reports/api/v3/workspace/100/search/time_entries"
    assert tg.post(url, json={}).text == "At least one parameter must be set"
    assert tg.post(url, json={"start_date": "2023/01/01", "end_date": "2023-12-31"}).status_code == 400
    first, ids, pages = 1, [], 0
    while True:
        r = tg.post(url, json={"start_date": "2022-12-31", "end_date": "2023-12-31", "page_size": 1000,
                               "first_row_number": first})
        assert r.status_code == 200
        rows = r.json()
        pages += 1
        assert rows[0]["row_number"] == first and int(r.headers["X-Range-Start"]) == first
        for row in rows:
            assert set(row) >= {"user_id", "username", "project_id", "task_id", "billable", "description",
                                "tag_ids", "billable_amount_in_cents", "hourly_rate_in_cents", "currency",
                                "time_entries", "row_number"}
            te = row["time_entries"][0]
            assert set(te) >= {"id", "seconds", "start", "stop", "at"}
            ids.append(te["id"])
        if "X-Next-Row-Number" not in r.headers:
            assert "X-Next-ID" not in r.headers
            break
        first = int(r.headers["X-Next-Row-Number"])
    assert pages == 3 and len(ids) == 2600 == len(set(ids))
    small = tg.post(url, json={"start_date": "2023-01-01", "end_date": "2023-12-31"})
    assert len(small.json()) == 50  # default page_size


# ---------------------------------------------------------------------------------------------------------
# Toggl: webhooks


def test_create_subscription_ping_handshake(tg, callback):
    callback.validating()
    r = make_sub(tg, callback)
    assert r.status_code == 200, r.text
    sub = r.json()
    assert sub["validated_at"] and sub["enabled"] and sub["secret"] == "s3cret"
    for k in ("subscription_id", "workspace_id", "user_id", "enabled", "description", "event_filters",
              "url_callback", "secret", "validated_at", "has_pending_events", "created_at", "updated_at",
              "deleted_at"):
        assert k in sub
    ping = callback.requests[0]
    assert ping["headers"]["Content-Type"] == "application/json"
    assert verify("s3cret", ping)
    env = json.loads(ping["body"])
    assert list(env) == ["event_id", "created_at", "creator_id", "metadata", "payload", "subscription_id",
                         "timestamp", "url_callback", "validation_code", "validation_code_url"]
    assert env["event_id"] == 0 and env["payload"] == "ping" and env["metadata"] == {
        "request_type": "POST", "event_user_id": 42}
    assert re.fullmatch(r".*\.\d{1,9}Z", env["timestamp"])
    assert env["validation_code_url"].endswith("/webhooks/api/v1/validate/100/%d/%s" % (
        sub["subscription_id"], env["validation_code"]))
    listed = tg.get(tg.base + "/webhooks/api/v1/subscriptions/100").json()
    assert [s["subscription_id"] for s in listed] == [sub["subscription_id"]]


def test_create_subscription_fails_when_callback_fails(tg, callback):
    callback.responder = lambda body: (500, b"no")
    r = make_sub(tg, callback)
    assert r.status_code == 400 and "2xx" in r.text
    assert tg.get(tg.base + "/webhooks/api/v1/subscriptions/100").json() == []
    r = make_sub(tg, callback, url_callback="http://127.0.0.1:1/nothing-listens")
    assert r.status_code == 400


def test_async_validation_and_generated_secret(tg, callback):
    r = make_sub(tg, callback, secret=None)  # callback answers a plain 200: not validated yet
    sub = r.json()
    assert r.status_code == 200 and sub["validated_at"] is None and len(sub["secret"]) >= 16
    env = json.loads(callback.requests[0]["body"])
    assert verify(sub["secret"], callback.requests[0])
    url = urllib.parse.urlsplit(env["validation_code_url"]).path
    assert requests.get(tg.base + url).text == "OK"
    assert requests.get(tg.base + url).status_code == 400  # already validated
    assert tg.get(tg.base + "/webhooks/api/v1/subscriptions/100").json()[0]["validated_at"]


def test_subscription_validation_errors(tg, callback):
    callback.validating()
    assert make_sub(tg, callback, description="").status_code == 400
    bad = [{"entity": "time_entry", "action": "exploded"}]
    assert "action" in make_sub(tg, callback, event_filters=bad).text
    dup = [{"entity": "time_entry", "action": "*"}, {"entity": "time_entry", "action": "*"}]
    assert make_sub(tg, callback, event_filters=dup).status_code == 400
    assert make_sub(tg, callback, event_filters=[]).status_code == 400
    assert make_sub(tg, callback, event_filters=[{"entity": "time entry", "action": "*"}]).status_code == 400
    assert make_sub(tg, callback, description="one").status_code == 200
    r = make_sub(tg, callback, description="one")
    assert r.status_code == 400 and "unique" in r.text
    assert make_sub(tg, callback, description="two").status_code == 200
    assert make_sub(tg, callback, description="three").status_code == 200
    r = make_sub(tg, callback, description="four")  # premium: 3 enabled subscriptions
    assert r.status_code == 400 and "limit" in r.text
    assert make_sub(tg, callback, description="four", enabled=False).status_code == 200
    # free plan: 1 webhook with at most 3 filters
    requests.post(tg.base + "/_control/users", json={
        "api_token": "free", "id": 7, "workspaces": [{"id": 200, "organization_id": 600}], "plan": "free"})
    free = requests.Session()
    free.auth = ("free", "api_token")
    free.base = tg.base
    assert free.get(tg.base + "/webhooks/api/v1/limits/200").json() == {"max_webhooks": 1,
                                                                         "max_events_per_webhook": 3}
    four = [{"entity": e, "action": "*"} for e in ("time_entry", "project", "client", "tag")]
    r = make_sub(free, callback, wid=200, event_filters=four)
    assert r.status_code == 400 and "filters" in r.text
    assert make_sub(free, callback, wid=200, event_filters=four[:3]).status_code == 200
    assert make_sub(free, callback, wid=200, description="second").status_code == 400
    assert tg.get(tg.base + "/webhooks/api/v1/subscriptions/200").status_code == 403


def test_subscription_update_patch_delete(tg, callback):
    callback.validating()
    sub = make_sub(tg, callback).json()
    sid = sub["subscription_id"]
    base = tg.base + "/webhooks/api/v1/subscriptions/100/%d" % sid
    r = tg.patch(base, json={"enabled": False})
    assert r.status_code == 200 and r.json()["enabled"] is False
    other = Callback().validating()
    try:
        r = tg.put(base, json={"url_callback": other.url, "event_filters": sub["event_filters"],
                               "enabled": True, "description": "timebridge test"})
        assert r.status_code == 200 and r.json()["url_callback"] == other.url and r.json()["validated_at"]
        assert len(other.requests) == 1 and json.loads(other.requests[0]["body"])["payload"] == "ping"
    finally:
        other.close()
    r = tg.put(base, json={"url_callback": "http://127.0.0.1:1/dead"})
    assert r.status_code == 400
    assert tg.get(tg.base + "/webhooks/api/v1/subscriptions/100").json()[0]["url_callback"] == other.url
    r = tg.delete(base)
    assert r.status_code == 200 and r.json()["deleted_at"]
    assert tg.delete(base).status_code == 404
    assert tg.get(tg.base + "/webhooks/api/v1/subscriptions/100").json() == []
    assert tg.get(tg.base + "/webhooks/api/v1/event_filters").json()["time_entry"] == ["created", "updated",
                                                                                      "deleted"]
    assert requests.get(tg.base + "/webhooks/api/v1/status").status_code == 200


def test_deliveries_for_api_changes(tg, callback):
    callback.validating()
    sub = make_sub(tg, callback, event_filters=[{"entity": "time_entry", "action": "*"}]).json()
    e = new_entry(tg, duration=-1, start="2024-03-01T09:00:00Z", tags=["x"]).json()
    tg.patch(tg.base + "/api/v9/workspaces/100/time_entries/%d/stop" % e["id"])
    tg.delete(tg.base + "/api/v9/workspaces/100/time_entries/%d" % e["id"])
    reqs = callback.wait(4)[1:]
    assert len(reqs) == 3
    envs = [json.loads(r["body"]) for r in reqs]
    assert all(verify("s3cret", r) for r in reqs)
    assert [x["metadata"]["action"] for x in envs] == ["created", "updated", "deleted"]
    ids = [x["event_id"] for x in envs]
    assert ids == sorted(ids) and len(set(ids)) == 3 and ids[0] > 0
    created = envs[0]
    assert list(created) == ["event_id", "created_at", "creator_id", "metadata", "payload", "subscription_id",
                             "timestamp", "url_callback"]
    md = created["metadata"]
    assert md["model"] == "time_entry" and md["request_type"] == "POST"
    assert md["time_entry_id"] == str(e["id"]) and md["workspace_id"] == "100" and md["event_user_id"] == "42"
    assert md["path"] == "/api/v9/workspaces/100/time_entries" and json.loads(md["request_body"])["duration"] == -1
    assert all(isinstance(v, str) for v in md.values())
    p = created["payload"]
    assert list(p) == sorted(p)
    start_epoch = 1709283600  # 2024-03-01T09:00:00Z
    assert p["duration"] == -start_epoch and p["stop"] is None and p["start"] == "2024-03-01T09:00:00Z"
    assert envs[1]["payload"]["duration"] >= 0 and envs[1]["metadata"]["request_type"] == "PATCH"
    assert envs[2]["payload"]["server_deleted_at"] and envs[2]["metadata"]["request_type"] == "DELETE"
    assert created["subscription_id"] == sub["subscription_id"] and created["url_callback"] == callback.url
    # The fake logs a delivery after our callback answered it: wait for its queue to be idle first.
    assert requests.post(tg.base + "/_control/drain", json={"timeout": 60}).json()["idle"]
    log = requests.get(tg.base + "/_control/deliveries", params={"subscription_id": sub["subscription_id"]}).json()
    assert [d["status"] for d in log] == [200, 200, 200, 200]  # ping + 3 events


def test_filters_and_unvalidated_or_disabled_subscriptions_get_nothing(tg, callback):
    callback.validating()
    make_sub(tg, callback, event_filters=[{"entity": "project", "action": "created"}])
    new_entry(tg)
    requests.post(tg.base + "/_control/projects", json={"user_id": 42, "name": "New"})
    requests.post(tg.base + "/_control/drain", json={"timeout": 60})
    bodies = [json.loads(r["body"]) for r in callback.requests[1:]]
    assert [b["metadata"]["model"] for b in bodies] == ["project"]
    assert bodies[0]["metadata"]["project_id"] == str(bodies[0]["payload"]["id"])
    requests.post(tg.base + "/_control/subscriptions", json={
        "workspace_id": 100, "url_callback": callback.url, "description": "meta",
        "event_filters": [{"entity": "client", "action": "*"}, {"entity": "tag", "action": "*"}]})
    c = requests.post(tg.base + "/_control/clients", json={"user_id": 42, "name": "Acme"}).json()
    requests.post(tg.base + "/_control/clients", json={"action": "delete", "id": c["id"]})
    tg.post(tg.base + "/api/v9/workspaces/100/tags", json={"name": "urgent"})
    requests.post(tg.base + "/_control/drain", json={"timeout": 60})
    bodies = [json.loads(r["body"]) for r in callback.requests[2:]]
    assert [(b["metadata"]["model"], b["metadata"]["action"]) for b in bodies] == [
        ("client", "created"), ("client", "deleted"), ("tag", "created")]
    for b in bodies:
        assert list(b["payload"]) == sorted(b["payload"])
    assert bodies[1]["payload"]["server_deleted_at"] and bodies[0]["metadata"]["client_id"] == str(c["id"])


def test_control_entries_retries_and_redelivery(tg, callback):
    callback.validating()
    requests.post(tg.base + "/_control/config", json={"retry_delays": [0.05, 0.05, 0.05]})
    sub = make_sub(tg, callback).json()
    fails = {"n": 2}

    def flaky(body):
        if fails["n"] > 0:
            fails["n"] -= 1
            return 500, b"down"
        return 200, b""
    callback.responder = flaky
    r = requests.post(tg.base + "/_control/entries", json={"action": "create", "user_id": 42,
                                                           "description": "From the app"})
    assert r.status_code == 200 and r.json()["stop"] is None
    eid = r.json()["event_ids"][0]
    assert requests.post(tg.base + "/_control/drain", json={"timeout": 60}).json()["idle"]
    attempts = requests.get(tg.base + "/_control/deliveries", params={"event_id": eid}).json()
    assert [a["status"] for a in attempts] == [500, 500, 200]
    bodies = [json.loads(a["body"]) for a in attempts]
    assert len({b["timestamp"] for b in bodies}) == 3  # timestamp changes on each retry
    assert tg.get(tg.base + "/webhooks/api/v1/subscriptions/100").json()[0]["has_pending_events"] is False
    # duplicate delivery with the exact same bytes
    n = len(callback.requests)
    r = requests.post(tg.base + "/_control/redeliver", json={"event_id": eid, "same_body": True}).json()
    assert r["status"] == 200
    assert callback.requests[n]["body"] == callback.requests[n - 1]["body"]
    # raw delivery with a bad signature
    r = requests.post(tg.base + "/_control/deliver_raw", json={
        "subscription_id": sub["subscription_id"], "body": {"event_id": 99}, "signature": "sha256=00"}).json()
    assert r["status"] == 200 and callback.requests[-1]["headers"]["X-Webhook-Signature-256"] == "sha256=00"
    r = requests.post(tg.base + "/_control/deliver_raw",
                      json={"subscription_id": sub["subscription_id"], "body": "{\"x\":1}"}).json()
    assert verify("s3cret", callback.requests[-1]) and callback.requests[-1]["body"] == b'{"x":1}'
    # update and delete through control also deliver
    tid = requests.get(tg.base + "/_control/entries", params={"user_id": 42}).json()["entries"][0]["id"]
    requests.post(tg.base + "/_control/entries", json={"action": "update", "id": tid, "description": "Edited"})
    requests.post(tg.base + "/_control/entries", json={"action": "delete", "id": tid})
    requests.post(tg.base + "/_control/drain", json={"timeout": 60})
    actions = [json.loads(r["body"]).get("metadata", {}).get("action") for r in callback.requests[-2:]]
    assert actions == ["updated", "deleted"]


def test_pending_events_while_retrying(tg, callback):
    callback.validating()
    # Retries for as long as the callback fails (a minute), so the check below cannot miss the window on a
    # slow machine; the callback then recovers and the retry delivers.
    requests.post(tg.base + "/_control/config", json={"retry_delays": [0.2] * 300})
    make_sub(tg, callback)
    callback.responder = lambda body: (503, b"")
    requests.post(tg.base + "/_control/entries", json={"user_id": 42})
    callback.wait(2)

    def pending():
        return tg.get(tg.base + "/webhooks/api/v1/subscriptions/100").json()[0]["has_pending_events"]
    # Our callback has answered 503; the fake marks the retry pending once it has read that answer.
    deadline = time.monotonic() + 30
    while not pending():
        assert time.monotonic() < deadline, "no pending events while the callback fails"
        time.sleep(0.05)
    callback.validating()
    assert requests.post(tg.base + "/_control/drain", json={"timeout": 60}).json()["idle"]
    assert pending() is False
    assert callback.requests[-1]["body"] and json.loads(callback.requests[-1]["body"])["event_id"] > 0


def test_sync_delivery_mode(tg, callback):
    callback.validating()
    requests.post(tg.base + "/_control/config", json={"sync_deliveries": True})
    make_sub(tg, callback)
    new_entry(tg)
    assert len(callback.requests) == 2  # delivered before the API call returned


def test_foreign_subscription_is_listed_and_tracked(tg, callback):
    f = requests.post(tg.base + "/_control/subscriptions", json={
        "workspace_id": 100, "user_id": 42, "description": "Zapier", "url_callback": "http://127.0.0.1:1/z"}).json()
    callback.validating()
    make_sub(tg, callback)
    listed = tg.get(tg.base + "/webhooks/api/v1/subscriptions/100").json()
    assert {s["description"] for s in listed} == {"Zapier", "timebridge test"}
    hist = {s["subscription_id"]: s["history"] for s in requests.get(tg.base + "/_control/subscriptions").json()}
    assert hist[f["subscription_id"]] == []


def test_demo_stream_delivers_realistic_events(tg, callback):
    callback.validating()
    make_sub(tg, callback)
    requests.post(tg.base + "/_control/demo", json={"user_id": 42, "interval_ms": 20, "seed": 5})
    callback.wait(15, timeout=120)
    requests.delete(tg.base + "/_control/demo")
    requests.post(tg.base + "/_control/drain", json={"timeout": 60})
    envs = [json.loads(r["body"]) for r in callback.requests[1:]]
    assert len(envs) >= 14
    assert all(verify("s3cret", r) for r in callback.requests)
    kinds = {(e["metadata"]["model"], e["metadata"]["action"]) for e in envs}
    assert ("time_entry", "created") in kinds and ("time_entry", "updated") in kinds
    n = len(callback.requests)
    time.sleep(0.2)
    assert len(callback.requests) == n  # stopped


def test_keep_alive_serves_many_requests_on_one_connection(tg):
    """The benchmarks rely on keep-alive; checked by the socket, not by a clock (a loaded machine is slow)."""
    u = urllib.parse.urlsplit(tg.base)
    auth = "Basic " + base64.b64encode(b"tok:api_token").decode()
    conn = http.client.HTTPConnection(u.hostname, u.port, timeout=30)
    try:
        sock = None
        for i in range(300):
            body = b'{"description": "x"}' if i % 3 == 0 else None   # bodies are drained, the stream stays in step
            conn.request("GET", "/api/v9/me/time_entries/current", body=body, headers={"Authorization": auth})
            r = conn.getresponse()
            r.read()
            assert r.status == 200 and not r.will_close
            sock = sock or conn.sock
            assert conn.sock is sock, "the fake closed the connection after request %d" % i
    finally:
        conn.close()


# ---------------------------------------------------------------------------------------------------------
# Google: OAuth


def pkce():
    verifier = base64.urlsafe_b64encode(os.urandom(40)).rstrip(b"=").decode()
    challenge = base64.urlsafe_b64encode(hashlib.sha256(verifier.encode()).digest()).rstrip(b"=").decode()
    return verifier, challenge


def authorize(base, scope=SCOPE_APP, challenge=None, decision="allow", state="st4te", redirect="http://app/cb",
              extra=None, granted=None):
    params = {"client_id": fake_google.DEFAULT_CLIENT_ID, "redirect_uri": redirect, "response_type": "code",
              "scope": scope, "state": state, "access_type": "offline", "prompt": "consent",
              "include_granted_scopes": "true"}
    if challenge:
        params.update(code_challenge=challenge, code_challenge_method="S256")
    params.update(extra or {})
    page = requests.get(base + "/o/oauth2/v2/auth", params=params)
    assert page.status_code == 200 and "Allow" in page.text and "Deny" in page.text
    assert fake_google.DEFAULT_CLIENT_ID in page.text
    rid = re.search(r'name=request_id value="([^"]+)"', page.text).group(1)
    checked = re.findall(r'name=granted value="([^"]+)" checked', page.text) if granted is None else granted
    r = requests.post(base + "/o/oauth2/v2/auth", data={"request_id": rid, "decision": decision,
                                                        "email": "user@example.com", "granted": checked},
                      allow_redirects=False)
    assert r.status_code == 302
    loc = r.headers["Location"]
    assert loc.startswith(redirect + "?")
    return {k: v[0] for k, v in urllib.parse.parse_qs(urllib.parse.urlsplit(loc).query).items()}


def exchange(base, code, verifier=None, redirect="http://app/cb", secret=fake_google.DEFAULT_CLIENT_SECRET):
    data = {"grant_type": "authorization_code", "code": code, "client_id": fake_google.DEFAULT_CLIENT_ID,
            "client_secret": secret, "redirect_uri": redirect}
    if verifier:
        data["code_verifier"] = verifier
    return requests.post(base + "/token", data=data)


def login(base, scope=SCOPE_APP):
    v, c = pkce()
    q = authorize(base, scope=scope, challenge=c)
    tok = exchange(base, q["code"], v).json()
    s = requests.Session()
    s.headers["Authorization"] = "Bearer " + tok["access_token"]
    s.base = base
    s.tok = tok
    return s


def test_oauth_pkce_happy_path_and_replayed_code(gg):
    v, c = pkce()
    q = authorize(gg, challenge=c)
    assert q["state"] == "st4te" and q["scope"] == SCOPE_APP and q["code"]
    r = exchange(gg, q["code"], v)
    assert r.status_code == 200, r.text
    tok = r.json()
    assert tok["token_type"] == "Bearer" and tok["expires_in"] == 3599 and tok["scope"] == SCOPE_APP
    assert tok["access_token"] and tok["refresh_token"]
    r = exchange(gg, q["code"], v)  # replayed code
    assert r.status_code == 400
    assert r.json() == {"error": "invalid_grant", "error_description": "Bad Request"}


def test_oauth_errors(gg):
    v, c = pkce()
    q = authorize(gg, challenge=c)
    assert exchange(gg, q["code"], "x" * 43).json()["error"] == "invalid_grant"  # wrong verifier burns nothing
    r = exchange(gg, q["code"], v, secret="wrong")
    assert r.status_code == 401 and r.json()["error"] == "invalid_client"
    r = exchange(gg, q["code"], v, redirect="http://evil/cb")
    assert r.status_code == 400
    assert exchange(gg, q["code"], v).status_code == 200
    q = authorize(gg, challenge=c)
    assert exchange(gg, q["code"]).json()["error_description"] == "Missing code verifier."
    # deny
    q = authorize(gg, decision="deny", state="abc")
    assert q == {"error": "access_denied", "state": "abc"}
    # bad requests at the authorization endpoint
    r = requests.get(gg + "/o/oauth2/v2/auth", params={"client_id": fake_google.DEFAULT_CLIENT_ID})
    assert r.status_code == 400
    r = requests.get(gg + "/o/oauth2/v2/auth", params={
        "client_id": fake_google.DEFAULT_CLIENT_ID, "redirect_uri": "http://app/cb", "response_type": "code",
        "scope": SCOPE_APP, "code_challenge": c, "code_challenge_method": "S512"})
    assert r.status_code == 400
    r = requests.get(gg + "/o/oauth2/v2/auth", params={"client_id": "unknown", "redirect_uri": "http://a/cb",
                                                       "response_type": "code", "scope": SCOPE_APP})
    assert r.status_code == 401
    r = requests.post(gg + "/token", data={"grant_type": "password"})
    assert r.json()["error"] == "unsupported_grant_type"


def test_consent_can_grant_fewer_scopes(gg):
    requests.post(gg + "/_control/consent", json={"drop_scopes": [SCOPE_RO]})
    v, c = pkce()
    q = authorize(gg, scope=SCOPE_APP + " " + SCOPE_RO, challenge=c)
    assert q["scope"] == SCOPE_APP
    assert exchange(gg, q["code"], v).json()["scope"] == SCOPE_APP
    requests.post(gg + "/_control/consent", json={"drop_scopes": [], "auto": "allow"})
    r = requests.get(gg + "/o/oauth2/v2/auth", allow_redirects=False, params={
        "client_id": fake_google.DEFAULT_CLIENT_ID, "redirect_uri": "http://app/cb", "response_type": "code",
        "scope": SCOPE_APP, "state": "s"})
    assert r.status_code == 302 and "code=" in r.headers["Location"]


def test_refresh_invalid_grant_revoke_and_expiry(gg):
    s = login(gg)
    rt = s.tok["refresh_token"]
    form = {"grant_type": "refresh_token", "refresh_token": rt, "client_id": fake_google.DEFAULT_CLIENT_ID,
            "client_secret": fake_google.DEFAULT_CLIENT_SECRET}
    r = requests.post(gg + "/token", data=form)
    assert r.status_code == 200 and r.json()["access_token"] and "refresh_token" not in r.json()
    # expired access tokens -> 401 authError
    assert s.get(gg + "/calendar/v3/users/me/calendarList").status_code == 200
    requests.post(gg + "/_control/expire_tokens", json={"all": True})
    r = s.get(gg + "/calendar/v3/users/me/calendarList")
    assert r.status_code == 401
    err = r.json()["error"]
    assert err["code"] == 401 and err["errors"][0]["reason"] == "authError"
    assert err["errors"][0]["location"] == "Authorization"
    assert requests.get(gg + "/calendar/v3/users/me/calendarList").status_code == 401
    # invalid_grant on refresh
    requests.post(gg + "/_control/invalid_grant", json={"refresh_token": rt})
    r = requests.post(gg + "/token", data=form)
    assert r.status_code == 400
    assert r.json() == {"error": "invalid_grant", "error_description": "Token has been expired or revoked."}
    # revoke
    s2 = login(gg)
    assert requests.post(gg + "/revoke", data={"token": s2.tok["refresh_token"]}).status_code == 200
    assert requests.post(gg + "/revoke", data={"token": s2.tok["refresh_token"]}).json()["error"] == "invalid_token"
    assert s2.get(gg + "/calendar/v3/users/me/calendarList").status_code == 401


def test_access_token_ttl_is_configurable(gg):
    requests.post(gg + "/_control/config", json={"access_token_ttl": 1})
    s = login(gg)
    assert s.tok["expires_in"] == 1
    time.sleep(1.1)
    assert s.get(gg + "/calendar/v3/users/me/calendarList").status_code == 401


# ---------------------------------------------------------------------------------------------------------
# Google: Calendar


def ev(**kw):
    body = {"summary": "Work", "start": {"dateTime": "2024-03-01T09:00:00Z"},
            "end": {"dateTime": "2024-03-01T10:00:00Z"}, "colorId": "8",
            "extendedProperties": {"private": {"toggl_entry_id": "3000000001", "v": "1"}}}
    body.update(kw)
    return body


@pytest.fixture
def cal(gg):
    s = login(gg)
    r = s.post(gg + "/calendar/v3/calendars", json={"summary": "Toggl", "timeZone": "Europe/Zurich"})
    assert r.status_code == 200
    c = r.json()
    assert c["id"].endswith("@group.calendar.google.com") and c["kind"] == "calendar#calendar"
    s.cal = c["id"]
    s.events = gg + "/calendar/v3/calendars/" + urllib.parse.quote(c["id"]) + "/events"
    return s


def test_event_insert_shape(cal):
    r = cal.post(cal.events, json=ev(id="tb0123456789"))
    assert r.status_code == 200, r.text
    e = r.json()
    for k in ("kind", "etag", "id", "status", "htmlLink", "created", "updated", "iCalUID", "sequence", "creator",
              "organizer", "start", "end"):
        assert k in e, k
    assert e["status"] == "confirmed" and e["id"] == "tb0123456789"
    assert e["start"]["dateTime"] == "2024-03-01T10:00:00+01:00"  # rendered in the calendar's zone
    assert cal.get(cal.events + "/tb0123456789").json()["summary"] == "Work"


def test_event_409_404_410_and_revive(cal, gg):
    assert cal.post(cal.events, json=ev(id="tb00001")).status_code == 200
    r = cal.post(cal.events, json=ev(id="tb00001"))
    assert r.status_code == 409 and r.json()["error"]["errors"][0]["reason"] == "duplicate"
    assert cal.delete(cal.events + "/tb00001").status_code == 204
    r = cal.delete(cal.events + "/tb00001")
    assert r.status_code == 410 and r.json()["error"]["errors"][0]["reason"] == "deleted"
    r = cal.post(cal.events, json=ev(id="tb00001"))
    assert r.status_code == 409  # ids of deleted events stay reserved
    r = cal.delete(cal.events + "/tb99999")
    assert r.status_code == 404 and r.json()["error"]["errors"][0]["reason"] == "notFound"
    assert cal.get(cal.events + "/tb00001").json()["status"] == "cancelled"
    assert cal.get(cal.events).json()["items"] == []
    r = cal.patch(cal.events + "/tb00001", json={"status": "confirmed", "summary": "Back"})
    assert r.status_code == 200 and r.json()["status"] == "confirmed"
    assert [i["id"] for i in cal.get(cal.events).json()["items"]] == ["tb00001"]
    # calendar deleted by the user -> events calls answer 404
    requests.post(gg + "/_control/delete_calendar", json={"calendar_id": cal.cal})
    r = cal.post(cal.events, json=ev(id="tb00002"))
    assert r.status_code == 404 and r.json()["error"]["code"] == 404
    assert cal.get(cal.events).status_code == 404


def test_schema_validation(cal, gg):
    r = cal.post(cal.events, json=ev(bogusField=1))
    assert r.status_code == 400
    err = r.json()["error"]
    assert set(err) == {"errors", "code", "message"} and "Unknown name" in err["message"]
    r = cal.post(cal.events, json=ev(extendedProperties={"private": {"a": "b"}, "secret": {}}))
    assert r.status_code == 400 and "extendedProperties" in r.json()["error"]["message"]
    r = cal.post(cal.events, json=ev(colorId="12"))
    assert r.status_code == 400
    assert cal.post(cal.events, json=ev(colorId=5)).status_code == 400  # a number, not a string
    assert cal.post(cal.events, json=ev(summary=["x"])).status_code == 400
    assert cal.post(cal.events, json=ev(extendedProperties={"private": {"n": 1}})).status_code == 400
    assert cal.post(cal.events, json=ev(start={"dateTime": "2024-03-01 09:00"})).status_code == 400
    assert cal.post(cal.events, json=ev(start={"dateTime": "2024-03-01T09:00:00"})).status_code == 400
    local = ev(start={"dateTime": "2024-03-01T09:00:00", "timeZone": "Europe/Zurich"})
    assert cal.post(cal.events, json=local).status_code == 200
    r = cal.post(cal.events, json={"summary": "x", "start": {"dateTime": "2024-03-01T09:00:00Z"}})
    assert r.status_code == 400 and r.json()["error"]["message"] == "Missing end time."
    r = cal.post(cal.events, json=ev(end={"dateTime": "2024-03-01T08:00:00Z"}))
    assert r.status_code == 400
    assert r.json()["error"]["errors"][0]["reason"] == "timeRangeEmpty"
    assert r.json()["error"]["message"] == "The specified time range is empty."
    assert cal.post(cal.events, json=ev(id="UPPER")).status_code == 400
    assert cal.post(cal.events, json=ev(id="wxyz0")).status_code == 400  # w..z are not base32hex
    assert cal.post(cal.events, json=ev(id="abc")).status_code == 400  # too short
    assert cal.post(cal.events, data=b"{not json", headers={"Content-Type": "application/json"}).status_code == 400
    r = cal.post(cal.events, json=ev(id="tbgood1", colorId="11", transparency="transparent",
                                     description="Project: Site\nTags: x", reminders={"useDefault": False}))
    assert r.status_code == 200, r.text
    rejected = requests.get(gg + "/_control/rejected").json()
    assert len(rejected) >= 12 and any("bogusField" in x["body"] for x in rejected)
    assert cal.post(gg + "/calendar/v3/calendars", json={"summary": "x", "colour": "red"}).status_code == 400
    assert cal.post(gg + "/calendar/v3/calendars", json={"timeZone": "UTC"}).status_code == 400


def test_patch_merge_and_update_replace(cal):
    cal.post(cal.events, json=ev(id="tb00010", location="Office"))
    r = cal.patch(cal.events + "/tb00010", json={"summary": "New", "extendedProperties": {"private": {"v": "2"}}})
    e = r.json()
    assert e["summary"] == "New" and e["location"] == "Office"
    assert e["extendedProperties"]["private"] == {"toggl_entry_id": "3000000001", "v": "2"}
    r = cal.patch(cal.events + "/tb00010", json={"end": {"dateTime": "2024-03-01T11:00:00Z"}, "location": None})
    assert r.status_code == 200 and "location" not in r.json() and r.json()["sequence"] == 1
    r = cal.patch(cal.events + "/tb00010", json={"end": {"dateTime": "2024-03-01T08:00:00Z"}})
    assert r.status_code == 400  # merged event is checked too, and nothing changed
    assert cal.get(cal.events + "/tb00010").json()["end"]["dateTime"] == "2024-03-01T12:00:00+01:00"
    r = cal.put(cal.events + "/tb00010", json={"summary": "Only"})
    assert r.status_code == 400  # update needs start and end
    r = cal.put(cal.events + "/tb00010", json=ev(summary="Replaced", extendedProperties={"private": {"a": "b"}}))
    assert r.status_code == 200
    assert r.json()["extendedProperties"]["private"] == {"a": "b"} and "location" not in r.json()
    assert cal.patch(cal.events + "/tb404040", json={"summary": "x"}).status_code == 404


def test_events_list_filters_and_paging(cal):
    for i in range(7):
        cal.post(cal.events, json=ev(id="tbl%04d" % i, start={"dateTime": "2024-03-0%dT09:00:00Z" % (i + 1)},
                                     end={"dateTime": "2024-03-0%dT10:00:00Z" % (i + 1)},
                                     extendedProperties={"private": {"n": str(i), "k": "x"}}))
    cal.delete(cal.events + "/tbl0006")
    r = cal.get(cal.events, params={"timeMin": "2024-03-02T09:30:00Z", "timeMax": "2024-03-04T09:00:00Z"})
    assert [i["id"] for i in r.json()["items"]] == ["tbl0001", "tbl0002"]
    assert cal.get(cal.events, params={"timeMin": "2024-03-02T09:30:00"}).status_code == 400  # no offset
    r = cal.get(cal.events, params=[("privateExtendedProperty", "n=3"), ("privateExtendedProperty", "k=x")])
    assert [i["id"] for i in r.json()["items"]] == ["tbl0003"]
    r = cal.get(cal.events, params={"showDeleted": "true"})
    assert len(r.json()["items"]) == 7 and r.json()["items"][-1]["status"] == "cancelled"
    seen, token, pages = [], None, 0
    while True:
        params = {"maxResults": 3}
        if token:
            params["pageToken"] = token
        body = cal.get(cal.events, params=params).json()
        pages += 1
        seen += [i["id"] for i in body["items"]]
        token = body.get("nextPageToken")
        if not token:
            assert body["nextSyncToken"]
            sync = body["nextSyncToken"]
            break
    assert pages == 2 and len(seen) == 6
    assert cal.get(cal.events, params={"orderBy": "startTime"}).status_code == 400
    r = cal.get(cal.events, params={"orderBy": "startTime", "singleEvents": "true"})
    assert r.status_code == 200
    # incremental sync returns only changes, including deletions
    cal.patch(cal.events + "/tbl0000", json={"summary": "changed"})
    cal.delete(cal.events + "/tbl0001")
    r = cal.get(cal.events, params={"syncToken": sync}).json()
    assert {(i["id"], i["status"]) for i in r["items"]} == {("tbl0000", "confirmed"), ("tbl0001", "cancelled")}
    requests.post(cal.base + "/_control/invalidate_sync_tokens")
    r = cal.get(cal.events, params={"syncToken": sync})
    assert r.status_code == 410 and r.json()["error"]["errors"][0]["reason"] == "fullSyncRequired"


def test_quota_and_error_injection(cal, gg):
    for kind, code, reason in (("rateLimitExceeded", 403, "rateLimitExceeded"),
                               ("userRateLimitExceeded", 403, "userRateLimitExceeded"),
                               ("quotaExceeded", 403, "quotaExceeded"), ("tooManyRequests", 429, "rateLimitExceeded"),
                               ("backendError", 500, "backendError")):
        requests.post(gg + "/_control/fail", json={"error": kind, "count": 1})
        r = cal.get(cal.events)
        assert r.status_code == code and r.json()["error"]["errors"][0]["reason"] == reason
        assert r.json()["error"]["code"] == code
    assert cal.get(cal.events).status_code == 200
    requests.post(gg + "/_control/config", json={"quota_per_minute": 3})
    codes = [cal.get(cal.events).status_code for _ in range(4)]
    assert codes == [200, 200, 200, 403]
    r = cal.get(cal.events)
    assert r.json()["error"]["errors"][0]["reason"] == "userRateLimitExceeded"
    assert r.json()["error"]["errors"][0]["domain"] == "usageLimits"


def test_app_created_scope_cannot_touch_primary(cal, gg):
    r = cal.get(gg + "/calendar/v3/calendars/primary/events")
    assert r.status_code == 403 and r.json()["error"]["errors"][0]["reason"] == "insufficientPermissions"
    items = cal.get(gg + "/calendar/v3/users/me/calendarList").json()["items"]
    assert [i["id"] for i in items] == [cal.cal]
    both = login(gg, scope=SCOPE_APP + " " + SCOPE_RO)
    requests.post(gg + "/_control/events", json={"calendar_id": "primary", "event": ev(summary="Meeting")})
    r = both.get(gg + "/calendar/v3/calendars/primary/events")
    assert r.status_code == 200 and r.json()["items"][0]["summary"] == "Meeting"
    assert both.post(gg + "/calendar/v3/calendars/primary/events", json=ev()).status_code == 403


def test_events_log_and_hand_edits(cal, gg):
    cal.post(cal.events, json=ev(id="tblog1"))
    cal.patch(cal.events + "/tblog1", json={"summary": "x"})
    log = requests.get(gg + "/_control/events_log").json()
    assert [(x["method"], x["event_id"], x["status"]) for x in log] == [("insert", "tblog1", 200),
                                                                       ("patch", "tblog1", 200)]
    assert log[0]["private"]["toggl_entry_id"] == "3000000001" and log[0]["t_mono"] <= log[1]["t_mono"]
    assert requests.get(gg + "/_control/events_log", params={"since": log[0]["seq"]}).json()[0]["method"] == "patch"
    requests.post(gg + "/_control/delete_event", json={"calendar_id": cal.cal, "event_id": "tblog1"})
    assert cal.get(cal.events + "/tblog1").json()["status"] == "cancelled"
    listed = requests.get(gg + "/_control/events", params={"calendar_id": cal.cal}).json()
    assert listed[0]["status"] == "cancelled"
    requests.post(gg + "/_control/delete_event", json={"calendar_id": cal.cal, "event_id": "tblog1", "purge": True})
    assert cal.get(cal.events + "/tblog1").status_code == 404
    assert cal.post(cal.events, json=ev(id="tblog1")).status_code == 200
    assert requests.get(gg + "/_control/view").status_code == 200


def test_calendar_get_patch_delete(cal, gg):
    url = gg + "/calendar/v3/calendars/" + urllib.parse.quote(cal.cal)
    assert cal.get(url).json()["summary"] == "Toggl"
    assert cal.patch(url, json={"summary": "Toggl 2"}).json()["summary"] == "Toggl 2"
    assert cal.delete(url).status_code == 204
    assert cal.get(url).status_code == 404
    assert cal.get(gg + "/calendar/v3/users/me/calendarList").json()["items"] == []


# ---------------------------------------------------------------------------------------------------------
# Command line: --port 0 --port-file


@pytest.mark.parametrize("script,probe", [("fake_toggl.py", "/webhooks/api/v1/status"),
                                          ("fake_google.py", "/_control/state")])
def test_command_line_port_file(tmp_path, script, probe):
    pf = tmp_path / "port"
    p = subprocess.Popen([sys.executable, os.path.join(HERE, script), "--port", "0", "--port-file", str(pf)],
                         stderr=subprocess.PIPE)
    logged = b""
    try:
        deadline = time.monotonic() + 60   # a loaded machine starts Python slowly
        while not (pf.exists() and pf.read_text().strip()):
            assert time.monotonic() < deadline and p.poll() is None, "no port file"
            time.sleep(0.05)
        port = int(pf.read_text())
        r = requests.get("http://127.0.0.1:%d%s" % (port, probe))
        assert r.status_code == 200
        # The log line is written just after the response: wait for it rather than for a fixed time.
        deadline = time.monotonic() + 60
        while probe.encode() not in logged and time.monotonic() < deadline:
            if select.select([p.stderr], [], [], 0.5)[0]:
                chunk = os.read(p.stderr.fileno(), 65536)
                if not chunk:
                    break
                logged += chunk
    finally:
        p.terminate()
        _, err = p.communicate(timeout=60)
    assert probe.encode() in logged + err  # one log line per request on stderr
    assert p.returncode == 0  # SIGTERM is a clean stop
