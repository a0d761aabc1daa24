"""tests/e2e/test_webhook.py: POST /webhook/toggl/{token} end to end, through the real nginx with the shipped
config (and, for the size check, straight at the FastCGI socket), against the real PostgreSQL.

Subscriptions are made with `timebridge webhook dev-create` (a live, validated subscription row whose signing
secret is sealed like `webhook setup` does, without calling Toggl), so a test can choose the secret: the
documented signature vectors are sent to a subscription whose secret is the vectors' secret. Deliveries are
signed here, or by the fake Toggl itself (its own delivery code, its own signature) through a subscription
created in the fake that points at our URL.

Every refusal also checks that nothing was stored or changed, and that the same event, correctly sent
afterwards, is applied: a refused delivery loses nothing."""
import hashlib
import hmac
import itertools
import json
import os
import socket
import struct
import time
from datetime import datetime, timezone
from pathlib import Path

import pytest
import requests

ROOT = Path(__file__).resolve().parents[2]
VECTORS = ROOT.parent / "shared" / "fixtures" / "toggl-webhook-signature-vectors.json"
LIMIT_BODY_MAX = 1024 * 1024        # src/util/limits.h
NGINX_WEBHOOK_MAX = 8 * 1024 * 1024  # nginx/timebridge.conf, location /webhook/toggl/

EMAIL = "webhook-e2e@example.com"
ME = 41_000_001             # our user's Toggl id
OTHER = 41_000_002          # another member of the workspaces
WS = 47_000_001             # default: only our own entries
WS_ALL = 47_000_002         # mirror_everyone
WS_VEC = 47_000_003         # the signature vectors' subscription
WS_REVOKE = 47_000_004      # revoked during a test
WS_FAKE = 47_000_005        # deliveries made by the fake Toggl
WS_GONE = 47_000_006        # a subscription deleted outright
WS_META = 47_000_007        # another user's, for the metadata requests
META_EMAIL = "webhook-meta-e2e@example.com"
META_ME = 41_000_003        # that user's Toggl id
LIMIT_TOGGL_METADATA_DELAY_S = 10   # src/util/limits.h

_ids = itertools.count(int(time.time()) * 1000)


def next_id():
    return next(_ids)


def sign(secret, body):
    return "sha256=" + hmac.new(secret.encode(), body, hashlib.sha256).hexdigest()


def iso(epoch):
    return datetime.fromtimestamp(epoch, timezone.utc).strftime("%Y-%m-%dT%H:%M:%SZ")


def iso_off(epoch):
    return datetime.fromtimestamp(epoch, timezone.utc).strftime("%Y-%m-%dT%H:%M:%S+00:00")


def now_ns():
    t = time.time_ns()
    return time.strftime("%Y-%m-%dT%H:%M:%S", time.gmtime(t // 10**9)) + ".%09dZ" % (t % 10**9)


def entry(eid, start, stop=None, at=None, user=ME, ws=WS, description="work", tags=(), tag_ids=(), project=None,
          deleted=None):
    """A time entry as webhooks carry it (keys alphabetical, running duration = -start)."""
    return {"at": iso_off(at or stop or start), "billable": False, "description": description,
            "duration": -start if stop is None else stop - start, "duronly": True, "id": eid,
            "project_id": project, "server_deleted_at": iso_off(deleted) if deleted else None,
            "start": iso(start), "stop": iso(stop) if stop else None, "tag_ids": list(tag_ids) or None,
            "tags": list(tags), "task_id": None, "uid": user, "user_id": user, "wid": ws, "workspace_id": ws}


def envelope(model, action, payload, *, event_id=None, owner=ME, ws=WS, timestamp=None, obj_id=None):
    """A delivery body in Toggl's observed key order, compact, metadata ids as strings."""
    oid = obj_id if obj_id is not None else (payload or {}).get("id")
    meta = {"action": action, "event_user_id": str(owner), "model": model, "model_owner_id": str(owner),
            "path": "/api/v9/workspaces/%d/%ss/%s" % (ws, model, oid), "request_body": "{}",
            "request_type": "PUT", "workspace_id": str(ws)}
    if oid is not None:
        meta["%s_id" % model] = str(oid)
    body = {"event_id": event_id or next_id(), "created_at": now_ns(), "creator_id": owner,
            "metadata": dict(sorted(meta.items())), "payload": payload, "subscription_id": 1,
            "timestamp": timestamp or now_ns(), "url_callback": "https://example.invalid/webhook"}
    return json.dumps(body, separators=(",", ":")).encode()


class Sub:
    def __init__(self, stack, info):
        self.stack, self.id, self.token, self.secret = stack, info["id"], info["token"], info["secret"]
        self.url = stack.nginx.url + "/webhook/toggl/" + self.token
        self.public_url = info["url"]

    def post(self, body, signature="sign", headers=None, url=None):
        h = {"Content-Type": "application/json", "User-Agent": "Toggl-Webhooks/1.0 (e2e)"}
        if signature == "sign":
            h["X-Webhook-Signature-256"] = sign(self.secret, body)
        elif signature is not None:
            h["X-Webhook-Signature-256"] = signature
        h.update(headers or {})
        return requests.post(url or self.url, data=body, headers=h, timeout=30)


def dev_create(stack, ws, secret=None, email=EMAIL):
    args = ["webhook", "dev-create", email, str(ws)]
    if secret is not None:
        args.append("--secret-stdin")
    out = stack.app.cli(*args, input=(secret + "\n") if secret is not None else None).stdout
    return Sub(stack, json.loads(out))


@pytest.fixture(scope="module")
def env(stack, db):
    """Our user, connected to Toggl as ME, with workspaces WS (own entries) and WS_ALL (mirror everyone)."""
    stack.app.cli("user", "add", EMAIL, input="webhook-e2e-password-0123")
    uid = int(db.sql("SELECT id FROM users WHERE email = %s", EMAIL)[0][0])
    db.sql("INSERT INTO toggl_accounts (user_id, toggl_user_id, email) VALUES (%s, %s, %s)", uid, ME, EMAIL)
    for ws, everyone in ((WS, False), (WS_ALL, True), (WS_VEC, False), (WS_REVOKE, False), (WS_FAKE, False),
                         (WS_GONE, False)):
        db.sql("INSERT INTO toggl_workspaces (id, name, user_id, mirror_everyone) VALUES (%s, %s, %s, %s)",
               ws, "ws %d" % ws, uid, everyone)
    return {"user_id": uid, "sub": dev_create(stack, WS), "sub_all": dev_create(stack, WS_ALL)}


@pytest.fixture
def sub(env):
    return env["sub"]


def events(db, sub_id):
    return int(db.sql("SELECT count(*) FROM webhook_events WHERE subscription = %s", sub_id)[0][0])


def row(db, eid):
    r = db.sql("SELECT description, start, stop, duration, at, server_deleted_at, version, toggl_user_id, "
               "user_id, tags, tag_ids, project_id, updated_at FROM time_entries WHERE id = %s", eid)
    if not r:
        return None
    keys = ("description", "start", "stop", "duration", "at", "server_deleted_at", "version", "toggl_user_id",
            "user_id", "tags", "tag_ids", "project_id", "updated_at")
    return dict(zip(keys, r[0]))


def recorded(db, sub_id, event_id):
    r = db.sql("SELECT result, model, action FROM webhook_events WHERE subscription = %s AND event_id = %s",
               sub_id, event_id)
    return r[0] if r else None


def metric(stack, result):
    text = requests.get(stack.nginx.url + "/metrics", timeout=10).text
    for line in text.splitlines():
        if line.startswith("timebridge_webhook") and 'result="%s"' % result in line:
            return float(line.rsplit(" ", 1)[1])
    return 0.0


# ---- signature vectors ---------------------------------------------------------------------------------

def test_documented_signature_vectors_are_accepted(stack, env, db):
    vectors = json.loads(VECTORS.read_text())["vectors"]
    vsub = dev_create(stack, WS_VEC, secret=vectors[0]["secret"])
    for v in vectors:
        body = v["body"].encode()
        r = vsub.post(body, signature=v["signature"])
        assert r.status_code == 200, (v["name"], r.text)
        # A ping without validation_code: a plain 200, kept as the subscription's last ping.
        stored = db.sql("SELECT body::text, result FROM webhook_events WHERE subscription = %s AND event_id = 0",
                        vsub.id)
        assert json.loads(stored[0][0]) == json.loads(body) and stored[0][1] == "ping"
        # The same vector with one byte changed, or the other vector's signature, is refused.
        assert vsub.post(body.replace(b'"creator_id":6', b'"creator_id":7'),
                         signature=v["signature"]).status_code == 401
    assert vsub.post(vectors[0]["body"].encode(), signature=vectors[1]["signature"]).status_code == 401


# ---- 404 -----------------------------------------------------------------------------------------------

@pytest.mark.parametrize("token", ["x" * 43, "A" * 43, "not-a-token", "a" * 300, "bad%21token"])
def test_unknown_token_is_404_and_stores_nothing(stack, env, db, token):
    before = int(db.sql("SELECT count(*) FROM webhook_events")[0][0])
    body = envelope("time_entry", "created", entry(next_id(), int(time.time()) - 60))
    r = requests.post(stack.nginx.url + "/webhook/toggl/" + token, data=body, timeout=10,
                      headers={"X-Webhook-Signature-256": sign("whatever", body)})
    assert r.status_code == 404
    assert int(db.sql("SELECT count(*) FROM webhook_events")[0][0]) == before


def test_revoked_subscription_is_404_at_once_despite_the_cache(stack, env, db):
    rsub = dev_create(stack, WS_REVOKE)
    eid = next_id()
    t = int(time.time()) - 600
    assert rsub.post(envelope("time_entry", "created", entry(eid, t, ws=WS_REVOKE), ws=WS_REVOKE)).status_code == 200
    db.sql("UPDATE webhook_subscriptions SET revoked_at = now() WHERE id = %s", rsub.id)
    n = events(db, rsub.id)
    # Within the cache's lifetime: a valid event, a bad signature, bad JSON and an oversize body all get 404.
    late = envelope("time_entry", "updated", entry(eid, t, t + 60, ws=WS_REVOKE, description="late"), ws=WS_REVOKE)
    assert rsub.post(late).status_code == 404
    assert rsub.post(late, signature="sha256=" + "0" * 64).status_code == 404
    assert rsub.post(b"[1, 2]").status_code == 404
    assert rsub.post(b"{" * 10).status_code == 404
    assert rsub.post(b"x" * (LIMIT_BODY_MAX + 1)).status_code == 404
    ping = json.dumps({"event_id": 0, "payload": "ping", "validation_code": "abc"}).encode()
    assert rsub.post(ping).status_code == 404
    assert events(db, rsub.id) == n
    assert row(db, eid)["description"] == "work"


def test_deleting_a_subscription_deletes_its_events(stack, env, db):
    """webhook_events has no foreign key (sql/003_webhook.sql): a trigger keeps the cascade."""
    gone = dev_create(stack, WS_GONE)
    t = int(time.time()) - 50
    assert gone.post(envelope("time_entry", "created", entry(next_id(), t, t + 5, ws=WS_GONE), ws=WS_GONE)
                     ).status_code == 200
    assert events(db, gone.id) == 1
    kept = events(db, env["sub"].id)
    db.sql("DELETE FROM webhook_subscriptions WHERE id = %s", gone.id)
    assert events(db, gone.id) == 0 and events(db, env["sub"].id) == kept


# ---- 413 -----------------------------------------------------------------------------------------------

def test_oversize_body_is_413_for_a_known_token_only_through_nginx(sub, stack, db):
    n = events(db, sub.id)
    big = b"x" * (LIMIT_BODY_MAX + 1)
    r = sub.post(big)
    assert r.status_code == 413, r.text
    assert sub.post(big, signature=None).status_code == 413, "413 comes before the signature check"
    r = requests.post(stack.nginx.url + "/webhook/toggl/" + "u" * 43, data=big, timeout=30)
    assert r.status_code == 404, "an unknown token is a 404 whatever the body's size"
    # Exactly LIMIT_BODY_MAX is not too large: it is judged as JSON (400), and nothing is stored.
    exact = b"{" + b" " * (LIMIT_BODY_MAX - 2) + b"}"
    assert sub.post(exact).status_code == 400
    # Beyond what nginx forwards at all it answers 413 itself, for any token (documented limit).
    r = requests.post(stack.nginx.url + "/webhook/toggl/" + "u" * 43, data=b"x" * (NGINX_WEBHOOK_MAX + 1),
                      timeout=60)
    assert r.status_code == 413
    assert events(db, sub.id) == n


def fcgi_post(sock_path, path, body, headers=None):
    """POST body to a FastCGI responder directly (no web server). Returns (status, headers, body)."""
    def record(rtype, content, rid=1):
        return struct.pack("!BBHHBx", 1, rtype, rid, len(content), 0) + content

    def nv(name, value):
        out = b""
        for x in (name, value):
            out += bytes([len(x)]) if len(x) < 128 else struct.pack("!I", len(x) | 0x80000000)
        return out + name + value

    params = {"REQUEST_METHOD": "POST", "DOCUMENT_URI": path, "REQUEST_URI": path, "SCRIPT_NAME": "",
              "QUERY_STRING": "", "CONTENT_TYPE": "application/json", "CONTENT_LENGTH": str(len(body)),
              "REMOTE_ADDR": "127.0.0.1", "SERVER_PROTOCOL": "HTTP/1.1"}
    for k, v in (headers or {}).items():
        params["HTTP_" + k.upper().replace("-", "_")] = v
    payload = b"".join(nv(k.encode(), v.encode()) for k, v in params.items())
    out = record(1, struct.pack("!HB5x", 1, 0))
    for i in range(0, len(payload), 65535):
        out += record(4, payload[i:i + 65535])
    out += record(4, b"")
    for i in range(0, len(body), 65535):
        out += record(5, body[i:i + 65535])
    out += record(5, b"")
    stdout = b""
    with socket.socket(socket.AF_UNIX, socket.SOCK_STREAM) as s:
        s.settimeout(30)
        s.connect(str(sock_path))
        s.sendall(out)
        buf = b""
        while True:
            chunk = s.recv(65536)
            if not chunk:
                break
            buf += chunk
            done = False
            while len(buf) >= 8:
                _v, rtype, _rid, clen, plen = struct.unpack("!BBHHBx", buf[:8])
                if len(buf) < 8 + clen + plen:
                    break
                if rtype == 6:
                    stdout += buf[8:8 + clen]
                elif rtype == 3:
                    done = True
                buf = buf[8 + clen + plen:]
            if done:
                break
    head, _, rest = stdout.partition(b"\r\n\r\n")
    hdrs = dict(line.split(": ", 1) for line in head.decode().split("\r\n") if ": " in line)
    return int(hdrs.get("Status", "200").split()[0]), hdrs, rest


def test_oversize_body_is_413_for_a_known_token_only_direct(sub, stack, db):
    sock = stack.app.sockets[0]
    n = events(db, sub.id)
    big = b"x" * (LIMIT_BODY_MAX + 1)
    status, _, _ = fcgi_post(sock, "/webhook/toggl/" + sub.token, big,
                             {"X-Webhook-Signature-256": sign(sub.secret, big)})
    assert status == 413
    status, _, _ = fcgi_post(sock, "/webhook/toggl/" + "u" * 43, big)
    assert status == 404
    # The connection and the thread are fine afterwards: a normal delivery straight after is applied.
    eid = next_id()
    body = envelope("time_entry", "created", entry(eid, int(time.time()) - 100))
    status, _, out = fcgi_post(sock, "/webhook/toggl/" + sub.token, body,
                               {"X-Webhook-Signature-256": sign(sub.secret, body)})
    assert status == 200 and json.loads(out) == {"result": "applied"}
    assert events(db, sub.id) == n + 1


# ---- 401 -----------------------------------------------------------------------------------------------

def bad_signatures(secret, body):
    good = sign(secret, body)
    return {
        "missing": None,
        "empty": "",
        "wrong": "sha256=" + "0" * 64,
        "uppercase-hex": "sha256=" + good[7:].upper(),
        "uppercase-prefix": "SHA256=" + good[7:],
        "truncated": good[:-2],
        "extended": good + "00",
        "no-prefix": good[7:],
        "other-secret": sign(secret + "x", body),
        "other-body": sign(secret, body + b" "),
        "sha1-name": "sha1=" + good[7:],
        "list": good + ", " + good,
    }


@pytest.mark.parametrize("kind", list(bad_signatures("s", b"b")))
def test_bad_signature_is_401_and_loses_nothing(sub, db, stack, kind):
    eid, t = next_id(), int(time.time()) - 300
    body = envelope("time_entry", "created", entry(eid, t, t + 60))
    n = events(db, sub.id)
    r = sub.post(body, signature=bad_signatures(sub.secret, body)[kind])
    assert r.status_code == 401, r.text
    assert events(db, sub.id) == n and row(db, eid) is None
    # Toggl delivers again, correctly signed: applied.
    assert sub.post(body).json() == {"result": "applied"}
    assert row(db, eid)["duration"] == 60


# ---- 400 -----------------------------------------------------------------------------------------------

@pytest.mark.parametrize("body", [
    pytest.param(b"", id="empty"),
    pytest.param(b"not json", id="not-json"),
    pytest.param(b'{"event_id": 1, "payload": ', id="truncated"),
    pytest.param(b"[1, 2, 3]", id="array"),
    pytest.param(b'"ping"', id="string"),
    pytest.param(b"null", id="null"),
    pytest.param(b'{"event_id": 1, "event_id": 2, "payload": "ping"}', id="duplicate-key"),
    pytest.param(b"[" * 100 + b"]" * 100, id="too-deep"),
    pytest.param(b'{"payload": {"id": 1}, "metadata": {"model": "time_entry"}}', id="no-event-id"),
    pytest.param(b'{"event_id": -5, "payload": {}}', id="negative-event-id"),
    pytest.param(b'{"event_id": "abc", "payload": {}}', id="event-id-not-a-number"),
    pytest.param(b'{"event_id": 0, "payload": "ping", "validation_code": 5}', id="validation-code-not-string"),
    pytest.param(b'{"event_id": 0, "payload": "ping", "validation_code": "a\\nb"}', id="validation-code-control"),
    pytest.param(b'{"event_id": 1, "payload": "\\u0000"}', id="nul-escape"),
    pytest.param(b'{"event_id": 1, "payload": "\xff\xfe"}', id="not-utf8"),
])
def test_not_a_json_object_is_400_and_stores_nothing(sub, db, body):
    n = events(db, sub.id)
    r = sub.post(body)
    assert r.status_code == 400, r.text
    assert events(db, sub.id) == n


# ---- ping ----------------------------------------------------------------------------------------------

def test_ping_with_validation_code_echoes_it_and_marks_validated(sub, db):
    db.sql("UPDATE webhook_subscriptions SET validated_at = NULL WHERE id = %s", sub.id)
    code = "8f3c1b2a-validation_CODE.x"
    body = json.dumps({"event_id": 0, "created_at": now_ns(), "creator_id": ME,
                       "metadata": {"request_type": "POST", "event_user_id": ME}, "payload": "ping",
                       "subscription_id": 9, "timestamp": now_ns(), "url_callback": sub.public_url,
                       "validation_code": code,
                       "validation_code_url": "https://track.toggl.com/webhooks/api/v1/validate/1/9/" + code},
                      separators=(",", ":")).encode()
    r = sub.post(body)
    assert r.status_code == 200
    assert r.headers["Content-Type"].startswith("application/json")
    assert r.text == '{"validation_code": "%s"}' % code
    assert db.sql("SELECT validated_at IS NOT NULL FROM webhook_subscriptions WHERE id = %s", sub.id)[0][0] \
        in (True, "t")


def test_ping_without_validation_code_is_a_plain_200(sub, db):
    before = db.sql("SELECT validated_at FROM webhook_subscriptions WHERE id = %s", sub.id)[0][0]
    body = json.dumps({"event_id": 0, "payload": "ping", "metadata": {"request_type": "POST"}}).encode()
    r = sub.post(body)
    assert r.status_code == 200 and "validation_code" not in r.text
    assert db.sql("SELECT validated_at FROM webhook_subscriptions WHERE id = %s", sub.id)[0][0] == before


# ---- events --------------------------------------------------------------------------------------------

def test_created_entry_is_stored_with_every_field(sub, db, env):
    eid, t = next_id(), int(time.time()) - 7200
    p = entry(eid, t, t + 1800, description="Writing tests", tags=["e2e", "ü"], tag_ids=[11, 12], project=77)
    r = sub.post(envelope("time_entry", "created", p))
    assert r.status_code == 200 and r.json() == {"result": "applied"}
    got = row(db, eid)
    assert got["description"] == "Writing tests" and got["duration"] == 1800
    assert got["tags"] == ["e2e", "ü"] and got["tag_ids"] == [11, 12] and got["project_id"] == 77
    assert got["toggl_user_id"] == ME and got["user_id"] == env["user_id"] and got["version"] == 1
    assert got["server_deleted_at"] is None


def test_duplicate_delivery_changes_nothing(sub, db):
    eid, t = next_id(), int(time.time()) - 3600
    body = envelope("time_entry", "created", entry(eid, t, t + 600))
    assert sub.post(body).json() == {"result": "applied"}
    first = row(db, eid)
    n = events(db, sub.id)
    # The same event again: the very same bytes, and a retry with a fresh timestamp.
    r = sub.post(body)
    assert r.status_code == 200 and r.json() == {"result": "duplicate"}
    again = json.loads(body)
    again["timestamp"] = now_ns()
    again["payload"]["description"] = "changed in a retry?"
    assert sub.post(json.dumps(again).encode()).json() == {"result": "duplicate"}
    assert row(db, eid) == first and events(db, sub.id) == n


def test_out_of_order_older_update_changes_nothing(sub, db):
    eid, t = next_id(), int(time.time()) - 5000
    assert sub.post(envelope("time_entry", "created", entry(eid, t, t + 60, at=t + 100))).status_code == 200
    assert sub.post(envelope("time_entry", "updated",
                             entry(eid, t, t + 300, at=t + 400, description="newest"))).json()["result"] == "applied"
    newest = row(db, eid)
    ev = next_id()
    r = sub.post(envelope("time_entry", "updated", entry(eid, t, t + 200, at=t + 200, description="older"),
                          event_id=ev))
    assert r.status_code == 200 and r.json() == {"result": "stale"}
    assert row(db, eid) == newest and newest["version"] == 2
    assert recorded(db, sub.id, ev)[0] == "stale"


def test_delete_then_stale_update_stays_deleted(sub, db):
    eid, t = next_id(), int(time.time()) - 9000
    assert sub.post(envelope("time_entry", "created", entry(eid, t, t + 60, at=t + 60))).status_code == 200
    deleted = entry(eid, t, t + 60, at=t + 500, deleted=t + 500)
    assert sub.post(envelope("time_entry", "deleted", deleted)).json() == {"result": "applied"}
    gone = row(db, eid)
    assert gone["server_deleted_at"] is not None and gone["version"] == 2
    # An update made before the delete, delivered after it; and even one claiming a later `at`.
    assert sub.post(envelope("time_entry", "updated",
                             entry(eid, t, t + 90, at=t + 300, description="resurrect?"))).json()["result"] == "stale"
    assert sub.post(envelope("time_entry", "updated",
                             entry(eid, t, t + 90, at=t + 900, description="resurrect!"))).json()["result"] == "stale"
    assert row(db, eid) == gone


def test_delete_before_create_leaves_a_tombstone_that_wins(sub, db):
    eid, t = next_id(), int(time.time()) - 9500
    r = sub.post(envelope("time_entry", "deleted", entry(eid, t, t + 60, at=t + 120, deleted=t + 120)))
    assert r.json() == {"result": "applied"}
    stone = row(db, eid)
    assert stone["server_deleted_at"] is not None
    assert sub.post(envelope("time_entry", "created", entry(eid, t, t + 60, at=t + 60))).json()["result"] == "stale"
    assert row(db, eid) == stone


def test_delete_with_metadata_only(sub, db):
    eid, t = next_id(), int(time.time()) - 9700
    assert sub.post(envelope("time_entry", "created", entry(eid, t, t + 60))).status_code == 200
    r = sub.post(envelope("time_entry", "deleted", None, obj_id=eid))
    assert r.json() == {"result": "applied"}
    assert row(db, eid)["server_deleted_at"] is not None
    # A repeat of the delete (another event id) changes nothing.
    before = row(db, eid)
    assert sub.post(envelope("time_entry", "deleted", None, obj_id=eid)).json() == {"result": "unchanged"}
    assert row(db, eid) == before


def test_running_then_stopped(sub, db):
    eid, t = next_id(), int(time.time()) - 1200
    running = entry(eid, t, None, at=t)
    assert running["duration"] == -t and running["stop"] is None
    assert sub.post(envelope("time_entry", "created", running)).json() == {"result": "applied"}
    got = row(db, eid)
    assert got["stop"] is None and got["duration"] == -t, "a running entry: no stop, negative duration as sent"
    assert db.sql("SELECT count(*) FROM time_entries WHERE id = %s AND stop IS NULL AND server_deleted_at IS NULL",
                  eid)[0][0] in (1, "1")
    assert sub.post(envelope("time_entry", "updated", entry(eid, t, t + 1100, at=t + 1100))).json() == \
        {"result": "applied"}
    got = row(db, eid)
    assert got["stop"] is not None and got["duration"] == 1100 and got["version"] == 2


def test_api_style_running_entry_minus_one(sub, db):
    eid, t = next_id(), int(time.time()) - 1300
    p = entry(eid, t, None)
    p["duration"] = -1
    assert sub.post(envelope("time_entry", "created", p)).json() == {"result": "applied"}
    got = row(db, eid)
    assert got["stop"] is None and got["duration"] == -1


def test_every_real_change_bumps_version_and_updated_at(sub, db):
    eid, t = next_id(), int(time.time()) - 2000
    sub.post(envelope("time_entry", "created", entry(eid, t, t + 60, at=t + 60)))
    v1 = row(db, eid)
    time.sleep(0.05)
    sub.post(envelope("time_entry", "updated", entry(eid, t, t + 60, at=t + 70, description="edited")))
    v2 = row(db, eid)
    assert v2["version"] == v1["version"] + 1 and v2["updated_at"] > v1["updated_at"]
    # The same content and the same `at` under a new event id: no change, no bump.
    r = sub.post(envelope("time_entry", "updated", entry(eid, t, t + 60, at=t + 70, description="edited")))
    assert r.json() == {"result": "unchanged"} and row(db, eid) == v2


def test_stale_timestamp_is_recorded_not_refused(sub, db):
    eid, t = next_id(), int(time.time()) - 86400 * 3
    ev = next_id()
    body = envelope("time_entry", "created", entry(eid, t, t + 60), event_id=ev,
                    timestamp="2020-01-01T00:00:00.000000000Z")
    assert sub.post(body).json() == {"result": "applied"}
    stored = db.sql("SELECT body->>'timestamp' FROM webhook_events WHERE subscription = %s AND event_id = %s",
                    sub.id, ev)
    assert stored[0][0] == "2020-01-01T00:00:00.000000000Z"


def test_other_users_entry_ignored_unless_mirror_everyone(env, db):
    own, everyone = env["sub"], env["sub_all"]
    eid, t = next_id(), int(time.time()) - 4000
    ev = next_id()
    r = own.post(envelope("time_entry", "created", entry(eid, t, t + 60, user=OTHER), owner=OTHER, event_id=ev))
    assert r.status_code == 200 and r.json() == {"result": "foreign"}
    assert row(db, eid) is None and recorded(db, own.id, ev)[0] == "foreign"
    eid2 = next_id()
    r = everyone.post(envelope("time_entry", "created", entry(eid2, t, t + 60, user=OTHER, ws=WS_ALL),
                               owner=OTHER, ws=WS_ALL))
    assert r.json() == {"result": "applied"}
    got = row(db, eid2)
    assert got["toggl_user_id"] == OTHER and got["user_id"] == env["user_id"]
    # Our own entries still come through the mirror-everyone workspace.
    eid3 = next_id()
    assert everyone.post(envelope("time_entry", "created", entry(eid3, t, t + 60, ws=WS_ALL), ws=WS_ALL)).json() \
        == {"result": "applied"}


def test_entry_of_another_workspace_is_ignored(sub, db):
    eid, t = next_id(), int(time.time()) - 4100
    r = sub.post(envelope("time_entry", "created", entry(eid, t, t + 60, ws=WS_ALL)))
    assert r.json() == {"result": "foreign"} and row(db, eid) is None


@pytest.mark.parametrize("model,action", [("workspace_user", "created"), ("task", "updated"),
                                          ("time_entry", "archived"), ("project_group", "deleted"),
                                          (None, None)])
def test_unknown_model_or_action_is_recorded_and_ignored(sub, db, model, action):
    ev = next_id()
    body = json.loads(envelope(model or "x", action or "y", {"id": 5, "name": "n"}, event_id=ev))
    if model is None:
        del body["metadata"]
    r = sub.post(json.dumps(body).encode())
    assert r.status_code == 200 and r.json() == {"result": "ignored"}
    assert recorded(db, sub.id, ev) == ("ignored", model, action)
    stored = db.sql("SELECT body FROM webhook_events WHERE subscription = %s AND event_id = %s", sub.id, ev)
    assert stored[0][0] == body, "the raw event is kept for replay"


def test_invalid_entry_payload_is_recorded_not_applied(sub, db):
    eid, ev = next_id(), next_id()
    p = entry(eid, int(time.time()) - 100, int(time.time()) - 50)
    p["start"] = "yesterday"
    r = sub.post(envelope("time_entry", "created", p, event_id=ev))
    assert r.status_code == 200 and r.json() == {"result": "invalid"}
    assert row(db, eid) is None and recorded(db, sub.id, ev)[0] == "invalid"


def test_project_client_tag_events_update_metadata(sub, db):
    cid, pid, tid = next_id(), next_id(), next_id()
    at = int(time.time()) - 50
    client = {"archived": False, "at": iso_off(at), "creator_id": ME, "id": cid, "name": "ACME",
              "server_deleted_at": None, "wid": WS}
    assert sub.post(envelope("client", "created", client)).json() == {"result": "applied"}
    project = {"active": True, "at": iso_off(at), "billable": True, "cid": cid, "client_id": cid, "color": "#2da608",
               "currency": "EUR", "id": pid, "is_private": False, "name": "Website", "rate": 95.5,
               "server_deleted_at": None, "wid": WS, "workspace_id": WS}
    assert sub.post(envelope("project", "created", project)).json() == {"result": "applied"}
    tag = {"at": iso_off(at), "creator_id": ME, "deleted_at": None, "id": tid, "name": "urgent", "workspace_id": WS}
    assert sub.post(envelope("tag", "created", tag)).json() == {"result": "applied"}
    assert db.sql("SELECT name, client_id, color, billable, rate::text, currency, deleted FROM toggl_projects "
                  "WHERE id = %s", pid)[0] == ("Website", cid, "#2da608", True, "95.50", "EUR", False)
    assert db.sql("SELECT name, archived FROM toggl_clients WHERE id = %s", cid)[0] == ("ACME", False)
    assert db.sql("SELECT name FROM toggl_tags WHERE id = %s", tid)[0][0] == "urgent"

    # Updates; an older one after them changes nothing.
    project.update(name="Website 2", at=iso_off(at + 10), active=False)
    assert sub.post(envelope("project", "updated", project)).json() == {"result": "applied"}
    old = dict(project, name="Website 0", at=iso_off(at + 5))
    assert sub.post(envelope("project", "updated", old)).json() == {"result": "stale"}
    assert db.sql("SELECT name, active FROM toggl_projects WHERE id = %s", pid)[0] == ("Website 2", False)
    client.update(name="ACME Corp", archived=True, at=iso_off(at + 10))
    assert sub.post(envelope("client", "updated", client)).json() == {"result": "applied"}
    assert db.sql("SELECT name, archived FROM toggl_clients WHERE id = %s", cid)[0] == ("ACME Corp", True)
    tag.update(name="very urgent", at=iso_off(at + 10))
    assert sub.post(envelope("tag", "updated", tag)).json() == {"result": "applied"}
    assert db.sql("SELECT name FROM toggl_tags WHERE id = %s", tid)[0][0] == "very urgent"

    # Deletes win and stick.
    tag.update(deleted_at=iso_off(at + 20), at=iso_off(at + 20))
    assert sub.post(envelope("tag", "deleted", tag)).json() == {"result": "applied"}
    assert sub.post(envelope("tag", "updated", dict(tag, name="back", deleted_at=None, at=iso_off(at + 30)))
                    ).json() == {"result": "stale"}
    assert db.sql("SELECT name, deleted FROM toggl_tags WHERE id = %s", tid)[0] == ("very urgent", True)
    assert sub.post(envelope("project", "deleted", None, obj_id=pid)).json() == {"result": "applied"}
    assert db.sql("SELECT name, deleted FROM toggl_projects WHERE id = %s", pid)[0] == ("Website 2", True)
    assert sub.post(envelope("client", "deleted", dict(client, server_deleted_at=iso_off(at + 40)))).json() == \
        {"result": "applied"}
    assert db.sql("SELECT deleted FROM toggl_clients WHERE id = %s", cid)[0][0] is True
    # Metadata of another workspace is not ours to keep.
    other = {"at": iso_off(at), "id": next_id(), "name": "theirs", "workspace_id": WS_ALL}
    assert sub.post(envelope("tag", "created", other)).json() == {"result": "foreign"}


# ---- unknown projects and tags: one batched metadata refresh -------------------------------------------

@pytest.fixture(scope="module")
def meta_env(stack, db):
    """A user of its own (so only these tests queue its jobs) with a workspace, a known project and tag."""
    stack.app.cli("user", "add", META_EMAIL, input="webhook-meta-password-0123")
    uid = int(db.sql("SELECT id FROM users WHERE email = %s", META_EMAIL)[0][0])
    db.sql("INSERT INTO toggl_accounts (user_id, toggl_user_id, email) VALUES (%s, %s, %s)", uid, META_ME, META_EMAIL)
    db.sql("INSERT INTO toggl_workspaces (id, name, user_id) VALUES (%s, 'meta ws', %s)", WS_META, uid)
    project, tag = next_id(), next_id()
    db.sql("INSERT INTO toggl_projects (id, workspace_id, name) VALUES (%s, %s, 'Known')", project, WS_META)
    db.sql("INSERT INTO toggl_tags (id, workspace_id, name) VALUES (%s, %s, 'known')", tag, WS_META)
    yield {"user_id": uid, "sub": dev_create(stack, WS_META, email=META_EMAIL), "project": project, "tag": tag}
    db.sql("DELETE FROM jobs WHERE kind = 'toggl.metadata' AND user_id = %s", uid)


@pytest.fixture
def meta(meta_env, db):
    """meta_env with no toggl.metadata job of its user: each test starts from an empty queue."""
    db.sql("DELETE FROM jobs WHERE kind = 'toggl.metadata' AND user_id = %s", meta_env["user_id"])
    return meta_env


def metadata_jobs(db, uid):
    """The user's toggl.metadata jobs: (id, state, dedupe_key, seconds from queueing to run_after)."""
    return [tuple(r) for r in db.sql(
        "SELECT id, state, dedupe_key, extract(epoch FROM run_after - created_at)::int FROM jobs "
        "WHERE kind = 'toggl.metadata' AND user_id = %s ORDER BY id", uid)]


def meta_post(meta, payload, action="created"):
    return meta["sub"].post(envelope("time_entry", action, payload, owner=META_ME, ws=WS_META))


def test_entries_naming_known_metadata_queue_no_refresh(meta, db):
    t = int(time.time()) - 3000
    for p in (entry(next_id(), t, t + 60, user=META_ME, ws=WS_META, project=meta["project"]),
              entry(next_id(), t, t + 60, user=META_ME, ws=WS_META, tags=["known"], tag_ids=[meta["tag"]]),
              entry(next_id(), t, t + 60, user=META_ME, ws=WS_META, project=meta["project"], tag_ids=[meta["tag"]]),
              entry(next_id(), t, t + 60, user=META_ME, ws=WS_META)):
        assert meta_post(meta, p).json() == {"result": "applied"}
    # Unknown ids in an event that stores nothing (stale, another member's, a delete) ask for nothing either.
    eid = next_id()
    assert meta_post(meta, entry(eid, t, t + 60, at=t + 100, user=META_ME, ws=WS_META)).json()["result"] == "applied"
    stale = entry(eid, t, t + 60, at=t + 50, user=META_ME, ws=WS_META, project=next_id(), tag_ids=[next_id()])
    assert meta_post(meta, stale, "updated").json() == {"result": "stale"}
    other = entry(next_id(), t, t + 60, user=OTHER, ws=WS_META, project=next_id())
    assert meta["sub"].post(envelope("time_entry", "created", other, owner=OTHER, ws=WS_META)).json() == \
        {"result": "foreign"}
    gone = entry(next_id(), t, t + 60, at=t + 70, user=META_ME, ws=WS_META, project=next_id(), deleted=t + 70)
    assert meta_post(meta, gone, "deleted").json() == {"result": "applied"}
    assert metadata_jobs(db, meta["user_id"]) == []


def test_unknown_project_or_tag_queues_one_batched_refresh(meta, db):
    uid, t = meta["user_id"], int(time.time()) - 2500
    unknown = next_id()
    assert meta_post(meta, entry(next_id(), t, t + 60, user=META_ME, ws=WS_META, project=unknown)).json() == \
        {"result": "applied"}
    jobs = metadata_jobs(db, uid)
    # The key is toggl_metadata_request()'s (src/toggl/metadata.c): the other callers fold into this job too.
    assert [j[1:] for j in jobs] == [("queued", "toggl.metadata:%d" % uid, LIMIT_TOGGL_METADATA_DELAY_S)], jobs
    # Keep the worker off it while the burst comes in (it would run it after the delay; a running job
    # rightly lets a new one queue).
    db.sql("UPDATE jobs SET run_after = now() + interval '1 hour' WHERE id = %s", jobs[0][0])
    assert metadata_jobs(db, uid)[0][1] == "queued"
    for i in range(4):   # five events naming the unknown project in all, and unknown tags besides
        p = entry(next_id(), t + i, t + 60, user=META_ME, ws=WS_META, project=unknown, tag_ids=[next_id()])
        assert meta_post(meta, p).json() == {"result": "applied"}
    assert [j[0] for j in metadata_jobs(db, uid)] == [jobs[0][0]], "five events, one refresh"
    # Its row, as the worker will take it.
    assert db.sql("SELECT payload::text, attempts, max_attempts FROM jobs WHERE id = %s", jobs[0][0])[0] == \
        ("{}", 0, 8)
    # An unknown tag alone asks too (once the queue is empty again).
    db.sql("DELETE FROM jobs WHERE id = %s", jobs[0][0])
    p = entry(next_id(), t, t + 60, user=META_ME, ws=WS_META, project=meta["project"], tag_ids=[meta["tag"], next_id()])
    assert meta_post(meta, p).json() == {"result": "applied"}
    assert len(metadata_jobs(db, uid)) == 1
    db.sql("UPDATE jobs SET run_after = now() + interval '1 hour' WHERE kind = 'toggl.metadata' AND user_id = %s "
           "AND state = 'queued'", uid)


def test_last_event_at_is_kept(sub, db):
    db.sql("UPDATE webhook_subscriptions SET last_event_at = NULL WHERE id = %s", sub.id)
    t = int(time.time())
    sub.post(envelope("time_entry", "created", entry(next_id(), t - 30, t - 20)))
    assert db.sql("SELECT last_event_at IS NOT NULL FROM webhook_subscriptions WHERE id = %s", sub.id)[0][0] \
        in (True, "t")


def test_metrics_count_webhook_results(sub, stack):
    before = metric(stack, "bad_signature")
    sub.post(b"{}", signature="sha256=" + "1" * 64)
    assert metric(stack, "bad_signature") == before + 1


def test_retention_setting_purges_old_events(sub, stack, db):
    """The maintenance.purge statement: events older than webhook_event_retention_days go."""
    ev = next_id()
    sub.post(envelope("time_entry", "created", entry(next_id(), int(time.time()) - 10, int(time.time()) - 5),
                      event_id=ev))
    db.sql("UPDATE webhook_events SET received_at = now() - interval '3 days' WHERE subscription = %s AND "
           "event_id = %s", sub.id, ev)
    ev2 = next_id()
    sub.post(envelope("time_entry", "created", entry(next_id(), int(time.time()) - 10, int(time.time()) - 5),
                      event_id=ev2))
    old = db.sql("SELECT value FROM settings WHERE key = 'webhook_event_retention_days'")
    assert old == [("30",)], "003_webhook.sql lists the default"
    db.sql("UPDATE settings SET value = '2' WHERE key = 'webhook_event_retention_days'")
    try:
        stack.app.cli("jobs", "enqueue", "maintenance.purge")
        deadline = time.monotonic() + 120   # generous: a loaded machine; a job that ran returns at once
        while time.monotonic() < deadline and recorded(db, sub.id, ev) is not None:
            time.sleep(0.2)
        assert recorded(db, sub.id, ev) is None, "maintenance.purge did not apply the retention"
        assert recorded(db, sub.id, ev2) is not None, "a recent event must stay"
    finally:
        db.sql("UPDATE settings SET value = '30' WHERE key = 'webhook_event_retention_days'")


# ---- 503 -----------------------------------------------------------------------------------------------

def test_database_down_is_503_and_the_retry_is_applied(sub, stack, db):
    eid, t = next_id(), int(time.time()) - 700
    body = envelope("time_entry", "created", entry(eid, t, t + 60))
    assert sub.post(envelope("time_entry", "created", entry(next_id(), t, t + 5))).status_code == 200  # warm cache
    stack.pg.stop()
    try:
        r = sub.post(body)
        assert r.status_code == 503, r.text
    finally:
        stack.pg.start()
    deadline = time.monotonic() + 120
    while True:
        r = sub.post(body)
        if r.status_code != 503 or time.monotonic() > deadline:
            break
        time.sleep(0.3)
    assert r.status_code == 200 and r.json() == {"result": "applied"}
    assert row(db, eid)["duration"] == 60


# ---- group commit --------------------------------------------------------------------------------------
# Concurrent entry upserts share one statement and one commit (src/db/db_group.c). To make a batch for
# certain, a test holds the row lock of an entry in its own transaction: the delivery that updates it leads
# a batch that waits on that lock, the deliveries sent meanwhile queue behind it (each on its own FastCGI
# thread: the app has more than 4), and when the test commits they all go as the next batch. Each must be
# judged and answered as if it had come alone.

def batch_counters(stack):
    text = requests.get(stack.nginx.url + "/metrics", timeout=10).text
    out = {}
    for line in text.splitlines():
        for name in ("batches", "batched_events", "batch_splits"):
            if line.startswith("timebridge_webhook_%s_total " % name):
                out[name] = int(float(line.split()[1]))
    return out


def post_while_locked(sub, db, locked_eid, locked_body, bodies):
    """Deliver locked_body (an update of locked_eid, whose row lock a transaction here holds) and then
    bodies, concurrently; release the lock once they are all queued. Returns the answers of bodies."""
    import psycopg2
    from concurrent.futures import ThreadPoolExecutor
    conn = psycopg2.connect(db.conninfo)
    try:
        with conn.cursor() as cur:
            cur.execute("SELECT 1 FROM time_entries WHERE id = %s FOR UPDATE", (locked_eid,))
        with ThreadPoolExecutor(len(bodies) + 1) as pool:
            first = pool.submit(sub.post, locked_body)
            time.sleep(0.5)    # the leader is now waiting on the lock
            rest = [pool.submit(sub.post, b) for b in bodies]
            time.sleep(1.0)    # and the others are queued behind it
            conn.commit()
            assert first.result().status_code == 200
            return [f.result() for f in rest]
    finally:
        conn.close()


def test_concurrent_deliveries_share_a_commit_and_each_is_judged_alone(sub, stack, db):
    t = int(time.time()) - 20_000
    lock_eid, new_eid, upd_eid, foreign_eid = next_id(), next_id(), next_id(), next_id()
    for eid in (lock_eid, upd_eid):
        assert sub.post(envelope("time_entry", "created", entry(eid, t, t + 60, at=t + 60))).status_code == 200
    before = batch_counters(stack)
    dup_event = next_id()
    answers = post_while_locked(sub, db, lock_eid,
                                envelope("time_entry", "updated", entry(lock_eid, t, t + 90, at=t + 90)),
                                [envelope("time_entry", "created", entry(new_eid, t, t + 30, at=t + 30),
                                          event_id=dup_event),
                                 envelope("time_entry", "updated",
                                          entry(upd_eid, t, t + 120, at=t + 120, description="edited")),
                                 envelope("time_entry", "created",
                                          entry(foreign_eid, t, t + 30, user=OTHER), owner=OTHER)])
    assert [a.status_code for a in answers] == [200, 200, 200], [a.text for a in answers]
    assert [a.json()["result"] for a in answers] == ["applied", "applied", "foreign"]
    after = batch_counters(stack)
    # The three queued deliveries went as one batch (plus the lock holder's own batch).
    assert after["batches"] - before["batches"] == 2, (before, after)
    assert after["batched_events"] - before["batched_events"] == 4, (before, after)
    assert row(db, new_eid)["duration"] == 30 and row(db, upd_eid)["description"] == "edited"
    assert row(db, upd_eid)["version"] == 2 and row(db, lock_eid)["duration"] == 90
    assert row(db, foreign_eid) is None and recorded(db, sub.id, dup_event)[0] == "applied"
    # The same event again, alone: a duplicate; nothing changes.
    assert sub.post(envelope("time_entry", "created", entry(new_eid, t, t + 30, at=t + 30),
                             event_id=dup_event)).json() == {"result": "duplicate"}


def test_one_entry_twice_in_flight_never_shares_a_batch(sub, stack, db):
    """Two events of one entry (and a duplicate delivery of one of them) arriving together: they go in
    separate batches, the newest `at` wins whatever the order, and the repeat is a duplicate."""
    t = int(time.time()) - 21_000
    lock_eid, eid = next_id(), next_id()
    assert sub.post(envelope("time_entry", "created", entry(lock_eid, t, t + 60, at=t + 60))).status_code == 200
    e1, e2 = next_id(), next_id()
    older = envelope("time_entry", "created", entry(eid, t, t + 60, at=t + 60, description="first"), event_id=e1)
    newer = envelope("time_entry", "updated", entry(eid, t, t + 600, at=t + 600, description="newest"),
                     event_id=e2)
    answers = post_while_locked(sub, db, lock_eid,
                                envelope("time_entry", "updated", entry(lock_eid, t, t + 90, at=t + 90)),
                                [older, newer, older])
    assert all(a.status_code == 200 for a in answers), [a.text for a in answers]
    got = sorted(a.json()["result"] for a in answers)
    # The two deliveries of `older`: one taken, one duplicate. `older` is stale when `newer` went first.
    assert got in (["applied", "applied", "duplicate"], ["applied", "duplicate", "stale"]), got
    r = row(db, eid)
    assert r["description"] == "newest" and r["duration"] == 600
    assert events(db, sub.id) >= 2 and recorded(db, sub.id, e2)[0] == "applied"


def test_a_value_the_database_refuses_is_400_alone_and_in_a_batch(sub, stack, db):
    """Year 0000 passes RFC 3339 but not PostgreSQL (there is no year zero): the event is answered 400 and
    nothing of it is stored; the events that shared its batch are run again one by one and applied."""
    t = int(time.time()) - 22_000
    bad_eid, ev = next_id(), next_id()
    bad = entry(bad_eid, t, t + 60)
    bad["start"] = "0000-01-01T00:00:00Z"
    bad_body = envelope("time_entry", "created", bad, event_id=ev)
    r = sub.post(bad_body)
    assert r.status_code == 400 and r.json()["error"]["code"] == "BAD_EVENT", r.text
    assert recorded(db, sub.id, ev) is None and row(db, bad_eid) is None

    lock_eid, good1, good2 = next_id(), next_id(), next_id()
    assert sub.post(envelope("time_entry", "created", entry(lock_eid, t, t + 60, at=t + 60))).status_code == 200
    before = batch_counters(stack)
    answers = post_while_locked(sub, db, lock_eid,
                                envelope("time_entry", "updated", entry(lock_eid, t, t + 90, at=t + 90)),
                                [envelope("time_entry", "created", entry(good1, t, t + 10)), bad_body,
                                 envelope("time_entry", "created", entry(good2, t, t + 20))])
    assert [a.status_code for a in answers] == [200, 400, 200], [a.text for a in answers]
    after = batch_counters(stack)
    assert after["batch_splits"] - before["batch_splits"] == 1, (before, after)
    assert row(db, good1)["duration"] == 10 and row(db, good2)["duration"] == 20
    assert recorded(db, sub.id, ev) is None and row(db, bad_eid) is None


def test_a_failure_stores_nothing_of_the_event_and_the_retry_applies_it_all(sub, stack, db):
    """The raw event, the entry and the jobs it queues commit together or not at all. Here the job insert
    fails (a constraint added for the test refuses the metadata refresh an unknown project asks for): the
    delivery is answered 503, so Toggl retries, and neither the event nor the entry is stored; the retry,
    once the job can be queued, applies all three."""
    t = int(time.time()) - 23_000
    eid, ev = next_id(), next_id()
    project = 990_000_000 + eid % 1000   # no such project: the entry asks for a metadata refresh
    body = envelope("time_entry", "created", entry(eid, t, t + 60, project=project), event_id=ev)
    uid = int(db.sql("SELECT user_id FROM webhook_subscriptions WHERE id = %s", sub.id)[0][0])
    db.sql("DELETE FROM jobs WHERE kind = 'toggl.metadata' AND user_id = %s", uid)
    db.sql("ALTER TABLE jobs ADD CONSTRAINT e2e_no_metadata CHECK (kind <> 'toggl.metadata') NOT VALID")
    try:
        r = sub.post(body)
        assert r.status_code == 503, r.text
    finally:
        db.sql("ALTER TABLE jobs DROP CONSTRAINT e2e_no_metadata")
    assert recorded(db, sub.id, ev) is None and row(db, eid) is None
    assert db.sql("SELECT count(*) FROM jobs WHERE kind = 'toggl.metadata' AND user_id = %s", uid)[0][0] == 0
    r = sub.post(body)
    assert r.status_code == 200 and r.json() == {"result": "applied"}
    assert recorded(db, sub.id, ev)[0] == "applied" and row(db, eid)["project_id"] == project
    assert db.sql("SELECT count(*) FROM jobs WHERE kind = 'toggl.metadata' AND user_id = %s", uid)[0][0] == 1


# ---- deliveries made by the fake Toggl -----------------------------------------------------------------

@pytest.fixture(scope="module")
def fake_sub(stack, fakes, env, db):
    if "toggl" not in fakes:
        pytest.skip("the fake Toggl is not there")
    base = fakes["toggl"]
    for uid in (ME, OTHER):
        r = requests.post(base + "/_control/users", json={"id": uid, "email": "u%d@example.com" % uid,
                          "workspaces": [{"id": WS_FAKE, "name": "fake ws"}]}, timeout=10)
        assert r.status_code == 200, r.text
    ours = dev_create(stack, WS_FAKE)
    r = requests.post(base + "/_control/subscriptions", json={
        "workspace_id": WS_FAKE, "user_id": ME, "description": "timebridge e2e", "url_callback": ours.public_url,
        "secret": ours.secret, "validated": False,
        "event_filters": [{"entity": "*", "action": "*"}]}, timeout=10)
    assert r.status_code == 200, r.text
    return {"base": base, "sub": ours, "toggl_sub": r.json()}


def control(fake, path, body):
    r = requests.post(fake["base"] + path, json=body, timeout=120)
    assert r.status_code == 200, r.text
    return r.json()


def drain(fake):
    assert control(fake, "/_control/drain", {"timeout": 90})["idle"]


def ping_through_fake(fake):
    """POST /ping as the user: the fake sends a signed PING (with the validation code while unvalidated) to
    our URL. Returns the fake's view of the subscription afterwards."""
    base, s = fake["base"], fake["toggl_sub"]
    users = requests.get(base + "/_control/users", timeout=10).json()
    token = next(u["api_token"] for u in users if u["id"] == ME)
    r = requests.post(base + "/webhooks/api/v1/ping/%d/%d" % (WS_FAKE, s["subscription_id"]),
                      auth=(token, "api_token"), timeout=30)
    assert r.status_code == 200, r.text
    subs = requests.get(base + "/_control/subscriptions", timeout=10).json()
    return next(x for x in subs if x["subscription_id"] == s["subscription_id"])


def test_fake_toggl_ping_validates_the_subscription(fake_sub, db):
    assert ping_through_fake(fake_sub)["validated_at"], "our answer to the ping did not validate it"
    assert db.sql("SELECT result FROM webhook_events WHERE subscription = %s AND event_id = 0",
                  fake_sub["sub"].id)[0][0] == "ping"
    # Validated now: the next ping carries no code and gets a plain 200.
    assert ping_through_fake(fake_sub)["validated_at"]


def test_fake_toggl_deliveries_end_to_end(fake_sub, db):
    fake = fake_sub
    ours = fake["sub"]
    if not ping_through_fake(fake)["validated_at"]:
        pytest.fail("the fake's subscription did not validate: no deliveries would come")
    e = control(fake, "/_control/entries", {"action": "create", "user_id": ME, "workspace_id": WS_FAKE,
                                             "description": "from the fake", "duration": -1})
    eid = e["id"]
    drain(fake)
    got = row(db, eid)
    assert got is not None and got["stop"] is None and got["duration"] < 0 and got["description"] == "from the fake"
    control(fake, "/_control/entries", {"action": "update", "id": eid, "description": "renamed"})
    control(fake, "/_control/entries", {"action": "stop", "id": eid})
    drain(fake)
    got = row(db, eid)
    assert got["description"] == "renamed" and got["stop"] is not None and got["duration"] >= 0
    # The same delivery again, byte for byte: a duplicate.
    before = row(db, eid)
    r = control(fake, "/_control/redeliver", {"event_id": e["event_ids"][0], "same_body": True})
    assert r["status"] == 200 and json.loads(r["response"]) == {"result": "duplicate"}
    assert row(db, eid) == before
    # Another member's entry: not ours (the workspace does not mirror everyone).
    other = control(fake, "/_control/entries", {"action": "create", "user_id": OTHER, "workspace_id": WS_FAKE,
                                                 "duration": 60, "start": iso(int(time.time()) - 100)})
    control(fake, "/_control/entries", {"action": "delete", "id": eid})
    drain(fake)
    assert row(db, other["id"]) is None
    assert row(db, eid)["server_deleted_at"] is not None
    deliveries = requests.get(fake["base"] + "/_control/deliveries?subscription_id=%d"
                              % fake["toggl_sub"]["subscription_id"], timeout=10).json()
    assert deliveries and all(d["status"] == 200 for d in deliveries), deliveries
    assert events(db, ours.id) >= 5
