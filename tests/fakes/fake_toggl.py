#!/usr/bin/python3
"""Fake Toggl Track (API v9, Webhooks v1, Reports v3) for timebridge's tests, benchmarks and demo mode.

One HTTP server on 127.0.0.1 answers all three bases (/api/v9, /webhooks/api/v1, /reports/api/v3) the way
../shared/docs/upstream-apis.md describes them, plus a JSON control API under /_control/ to seed users,
inject failures, drive webhook deliveries and inspect what the client did. Python 3 stdlib only.

    python3 fake_toggl.py --port 0 --port-file /tmp/toggl.port
    from fake_toggl import start; server, thread, base_url = start()

See README.md in this directory for every control endpoint.
"""

import argparse
import base64
import collections
import datetime as dt
import hashlib
import heapq
import hmac
import http.client
import itertools
import json
import os
import random
import re
import secrets
import signal
import socket
import sys
import threading
import time
import traceback
import urllib.parse
import zoneinfo
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer

# ---------------------------------------------------------------------------------------------------------
# Small HTTP framework shared by the routes (kept inside this file so each fake stands alone).


class Req:
    __slots__ = ("method", "path", "query", "headers", "body", "client", "match", "user", "raw_query")

    def __init__(self, method, path, query, headers, body, client, raw_query=""):
        self.method, self.path, self.query, self.headers = method, path, query, headers
        self.body, self.client, self.match, self.user, self.raw_query = body, client, None, None, raw_query

    def q(self, name, default=None):
        v = self.query.get(name)
        return v[-1] if v else default

    def json(self):
        """Parsed JSON body; raises HTTPError 400 (plain text, as Toggl does) when it is not JSON."""
        if not self.body:
            return None
        try:
            return json.loads(self.body)
        except ValueError:
            raise HTTPError(400, "JSON is not valid")


class Resp:
    __slots__ = ("status", "body", "ctype", "headers")

    def __init__(self, status, body=b"", ctype="application/json; charset=utf-8", headers=None):
        self.status, self.body, self.ctype, self.headers = status, body, ctype, dict(headers or {})


class HTTPError(Exception):
    def __init__(self, status, text, headers=None):
        super().__init__(text)
        self.status, self.text, self.headers = status, text, headers or {}


def dumps(obj):
    # Compact like Toggl's Go encoder; signatures are computed over exactly these bytes.
    return json.dumps(obj, separators=(",", ":"), ensure_ascii=False).encode()


def json_resp(obj, status=200, headers=None):
    return Resp(status, dumps(obj), headers=headers)


def text_resp(text, status=200, headers=None):
    return Resp(status, text.encode(), "text/plain; charset=utf-8", headers)


class Handler(BaseHTTPRequestHandler):
    protocol_version = "HTTP/1.1"  # keep-alive: benchmarks reuse connections
    server_version = "fake-toggl/1"

    def version_string(self):
        return self.server_version

    def setup(self):
        super().setup()
        # Headers and body go out in one write, but disable Nagle anyway so small replies are never delayed.
        self.connection.setsockopt(socket.IPPROTO_TCP, socket.TCP_NODELAY, 1)

    def _read_body(self):
        if self.headers.get("Transfer-Encoding", "").lower() == "chunked":
            chunks = []
            while True:
                size = int(self.rfile.readline().split(b";")[0].strip() or b"0", 16)
                if size == 0:
                    while self.rfile.readline() not in (b"\r\n", b"\n", b""):
                        pass
                    return b"".join(chunks)
                chunks.append(self.rfile.read(size))
                self.rfile.readline()
        n = int(self.headers.get("Content-Length") or 0)
        return self.rfile.read(n) if n > 0 else b""

    def _handle(self):
        t0 = time.monotonic()
        body = self._read_body()  # always drain the body so the keep-alive stream stays in sync
        parts = urllib.parse.urlsplit(self.path)
        req = Req(self.command, parts.path, urllib.parse.parse_qs(parts.query, keep_blank_values=True),
                  self.headers, body, self.client_address[0], parts.query)
        try:
            resp = self.server.app.dispatch(req)
        except HTTPError as e:
            resp = text_resp(e.text, e.status, e.headers)
        except Exception:  # a bug in the fake must not hang the client: answer 500 and log it
            traceback.print_exc()
            resp = text_resp("fake internal error", 500)
        self._send(resp)
        if not self.server.app.quiet:
            sys.stderr.write("%s %s %s %s %d %.1fms\n" % (
                self.server.app.name, time.strftime("%H:%M:%S"), self.command, self.path, resp.status,
                (time.monotonic() - t0) * 1000))

    def _send(self, resp):
        self.send_response(resp.status)
        for k, v in resp.headers.items():
            self.send_header(k, str(v))
        if resp.status not in (204, 304):
            if resp.body or resp.ctype:
                self.send_header("Content-Type", resp.ctype)
            self.send_header("Content-Length", str(len(resp.body)))
        self._headers_buffer.append(b"\r\n")
        if resp.status not in (204, 304) and self.command != "HEAD":
            self._headers_buffer.append(resp.body)
        self.wfile.write(b"".join(self._headers_buffer))  # one write: headers and body together
        self._headers_buffer = []

    def log_request(self, code="-", size="-"):
        pass  # _handle logs one line per request itself

    do_GET = do_POST = do_PUT = do_PATCH = do_DELETE = do_HEAD = _handle


class Server(ThreadingHTTPServer):
    daemon_threads = True
    allow_reuse_address = True
    request_queue_size = 256


class Router:
    def __init__(self):
        self.routes = []

    def add(self, method, pattern, fn, scope="none"):
        self.routes.append((method, re.compile("^" + pattern + "$"), fn, scope))

    def find(self, method, path):
        allowed = False
        for m, rx, fn, scope in self.routes:
            mt = rx.match(path)
            if mt:
                if m == method:
                    return fn, mt, scope
                allowed = True
        return None, allowed, None


# ---------------------------------------------------------------------------------------------------------
# Time formatting. Toggl is a Go service: fractions drop trailing zeros (RFC3339Nano), which clients must
# tolerate, so the fake does the same.


def _frac(n, width):
    s = ("%0*d" % (width, n)).rstrip("0")
    return "." + s if s else ""


def fmt_off(sec):  # API v9 start/stop: 2024-12-15T20:20:50+00:00
    return time.strftime("%Y-%m-%dT%H:%M:%S+00:00", time.gmtime(sec))


def fmt_z(sec):  # webhook payload start/stop: 2023-07-17T11:43:32Z
    return time.strftime("%Y-%m-%dT%H:%M:%SZ", time.gmtime(sec))


def fmt_us(us):  # API v9 at: 2024-12-15T20:20:50.283589Z
    return time.strftime("%Y-%m-%dT%H:%M:%S", time.gmtime(us // 1_000_000)) + _frac(us % 1_000_000, 6) + "Z"


def fmt_ns(ns):  # webhook created_at/timestamp: 2022-06-25T03:58:10.207820267Z
    return time.strftime("%Y-%m-%dT%H:%M:%S", time.gmtime(ns // 10**9)) + _frac(ns % 10**9, 9) + "Z"


def fmt_local(sec, tz):  # reports v3: 2024-09-02T07:00:00+02:00 in the user's time zone
    return dt.datetime.fromtimestamp(sec, tz).isoformat(timespec="seconds")


def now_us():
    return time.time_ns() // 1000


DATE_RX = re.compile(r"^\d{4}-\d{2}-\d{2}$")


def parse_time(s, what="time"):
    """RFC3339 (offset required) or YYYY-MM-DD (UTC midnight) -> unix seconds (int); HTTPError 400 if bad."""
    if not isinstance(s, str) or not s:
        raise HTTPError(400, "Invalid %s" % what)
    try:
        if DATE_RX.match(s):
            d = dt.datetime.strptime(s, "%Y-%m-%d").replace(tzinfo=dt.timezone.utc)
        else:
            d = dt.datetime.fromisoformat(s.replace("z", "Z").replace("Z", "+00:00"))
            if d.tzinfo is None:
                raise ValueError
    except ValueError:
        raise HTTPError(400, "Invalid %s" % what)
    return int(d.timestamp())


# ---------------------------------------------------------------------------------------------------------
# Constants from upstream-apis.md

PLAN_QUOTA = {"free": 30, "starter": 240, "premium": 600, "enterprise": 600}
USER_QUOTA = 30
PLAN_LIMITS = {"free": (1, 3), "starter": (2, 6), "premium": (3, 12), "enterprise": (10, 30)}
PLAN_IDS = {"free": 0, "starter": 1, "premium": 2, "enterprise": 3}
ENTITIES = ["client", "project", "project_group", "project_user", "tag", "task", "time_entry", "workspace",
            "workspace_user"]
ACTIONS = ["created", "updated", "deleted"]
FILTER_NAME_RX = re.compile(r"^(\*|[A-Za-z0-9_]+)$")
COLORS = ["#0b83d9", "#9e5bd9", "#d94182", "#e36a00", "#bf7000", "#c7af14", "#d92b2b", "#2da608", "#06a893",
          "#c9806b", "#465bb3", "#990099", "#566614", "#525266"]
DEMO_PROJECTS = ["Website relaunch", "Customer support", "Internal tools", "Hiring", "Research"]
DEMO_TAGS = ["deep-work", "meeting", "admin", "review", "research", "support"]
DESCRIPTIONS = [
    "Code review", "Sprint planning", "Email triage", "Write release notes", "Fix login bug",
    "Customer call", "Design sync", "Update documentation", "Refactor billing module", "Interview candidate",
    "Prepare quarterly report", "Database migration", "On-call handover", "Team standup", "Pair programming",
    "Read research paper", "Invoice review", "Plan roadmap", "Onboarding session", "Performance profiling",
    "Write blog post", "Triage support tickets", "Budget review", "Security patching", "One-on-one",
]

# ---------------------------------------------------------------------------------------------------------
# State


class TogglState:
    """All fake data, guarded by one lock. Entities are dicts with numeric times; rendering formats them."""

    def __init__(self):
        self.lock = threading.RLock()
        self.reset()

    def reset(self):
        with self.lock:
            self.users = {}          # uid -> user dict
            self.tokens = {}         # api_token -> uid
            self.orgs = {}           # org id -> {id, name, plan}
            self.workspaces = {}     # wid -> {id, name, organization_id, members:set}
            self.projects = {}       # pid -> project
            self.clients = {}        # cid -> client
            self.tags = {}           # tag id -> tag
            self.entries = {}        # entry id -> entry
            self.subscriptions = {}  # sid -> subscription (deleted ones kept, with deleted_at)
            self.events = {}         # event_id -> stored event (one per subscription and change)
            self.deliveries = collections.deque(maxlen=200_000)  # every delivery attempt, oldest dropped
            self.requests = collections.deque(maxlen=20_000)
            self.failures = []       # forced answers: [{status, count, path_prefix, body}]
            self.quota_hits = {}     # (uid, org or None) -> deque of monotonic times
            self.config = {
                "sync_deliveries": False,
                "retry_delays": [0.5, 1.0, 2.0],
                "callback_timeout": 5.0,
                "running_duration_api": "minus_one",   # or "minus_start"; webhooks always use -start
                "current_none": "null",                # or "404"
                "deliver_scope": "workspace",          # or "owner": only the subscription owner's changes
                "reports_max_days": 366,
                "reports_max_page_size": 1000,
            }
            self.quota = {"enabled": False, "window_seconds": 3600.0, "limits": dict(PLAN_QUOTA, user=USER_QUOTA)}
            self.entries_version = 0
            self.sorted_cache = {}
            self.ids = {k: itertools.count(v) for k, v in (
                ("entry", 3_000_000_001), ("project", 200_000_001), ("client", 64_000_001), ("tag", 16_000_001),
                ("sub", 1001), ("event", 8_256_404_788_000_001), ("user", 9_000_001), ("ws", 7_000_001), ("org", 5_000_001))}

    def next_id(self, kind):
        return next(self.ids[kind])

    # --- users / workspaces -------------------------------------------------------------------------
    def add_user(self, b):
        with self.lock:
            uid = int(b.get("id") or self.next_id("user"))
            plan = b.get("plan", "free")
            if plan not in PLAN_QUOTA:
                raise HTTPError(400, "plan must be one of free, starter, premium, enterprise")
            explicit_org = b.get("organization_id")
            org_id = int(explicit_org or self.next_id("org"))
            wss = b.get("workspaces") or [{"id": b.get("default_workspace_id") or self.next_id("ws"),
                                            "name": "%s's workspace" % b.get("fullname", "User"),
                                            "organization_id": org_id}]
            for w in wss:
                oid = int(w.get("organization_id") or org_id)
                org = self.orgs.setdefault(oid, {"id": oid, "name": w.get("organization_name", "Org %d" % oid),
                                                 "plan": plan, "created_us": now_us()})
                if "plan" in w or oid == org_id:
                    org["plan"] = w.get("plan", plan)
                wid = int(w["id"])
                ws = self.workspaces.setdefault(wid, {"id": wid, "name": w.get("name", "Workspace %d" % wid),
                                                      "organization_id": oid, "members": set(),
                                                      "created_us": now_us()})
                ws["members"].add(uid)
            default_wid = int(b.get("default_workspace_id") or wss[0]["id"])
            if not explicit_org and org_id not in self.orgs:
                # Every workspace named its own organisation: the user's is its default workspace's.
                org_id = (self.workspaces.get(default_wid) or self.workspaces[int(wss[0]["id"])])["organization_id"]
            # A named organisation none of the workspaces is in still exists (the user listing shows its plan).
            self.orgs.setdefault(org_id, {"id": org_id, "name": "Org %d" % org_id, "plan": plan,
                                          "created_us": now_us()})
            token = b.get("api_token") or secrets.token_hex(16)
            old = self.users.get(uid)
            if old:
                self.tokens.pop(old["api_token"], None)
            u = {
                "id": uid, "api_token": token, "email": b.get("email", "user%d@example.com" % uid),
                "fullname": b.get("fullname", "User %d" % uid), "timezone": b.get("timezone", "UTC"),
                "default_workspace_id": default_wid,
                "beginning_of_week": int(b.get("beginning_of_week", 1)), "organization_id": org_id,
                "password": b.get("password"), "created_us": now_us(),
                "workspace_ids": [int(w["id"]) for w in wss],
            }
            try:
                u["tz"] = zoneinfo.ZoneInfo(u["timezone"])
            except Exception:
                raise HTTPError(400, "unknown timezone %r" % u["timezone"])
            self.users[uid] = u
            self.tokens[token] = uid
            return u

    def org_of(self, wid):
        ws = self.workspaces.get(wid)
        return ws and self.orgs.get(ws["organization_id"])

    def plan_of(self, wid):
        org = self.org_of(wid)
        return org["plan"] if org else "free"

    def member(self, uid, wid):
        ws = self.workspaces.get(wid)
        return bool(ws and uid in ws["members"])

    # --- rendering ----------------------------------------------------------------------------------
    def tag_names(self, ids):
        return [self.tags[t]["name"] for t in ids if t in self.tags]

    def render_entry(self, e, meta=False):
        running = e["stop"] is None
        if running:
            dur = -1 if self.config["running_duration_api"] == "minus_one" else -e["start"]
        else:
            dur = e["stop"] - e["start"]
        d = {
            "id": e["id"], "workspace_id": e["wid"], "project_id": e["pid"], "task_id": e["tid"],
            "billable": e["billable"], "start": fmt_off(e["start"]),
            "stop": None if running else fmt_off(e["stop"]), "duration": dur, "description": e["description"],
            "tags": self.tag_names(e["tag_ids"]), "tag_ids": list(e["tag_ids"]), "duronly": True,
            "at": fmt_us(e["at_us"]), "server_deleted_at": fmt_us(e["deleted_us"]) if e["deleted_us"] else None,
            "user_id": e["uid"], "uid": e["uid"], "wid": e["wid"],
        }
        if e["pid"]:
            d["pid"] = e["pid"]  # observed: legacy pid omitted when there is no project
        if e["tid"]:
            d["tid"] = e["tid"]
        if meta:
            p = self.projects.get(e["pid"])
            c = self.clients.get(p["client_id"]) if p and p["client_id"] else None
            u = self.users.get(e["uid"])
            d.update({"client_id": c["id"] if c else None, "client_name": c["name"] if c else None,
                      "project_name": p["name"] if p else None, "project_color": p["color"] if p else None,
                      "project_active": p["active"] if p else None, "project_billable": p["billable"] if p else None,
                      "task_name": None, "user_name": u["fullname"] if u else None, "user_avatar_url": ""})
        return d

    def webhook_entry(self, e):
        """Time entry payload as webhooks carry it: keys alphabetical, running duration = -start."""
        d = {
            "at": fmt_off(e["at_us"] // 1_000_000), "billable": e["billable"], "description": e["description"],
            "duration": -e["start"] if e["stop"] is None else e["stop"] - e["start"], "duronly": True,
            "id": e["id"], "project_id": e["pid"],
            "server_deleted_at": fmt_off(e["deleted_us"] // 1_000_000) if e["deleted_us"] else None,
            "start": fmt_z(e["start"]), "stop": None if e["stop"] is None else fmt_z(e["stop"]),
            # observed in real deliveries: tag_ids null (not []) when there are no tags, tags []
            "tag_ids": list(e["tag_ids"]) or None, "tags": self.tag_names(e["tag_ids"]), "task_id": e["tid"],
            "uid": e["uid"], "user_id": e["uid"], "wid": e["wid"], "workspace_id": e["wid"],
        }
        return d

    def render_project(self, p):
        return {
            "id": p["id"], "workspace_id": p["wid"], "client_id": p["client_id"], "name": p["name"],
            "is_private": p["is_private"], "active": p["active"], "at": fmt_us(p["at_us"]),
            "created_at": fmt_us(p["created_us"]),
            "server_deleted_at": fmt_us(p["deleted_us"]) if p["deleted_us"] else None, "color": p["color"],
            "billable": p["billable"], "template": False, "auto_estimates": None, "estimated_hours": None,
            "estimated_seconds": None, "rate": p["rate"], "rate_last_updated": None,
            "currency": p["currency"] if p["rate"] is not None else None, "recurring": False,
            "fixed_fee": None, "actual_hours": None, "actual_seconds": None,
            "start_date": time.strftime("%Y-%m-%d", time.gmtime(p["created_us"] // 1_000_000)),
            "wid": p["wid"], "cid": p["client_id"],
        }

    def render_client(self, c):
        d = {"id": c["id"], "wid": c["wid"], "archived": c["archived"], "name": c["name"],
             "at": fmt_off(c["at_us"] // 1_000_000), "creator_id": c["creator_id"]}
        if c["deleted_us"]:
            d["server_deleted_at"] = fmt_us(c["deleted_us"])
        return d

    def render_tag(self, t):
        d = {"id": t["id"], "workspace_id": t["wid"], "name": t["name"], "at": fmt_us(t["at_us"]),
             "creator_id": t["creator_id"]}
        if t["deleted_us"]:
            d["deleted_at"] = fmt_us(t["deleted_us"])
        return d

    def render_sub(self, s):
        return {
            "subscription_id": s["subscription_id"], "workspace_id": s["workspace_id"], "user_id": s["user_id"],
            "enabled": s["enabled"], "description": s["description"],
            "event_filters": [dict(f) for f in s["event_filters"]], "url_callback": s["url_callback"],
            "secret": s["secret"], "validated_at": s["validated_at"], "has_pending_events": s["pending"] > 0,
            "created_at": s["created_at"], "updated_at": s["updated_at"], "deleted_at": s["deleted_at"],
        }

    def render_user(self, u):
        return {
            "id": u["id"], "api_token": u["api_token"], "email": u["email"], "fullname": u["fullname"],
            "timezone": u["timezone"], "toggl_accounts_id": "fake%d" % u["id"],
            "default_workspace_id": u["default_workspace_id"], "beginning_of_week": u["beginning_of_week"],
            "image_url": "https://assets.track.toggl.com/images/profile.png",
            "created_at": fmt_us(u["created_us"]), "updated_at": fmt_us(u["created_us"]),
            "openid_email": None, "openid_enabled": False, "country_id": None, "has_password": True,
            "at": fmt_us(u["created_us"]), "intercom_hash": hashlib.sha256(str(u["id"]).encode()).hexdigest(),
            "oauth_providers": [], "2fa_enabled": False, "authorization_updated_at": fmt_us(u["created_us"]),
        }

    # --- entry index --------------------------------------------------------------------------------
    def touch_entries(self):
        self.entries_version += 1

    def sorted_entries(self, key, pred):
        """Entries matching pred, newest start first; cached per key until any entry changes."""
        c = self.sorted_cache.get(key)
        if c and c[0] == self.entries_version:
            return c[1]
        lst = sorted((e for e in self.entries.values() if pred(e)), key=lambda e: (-e["start"], -e["id"]))
        self.sorted_cache[key] = (self.entries_version, lst)
        return lst


# ---------------------------------------------------------------------------------------------------------
# Outbound HTTP (webhook pings and deliveries)


def post_callback(url, body, headers, timeout):
    """POST body to url. Returns (status or None, response bytes, error text or None)."""
    try:
        u = urllib.parse.urlsplit(url)
        cls = http.client.HTTPSConnection if u.scheme == "https" else http.client.HTTPConnection
        conn = cls(u.hostname, u.port, timeout=timeout)
        try:
            path = (u.path or "/") + ("?" + u.query if u.query else "")
            conn.request("POST", path, body=body, headers=headers)
            r = conn.getresponse()
            return r.status, r.read(1 << 20), None
        finally:
            conn.close()
    except Exception as e:  # connection refused, timeout, bad URL: all are "request failed"
        return None, b"", "%s: %s" % (type(e).__name__, e)


def sign(secret, body):
    """X-Webhook-Signature-256 value: sha256=<hex HMAC-SHA256 of the raw body keyed with the secret>."""
    if isinstance(secret, str):
        secret = secret.encode()
    return "sha256=" + hmac.new(secret, body, hashlib.sha256).hexdigest()


class _SubWorker:
    """Delivery queue of one subscription: a heap ordered by due time, drained by its own thread, so events
    reach one callback in order and a slow or dead callback never delays another subscription."""

    def __init__(self, app, sid):
        self.app, self.sid = app, sid
        self.cond = threading.Condition()
        self.heap = []
        self.seq = itertools.count()
        self.busy = False
        self.stopped = False
        self.thread = threading.Thread(target=self.run, name="toggl-deliver-%d" % sid, daemon=True)
        self.thread.start()

    def submit(self, event_id, attempt, delay):
        with self.cond:
            heapq.heappush(self.heap, (time.monotonic() + delay, next(self.seq), event_id, attempt))
            self.cond.notify()

    def idle(self):
        with self.cond:
            return not self.heap and not self.busy

    def stop(self):
        with self.cond:
            self.stopped = True
            self.heap = []
            self.cond.notify_all()

    def run(self):
        while True:
            with self.cond:
                while not self.stopped and (not self.heap or self.heap[0][0] > time.monotonic()):
                    self.cond.wait(None if not self.heap else max(0.0, self.heap[0][0] - time.monotonic()))
                if self.stopped:
                    return
                _, _, event_id, attempt = heapq.heappop(self.heap)
                self.busy = True
            try:
                self.app.attempt_delivery(event_id, attempt)
            except Exception:
                traceback.print_exc()
            finally:
                with self.cond:
                    self.busy = False


class Deliverer:
    """Asynchronous webhook deliveries with retries: one _SubWorker per subscription."""

    def __init__(self, app):
        self.app = app
        self.lock = threading.Lock()
        self.workers = {}

    def submit(self, sid, event_id, attempt=1, delay=0.0):
        with self.lock:
            w = self.workers.get(sid)
            if w is None:
                w = self.workers[sid] = _SubWorker(self.app, sid)
        w.submit(event_id, attempt, delay)

    def idle(self):
        with self.lock:
            ws = list(self.workers.values())
        return all(w.idle() for w in ws)

    def wait_idle(self, timeout):
        end = time.monotonic() + timeout
        while time.monotonic() < end:
            if self.idle():
                return True
            time.sleep(0.01)
        return self.idle()

    def stop(self):
        with self.lock:
            ws, self.workers = list(self.workers.values()), {}
        for w in ws:
            w.stop()

    clear = stop


# ---------------------------------------------------------------------------------------------------------
# The application


class TogglApp:
    name = "fake_toggl"

    def __init__(self, quiet=False):
        self.quiet = quiet
        self.state = TogglState()
        self.base_url = "http://127.0.0.1"
        self.deliverer = Deliverer(self)
        self.demos = {}  # uid -> (thread, stop event)
        r = self.router = Router()
        A, W, R = "/api/v9", "/webhooks/api/v1", "/reports/api/v3"
        # API v9, user-scoped
        r.add("GET", A + r"/me", self.me, "user")
        r.add("GET", A + r"/me/organizations", self.me_orgs, "user")
        r.add("GET", A + r"/me/workspaces", self.me_workspaces, "user")
        r.add("GET", A + r"/me/time_entries", self.me_entries, "user")
        r.add("GET", A + r"/me/time_entries/current", self.me_current, "user")
        r.add("GET", A + r"/me/time_entries/(?P<id>\d+)", self.me_entry, "user")
        r.add("GET", A + r"/me/quota", self.me_quota, "none")
        r.add("GET", A + r"/me/projects", self.me_projects, "user")
        r.add("GET", A + r"/me/clients", self.me_clients, "user")
        r.add("GET", A + r"/me/tags", self.me_tags, "user")
        # API v9, organisation-scoped
        r.add("GET", A + r"/workspaces/(?P<wid>\d+)/projects", self.ws_projects, "org")
        r.add("POST", A + r"/workspaces/(?P<wid>\d+)/projects", self.ws_project_create, "org")
        r.add("GET", A + r"/workspaces/(?P<wid>\d+)/clients", self.ws_clients, "org")
        r.add("POST", A + r"/workspaces/(?P<wid>\d+)/clients", self.ws_client_create, "org")
        r.add("GET", A + r"/workspaces/(?P<wid>\d+)/tags", self.ws_tags, "org")
        r.add("POST", A + r"/workspaces/(?P<wid>\d+)/tags", self.ws_tag_create, "org")
        r.add("POST", A + r"/workspaces/(?P<wid>\d+)/time_entries", self.te_create, "org")
        r.add("PUT", A + r"/workspaces/(?P<wid>\d+)/time_entries/(?P<id>\d+)", self.te_update, "org")
        r.add("PATCH", A + r"/workspaces/(?P<wid>\d+)/time_entries/(?P<id>\d+)/stop", self.te_stop, "org")
        r.add("PATCH", A + r"/workspaces/(?P<wid>\d+)/time_entries/(?P<ids>[\d,]+)", self.te_bulk_patch, "org")
        r.add("DELETE", A + r"/workspaces/(?P<wid>\d+)/time_entries/(?P<id>\d+)", self.te_delete, "org")
        # Webhooks v1
        r.add("GET", W + r"/subscriptions/(?P<wid>\d+)", self.wh_list, "org")
        r.add("POST", W + r"/subscriptions/(?P<wid>\d+)", self.wh_create, "org")
        r.add("PUT", W + r"/subscriptions/(?P<wid>\d+)/(?P<sid>\d+)", self.wh_put, "org")
        r.add("PATCH", W + r"/subscriptions/(?P<wid>\d+)/(?P<sid>\d+)", self.wh_patch, "org")
        r.add("DELETE", W + r"/subscriptions/(?P<wid>\d+)/(?P<sid>\d+)", self.wh_delete, "org")
        r.add("GET", W + r"/subscriptions/(?P<wid>\d+)/(?P<sid>\d+)/events", self.wh_events, "org")
        r.add("POST", W + r"/ping/(?P<wid>\d+)/(?P<sid>\d+)", self.wh_ping, "org")
        r.add("GET", W + r"/validate/(?P<wid>\d+)/(?P<sid>\d+)/(?P<code>[^/]+)", self.wh_validate, "public")
        r.add("GET", W + r"/event_filters", self.wh_event_filters, "none")
        r.add("GET", W + r"/limits/(?P<wid>\d+)", self.wh_limits, "org")
        r.add("GET", W + r"/status", self.wh_status, "public")
        # Reports v3
        r.add("POST", R + r"/workspace/(?P<wid>\d+)/search/time_entries", self.rp_search, "org")
        # Control
        C = "/_control"
        r.add("POST", C + r"/reset", self.c_reset, "control")
        r.add("GET", C + r"/state", self.c_state, "control")
        r.add("POST", C + r"/users", self.c_users, "control")
        r.add("GET", C + r"/users", self.c_users_list, "control")
        r.add("POST", C + r"/config", self.c_config, "control")
        r.add("GET", C + r"/config", self.c_config, "control")
        r.add("POST", C + r"/quota", self.c_quota, "control")
        r.add("GET", C + r"/quota", self.c_quota, "control")
        r.add("POST", C + r"/fail", self.c_fail, "control")
        r.add("POST", C + r"/entries", self.c_entries, "control")
        r.add("GET", C + r"/entries", self.c_entries_list, "control")
        r.add("POST", C + r"/bulk_entries", self.c_bulk, "control")
        r.add("POST", C + r"/projects", lambda q: self.c_meta(q, "project"), "control")
        r.add("POST", C + r"/clients", lambda q: self.c_meta(q, "client"), "control")
        r.add("POST", C + r"/tags", lambda q: self.c_meta(q, "tag"), "control")
        r.add("POST", C + r"/subscriptions", self.c_sub_create, "control")
        r.add("GET", C + r"/subscriptions", self.c_sub_list, "control")
        r.add("GET", C + r"/deliveries", self.c_deliveries, "control")
        r.add("GET", C + r"/events", self.c_events, "control")
        r.add("POST", C + r"/redeliver", self.c_redeliver, "control")
        r.add("POST", C + r"/deliver_raw", self.c_deliver_raw, "control")
        r.add("POST", C + r"/drain", self.c_drain, "control")
        r.add("GET", C + r"/requests", self.c_requests, "control")
        r.add("POST", C + r"/demo", self.c_demo_start, "control")
        r.add("DELETE", C + r"/demo", self.c_demo_stop, "control")
        r.add("GET", C + r"/view", self.c_view, "control")

    # --- dispatch: forced failures, auth, quota, then the handler -------------------------------------
    def dispatch(self, req):
        fn, match, scope = self.router.find(req.method, req.path)
        if fn is None:
            if match:
                return text_resp("405 method not allowed", 405)
            return text_resp("404 page not found", 404)
        req.match = match
        if scope == "control":
            try:
                return fn(req)
            except (KeyError, ValueError, TypeError, AttributeError) as e:  # a malformed control body
                return text_resp("bad control request: %s: %s" % (type(e).__name__, e), 400)
        st = self.state
        with st.lock:
            for f in st.failures:
                if f["count"] > 0 and req.path.startswith(f["path_prefix"]):
                    f["count"] -= 1
                    st.failures = [x for x in st.failures if x["count"] > 0]
                    self._log_req(req, f["status"], None)
                    return text_resp(f["body"], f["status"])
        if scope == "public":
            resp = fn(req)
            self._log_req(req, resp.status, None)
            return resp
        req.user = self.authenticate(req)
        if req.user is None:
            self._log_req(req, 403, None)
            return text_resp("Incorrect username and/or password", 403)
        quota_key = None
        if scope in ("user", "org"):
            org = None
            if scope == "org":
                wid = int(match.group("wid"))
                with st.lock:
                    if not st.member(req.user["id"], wid):
                        self._log_req(req, 403, req.user["id"])
                        msg = ("User not found/accessible for workspace" if req.path.startswith("/webhooks")
                               else "Incorrect workspace")
                        return text_resp(msg, 403)
                    org = st.workspaces[wid]["organization_id"]
                    if req.path.startswith("/reports") and st.plan_of(wid) == "free":
                        # paid feature: 402 WITHOUT quota headers, so the client can tell it from a quota 402
                        self._log_req(req, 402, req.user["id"])
                        return text_resp("Workspace needs to have the detailed reports feature enabled", 402)
            quota_key = (req.user["id"], org)
            ok, headers = self.take_quota(quota_key, org)
            if not ok:
                self._log_req(req, 402, req.user["id"])
                return text_resp("You have hit your quota limit. Please wait %s seconds before retrying."
                                 % headers["X-Toggl-Quota-Resets-In"], 402, headers)
        try:
            resp = fn(req)
        except HTTPError as e:
            resp = text_resp(e.text, e.status, e.headers)
        if quota_key is not None:
            resp.headers.update(self.quota_headers(quota_key, quota_key[1]))
        self._log_req(req, resp.status, req.user["id"])
        return resp

    def _log_req(self, req, status, uid):
        self.state.requests.append({"method": req.method, "path": req.path, "query": req.raw_query,
                                    "status": status, "user_id": uid, "t_wall": time.time(),
                                    "body": req.body.decode("utf-8", "replace")[:2000]})

    def authenticate(self, req):
        h = req.headers.get("Authorization", "")
        if not h.lower().startswith("basic "):
            return None
        try:
            user, _, pw = base64.b64decode(h[6:].strip()).decode().partition(":")
        except Exception:
            return None
        st = self.state
        with st.lock:
            if pw == "api_token" and user in st.tokens:
                return st.users[st.tokens[user]]
            for u in st.users.values():  # email:password also works upstream
                if u["password"] and u["email"] == user and hmac.compare_digest(u["password"], pw):
                    return u
        return None

    # --- quota ----------------------------------------------------------------------------------------
    def _limit(self, org):
        q = self.state.quota
        if not q["enabled"]:
            return 1_000_000  # "off": generous, but the headers still look real
        if org is None:
            return int(q["limits"].get("user", USER_QUOTA))
        plan = self.state.orgs[org]["plan"] if org in self.state.orgs else "free"
        return int(q["limits"].get(plan, PLAN_QUOTA.get(plan, 30)))

    def _window(self, key):
        st = self.state
        win = float(st.quota["window_seconds"])
        d = st.quota_hits.setdefault(key, collections.deque())
        cutoff = time.monotonic() - win
        while d and d[0] <= cutoff:
            d.popleft()
        return d, win

    def take_quota(self, key, org):
        with self.state.lock:
            d, win = self._window(key)
            if len(d) >= self._limit(org):
                return False, self.quota_headers(key, org, remaining=0)
            d.append(time.monotonic())
        return True, None

    def quota_headers(self, key, org, remaining=None):
        with self.state.lock:
            d, win = self._window(key)
            if remaining is None:
                remaining = self._limit(org) - len(d)
            resets = int(max(0.0, d[0] + win - time.monotonic()) + 0.999) if d else int(win)
            return {"X-Toggl-Quota-Remaining": str(remaining), "X-Toggl-Quota-Resets-In": str(resets)}

    # --- API v9: me ---------------------------------------------------------------------------------
    def me(self, req):
        st = self.state
        with st.lock:
            u = req.user
            d = st.render_user(u)
            related = req.q("with_related_data", "false").lower() == "true"
            wids = set(u["workspace_ids"])
            for k in ("clients", "projects", "tags", "tasks", "time_entries", "workspaces"):
                d[k] = None
            if related:
                d["clients"] = [st.render_client(c) for c in st.clients.values()
                                if c["wid"] in wids and not c["deleted_us"]]
                d["projects"] = [st.render_project(p) for p in st.projects.values()
                                 if p["wid"] in wids and not p["deleted_us"]]
                d["tags"] = [st.render_tag(t) for t in st.tags.values() if t["wid"] in wids and not t["deleted_us"]]
                d["tasks"] = []
                es = st.sorted_entries(("u", u["id"]), lambda e, uid=u["id"]: e["uid"] == uid)
                d["time_entries"] = [st.render_entry(e) for e in es if not e["deleted_us"]][:1000]
                d["workspaces"] = [self._render_ws(w, u) for w in u["workspace_ids"]]
        return json_resp(d)

    def _render_ws(self, wid, u):
        st = self.state
        ws = st.workspaces[wid]
        plan = st.plan_of(wid)
        return {
            "id": wid, "organization_id": ws["organization_id"], "name": ws["name"],
            "premium": plan in ("premium", "enterprise"), "business_ws": plan != "free", "admin": True,
            "role": "admin", "suspended_at": None, "server_deleted_at": None, "default_hourly_rate": None,
            "rate_last_updated": None, "default_currency": "USD", "only_admins_may_create_projects": False,
            "only_admins_may_create_tags": False, "only_admins_see_team_dashboard": False,
            "projects_billable_by_default": True, "projects_private_by_default": True,
            "projects_enforce_billable": False, "limit_public_project_data": False,
            "last_modified": fmt_us(ws["created_us"]), "reports_collapse": True, "rounding": 1,
            "rounding_minutes": 0, "api_token": u["api_token"], "at": fmt_us(ws["created_us"]),
            "logo_url": "https://assets.toggl.com/images/workspace.jpg", "ical_url": "/ical/workspace_user/x",
            "ical_enabled": False, "csv_upload": None, "subscription": None, "working_hours_in_minutes": None,
            "active_project_count": sum(1 for p in st.projects.values()
                                        if p["wid"] == wid and p["active"] and not p["deleted_us"]),
            "permissions": None,
        }

    def me_orgs(self, req):
        st = self.state
        with st.lock:
            out, seen = [], set()
            for wid in req.user["workspace_ids"]:
                oid = st.workspaces[wid]["organization_id"]
                if oid in seen:
                    continue
                seen.add(oid)
                o = st.orgs[oid]
                out.append({
                    "id": oid, "name": o["name"], "pricing_plan_id": PLAN_IDS[o["plan"]],
                    "pricing_plan_name": o["plan"].capitalize(), "pricing_plan_enterprise": o["plan"] == "enterprise",
                    "created_at": fmt_us(o["created_us"]), "at": fmt_us(o["created_us"]), "server_deleted_at": None,
                    "is_multi_workspace_enabled": False, "suspended_at": None,
                    "user_count": sum(1 for w in st.workspaces.values() if w["organization_id"] == oid
                                      for _ in w["members"]),
                    "trial_info": {"trial": False, "trial_available": False, "trial_end_date": None,
                                   "next_payment_date": None, "last_pricing_plan_id": None, "can_have_trial": False},
                    "is_chargify": False, "max_workspaces": 20, "admin": True, "owner": True, "permissions": None,
                })
        return json_resp(out)

    def me_workspaces(self, req):
        with self.state.lock:
            return json_resp([self._render_ws(w, req.user) for w in req.user["workspace_ids"]])

    def me_quota(self, req):
        st = self.state
        with st.lock:
            out = []
            orgs = [None] + sorted({st.workspaces[w]["organization_id"] for w in req.user["workspace_ids"]})
            for org in orgs:
                key = (req.user["id"], org)
                d, win = self._window(key)
                lim = self._limit(org)
                resets = int(max(0.0, d[0] + win - time.monotonic()) + 0.999) if d else int(win)
                out.append({"organization_id": org, "remaining": lim - len(d), "resets_in_secs": resets,
                            "total": lim})
        return json_resp(out)

    def me_entries(self, req):
        st = self.state
        since = req.q("since")
        before = req.q("before")
        sd, ed = req.q("start_date"), req.q("end_date")
        if since is not None:
            if not re.fullmatch(r"\d+", since):
                raise HTTPError(400, "Invalid since")
            since_us = int(since) * 1_000_000
        if (sd is None) != (ed is None):
            raise HTTPError(400, "Both start_date and end_date must be provided")
        if sd is not None:
            sd_s, ed_s = parse_time(sd, "start date"), parse_time(ed, "end date")
            if ed_s < sd_s:
                raise HTTPError(400, "end_date must not be earlier than start_date")
        if before is not None:
            before_s = parse_time(before, "before date")
        meta = req.q("meta", "false").lower() == "true"
        uid = req.user["id"]
        out = []
        with st.lock:
            for e in st.sorted_entries(("u", uid), lambda e: e["uid"] == uid):
                if since is not None:
                    if e["at_us"] < since_us:
                        continue
                elif e["deleted_us"]:
                    continue  # deleted entries only come back with `since`
                if sd is not None and not (sd_s <= e["start"] < ed_s):
                    continue
                if before is not None and not e["start"] < before_s:
                    continue
                out.append(st.render_entry(e, meta))
                if len(out) >= 1000:  # documented hard cap: use Reports for bulk history
                    break
        return json_resp(out)

    def me_current(self, req):
        st = self.state
        uid = req.user["id"]
        with st.lock:
            for e in st.sorted_entries(("u", uid), lambda e: e["uid"] == uid):
                if e["stop"] is None and not e["deleted_us"]:
                    return json_resp(st.render_entry(e, req.q("meta", "false") == "true"))
            if st.config["current_none"] == "404":
                return text_resp("Resource can not be found", 404)
        return Resp(200, b"null")

    def me_entry(self, req):
        st = self.state
        with st.lock:
            e = st.entries.get(int(req.match.group("id")))
            if not e or e["uid"] != req.user["id"] or e["deleted_us"]:
                return text_resp("Time entry not found", 404)
            return json_resp(st.render_entry(e, req.q("meta", "false") == "true"))

    def _user_meta(self, req, kind):
        st = self.state
        with st.lock:
            wids = set(req.user["workspace_ids"])
            src, render = {"project": (st.projects, st.render_project), "client": (st.clients, st.render_client),
                           "tag": (st.tags, st.render_tag)}[kind]
            return json_resp([render(x) for x in src.values() if x["wid"] in wids and not x["deleted_us"]])

    def me_projects(self, req):
        return self._user_meta(req, "project")

    def me_clients(self, req):
        return self._user_meta(req, "client")

    def me_tags(self, req):
        return self._user_meta(req, "tag")

    # --- API v9: workspace metadata ------------------------------------------------------------------
    @staticmethod
    def _page(req, default, maximum):
        try:
            page = int(req.q("page", "1"))
            per = int(req.q("per_page", str(default)))
        except ValueError:
            raise HTTPError(400, "Invalid page or per_page")
        if page < 1 or per < 1:
            raise HTTPError(400, "Invalid page or per_page")
        return page, min(per, maximum)

    def ws_projects(self, req):
        st = self.state
        wid = int(req.match.group("wid"))
        page, per = self._page(req, 151, 200)
        active = req.q("active", "both").lower()
        since = req.q("since")
        name = (req.q("name") or req.q("search") or "").lower()
        sort_field = req.q("sort_field", "name")
        desc = req.q("sort_order", "ASC").upper() == "DESC"
        with st.lock:
            ps = [p for p in st.projects.values() if p["wid"] == wid]
            if since is not None:
                ps = [p for p in ps if p["at_us"] >= int(since) * 1_000_000]
            else:
                ps = [p for p in ps if not p["deleted_us"]]
            if active in ("true", "false"):
                ps = [p for p in ps if p["active"] == (active == "true")]
            if name:
                ps = [p for p in ps if name in p["name"].lower()]
            keyf = {"name": lambda p: (p["name"].lower(), p["id"]), "created_at": lambda p: (p["created_us"], p["id"]),
                    "at": lambda p: (p["at_us"], p["id"])}.get(sort_field, lambda p: (p["name"].lower(), p["id"]))
            ps.sort(key=keyf, reverse=desc)
            chunk = ps[(page - 1) * per: page * per]
            return json_resp([st.render_project(p) for p in chunk])

    def ws_clients(self, req):
        st = self.state
        wid = int(req.match.group("wid"))
        status = req.q("status", "active")
        if status not in ("active", "archived", "both"):
            raise HTTPError(400, "Client status is invalid")
        name = (req.q("name") or "").lower()
        with st.lock:
            cs = [c for c in st.clients.values() if c["wid"] == wid and not c["deleted_us"]]
            if status != "both":
                cs = [c for c in cs if c["archived"] == (status == "archived")]
            if name:
                cs = [c for c in cs if name in c["name"].lower()]
            cs.sort(key=lambda c: (c["name"].lower(), c["id"]))
            return json_resp([st.render_client(c) for c in cs])

    def ws_tags(self, req):
        st = self.state
        wid = int(req.match.group("wid"))
        search = (req.q("search") or "").lower()
        paged = "page" in req.query or "per_page" in req.query
        page, per = self._page(req, 200, 200) if paged else (1, 10**9)
        with st.lock:
            ts = [t for t in st.tags.values() if t["wid"] == wid and not t["deleted_us"]
                  and search in t["name"].lower()]
            ts.sort(key=lambda t: (t["name"].lower(), t["id"]))
            return json_resp([st.render_tag(t) for t in ts[(page - 1) * per: page * per]])

    def _ctx(self, req):
        return {"user": req.user, "path": req.path, "request_body": req.body.decode("utf-8", "replace"),
                "request_type": req.method}

    def ws_project_create(self, req):
        b = req.json()
        if not isinstance(b, dict) or not b.get("name"):
            raise HTTPError(400, "Project name must not be empty")
        return self._meta_api_create(req, "project", b)

    def ws_client_create(self, req):
        b = req.json()
        if not isinstance(b, dict) or not b.get("name"):
            raise HTTPError(400, "Client name must not be empty")
        return self._meta_api_create(req, "client", b)

    def ws_tag_create(self, req):
        b = req.json()
        if not isinstance(b, dict) or not b.get("name"):
            raise HTTPError(400, "Tag name must not be empty")
        return self._meta_api_create(req, "tag", b)

    def _meta_api_create(self, req, kind, b):
        wid = int(req.match.group("wid"))
        b = dict(b, workspace_id=wid)
        jobs = []
        with self.state.lock:
            obj = self.meta_create(kind, b, req.user["id"], self._ctx(req), jobs)
            out = self.render_meta(kind, obj)
        self.dispatch_jobs(jobs)
        return json_resp(out)

    def render_meta(self, kind, obj):
        return {"project": self.state.render_project, "client": self.state.render_client,
                "tag": self.state.render_tag}[kind](obj)

    # --- metadata mutations (shared by API and control) ------------------------------------------------
    def meta_create(self, kind, b, uid, ctx, jobs):
        st = self.state
        wid = int(b["workspace_id"])
        if wid not in st.workspaces:
            raise HTTPError(400, "Incorrect workspace")
        name = str(b.get("name") or "")
        t = now_us()
        if kind == "tag":
            if any(x["wid"] == wid and x["name"] == name and not x["deleted_us"] for x in st.tags.values()):
                raise HTTPError(400, "Tag already exists")
            obj = {"id": int(b.get("id") or st.next_id("tag")), "wid": wid, "name": name, "at_us": t,
                   "creator_id": uid, "deleted_us": None}
            st.tags[obj["id"]] = obj
        elif kind == "client":
            if any(x["wid"] == wid and x["name"] == name and not x["deleted_us"] for x in st.clients.values()):
                raise HTTPError(400, "Client with such name already exists")
            obj = {"id": int(b.get("id") or st.next_id("client")), "wid": wid, "name": name,
                   "archived": bool(b.get("archived", False)), "at_us": t, "creator_id": uid, "deleted_us": None}
            st.clients[obj["id"]] = obj
        else:
            if any(x["wid"] == wid and x["name"] == name and not x["deleted_us"] for x in st.projects.values()):
                raise HTTPError(400, "Name has already been taken")
            cid = b.get("client_id", b.get("cid"))
            if cid is not None and cid not in st.clients:
                raise HTTPError(400, "Client with ID %s isn't present in workspace %d" % (cid, wid))
            color = b.get("color") or COLORS[len(st.projects) % len(COLORS)]
            if not re.fullmatch(r"#[0-9a-fA-F]{6}", str(color)):
                raise HTTPError(400, "Invalid project color")
            obj = {"id": int(b.get("id") or st.next_id("project")), "wid": wid, "name": name, "client_id": cid,
                   "is_private": bool(b.get("is_private", True)), "active": bool(b.get("active", True)),
                   "at_us": t, "created_us": t, "deleted_us": None, "color": color,
                   "billable": bool(b.get("billable", False)), "rate": b.get("rate"),
                   "currency": b.get("currency", "USD"), "creator_id": uid}
            st.projects[obj["id"]] = obj
        jobs.extend(self.emit(kind, "created", obj, ctx))
        return obj

    def meta_update(self, kind, oid, b, ctx, jobs):
        st = self.state
        src = {"project": st.projects, "client": st.clients, "tag": st.tags}[kind]
        obj = src.get(oid)
        if not obj or obj["deleted_us"]:
            raise HTTPError(404, "%s not found" % kind.capitalize())
        for k in ("name", "active", "color", "billable", "rate", "archived", "is_private", "client_id", "currency"):
            if k in b and k in obj:
                obj[k] = b[k]
        obj["at_us"] = now_us()
        if kind == "tag":
            st.touch_entries()  # entries render tag names
        jobs.extend(self.emit(kind, "updated", obj, ctx))
        return obj

    def meta_delete(self, kind, oid, ctx, jobs):
        st = self.state
        src = {"project": st.projects, "client": st.clients, "tag": st.tags}[kind]
        obj = src.get(oid)
        if not obj or obj["deleted_us"]:
            raise HTTPError(404, "%s not found" % kind.capitalize())
        obj["deleted_us"] = obj["at_us"] = now_us()
        jobs.extend(self.emit(kind, "deleted", obj, ctx))
        return obj

    # --- time entry mutations (shared by API, control and demo) ------------------------------------------
    def _resolve_tags(self, wid, names, ids, uid, ctx, jobs):
        st = self.state
        out = []
        for tid in ids or []:
            if not isinstance(tid, int) or tid not in st.tags or st.tags[tid]["wid"] != wid:
                raise HTTPError(400, "Invalid tag_ids")
            if tid not in out:
                out.append(tid)
        for name in names or []:
            if not isinstance(name, str) or not name.strip():
                raise HTTPError(400, "Tag names must be non-empty strings")
            found = next((t for t in st.tags.values() if t["wid"] == wid and t["name"] == name
                          and not t["deleted_us"]), None)
            if found is None:  # unknown tag names are created automatically
                found = self.meta_create("tag", {"workspace_id": wid, "name": name}, uid, ctx, jobs)
            if found["id"] not in out:
                out.append(found["id"])
        return out

    def _apply_fields(self, e, b, creating, ctx, jobs):
        """Validate payload b and apply it to entry e (a fresh dict when creating). Raises HTTPError 400."""
        st = self.state
        wid = e["wid"]
        if "description" in b:
            if b["description"] is not None and not isinstance(b["description"], str):
                raise HTTPError(400, "description must be a string")
            e["description"] = b["description"]
        if "billable" in b:
            e["billable"] = bool(b["billable"])
        pid = b.get("project_id", b.get("pid", e["pid"])) if ("project_id" in b or "pid" in b) else e["pid"]
        if pid is not None:
            if not isinstance(pid, int) or pid not in st.projects or st.projects[pid]["wid"] != wid \
                    or st.projects[pid]["deleted_us"]:
                raise HTTPError(400, "Invalid project_id")
        e["pid"] = pid
        tid = b.get("task_id", b.get("tid", e["tid"])) if ("task_id" in b or "tid" in b) else e["tid"]
        if tid is not None:
            raise HTTPError(400, "Invalid task_id")  # the fake has no tasks
        if "tags" in b or "tag_ids" in b:
            if (b.get("tags") is not None and not isinstance(b["tags"], list)) or \
                    (b.get("tag_ids") is not None and not isinstance(b["tag_ids"], list)):
                raise HTTPError(400, "tags and tag_ids must be arrays")
            new = self._resolve_tags(wid, b.get("tags"), b.get("tag_ids"), e["uid"], ctx, jobs)
            action = b.get("tag_action")
            if not creating and action == "add":
                e["tag_ids"] = e["tag_ids"] + [t for t in new if t not in e["tag_ids"]]
            elif not creating and action == "delete":
                e["tag_ids"] = [t for t in e["tag_ids"] if t not in new]
            elif action not in (None, "add", "delete"):
                raise HTTPError(400, "tag_action must be add or delete")
            else:
                e["tag_ids"] = new
        # times
        start = e["start"]
        if "start" in b or creating:
            if b.get("start") is None:
                raise HTTPError(400, "Start time must be provided")
            start = parse_time(b["start"], "start time")
        if b.get("start_date"):
            if not DATE_RX.match(str(b["start_date"])):
                raise HTTPError(400, "Invalid start_date")
            day = parse_time(b["start_date"], "start_date")
            start = day + start % 86400
        stop = e["stop"]
        dur = b.get("duration")
        if dur is not None and not isinstance(dur, int):
            raise HTTPError(400, "duration must be an integer")
        has_stop = "stop" in b
        if has_stop and b["stop"] is not None:
            stop = parse_time(b["stop"], "stop time")
            if dur is not None and dur >= 0 and start + dur != stop:
                raise HTTPError(400, "Stop and duration don't match")
            if dur is not None and dur < 0:
                raise HTTPError(400, "A running time entry can't have a stop time")
        elif dur is not None:
            stop = None if dur < 0 else start + dur
        elif has_stop:  # explicit stop: null restarts the entry
            stop = None
        elif creating:
            raise HTTPError(400, "duration or stop must be provided")
        elif stop is not None and "start" in b:
            stop = start + (e["stop"] - e["start"])  # moving start keeps the duration
        if stop is not None and stop < start:
            raise HTTPError(400, "Stop time must be after start time")
        e["start"], e["stop"] = start, stop

    def entry_create(self, uid, wid, b, ctx, jobs):
        st = self.state
        e = {"id": st.next_id("entry"), "wid": wid, "uid": uid, "pid": None, "tid": None, "billable": False,
             "start": 0, "stop": None, "description": None, "tag_ids": [], "at_us": 0, "deleted_us": None,
             "created_with": b.get("created_with")}
        self._apply_fields(e, b, True, ctx, jobs)
        if e["stop"] is None:  # only one running entry per user: starting another stops the old one
            for old in list(st.entries.values()):
                if old["uid"] == uid and old["stop"] is None and not old["deleted_us"]:
                    old["stop"] = max(old["start"], min(int(time.time()), e["start"]))
                    old["at_us"] = now_us()
                    jobs.extend(self.emit("time_entry", "updated", old, dict(ctx, request_type="PATCH")))
        e["at_us"] = now_us()
        st.entries[e["id"]] = e
        st.touch_entries()
        jobs.extend(self.emit("time_entry", "created", e, ctx))
        return e

    def entry_update(self, e, b, ctx, jobs):
        if e["deleted_us"]:
            raise HTTPError(404, "Time entry not found")
        before = dict(e)
        try:
            self._apply_fields(e, b, False, ctx, jobs)
        except HTTPError:
            e.update(before)
            raise
        e["at_us"] = max(now_us(), before["at_us"] + 1)
        self.state.touch_entries()
        jobs.extend(self.emit("time_entry", "updated", e, ctx))
        return e

    def entry_stop(self, e, ctx, jobs):
        if e["stop"] is not None:
            raise HTTPError(409, "Time entry already stopped")
        e["stop"] = max(e["start"], int(time.time()))
        e["at_us"] = now_us()
        self.state.touch_entries()
        jobs.extend(self.emit("time_entry", "updated", e, ctx))
        return e

    def entry_delete(self, e, ctx, jobs):
        if e["deleted_us"]:
            raise HTTPError(404, "Time entry not found")
        e["deleted_us"] = e["at_us"] = now_us()
        self.state.touch_entries()
        jobs.extend(self.emit("time_entry", "deleted", e, ctx))
        return e

    # --- API v9: time entry routes ----------------------------------------------------------------------
    def _entry_for(self, req):
        e = self.state.entries.get(int(req.match.group("id")))
        wid = int(req.match.group("wid"))
        if not e or e["wid"] != wid or e["uid"] != req.user["id"] or e["deleted_us"]:
            raise HTTPError(404, "Time entry not found")
        return e

    def te_create(self, req):
        b = req.json()
        if not isinstance(b, dict):
            raise HTTPError(400, "JSON is not valid")
        wid = int(req.match.group("wid"))
        if not b.get("created_with"):
            raise HTTPError(400, "created_with needs to be provided a valid value")
        bw = b.get("workspace_id", b.get("wid"))
        if bw is None:
            raise HTTPError(400, "workspace_id must be provided")
        if bw != wid:
            raise HTTPError(400, "Workspace ID in the path and the body do not match")
        uid = b.get("user_id", req.user["id"])
        if uid != req.user["id"]:
            raise HTTPError(403, "Cannot create time entries for other users")
        jobs = []
        with self.state.lock:
            e = self.entry_create(uid, wid, b, self._ctx(req), jobs)
            out = self.state.render_entry(e, req.q("meta", "false") == "true")
        self.dispatch_jobs(jobs)
        return json_resp(out)

    def te_update(self, req):
        b = req.json()
        if not isinstance(b, dict):
            raise HTTPError(400, "JSON is not valid")
        wid = int(req.match.group("wid"))
        bw = b.get("workspace_id", b.get("wid"))
        if bw is not None and bw != wid:
            raise HTTPError(400, "Moving time entries between workspaces is not supported")
        jobs = []
        with self.state.lock:
            e = self._entry_for(req)
            self.entry_update(e, b, self._ctx(req), jobs)
            out = self.state.render_entry(e, req.q("meta", "false") == "true")
        self.dispatch_jobs(jobs)
        return json_resp(out)

    def te_stop(self, req):
        jobs = []
        with self.state.lock:
            e = self._entry_for(req)
            self.entry_stop(e, self._ctx(req), jobs)
            out = self.state.render_entry(e)
        self.dispatch_jobs(jobs)
        return json_resp(out)

    def te_delete(self, req):
        jobs = []
        with self.state.lock:
            e = self._entry_for(req)
            self.entry_delete(e, self._ctx(req), jobs)
        self.dispatch_jobs(jobs)
        return Resp(200, b"", "text/plain; charset=utf-8")

    def te_bulk_patch(self, req):
        """Bulk JSON Patch (RFC 6902 subset) on up to 100 comma-separated ids; partial success, no rollback."""
        ids = [int(x) for x in req.match.group("ids").split(",") if x]
        if not ids or len(ids) > 100:
            raise HTTPError(400, "Between 1 and 100 time entry IDs are required")
        ops = req.json()
        if not isinstance(ops, list) or not ops:
            raise HTTPError(400, "PATCH expects a JSON Patch array of operations")
        fields = {}
        for op in ops:
            if not isinstance(op, dict) or op.get("op") not in ("add", "remove", "replace") \
                    or not isinstance(op.get("path"), str) or not op["path"].startswith("/"):
                raise HTTPError(400, "Invalid patch operation")
            name = op["path"][1:]
            if name in ("tags", "tag_ids") and op["op"] in ("add", "remove"):
                fields[name] = op.get("value") if isinstance(op.get("value"), list) else [op.get("value")]
                fields["tag_action"] = "add" if op["op"] == "add" else "delete"
            elif op["op"] == "remove":
                fields[name] = None
            else:
                fields[name] = op.get("value")
        wid = int(req.match.group("wid"))
        success, failure, jobs = [], [], []
        with self.state.lock:
            for i in ids:
                e = self.state.entries.get(i)
                if not e or e["wid"] != wid or e["uid"] != req.user["id"] or e["deleted_us"]:
                    failure.append({"id": i, "message": "Time entry not found"})
                    continue
                try:
                    self.entry_update(e, fields, self._ctx(req), jobs)
                    success.append(i)
                except HTTPError as ex:
                    failure.append({"id": i, "message": ex.text})
        self.dispatch_jobs(jobs)
        return json_resp({"success": success, "failure": failure})

    # --- webhooks: events and deliveries -----------------------------------------------------------------
    def emit(self, model, action, obj, ctx):
        """Create one stored event per matching enabled+validated subscription; returns their event ids."""
        st = self.state
        wid = obj["wid"]
        uid = ctx["user"]["id"] if ctx.get("user") else obj.get("uid", obj.get("creator_id"))
        subs = [s for s in st.subscriptions.values()
                if s["workspace_id"] == wid and s["enabled"] and s["validated_at"] and not s["deleted_at"]
                and any(f["entity"] in ("*", model) and f["action"] in ("*", action) for f in s["event_filters"])]
        if st.config["deliver_scope"] == "owner":
            subs = [s for s in subs if s["user_id"] == uid]
        if not subs:
            return []
        if model == "time_entry":
            payload = st.webhook_entry(obj)
            owner = obj["uid"]
        elif model == "project":
            payload = dict(sorted(st.render_project(obj).items()))
            owner = obj.get("creator_id", uid)
        elif model == "client":
            payload = dict(sorted(({"server_deleted_at": None} | st.render_client(obj)).items()))
            owner = obj["creator_id"]
        else:
            payload = dict(sorted(({"deleted_at": None} | st.render_tag(obj)).items()))
            owner = obj["creator_id"]
        meta = {"action": action, "event_user_id": str(uid), "model": model, "model_owner_id": str(owner),
                "path": ctx.get("path", ""), "request_body": ctx.get("request_body", ""),
                "request_type": ctx.get("request_type", "POST")}
        id_key = {"time_entry": "time_entry_id", "project": "project_id", "client": "client_id",
                  "tag": "tag_id"}[model]
        meta[id_key] = str(obj["id"])
        if model == "project":
            meta["project_is_private"] = "true" if obj["is_private"] else "false"
        meta["workspace_id"] = str(wid)
        meta = dict(sorted(meta.items()))
        created = fmt_ns(time.time_ns() // 1_000_000 * 1_000_000)  # observed: milliseconds for events
        ids = []
        for s in subs:
            eid = st.next_id("event")
            st.events[eid] = {"event_id": eid, "subscription_id": s["subscription_id"], "created_at": created,
                              "creator_id": uid, "metadata": meta, "payload": payload, "attempts": 0,
                              "delivered": False, "last_error": None, "last_attempt": None, "model": model,
                              "action": action, "last_body": None, "last_signature": None}
            ids.append(eid)
        return ids

    def envelope(self, ev, sub):
        """The delivery body (bytes), in the observed key order, stamped with a fresh timestamp."""
        return dumps({"event_id": ev["event_id"], "created_at": ev["created_at"], "creator_id": ev["creator_id"],
                      "metadata": ev["metadata"], "payload": ev["payload"], "subscription_id": sub["subscription_id"],
                      "timestamp": fmt_ns(time.time_ns()), "url_callback": sub["url_callback"]})

    def dispatch_jobs(self, event_ids):
        """Called after the state lock is released: deliver now (sync mode) or queue for the deliverer."""
        if not event_ids:
            return
        if self.state.config["sync_deliveries"]:
            for eid in event_ids:
                self.attempt_delivery(eid, 1)
        else:
            with self.state.lock:
                targets = [(self.state.events[eid]["subscription_id"], eid) for eid in event_ids]
            for sid, eid in targets:
                self.deliverer.submit(sid, eid)

    def _record(self, rec):
        self.state.deliveries.append(rec)

    def send_signed(self, sub_id, url, body, signature, event_id, attempt, extra_headers=None):
        headers = {"Content-Type": "application/json", "User-Agent": "Toggl-Webhooks/1.0 (fake)",
                   "X-Webhook-Signature-256": signature}
        headers.update(extra_headers or {})
        t_wall, t0 = time.time(), time.monotonic()
        status, data, err = post_callback(url, body, headers, float(self.state.config["callback_timeout"]))
        t1 = time.monotonic()
        if err is None and not 200 <= status < 300:
            err = "callback responded with status %d" % status
        rec = {"subscription_id": sub_id, "event_id": event_id, "attempt": attempt, "url": url,
               "status": status, "error": err, "ok": err is None, "body": body.decode("utf-8", "replace"),
               "signature": signature, "response": data[:2000].decode("utf-8", "replace"),
               "t_wall": t_wall, "t_mono_sent": t0, "t_mono_done": t1, "duration_ms": (t1 - t0) * 1000}
        with self.state.lock:
            self._record(rec)
        return status, data, err

    def attempt_delivery(self, event_id, attempt):
        st = self.state
        with st.lock:
            ev = st.events.get(event_id)
            sub = ev and st.subscriptions.get(ev["subscription_id"])
            if not ev or not sub or sub["deleted_at"] or not sub["enabled"]:
                if ev and sub and attempt > 1:
                    sub["pending"] = max(0, sub["pending"] - 1)
                return
            body = self.envelope(ev, sub)
            sig = sign(sub["secret"], body)
            url = sub["url_callback"]
            ev["last_body"], ev["last_signature"] = body, sig
        status, _, err = self.send_signed(sub["subscription_id"], url, body, sig, event_id, attempt)
        delays = list(st.config["retry_delays"])
        with st.lock:
            ev["attempts"] += 1
            ev["last_attempt"] = fmt_ns(time.time_ns())
            if attempt > 1:
                sub["pending"] = max(0, sub["pending"] - 1)
            if err is None:
                ev["delivered"], ev["last_error"] = True, None
                return
            ev["last_error"] = err
            retry = attempt <= len(delays)
            if retry:
                sub["pending"] += 1  # has_pending_events while a retry is scheduled
        if retry:
            self.deliverer.submit(sub["subscription_id"], event_id, attempt + 1, float(delays[attempt - 1]))

    def ping(self, sub, with_code):
        """Synchronous signed PING to the callback. Returns (ok, validated, error)."""
        st = self.state
        with st.lock:
            env = {"event_id": 0, "created_at": fmt_ns(time.time_ns()), "creator_id": sub["user_id"],
                   "metadata": {"request_type": "POST", "event_user_id": sub["user_id"]}, "payload": "ping",
                   "subscription_id": sub["subscription_id"], "timestamp": fmt_ns(time.time_ns()),
                   "url_callback": sub["url_callback"]}
            if with_code:
                code = sub["validation_code"]
                env["validation_code"] = code
                env["validation_code_url"] = "%s/webhooks/api/v1/validate/%d/%d/%s" % (
                    self.base_url, sub["workspace_id"], sub["subscription_id"], code)
            body = dumps(env)
        status, data, err = self.send_signed(sub["subscription_id"], sub["url_callback"], body,
                                             sign(sub["secret"], body), 0, 1)
        if err is not None:
            return False, False, err
        validated = False
        if with_code:
            try:
                validated = json.loads(data) == {"validation_code": sub["validation_code"]}
            except ValueError:
                pass
        return True, validated, None

    # --- webhooks API --------------------------------------------------------------------------------
    def _validate_filters(self, filters, wid):
        if not isinstance(filters, list) or not filters:
            raise HTTPError(400, "event_filters must not be empty")
        seen = set()
        for f in filters:
            if not isinstance(f, dict) or not isinstance(f.get("entity"), str) or not isinstance(f.get("action"), str):
                raise HTTPError(400, "Each event filter needs an entity and an action")
            ent, act = f["entity"], f["action"]
            if not FILTER_NAME_RX.match(ent) or not FILTER_NAME_RX.match(act):
                raise HTTPError(400, "entity and action must contain only letters, digits and '_', or be '*'")
            if ent != "*" and ent not in ENTITIES:
                raise HTTPError(400, "Invalid entity '%s'" % ent)
            if act != "*" and act not in ACTIONS:
                raise HTTPError(400, "Invalid action '%s' for entity '%s'" % (act, ent))
            if (ent, act) in seen:
                raise HTTPError(400, "Duplicate event filter: %s %s" % (ent, act))
            seen.add((ent, act))
        max_events = PLAN_LIMITS[self.state.plan_of(wid)][1]
        if len(filters) > max_events:
            raise HTTPError(400, "Too many event filters: the limit of this workspace is %d" % max_events)
        return [{"entity": f["entity"], "action": f["action"]} for f in filters]

    def _check_enabled_limit(self, wid, uid, exclude=None):
        st = self.state
        max_hooks = PLAN_LIMITS[st.plan_of(wid)][0]
        n = sum(1 for s in st.subscriptions.values() if s["workspace_id"] == wid and s["user_id"] == uid
                and s["enabled"] and not s["deleted_at"] and s["subscription_id"] != exclude)
        if n >= max_hooks:
            raise HTTPError(400, "User has reached the limit of %d enabled subscriptions for this workspace"
                            % max_hooks)

    def _check_description(self, wid, desc, exclude=None):
        if not isinstance(desc, str) or not desc.strip():
            raise HTTPError(400, "description must not be empty")
        if any(s["workspace_id"] == wid and s["description"] == desc and not s["deleted_at"]
               and s["subscription_id"] != exclude for s in self.state.subscriptions.values()):
            raise HTTPError(400, "description must be unique within the workspace")

    @staticmethod
    def _check_url(url):
        if not isinstance(url, str) or not re.match(r"^https?://[^/\s]+", url):
            raise HTTPError(400, "url_callback must be a valid http(s) URL")

    def new_sub(self, wid, uid, b):
        t = fmt_ns(time.time_ns())
        return {"subscription_id": self.state.next_id("sub"), "workspace_id": wid, "user_id": uid,
                "enabled": bool(b.get("enabled", True)), "description": b["description"],
                "event_filters": b["event_filters"], "url_callback": b["url_callback"],
                "secret": b.get("secret") or secrets.token_urlsafe(24), "validated_at": None, "pending": 0,
                "created_at": t, "updated_at": t, "deleted_at": None,
                "validation_code": secrets.token_hex(16), "history": []}

    def wh_list(self, req):
        wid = int(req.match.group("wid"))
        with self.state.lock:
            subs = [self.state.render_sub(s) for s in self.state.subscriptions.values()
                    if s["workspace_id"] == wid and not s["deleted_at"]]
        return json_resp(subs)

    def wh_create(self, req):
        st = self.state
        wid = int(req.match.group("wid"))
        b = req.json()
        if not isinstance(b, dict):
            raise HTTPError(400, "JSON is not valid")
        with st.lock:
            self._check_description(wid, b.get("description"))
            self._check_url(b.get("url_callback"))
            filters = self._validate_filters(b.get("event_filters"), wid)
            if b.get("secret") is not None and not isinstance(b["secret"], str):
                raise HTTPError(400, "secret must be a string")
            if b.get("enabled", True):
                self._check_enabled_limit(wid, req.user["id"])
            sub = self.new_sub(wid, req.user["id"], dict(b, event_filters=filters))
        # The ping runs without the lock: the callback may well call this fake back.
        ok, validated, err = self.ping(sub, True)
        if not ok:
            raise HTTPError(400, "callback URL %s did not respond with a 2xx status code: %s"
                            % (sub["url_callback"], err))
        with st.lock:
            self._check_description(wid, sub["description"])  # again: a parallel create may have won
            if validated:
                sub["validated_at"] = fmt_ns(time.time_ns())
            sub["history"].append(("POST", time.time()))
            st.subscriptions[sub["subscription_id"]] = sub
            return json_resp(st.render_sub(sub))

    def _sub_for(self, req):
        wid, sid = int(req.match.group("wid")), int(req.match.group("sid"))
        s = self.state.subscriptions.get(sid)
        if not s or s["workspace_id"] != wid or s["deleted_at"]:
            raise HTTPError(404, "Subscription with ID %d not found" % sid)
        return s

    def wh_put(self, req):
        st = self.state
        b = req.json()
        if not isinstance(b, dict):
            raise HTTPError(400, "JSON is not valid")
        with st.lock:
            s = self._sub_for(req)
            wid = s["workspace_id"]
            new = dict(s)
            if "description" in b:
                self._check_description(wid, b["description"], s["subscription_id"])
                new["description"] = b["description"]
            if "url_callback" in b:
                self._check_url(b["url_callback"])
                new["url_callback"] = b["url_callback"]
            if "event_filters" in b:
                new["event_filters"] = self._validate_filters(b["event_filters"], wid)
            if "secret" in b and b["secret"]:
                new["secret"] = str(b["secret"])
            if "enabled" in b:
                if b["enabled"] and not s["enabled"]:
                    self._check_enabled_limit(wid, s["user_id"], s["subscription_id"])
                new["enabled"] = bool(b["enabled"])
            url_changed = new["url_callback"] != s["url_callback"]
            if url_changed:
                new["validated_at"] = None  # a new URL must prove itself again
                new["validation_code"] = secrets.token_hex(16)
        if url_changed:
            ok, validated, err = self.ping(new, True)
            if not ok:
                raise HTTPError(400, "callback URL %s did not respond with a 2xx status code: %s"
                                % (new["url_callback"], err))
            if validated:
                new["validated_at"] = fmt_ns(time.time_ns())
        with st.lock:
            s.update({k: new[k] for k in ("description", "url_callback", "event_filters", "secret", "enabled",
                                          "validated_at", "validation_code")})
            s["updated_at"] = fmt_ns(time.time_ns())
            s["history"].append(("PUT", time.time()))
            return json_resp(st.render_sub(s))

    def wh_patch(self, req):
        st = self.state
        b = req.json()
        if not isinstance(b, dict) or not isinstance(b.get("enabled"), bool):
            raise HTTPError(400, "Only 'enabled' (a boolean) can be patched")
        with st.lock:
            s = self._sub_for(req)
            if b["enabled"] and not s["enabled"]:
                self._check_enabled_limit(s["workspace_id"], s["user_id"], s["subscription_id"])
            s["enabled"] = b["enabled"]
            s["updated_at"] = fmt_ns(time.time_ns())
            s["history"].append(("PATCH", time.time()))
            return json_resp(st.render_sub(s))

    def wh_delete(self, req):
        st = self.state
        with st.lock:
            s = self._sub_for(req)
            s["deleted_at"] = s["updated_at"] = fmt_ns(time.time_ns())
            s["enabled"] = False
            s["history"].append(("DELETE", time.time()))
            return json_resp(st.render_sub(s))

    def wh_events(self, req):
        st = self.state
        with st.lock:
            s = self._sub_for(req)
            evs = [e for e in st.events.values() if e["subscription_id"] == s["subscription_id"]]
            out = [{"event_id": e["event_id"], "created_at": e["created_at"], "metadata": e["metadata"],
                    "payload": e["payload"], "last_delivery_attempt": e["last_attempt"],
                    "last_delivery_error": e["last_error"],
                    "failed_delivery_attempts": e["attempts"] - (1 if e["delivered"] else 0)} for e in evs]
        return json_resp({"total": len(out), "events": out})

    def wh_ping(self, req):
        with self.state.lock:
            s = self._sub_for(req)
            sub = dict(s)
        ok, validated, err = self.ping(sub, not sub["validated_at"])
        if not ok:
            raise HTTPError(400, "callback URL %s did not respond with a 2xx status code: %s"
                            % (sub["url_callback"], err))
        if validated:
            with self.state.lock:
                s["validated_at"] = fmt_ns(time.time_ns())
        return json_resp({"status": "ok"})

    def wh_validate(self, req):
        wid, sid, code = int(req.match.group("wid")), int(req.match.group("sid")), req.match.group("code")
        with self.state.lock:
            s = self.state.subscriptions.get(sid)
            if not s or s["workspace_id"] != wid or s["deleted_at"] or \
                    not hmac.compare_digest(s["validation_code"], code):
                return text_resp("subscription %d with validation code %s not found" % (sid, code), 400)
            if s["validated_at"]:
                return text_resp("subscription %d has already been validated" % sid, 400)
            s["validated_at"] = fmt_ns(time.time_ns())
        return text_resp("OK")

    def wh_event_filters(self, req):
        return json_resp({ent: list(ACTIONS) for ent in ENTITIES})

    def wh_limits(self, req):
        with self.state.lock:
            hooks, events = PLAN_LIMITS[self.state.plan_of(int(req.match.group("wid")))]
        return json_resp({"max_webhooks": hooks, "max_events_per_webhook": events})

    def wh_status(self, req):
        return json_resp({"status": "OK"})

    # --- reports v3 ------------------------------------------------------------------------------------
    def rp_search(self, req):
        st = self.state
        wid = int(req.match.group("wid"))
        b = req.json()
        if not isinstance(b, dict) or not any(v not in (None, "", [], False) for v in b.values()):
            raise HTTPError(400, "At least one parameter must be set")
        if b.get("grouped"):
            raise HTTPError(400, "grouped=true is not supported by this fake")
        for k in ("start_date", "end_date"):
            if not isinstance(b.get(k), str) or not DATE_RX.match(b[k]):
                raise HTTPError(400, "Wrong format date: %s must be YYYY-MM-DD" % k)
        try:
            d0 = dt.date.fromisoformat(b["start_date"])
            d1 = dt.date.fromisoformat(b["end_date"])
        except ValueError:
            raise HTTPError(400, "Wrong format date")
        if d1 < d0:
            raise HTTPError(400, "end_date must not be earlier than start_date")
        if (d1 - d0).days + 1 > int(st.config["reports_max_days"]):
            raise HTTPError(400, "The date range must not exceed %d days" % st.config["reports_max_days"])
        size = b.get("page_size", 50)
        first = b.get("first_row_number", 1) or 1
        if not isinstance(size, int) or size < 1 or not isinstance(first, int) or first < 1:
            raise HTTPError(400, "page_size and first_row_number must be positive integers")
        size = min(size, int(st.config["reports_max_page_size"]))
        order_by = b.get("order_by", "date")
        if order_by not in ("date", "user", "duration", "description", "last_update"):
            raise HTTPError(400, "Invalid order_by")
        desc = str(b.get("order_dir", "DESC")).upper() != "ASC"
        tz = req.user["tz"]
        lo = int(dt.datetime.combine(d0, dt.time(), tz).timestamp())
        hi = int(dt.datetime.combine(d1 + dt.timedelta(days=1), dt.time(), tz).timestamp())
        f_users = b.get("user_ids")
        f_projects = b.get("project_ids")
        f_tags = b.get("tag_ids")
        f_clients = b.get("client_ids")
        f_ids = b.get("time_entry_ids")
        f_desc = (b.get("description") or "").lower()
        f_bill = b.get("billable")
        with st.lock:
            rows = []
            for e in st.sorted_entries(("w", wid), lambda e: e["wid"] == wid):
                if e["deleted_us"] or e["stop"] is None or not lo <= e["start"] < hi:
                    continue  # reports hold finished entries only
                if f_users and e["uid"] not in f_users:
                    continue
                if f_projects and e["pid"] not in f_projects:
                    continue
                if f_tags and not (set(e["tag_ids"]) & set(f_tags) or (None in f_tags and not e["tag_ids"])):
                    continue
                if f_clients:
                    p = st.projects.get(e["pid"])
                    if (p["client_id"] if p else None) not in f_clients:
                        continue
                if f_ids and e["id"] not in f_ids:
                    continue
                if f_desc and f_desc not in (e["description"] or "").lower():
                    continue
                if f_bill is not None and e["billable"] != bool(f_bill):
                    continue
                rows.append(e)
            keyf = {"date": lambda e: (e["start"], e["id"]), "user": lambda e: (e["uid"], e["start"], e["id"]),
                    "duration": lambda e: (e["stop"] - e["start"], e["id"]),
                    "description": lambda e: ((e["description"] or "").lower(), e["id"]),
                    "last_update": lambda e: (e["at_us"], e["id"])}[order_by]
            rows.sort(key=keyf, reverse=desc)
            page = rows[first - 1: first - 1 + size]
            out = []
            for i, e in enumerate(page):
                u = st.users.get(e["uid"])
                p = st.projects.get(e["pid"])
                secs = e["stop"] - e["start"]
                rate = p["rate"] if p and p["rate"] is not None else None
                utz = u["tz"] if u else tz
                out.append({
                    "user_id": e["uid"], "username": u["fullname"] if u else "", "project_id": e["pid"],
                    "task_id": e["tid"], "billable": e["billable"], "description": e["description"] or "",
                    "tag_ids": list(e["tag_ids"]),
                    "billable_amount_in_cents": int(round(secs / 3600 * rate * 100)) if rate and e["billable"] else None,
                    "hourly_rate_in_cents": int(round(rate * 100)) if rate else None,
                    "currency": p["currency"] if p and p["rate"] is not None else "USD",
                    "time_entries": [{"id": e["id"], "seconds": secs, "start": fmt_local(e["start"], utz),
                                      "stop": fmt_local(e["stop"], utz), "at": fmt_off(e["at_us"] // 1_000_000),
                                      "at_tz": fmt_local(e["at_us"] // 1_000_000, utz)}],
                    "row_number": first + i,
                })
            headers = {}
            if out:
                headers["X-Range-Start"] = str(first)
                headers["X-Range-End"] = str(first + len(out) - 1)
            nxt = first - 1 + size
            if nxt < len(rows):
                headers["X-Next-ID"] = str(rows[nxt]["id"])
                headers["X-Next-Row-Number"] = str(nxt + 1)
        return json_resp(out, headers=headers)

    # --- control API -------------------------------------------------------------------------------------
    def c_reset(self, req):
        self.stop_demos()
        self.deliverer.clear()
        self.state.reset()
        return json_resp({"ok": True})

    def c_state(self, req):
        st = self.state
        with st.lock:
            return json_resp({
                "users": len(st.users), "workspaces": len(st.workspaces), "projects": len(st.projects),
                "clients": len(st.clients), "tags": len(st.tags), "entries": len(st.entries),
                "subscriptions": len(st.subscriptions), "events": len(st.events),
                "deliveries": len(st.deliveries), "delivery_queue_idle": self.deliverer.idle(),
                "config": st.config, "quota": st.quota, "failures": st.failures, "demos": sorted(self.demos)})

    def c_users(self, req):
        b = req.json() or {}
        users = b if isinstance(b, list) else [b]
        out = []
        for u in users:
            nu = self.state.add_user(u)
            out.append(self.state.render_user(nu) | {"workspace_ids": nu["workspace_ids"],
                                                     "organization_id": nu["organization_id"]})
        return json_resp(out if isinstance(b, list) else out[0])

    def c_users_list(self, req):
        st = self.state
        with st.lock:
            return json_resp([st.render_user(u) | {"workspace_ids": u["workspace_ids"],
                                                   "organization_id": u["organization_id"],
                                                   "plan": st.orgs[u["organization_id"]]["plan"]}
                              for u in st.users.values()])

    def c_config(self, req):
        st = self.state
        if req.method == "POST":
            b = req.json() or {}
            unknown = set(b) - set(st.config)
            if unknown:
                raise HTTPError(400, "unknown config keys: %s" % ", ".join(sorted(unknown)))
            with st.lock:
                st.config.update(b)
        return json_resp(st.config)

    def c_quota(self, req):
        st = self.state
        if req.method == "POST":
            b = req.json() or {}
            with st.lock:
                if "enabled" in b:
                    st.quota["enabled"] = bool(b["enabled"])
                if "window_seconds" in b:
                    st.quota["window_seconds"] = float(b["window_seconds"])
                for k, v in (b.get("limits") or {}).items():
                    st.quota["limits"][k] = int(v)
                if b.get("reset_counters", True):
                    st.quota_hits = {}
        with st.lock:
            counters = [{"user_id": k[0], "organization_id": k[1], "used": len(self._window(k)[0])}
                        for k in list(st.quota_hits)]
            return json_resp(dict(st.quota, counters=counters))

    def c_fail(self, req):
        b = req.json() or {}
        status = int(b.get("status", 429))
        f = {"status": status, "count": int(b.get("count", 1)), "path_prefix": b.get("path_prefix", "/"),
             "body": b.get("body") or ("Too Many Requests" if status == 429 else "Internal Server Error")}
        with self.state.lock:
            if b.get("clear"):
                self.state.failures = []
            if f["count"] > 0:
                self.state.failures.append(f)
            return json_resp({"failures": self.state.failures})

    def _control_user(self, b):
        uid = b.get("user_id")
        st = self.state
        if uid is None and len(st.users) == 1:
            uid = next(iter(st.users))
        u = st.users.get(uid)
        if not u:
            raise HTTPError(400, "unknown user_id %r" % uid)
        return u

    def c_entries(self, req):
        """Change an entry as if the user did it in the Toggl app: same code path, so webhooks fire."""
        b = req.json() or {}
        action = b.pop("action", "create")
        st = self.state
        jobs = []
        with st.lock:
            if action == "create":
                u = self._control_user(b)
                wid = int(b.get("workspace_id") or u["default_workspace_id"])
                ctx = {"user": u, "path": "/api/v9/workspaces/%d/time_entries" % wid,
                       "request_body": json.dumps(b), "request_type": "POST"}
                fields = dict(b)
                fields.setdefault("created_with", "Toggl Track (fake app)")
                fields.setdefault("start", fmt_z(int(time.time())))
                if "stop" not in fields and "duration" not in fields:
                    fields["duration"] = -1
                e = self.entry_create(u["id"], wid, fields, ctx, jobs)
            else:
                e = st.entries.get(b.get("id"))
                if not e:
                    raise HTTPError(404, "Time entry not found")
                u = st.users[e["uid"]]
                path = "/api/v9/workspaces/%d/time_entries/%d" % (e["wid"], e["id"])
                fields = {k: v for k, v in b.items() if k not in ("id", "user_id")}
                if action == "update":
                    self.entry_update(e, fields, {"user": u, "path": path, "request_body": json.dumps(fields),
                                                  "request_type": "PUT"}, jobs)
                elif action == "stop":
                    self.entry_stop(e, {"user": u, "path": path + "/stop", "request_body": "",
                                        "request_type": "PATCH"}, jobs)
                elif action == "delete":
                    self.entry_delete(e, {"user": u, "path": path, "request_body": "",
                                          "request_type": "DELETE"}, jobs)
                else:
                    raise HTTPError(400, "action must be create, update, stop or delete")
            out = st.render_entry(e)
        self.dispatch_jobs(jobs)
        return json_resp(dict(out, event_ids=jobs))

    def c_entries_list(self, req):
        st = self.state
        uid = req.q("user_id")
        with st.lock:
            es = [e for e in st.entries.values() if uid is None or e["uid"] == int(uid)]
            if req.q("include_deleted", "1") in ("0", "false"):
                es = [e for e in es if not e["deleted_us"]]
            es.sort(key=lambda e: (-e["start"], -e["id"]))
            limit = int(req.q("limit", "100000"))
            return json_resp({"total": len(es), "entries": [st.render_entry(e) for e in es[:limit]]})

    def c_meta(self, req, kind):
        b = req.json() or {}
        action = b.pop("action", "create")
        st = self.state
        jobs = []
        with st.lock:
            if action == "create":
                u = self._control_user(b)
                b.setdefault("workspace_id", u["default_workspace_id"])
                path = "/api/v9/workspaces/%d/%ss" % (int(b["workspace_id"]), kind)
                obj = self.meta_create(kind, b, u["id"], {"user": u, "path": path, "request_body": json.dumps(b),
                                                          "request_type": "POST"}, jobs)
            else:
                src = {"project": st.projects, "client": st.clients, "tag": st.tags}[kind]
                obj = src.get(b.get("id"))
                if not obj:
                    raise HTTPError(404, "%s not found" % kind)
                u = st.users.get(b.get("user_id")) or st.users.get(obj.get("creator_id")) or \
                    next(iter(st.users.values()))
                ctx = {"user": u, "path": "/api/v9/workspaces/%d/%ss/%d" % (obj["wid"], kind, obj["id"]),
                       "request_body": json.dumps(b), "request_type": "PUT" if action == "update" else "DELETE"}
                if action == "update":
                    self.meta_update(kind, obj["id"], b, ctx, jobs)
                elif action == "delete":
                    self.meta_delete(kind, obj["id"], ctx, jobs)
                else:
                    raise HTTPError(400, "action must be create, update or delete")
            out = self.render_meta(kind, obj)
        self.dispatch_jobs(jobs)
        return json_resp(dict(out, event_ids=jobs))

    def c_bulk(self, req):
        """Seed many finished entries fast, without webhook deliveries (a user's existing history)."""
        b = req.json() or {}
        st = self.state
        rng = random.Random(b.get("seed", 1))
        count = int(b.get("count", 1000))
        with st.lock:
            u = self._control_user(b)
            wid = int(b.get("workspace_id") or u["default_workspace_id"])
            t1 = parse_time(b["end"], "end") if b.get("end") else int(time.time()) - 3600
            t0 = parse_time(b["start"], "start") if b.get("start") else t1 - 365 * 86400
            if t1 <= t0:
                raise HTTPError(400, "end must be after start")
            n_projects = int(b.get("projects", 8))
            projs = [p for p in st.projects.values() if p["wid"] == wid and not p["deleted_us"]]
            i = 0
            while len(projs) < n_projects:
                name = "%s %d" % (DEMO_PROJECTS[i % len(DEMO_PROJECTS)], i // len(DEMO_PROJECTS) + 1)
                i += 1
                if any(p["name"] == name and p["wid"] == wid for p in st.projects.values()):
                    continue
                t = now_us()
                p = {"id": st.next_id("project"), "wid": wid, "name": name, "client_id": None, "is_private": True,
                     "active": True, "at_us": t, "created_us": t, "deleted_us": None,
                     "color": COLORS[len(st.projects) % len(COLORS)], "billable": rng.random() < 0.5,
                     "rate": rng.choice([None, 80.0, 120.0]), "currency": "USD", "creator_id": u["id"]}
                st.projects[p["id"]] = p
                projs.append(p)
            tags = [t for t in st.tags.values() if t["wid"] == wid and not t["deleted_us"]]
            for name in DEMO_TAGS:
                if len(tags) >= int(b.get("tags", 6)):
                    break
                if not any(t["name"] == name and t["wid"] == wid for t in tags):
                    t = {"id": st.next_id("tag"), "wid": wid, "name": name, "at_us": now_us(),
                         "creator_id": u["id"], "deleted_us": None}
                    st.tags[t["id"]] = t
                    tags.append(t)
            pids = [p["id"] for p in projs]
            tids = [t["id"] for t in tags]
            starts = sorted(rng.randrange(t0, t1) for _ in range(count))
            now = int(time.time())
            at_now = bool(b.get("at_now", False))
            first_id = None
            randint, rand, choice, sample = rng.randint, rng.random, rng.choice, rng.sample
            for k, s in enumerate(starts):
                gap = (starts[k + 1] - s) if k + 1 < count else 10800
                stop = s + max(30, min(randint(300, 10800), gap - 1))
                r = rand()
                eid = st.next_id("entry")
                first_id = first_id or eid
                st.entries[eid] = {
                    "id": eid, "wid": wid, "uid": u["id"], "pid": None if r < 0.1 else choice(pids), "tid": None,
                    "billable": r > 0.7, "start": s, "stop": stop,
                    "description": None if r < 0.05 else choice(DESCRIPTIONS),
                    "tag_ids": sample(tids, min(len(tids), randint(0, 2))) if tids else [],
                    "at_us": (now * 1_000_000 if at_now else min(stop + randint(0, 300), now) * 1_000_000
                              + randint(0, 999_999)), "deleted_us": None, "created_with": "bulk seed"}
            st.touch_entries()
        return json_resp({"created": count, "first_id": first_id, "workspace_id": wid,
                          "project_ids": pids, "tag_ids": tids})

    def c_sub_create(self, req):
        """Create a subscription directly (no ping), e.g. a foreign one the client must never touch."""
        b = req.json() or {}
        st = self.state
        with st.lock:
            wid = int(b["workspace_id"])
            if wid not in st.workspaces:
                raise HTTPError(400, "unknown workspace")
            uid = int(b.get("user_id") or next(iter(st.workspaces[wid]["members"]), 0))
            b.setdefault("description", "foreign subscription " + secrets.token_hex(3))
            # port 1 refuses at once: deliveries to it fail fast instead of waiting on DNS or a timeout
            b.setdefault("url_callback", "http://127.0.0.1:1/foreign-hook")
            b.setdefault("event_filters", [{"entity": "time_entry", "action": "*"}])
            sub = self.new_sub(wid, uid, b)
            if b.get("validated", True):
                sub["validated_at"] = sub["created_at"]
            st.subscriptions[sub["subscription_id"]] = sub
            return json_resp(st.render_sub(sub))

    def c_sub_list(self, req):
        st = self.state
        with st.lock:
            return json_resp([dict(st.render_sub(s), validation_code=s["validation_code"],
                                   history=[{"method": m, "t_wall": t} for m, t in s["history"]])
                              for s in st.subscriptions.values()])

    def c_deliveries(self, req):
        st = self.state
        sid, eid, since = req.q("subscription_id"), req.q("event_id"), int(req.q("since", "0"))
        with st.lock:
            out = [dict(d, index=i) for i, d in enumerate(st.deliveries) if i >= since
                   and (sid is None or d["subscription_id"] == int(sid))
                   and (eid is None or d["event_id"] == int(eid))]
        return json_resp(out)

    def c_events(self, req):
        st = self.state
        sid = req.q("subscription_id")
        with st.lock:
            return json_resp([{k: v for k, v in e.items() if k not in ("last_body", "last_signature")}
                              for e in st.events.values() if sid is None or e["subscription_id"] == int(sid)])

    def c_redeliver(self, req):
        """Deliver event N again (a duplicate). same_body=true resends the exact previous bytes."""
        b = req.json() or {}
        st = self.state
        eid = int(b["event_id"])
        with st.lock:
            ev = st.events.get(eid)
            if not ev:
                raise HTTPError(404, "no event %d" % eid)
            sub = st.subscriptions[ev["subscription_id"]]
            if b.get("same_body") and ev["last_body"]:
                body, sig = ev["last_body"], ev["last_signature"]
            else:
                body = self.envelope(ev, sub)
                sig = sign(sub["secret"], body)
            url = sub["url_callback"]
        status, data, err = self.send_signed(sub["subscription_id"], url, body, sig, eid, 0)
        return json_resp({"status": status, "error": err, "response": data.decode("utf-8", "replace")})

    def c_deliver_raw(self, req):
        """POST an arbitrary body to a subscription's callback, signed with its secret unless told otherwise."""
        b = req.json() or {}
        st = self.state
        with st.lock:
            sub = st.subscriptions.get(int(b["subscription_id"]))
            if not sub:
                raise HTTPError(404, "no such subscription")
            body = b.get("body", "")
            body = body.encode() if isinstance(body, str) else dumps(body)
            sig = b.get("signature") or sign(b.get("secret") or sub["secret"], body)
            url = b.get("url") or sub["url_callback"]
        status, data, err = self.send_signed(sub["subscription_id"], url, body, sig, int(b.get("event_id", -1)), 0,
                                             b.get("headers"))
        return json_resp({"status": status, "error": err, "response": data.decode("utf-8", "replace"),
                          "signature": sig})

    def c_drain(self, req):
        b = req.json() or {}
        return json_resp({"idle": self.deliverer.wait_idle(float(b.get("timeout", 5)))})

    def c_requests(self, req):
        since = int(req.q("since", "0"))
        with self.state.lock:
            return json_resp([dict(r, index=i) for i, r in enumerate(self.state.requests) if i >= since])

    # --- demo stream -------------------------------------------------------------------------------------
    def c_demo_start(self, req):
        b = req.json() or {}
        with self.state.lock:
            u = self._control_user(b)
        uid = u["id"]
        self.stop_demos(uid)
        stop = threading.Event()
        th = threading.Thread(target=self.demo_loop, args=(uid, float(b.get("interval_ms", 3000)) / 1000.0,
                                                           stop, random.Random(b.get("seed"))),
                              name="toggl-demo-%d" % uid, daemon=True)
        self.demos[uid] = (th, stop)
        th.start()
        return json_resp({"running": True, "user_id": uid})

    def c_demo_stop(self, req):
        uid = req.q("user_id")
        self.stop_demos(int(uid) if uid else None)
        return json_resp({"running": False})

    def stop_demos(self, uid=None):
        for k in list(self.demos):
            if uid is None or k == uid:
                th, ev = self.demos.pop(k)
                ev.set()
                if th is not threading.current_thread():
                    th.join(timeout=2)

    def demo_step(self, uid, rng):
        """One realistic action by the user; goes through the same mutation code as the API."""
        st = self.state
        jobs = []
        with st.lock:
            u = st.users.get(uid)
            if not u:
                return
            wid = u["default_workspace_id"]
            projs = [p for p in st.projects.values() if p["wid"] == wid and not p["deleted_us"]]
            if len(projs) < 3:
                for name in DEMO_PROJECTS[:4]:
                    if not any(p["name"] == name and p["wid"] == wid for p in projs):
                        projs.append(self.meta_create("project", {"workspace_id": wid, "name": name}, uid,
                                                      {"user": u, "path": "/api/v9/workspaces/%d/projects" % wid,
                                                       "request_body": "{}", "request_type": "POST"}, jobs))
            mine = [e for e in st.entries.values() if e["uid"] == uid and not e["deleted_us"]]
            running = next((e for e in mine if e["stop"] is None), None)
            path = "/api/v9/workspaces/%d/time_entries" % wid

            def ctx(p, body, method):
                return {"user": u, "path": p, "request_body": json.dumps(body), "request_type": method}

            r = rng.random()
            if running is None and r < 0.55:
                body = {"created_with": "Toggl Track", "workspace_id": wid, "start": fmt_z(int(time.time())),
                        "duration": -1, "description": rng.choice(DESCRIPTIONS),
                        "project_id": rng.choice(projs)["id"] if rng.random() < 0.85 else None,
                        "tags": rng.sample(DEMO_TAGS, rng.randint(0, 2))}
                self.entry_create(uid, wid, body, ctx(path, body, "POST"), jobs)
            elif running is not None and r < 0.35:
                body = rng.choice([{"description": rng.choice(DESCRIPTIONS)},
                                   {"tags": rng.sample(DEMO_TAGS, rng.randint(1, 2))},
                                   {"project_id": rng.choice(projs)["id"]}])
                self.entry_update(running, body, ctx("%s/%d" % (path, running["id"]), body, "PUT"), jobs)
            elif running is not None:
                self.entry_stop(running, ctx("%s/%d/stop" % (path, running["id"]), {}, "PATCH"), jobs)
            elif r < 0.7 and len(mine) > 3:
                old = rng.choice(sorted(mine, key=lambda e: e["start"])[:-1])
                self.entry_delete(old, ctx("%s/%d" % (path, old["id"]), {}, "DELETE"), jobs)
            else:
                dur = rng.randint(10, 90) * 60
                start = int(time.time()) - dur - rng.randint(1, 4) * 3600
                body = {"created_with": "Toggl Track", "workspace_id": wid, "start": fmt_z(start), "duration": dur,
                        "description": rng.choice(DESCRIPTIONS), "project_id": rng.choice(projs)["id"],
                        "tags": rng.sample(DEMO_TAGS, rng.randint(0, 2))}
                self.entry_create(uid, wid, body, ctx(path, body, "POST"), jobs)
        self.dispatch_jobs(jobs)

    def demo_loop(self, uid, interval, stop, rng):
        while not stop.wait(interval):
            try:
                self.demo_step(uid, rng)
            except Exception:
                traceback.print_exc()

    # --- a human-readable page for demo mode and debugging --------------------------------------------------
    def c_view(self, req):
        import html as h
        st = self.state
        with st.lock:
            rows = []
            for e in sorted(st.entries.values(), key=lambda e: -e["at_us"])[:50]:
                p = st.projects.get(e["pid"])
                rows.append("<tr><td>%d</td><td>%s</td><td>%s</td><td>%s</td><td>%s</td><td>%s</td></tr>" % (
                    e["id"], h.escape(e["description"] or ""), h.escape(p["name"] if p else ""), fmt_off(e["start"]),
                    "running" if e["stop"] is None else fmt_off(e["stop"]), "deleted" if e["deleted_us"] else ""))
            subs = "".join("<li>%d %s &rarr; %s %s</li>" % (
                s["subscription_id"], h.escape(s["description"]), h.escape(s["url_callback"]),
                "validated" if s["validated_at"] else "unvalidated") for s in st.subscriptions.values())
            n_deliv = len(st.deliveries)
        page = ("<!doctype html><html><head><meta charset=utf-8><meta http-equiv=refresh content=3>"
                "<title>Fake Toggl</title></head><body><h1>Fake Toggl (test double)</h1>"
                "<h2>Subscriptions</h2><ul>%s</ul><p>%d delivery attempts</p><h2>Latest entries</h2>"
                "<table border=1><tr><th>id</th><th>description</th><th>project</th><th>start</th><th>stop</th>"
                "<th></th></tr>%s</table></body></html>") % (subs, n_deliv, "".join(rows))
        return Resp(200, page.encode(), "text/html; charset=utf-8")


# ---------------------------------------------------------------------------------------------------------
# Start/stop


def start(port=0, host="127.0.0.1", quiet=None):
    """Start the fake in a background thread. Returns (server, thread, base_url)."""
    if quiet is None:
        quiet = bool(os.environ.get("FAKE_QUIET"))
    app = TogglApp(quiet=quiet)
    server = Server((host, port), Handler)
    server.app = app
    app.base_url = "http://%s:%d" % (host, server.server_address[1])
    th = threading.Thread(target=server.serve_forever, name="fake-toggl", daemon=True)
    th.start()
    return server, th, app.base_url


def stop(server):
    server.app.stop_demos()
    server.app.deliverer.stop()
    server.shutdown()
    server.server_close()


def main(argv=None):
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--host", default="127.0.0.1")
    ap.add_argument("--port", type=int, default=0)
    ap.add_argument("--port-file", help="write the bound port here once listening")
    ap.add_argument("--seed", help="JSON file: {\"users\": [...], \"bulk_entries\": [...], \"demo\": {...}}")
    ap.add_argument("--quiet", action="store_true", help="no per-request log lines")
    a = ap.parse_args(argv)
    server, th, base = start(a.port, a.host, a.quiet or None)
    if a.seed:
        with open(a.seed) as f:
            seed = json.load(f)
        app = server.app
        for u in seed.get("users", []):
            app.state.add_user(u)
        for bulk in seed.get("bulk_entries", []):
            app.c_bulk(Req("POST", "/", {}, {}, dumps(bulk), ""))
        if seed.get("demo"):
            app.c_demo_start(Req("POST", "/", {}, {}, dumps(seed["demo"]), ""))
    if a.port_file:
        tmp = a.port_file + ".tmp"
        with open(tmp, "w") as f:
            f.write("%d\n" % server.server_address[1])
        os.replace(tmp, a.port_file)
    sys.stderr.write("fake_toggl listening on %s\n" % base)
    # SIGTERM (how test harnesses stop us) exits as cleanly as Ctrl-C.
    signal.signal(signal.SIGTERM, lambda *a: (_ for _ in ()).throw(KeyboardInterrupt()))
    try:
        while th.is_alive():
            th.join(1)
    except KeyboardInterrupt:
        pass
    stop(server)


if __name__ == "__main__":
    main()
