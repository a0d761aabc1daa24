#!/usr/bin/python3
"""Fake Google (OAuth 2.0 web-server flow and Calendar API v3) for timebridge's tests, benchmarks and demo.

One HTTP server on 127.0.0.1: /o/oauth2/v2/auth (an HTML consent page), /token, /revoke, and
/calendar/v3/... with Google's error bodies, quota errors and 409/404/410 semantics, as described in
../shared/docs/upstream-apis.md. Every calendar request body is validated against the schemas of the stored
discovery document (../shared/fixtures/google-calendar-v3-discovery.json; override with $TB_DISCOVERY or
--discovery). A JSON control API under /_control/ seeds, inspects and breaks things. Python 3 stdlib only.

    python3 fake_google.py --port 0 --port-file /tmp/google.port
    from fake_google import start; server, thread, base_url = start()

See README.md in this directory for every control endpoint.
"""

import argparse
import base64
import collections
import copy
import datetime as dt
import hashlib
import html
import hmac
import itertools
import json
import os
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

HERE = os.path.dirname(os.path.abspath(__file__))
REPO = os.path.dirname(os.path.dirname(HERE))
DEFAULT_DISCOVERY = os.path.join(os.path.dirname(REPO), "shared", "fixtures", "google-calendar-v3-discovery.json")

# ---------------------------------------------------------------------------------------------------------
# Small HTTP framework (kept inside this file so each fake stands alone).


class Req:
    __slots__ = ("method", "path", "query", "headers", "body", "client", "match", "raw_query")

    def __init__(self, method, path, query, headers, body, client, raw_query=""):
        self.method, self.path, self.query, self.headers = method, path, query, headers
        self.body, self.client, self.match, self.raw_query = body, client, None, raw_query

    def q(self, name, default=None):
        v = self.query.get(name)
        return v[-1] if v else default

    def form(self):
        return {k: v[-1] for k, v in urllib.parse.parse_qs(self.body.decode("utf-8", "replace"),
                                                           keep_blank_values=True).items()}

    def group(self, name):
        return urllib.parse.unquote(self.match.group(name))


class Resp:
    __slots__ = ("status", "body", "ctype", "headers")

    def __init__(self, status, body=b"", ctype="application/json; charset=UTF-8", headers=None):
        self.status, self.body, self.ctype, self.headers = status, body, ctype, dict(headers or {})


def json_resp(obj, status=200, headers=None):
    return Resp(status, json.dumps(obj, indent=2).encode() + b"\n", headers=headers)


class GError(Exception):
    """A Calendar API error; rendered as Google's {"error": {"errors": [...], "code", "message"}} body."""

    def __init__(self, code, reason, message, domain="global", location=None, location_type=None, headers=None):
        super().__init__(message)
        self.code, self.reason, self.message, self.domain = code, reason, message, domain
        self.location, self.location_type, self.headers = location, location_type, headers or {}

    def resp(self):
        item = {"domain": self.domain, "reason": self.reason, "message": self.message}
        if self.location:
            item["locationType"] = self.location_type or "parameter"
            item["location"] = self.location
        return json_resp({"error": {"errors": [item], "code": self.code, "message": self.message}},
                         self.code, self.headers)


class OAuthError(Exception):
    """An OAuth endpoint error: {"error": ..., "error_description": ...}."""

    def __init__(self, status, error, description):
        super().__init__(description)
        self.status, self.error, self.description = status, error, description

    def resp(self):
        return json_resp({"error": self.error, "error_description": self.description}, self.status)


class PageError(Exception):
    """An error shown to the browser on the authorization endpoint (Google shows an HTML page)."""

    def __init__(self, status, title, detail):
        super().__init__(detail)
        self.status, self.title, self.detail = status, title, detail

    def resp(self):
        page = ("<!doctype html><html><head><meta charset=utf-8><title>%s</title></head><body>"
                "<h1>Access blocked: authorization error</h1><p id=error>%s</p><p>%s</p></body></html>"
                % (html.escape(self.title), html.escape(self.title), html.escape(self.detail)))
        return Resp(self.status, page.encode(), "text/html; charset=utf-8")


class Handler(BaseHTTPRequestHandler):
    protocol_version = "HTTP/1.1"  # keep-alive: benchmarks reuse connections
    server_version = "fake-google/1"

    def version_string(self):
        return self.server_version

    def setup(self):
        super().setup()
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
        except (GError, OAuthError, PageError) as e:
            resp = e.resp()
        except Exception:  # a bug in the fake must not hang the client: answer 500 and log it
            traceback.print_exc()
            resp = GError(500, "backendError", "Backend Error").resp()
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

    def add(self, method, pattern, fn, kind):
        self.routes.append((method, re.compile("^" + pattern + "$"), fn, kind))

    def find(self, method, path):
        allowed = False
        for m, rx, fn, kind in self.routes:
            mt = rx.match(path)
            if mt:
                if m == method:
                    return fn, mt, kind
                allowed = True
        return None, allowed, None


# ---------------------------------------------------------------------------------------------------------
# Time helpers

RFC3339_RX = re.compile(r"^\d{4}-\d{2}-\d{2}[Tt]\d{2}:\d{2}:\d{2}(\.\d+)?([Zz]|[+-]\d{2}:\d{2})$")
LOCAL_DT_RX = re.compile(r"^\d{4}-\d{2}-\d{2}[Tt]\d{2}:\d{2}:\d{2}(\.\d+)?$")
DATE_RX = re.compile(r"^\d{4}-\d{2}-\d{2}$")
BASE32HEX_RX = re.compile(r"^[a-v0-9]{5,1024}$")
SCOPE = "https://www.googleapis.com/auth/"


def parse_rfc3339(s):
    """RFC3339 with a mandatory offset -> aware datetime, or None."""
    if not isinstance(s, str) or not RFC3339_RX.match(s):
        return None
    try:
        return dt.datetime.fromisoformat(s.upper().replace("Z", "+00:00"))
    except ValueError:
        return None


def fmt_updated(t=None):  # Google's created/updated: 2024-01-11T10:00:00.123Z (milliseconds)
    t = time.time() if t is None else t
    return time.strftime("%Y-%m-%dT%H:%M:%S", time.gmtime(t)) + ".%03dZ" % int((t % 1) * 1000)


def fmt_dt(d):
    s = d.replace(microsecond=0).isoformat()
    return s[:-6] + "Z" if s.endswith("+00:00") else s


def tz_of(name):
    try:
        return zoneinfo.ZoneInfo(name)
    except Exception:
        return None


def b64url(b):
    return base64.urlsafe_b64encode(b).rstrip(b"=").decode()


def rand_base32hex(n=26):
    return "".join(secrets.choice("0123456789abcdefghijklmnopqrstuv") for _ in range(n))


# ---------------------------------------------------------------------------------------------------------
# Request-body validation against the discovery document


class Validator:
    """Checks JSON bodies against discovery schemas: unknown names, types, formats. Raises GError 400."""

    TYPE_NAMES = {"string": "TYPE_STRING", "integer": "TYPE_INT32", "boolean": "TYPE_BOOL",
                  "number": "TYPE_DOUBLE", "object": "TYPE_MESSAGE", "array": "TYPE_MESSAGE"}

    def __init__(self, discovery):
        self.schemas = discovery["schemas"]
        self.methods = {}
        for rname, res in discovery["resources"].items():
            for mname, m in res.get("methods", {}).items():
                self.methods[m["id"]] = m

    def request_schema(self, method_id):
        return self.methods[method_id]["request"]["$ref"]

    @staticmethod
    def _bad(msg):
        return GError(400, "badRequest", msg)

    def validate(self, value, schema, path, allow_local_dt=False):
        if value is None:
            return  # JSON null means "unset" (and "clear" in a patch)
        if "$ref" in schema:
            schema = self.schemas[schema["$ref"]]
        t = schema.get("type", "any")
        if t == "any":
            return
        if t == "object":
            if not isinstance(value, dict):
                raise self._bad("Invalid value at '%s' (TYPE_MESSAGE), %s" % (path, json.dumps(value)))
            props = schema.get("properties")
            addl = schema.get("additionalProperties")
            for k, v in value.items():
                if props is not None and k in props:
                    sub = props[k]
                    local_ok = k == "dateTime"  # EventDateTime.dateTime may omit the offset if timeZone is set
                    self.validate(v, sub, path + "." + k, local_ok)
                elif addl is not None:
                    self.validate(v, addl, "%s[%s]" % (path, json.dumps(k)))
                elif props is not None:
                    raise self._bad("Invalid JSON payload received. Unknown name %s at '%s': Cannot find field."
                                    % (json.dumps(k), path))
            return
        if t == "array":
            if not isinstance(value, list):
                raise self._bad("Invalid value at '%s' (TYPE_MESSAGE), %s" % (path, json.dumps(value)))
            for i, v in enumerate(value):
                self.validate(v, schema.get("items", {}), "%s[%d]" % (path, i))
            return
        ok = {"string": lambda v: isinstance(v, str),
              "integer": lambda v: isinstance(v, int) and not isinstance(v, bool),
              "number": lambda v: isinstance(v, (int, float)) and not isinstance(v, bool),
              "boolean": lambda v: isinstance(v, bool)}.get(t, lambda v: True)(value)
        fmt = schema.get("format")
        if ok and t == "string" and fmt in ("int64", "uint64"):
            ok = re.fullmatch(r"-?\d+", value) is not None
        if not ok:
            raise self._bad("Invalid value at '%s' (%s), %s" % (path, self.TYPE_NAMES.get(t, t), json.dumps(value)))
        if t == "string" and fmt == "date-time":
            if parse_rfc3339(value) is None and not (allow_local_dt and LOCAL_DT_RX.match(value)):
                raise GError(400, "invalid", "Invalid value for: %s: %s is not a valid RFC3339 date-time"
                             % (path.replace("resource.", ""), value))
        if t == "string" and fmt == "date":
            try:
                if not DATE_RX.match(value):
                    raise ValueError
                dt.date.fromisoformat(value)
            except ValueError:
                raise GError(400, "invalid", "Invalid value for: %s: %s is not a valid date"
                             % (path.replace("resource.", ""), value))
        if "enum" in schema and value not in schema["enum"]:
            raise GError(400, "invalid", "Invalid value for %s: %s" % (path.replace("resource.", ""), value))


# ---------------------------------------------------------------------------------------------------------
# State

DEFAULT_CLIENT_ID = "timebridge-test.apps.googleusercontent.com"
DEFAULT_CLIENT_SECRET = "timebridge-test-secret"
DEFAULT_EMAIL = "user@example.com"
READ_ONLY_EVENT_FIELDS = ("kind", "etag", "htmlLink", "created", "updated", "creator", "organizer", "iCalUID",
                          "sequence", "hangoutLink", "privateCopy", "locked")
EVENT_ORDER = ("kind", "etag", "id", "status", "htmlLink", "created", "updated", "summary", "description",
               "location", "colorId", "creator", "organizer", "start", "end", "endTimeUnspecified", "recurrence",
               "recurringEventId", "originalStartTime", "transparency", "visibility", "iCalUID", "sequence",
               "attendees", "extendedProperties", "reminders", "source", "eventType")
ERROR_KINDS = {
    "rateLimitExceeded": (403, "usageLimits", "rateLimitExceeded", "Rate Limit Exceeded"),
    "userRateLimitExceeded": (403, "usageLimits", "userRateLimitExceeded", "User Rate Limit Exceeded"),
    "quotaExceeded": (403, "usageLimits", "quotaExceeded", "Calendar usage limits exceeded."),
    "tooManyRequests": (429, "usageLimits", "rateLimitExceeded", "Rate Limit Exceeded"),
    "badRequest": (400, "global", "badRequest", "Bad Request"),
    "backendError": (500, "global", "backendError", "Backend Error"),
    "serviceUnavailable": (503, "global", "backendError", "The service is currently unavailable."),
}
EVENT_COLORS = {"1": "#a4bdfc", "2": "#7ae7bf", "3": "#dbadff", "4": "#ff887c", "5": "#fbd75b", "6": "#ffb878",
                "7": "#46d6db", "8": "#e1e1e1", "9": "#5484ed", "10": "#51b749", "11": "#dc2127"}


class GoogleState:
    def __init__(self):
        self.lock = threading.RLock()
        self.reset()

    def reset(self):
        with self.lock:
            self.clients = {DEFAULT_CLIENT_ID: {"client_id": DEFAULT_CLIENT_ID, "client_secret": DEFAULT_CLIENT_SECRET,
                                                "redirect_uris": []}}
            self.accounts = {}      # email -> {email, name, sub, timezone, calendars: {id: cal}}
            self.pending = {}       # consent request id -> authorization request params
            self.codes = {}         # code -> {...}
            self.grants = {}        # grant id -> {email, client_id, scopes, revoked}
            self.access = {}        # access token -> {grant, expires_at, expired}
            self.refresh = {}       # refresh token -> grant id
            self.consented = set()  # (email, client_id) that consented to offline access once
            self.failures = []      # forced calendar/token errors
            self.delays = []        # forced slow answers: {"seconds", "count", "path_contains", "method"}
            self.delayed = {"started": 0, "in_flight": 0}
            self.quota_hits = {}    # email -> deque of monotonic times
            self.events_log = collections.deque(maxlen=500_000)
            self.rejected = collections.deque(maxlen=50_000)
            self.requests = collections.deque(maxlen=20_000)
            self.change_seq = itertools.count(1)
            self.log_seq = itertools.count(1)
            self.sync_epoch = 1
            self.consent = {"email": DEFAULT_EMAIL, "grant_scopes": None, "drop_scopes": [], "auto": None}
            self.config = {"access_token_ttl": 3599, "code_ttl": 600, "quota_per_minute": 600,
                           "quota_window_seconds": 60.0, "refresh_token_policy": "google", "validate": True}
            self.account(DEFAULT_EMAIL)

    def account(self, email, name=None, timezone="UTC"):
        a = self.accounts.get(email)
        if a is None:
            a = self.accounts[email] = {"email": email, "name": name or email.split("@")[0],
                                        "sub": str(100_000_000_000_000_000_000 + len(self.accounts)),
                                        "timezone": timezone, "calendars": {}}
            a["calendars"][email] = self.new_calendar(email, {"summary": email, "timeZone": timezone}, None, True)
        return a

    def new_calendar(self, cid, body, client_id, primary=False):
        return {"id": cid, "summary": body.get("summary"), "description": body.get("description"),
                "location": body.get("location"), "timeZone": body.get("timeZone") or "UTC", "primary": primary,
                "created_by_client": client_id, "deleted": False, "events": {}, "etag": self.etag(),
                "created": time.time()}

    @staticmethod
    def etag():
        return '"%d"' % (time.time_ns() // 1000 + secrets.randbelow(1000))


# ---------------------------------------------------------------------------------------------------------
# The application


class GoogleApp:
    name = "fake_google"

    def __init__(self, discovery_path=None, quiet=False):
        self.quiet = quiet
        path = discovery_path or os.environ.get("TB_DISCOVERY") or DEFAULT_DISCOVERY
        with open(path) as f:
            self.validator = Validator(json.load(f))
        self.state = GoogleState()
        self.base_url = "http://127.0.0.1"
        r = self.router = Router()
        r.add("GET", r"/o/oauth2/v2/auth", self.authorize, "oauth")
        r.add("POST", r"/o/oauth2/v2/auth", self.consent_submit, "oauth")
        r.add("POST", r"/token", self.token, "token")
        r.add("POST", r"/revoke", self.revoke, "oauth")
        r.add("POST", r"/o/oauth2/revoke", self.revoke, "oauth")
        r.add("GET", r"/oauth2/v3/userinfo", self.userinfo, "oauth")
        C = r"/calendar/v3"
        cal, ev = r"(?P<cal>[^/]+)", r"(?P<ev>[^/]+)"
        r.add("POST", C + r"/calendars", self.cal_insert, "api")
        r.add("GET", C + r"/calendars/" + cal, self.cal_get, "api")
        r.add("PATCH", C + r"/calendars/" + cal, self.cal_patch, "api")
        r.add("PUT", C + r"/calendars/" + cal, self.cal_update, "api")
        r.add("DELETE", C + r"/calendars/" + cal, self.cal_delete, "api")
        r.add("GET", C + r"/users/me/calendarList", self.callist_list, "api")
        r.add("GET", C + r"/users/me/calendarList/" + cal, self.callist_get, "api")
        r.add("GET", C + r"/colors", self.colors, "api")
        r.add("POST", C + r"/calendars/" + cal + r"/events", self.ev_insert, "api")
        r.add("GET", C + r"/calendars/" + cal + r"/events", self.ev_list, "api")
        r.add("GET", C + r"/calendars/" + cal + r"/events/" + ev, self.ev_get, "api")
        r.add("PATCH", C + r"/calendars/" + cal + r"/events/" + ev, self.ev_patch, "api")
        r.add("PUT", C + r"/calendars/" + cal + r"/events/" + ev, self.ev_update, "api")
        r.add("DELETE", C + r"/calendars/" + cal + r"/events/" + ev, self.ev_delete, "api")
        K = "/_control"
        for method, path, fn in (
                ("POST", "/reset", self.c_reset), ("GET", "/state", self.c_state),
                ("POST", "/clients", self.c_clients), ("POST", "/users", self.c_users),
                ("POST", "/consent", self.c_consent), ("GET", "/consent", self.c_consent),
                ("POST", "/config", self.c_config), ("GET", "/config", self.c_config),
                ("POST", "/invalid_grant", self.c_invalid_grant), ("POST", "/expire_tokens", self.c_expire),
                ("GET", "/tokens", self.c_tokens), ("POST", "/fail", self.c_fail),
                ("POST", "/delay", self.c_delay), ("GET", "/delay", self.c_delay),
                ("GET", "/calendars", self.c_calendars), ("GET", "/events", self.c_events),
                ("POST", "/events", self.c_event_seed), ("POST", "/delete_event", self.c_delete_event),
                ("POST", "/patch_event", self.c_patch_event), ("POST", "/delete_calendar", self.c_delete_calendar),
                ("GET", "/events_log", self.c_events_log), ("GET", "/rejected", self.c_rejected),
                ("GET", "/requests", self.c_requests), ("POST", "/invalidate_sync_tokens", self.c_invalidate_sync),
                ("GET", "/view", self.c_view)):
            r.add(method, K + path, fn, "control")

    # --- dispatch -----------------------------------------------------------------------------------------
    def dispatch(self, req):
        fn, match, kind = self.router.find(req.method, req.path)
        if fn is None:
            if req.path.startswith("/calendar/v3/"):
                return GError(404, "notFound", "Not Found").resp()
            return Resp(405 if match else 404, b"Not Found", "text/plain; charset=utf-8")
        req.match = match
        if kind == "control":
            try:
                return fn(req)
            except (KeyError, ValueError, TypeError, AttributeError) as e:  # a malformed control body
                return json_resp({"error": "bad control request: %s: %s" % (type(e).__name__, e)}, 400)
        if kind == "token":
            forced = self.take_failure(req, "token")
            if forced:
                return forced
        if kind != "api":
            resp = fn(req)
            self._log_req(req, resp.status, None)
            return resp
        self.take_delay(req)
        try:
            forced = self.take_failure(req, "calendar")
            if forced:
                raise forced
            tok = self.auth(req)
            self.take_quota(tok["email"])
            resp = fn(req, tok)
        except GError as e:
            self._reject(req, e)
            resp = e.resp()
        self._log_req(req, resp.status, None)
        return resp

    def _log_req(self, req, status, email):
        self.state.requests.append({"method": req.method, "path": req.path, "query": req.raw_query,
                                    "status": status, "t_wall": time.time()})

    def _reject(self, req, e):
        self.state.rejected.append({
            "t_wall": time.time(), "method": req.method, "path": req.path, "query": req.raw_query,
            "status": e.code, "reason": e.reason, "message": e.message,
            "body": req.body.decode("utf-8", "replace")[:20000]})

    def take_delay(self, req):
        """Hold a Calendar API request (before it is handled, outside the lock) as a slow Google would."""
        st = self.state
        with st.lock:
            for d in st.delays:
                if d["count"] > 0 and d["path_contains"] in req.path and d["method"] in (None, req.method):
                    d["count"] -= 1
                    st.delays = [x for x in st.delays if x["count"] > 0]
                    st.delayed["started"] += 1
                    st.delayed["in_flight"] += 1
                    seconds = d["seconds"]
                    break
            else:
                return
        time.sleep(seconds)
        with st.lock:
            st.delayed["in_flight"] -= 1

    def take_failure(self, req, target):
        st = self.state
        with st.lock:
            for f in st.failures:
                if f["count"] > 0 and f["target"] in (target, "any") and f["path_contains"] in req.path \
                        and f["method"] in (None, req.method):
                    f["count"] -= 1
                    st.failures = [x for x in st.failures if x["count"] > 0]
                    if target == "token":
                        return json_resp({"error": "internal_failure", "error_description": "Backend Error"}, 500)
                    code, domain, reason, msg = ERROR_KINDS[f["error"]]
                    return GError(code, reason, msg, domain)
        return None

    def auth(self, req):
        h = req.headers.get("Authorization", "")
        st = self.state
        err = GError(401, "authError", "Invalid Credentials", location="Authorization", location_type="header",
                     headers={"WWW-Authenticate": 'Bearer realm="https://accounts.google.com/", error="invalid_token"'})
        if not h.startswith("Bearer "):
            raise err
        with st.lock:
            a = st.access.get(h[7:].strip())
            if not a or a["expired"] or a["expires_at"] < time.time():
                raise err
            g = st.grants[a["grant"]]
            if g["revoked"]:
                raise err
            return {"email": g["email"], "client_id": g["client_id"], "scopes": set(g["scopes"])}

    def take_quota(self, email):
        st = self.state
        with st.lock:
            d = st.quota_hits.setdefault(email, collections.deque())
            cutoff = time.monotonic() - float(st.config["quota_window_seconds"])
            while d and d[0] <= cutoff:
                d.popleft()
            if len(d) >= int(st.config["quota_per_minute"]):
                raise GError(403, "userRateLimitExceeded", "User Rate Limit Exceeded", "usageLimits")
            d.append(time.monotonic())

    # --- OAuth ---------------------------------------------------------------------------------------------
    def authorize(self, req):
        st = self.state
        p = {k: v[-1] for k, v in req.query.items()}
        for name in ("client_id", "redirect_uri", "response_type", "scope"):
            if not p.get(name):
                raise PageError(400, "Error 400: invalid_request", "Missing required parameter: %s" % name)
        with st.lock:
            client = st.clients.get(p["client_id"])
            if client is None:
                raise PageError(401, "Error 401: invalid_client", "The OAuth client was not found.")
            if client["redirect_uris"] and p["redirect_uri"] not in client["redirect_uris"]:
                raise PageError(400, "Error 400: redirect_uri_mismatch",
                                "redirect_uri %s is not registered for this client" % p["redirect_uri"])
        if p["response_type"] != "code":
            return self._redirect(p["redirect_uri"], {"error": "unsupported_response_type", "state": p.get("state")})
        if p.get("code_challenge"):
            method = p.get("code_challenge_method", "plain")
            if method not in ("S256", "plain"):
                raise PageError(400, "Error 400: invalid_request", "Invalid code_challenge_method: %s" % method)
            if not re.fullmatch(r"[A-Za-z0-9\-._~]{43,128}", p["code_challenge"]):
                raise PageError(400, "Error 400: invalid_request", "Invalid code_challenge")
        elif p.get("code_challenge_method"):
            raise PageError(400, "Error 400: invalid_request", "code_challenge_method without code_challenge")
        scopes = p["scope"].split()
        with st.lock:
            rid = secrets.token_urlsafe(12)
            st.pending[rid] = dict(p, scopes=scopes, t=time.time())
            consent = dict(st.consent)
        email = p.get("login_hint") or consent["email"]
        if consent["auto"] in ("allow", "deny"):  # headless tests: decide without the page
            return self._decide(rid, consent["auto"] == "allow", email, None)
        granted = self._default_grant(scopes, consent)
        rows = "".join(
            '<li><label><input type=checkbox name=granted value="%s"%s> %s</label></li>'
            % (html.escape(s, True), " checked" if s in granted else "", html.escape(s)) for s in scopes)
        page = """<!doctype html>
<html><head><meta charset=utf-8><title>Sign in - Google Accounts (fake)</title></head>
<body><h1>Fake Google consent</h1>
<p>Application <code id=client_id>%s</code> wants to access your Google Account.</p>
<form method=post action="/o/oauth2/v2/auth">
<input type=hidden name=request_id value="%s">
<p><label>Account <input name=email id=email value="%s"></label></p>
<p>Requested scopes:</p><ul id=scopes>%s</ul>
<button type=submit name=decision value=allow id=allow>Allow</button>
<button type=submit name=decision value=deny id=deny>Deny</button>
</form></body></html>""" % (html.escape(p["client_id"]), rid, html.escape(email, True), rows)
        return Resp(200, page.encode(), "text/html; charset=utf-8")

    @staticmethod
    def _default_grant(scopes, consent):
        granted = [s for s in scopes if s not in consent["drop_scopes"]]
        if consent["grant_scopes"] is not None:
            granted = [s for s in granted if s in consent["grant_scopes"]]
        return granted

    def consent_submit(self, req):
        f = urllib.parse.parse_qs(req.body.decode("utf-8", "replace"), keep_blank_values=True)
        rid = (f.get("request_id") or [""])[-1]
        decision = (f.get("decision") or [""])[-1]
        email = (f.get("email") or [""])[-1].strip() or self.state.consent["email"]
        return self._decide(rid, decision == "allow", email, f.get("granted", []))

    def _decide(self, rid, allow, email, checked):
        st = self.state
        with st.lock:
            p = st.pending.pop(rid, None)
            if p is None:
                raise PageError(400, "Error 400: invalid_request", "This consent request has expired.")
            if not allow:
                return self._redirect(p["redirect_uri"], {"error": "access_denied", "state": p.get("state")})
            granted = self._default_grant(p["scopes"], st.consent) if checked is None else \
                [s for s in p["scopes"] if s in checked]
            if not granted:
                return self._redirect(p["redirect_uri"], {"error": "access_denied", "state": p.get("state")})
            st.account(email)
            if p.get("include_granted_scopes") == "true":  # incremental auth adds earlier grants
                for g in st.grants.values():
                    if g["email"] == email and g["client_id"] == p["client_id"] and not g["revoked"]:
                        granted += [s for s in g["scopes"] if s not in granted]
            code = "4/0" + secrets.token_urlsafe(32)
            offline = p.get("access_type") == "offline"
            first = (email, p["client_id"]) not in st.consented
            prompt_consent = "consent" in (p.get("prompt") or "").split()
            issue_refresh = offline and (first or prompt_consent or st.config["refresh_token_policy"] == "always")
            if offline:
                st.consented.add((email, p["client_id"]))
            st.codes[code] = {"client_id": p["client_id"], "redirect_uri": p["redirect_uri"], "scopes": granted,
                              "email": email, "challenge": p.get("code_challenge"),
                              "method": p.get("code_challenge_method", "plain"), "used": False,
                              "expires": time.time() + float(st.config["code_ttl"]), "refresh": issue_refresh}
        return self._redirect(p["redirect_uri"], {"code": code, "scope": " ".join(granted), "state": p.get("state"),
                                                  "authuser": "0", "prompt": "consent"})

    @staticmethod
    def _redirect(uri, params):
        q = urllib.parse.urlencode({k: v for k, v in params.items() if v is not None}, quote_via=urllib.parse.quote)
        return Resp(302, b"", "text/html; charset=utf-8",
                    {"Location": uri + ("&" if "?" in uri else "?") + q, "Cache-Control": "no-store"})

    def _client_auth(self, req, f):
        cid, secret = f.get("client_id"), f.get("client_secret")
        h = req.headers.get("Authorization", "")
        if h.lower().startswith("basic "):
            try:
                u, _, pw = base64.b64decode(h[6:]).decode().partition(":")
                cid, secret = urllib.parse.unquote(u), urllib.parse.unquote(pw)
            except Exception:
                raise OAuthError(401, "invalid_client", "Unauthorized")
        c = self.state.clients.get(cid or "")
        if c is None:
            raise OAuthError(401, "invalid_client", "The OAuth client was not found.")
        if not secret or not hmac.compare_digest(c["client_secret"], secret):
            raise OAuthError(401, "invalid_client", "Unauthorized")
        return c

    def _issue_access(self, grant_id):
        st = self.state
        tok = "ya29.fake-" + secrets.token_urlsafe(40)
        ttl = int(st.config["access_token_ttl"])
        st.access[tok] = {"grant": grant_id, "expires_at": time.time() + ttl, "expired": False}
        return tok, ttl

    def token(self, req):
        st = self.state
        try:
            if "application/x-www-form-urlencoded" not in req.headers.get("Content-Type", ""):
                raise OAuthError(400, "invalid_request", "Content-Type must be application/x-www-form-urlencoded")
            f = req.form()
            gt = f.get("grant_type")
            if gt not in ("authorization_code", "refresh_token"):
                raise OAuthError(400, "unsupported_grant_type", "Invalid grant_type: %s" % (gt or ""))
            with st.lock:
                client = self._client_auth(req, f)
                if gt == "authorization_code":
                    return self._exchange_code(f, client)
                rt = f.get("refresh_token")
                if not rt:
                    raise OAuthError(400, "invalid_request", "Missing required parameter: refresh_token")
                gid = st.refresh.get(rt)
                g = st.grants.get(gid)
                if g is None or g["revoked"] or g.get("invalid"):
                    raise OAuthError(400, "invalid_grant", "Token has been expired or revoked.")
                if g["client_id"] != client["client_id"]:
                    raise OAuthError(400, "unauthorized_client", "Unauthorized")
                tok, ttl = self._issue_access(gid)
                return json_resp({"access_token": tok, "expires_in": ttl, "scope": " ".join(g["scopes"]),
                                  "token_type": "Bearer"})
        except OAuthError as e:
            return e.resp()

    def _exchange_code(self, f, client):
        st = self.state
        code = f.get("code")
        if not code:
            raise OAuthError(400, "invalid_request", "Missing required parameter: code")
        c = st.codes.get(code)
        if c is None or c["used"] or c["expires"] < time.time() or c["client_id"] != client["client_id"]:
            raise OAuthError(400, "invalid_grant", "Bad Request")
        if f.get("redirect_uri") != c["redirect_uri"]:
            raise OAuthError(400, "redirect_uri_mismatch", "Bad Request")
        if c["challenge"]:
            v = f.get("code_verifier")
            if not v:
                raise OAuthError(400, "invalid_grant", "Missing code verifier.")
            expect = b64url(hashlib.sha256(v.encode()).digest()) if c["method"] == "S256" else v
            if not hmac.compare_digest(expect, c["challenge"]):
                raise OAuthError(400, "invalid_grant", "Invalid code verifier.")
        c["used"] = True  # single use, even when a later step fails
        gid = secrets.token_hex(8)
        st.grants[gid] = {"email": c["email"], "client_id": c["client_id"], "scopes": list(c["scopes"]),
                          "revoked": False, "invalid": False, "created": time.time()}
        tok, ttl = self._issue_access(gid)
        out = {"access_token": tok, "expires_in": ttl}
        if c["refresh"]:
            rt = "1//0fake-" + secrets.token_urlsafe(40)
            st.refresh[rt] = gid
            st.grants[gid]["refresh_token"] = rt
            out["refresh_token"] = rt
        out["scope"] = " ".join(c["scopes"])
        out["token_type"] = "Bearer"
        if "openid" in c["scopes"]:
            a = st.accounts[c["email"]]
            now = int(time.time())
            claims = {"iss": "https://accounts.google.com", "aud": c["client_id"], "sub": a["sub"],
                      "email": a["email"], "email_verified": True, "iat": now, "exp": now + 3600}
            out["id_token"] = ".".join([b64url(json.dumps({"alg": "RS256", "typ": "JWT", "kid": "fake"}).encode()),
                                        b64url(json.dumps(claims).encode()), b64url(secrets.token_bytes(64))])
        return json_resp(out)

    def revoke(self, req):
        st = self.state
        tok = req.form().get("token") or req.q("token")
        with st.lock:
            gid = st.refresh.get(tok) if tok else None
            if gid is None and tok in st.access:
                gid = st.access[tok]["grant"]
            g = st.grants.get(gid)
            if g is None or g["revoked"]:
                return json_resp({"error": "invalid_token", "error_description": "Token expired or revoked"}, 400)
            g["revoked"] = True  # revoking either token ends the whole grant, as Google does
        return json_resp({}, 200)

    def userinfo(self, req):
        try:
            tok = self.auth(req)
        except GError:
            return json_resp({"error": "invalid_request", "error_description": "Invalid Credentials"}, 401)
        a = self.state.accounts[tok["email"]]
        return json_resp({"sub": a["sub"], "name": a["name"], "email": a["email"], "email_verified": True})

    # --- Calendar helpers ---------------------------------------------------------------------------------
    def _calendar(self, tok, cal_id, write, events, allow_deleted=False):
        """Find the caller's calendar and check the token's scopes for the operation."""
        st = self.state
        a = st.accounts[tok["email"]]
        if cal_id == "primary":
            cal_id = a["email"]
        cal = a["calendars"].get(cal_id)
        if cal is None or (cal["deleted"] and not allow_deleted):
            raise GError(404, "notFound", "Not Found")
        s = tok["scopes"]
        app_ok = SCOPE + "calendar.app.created" in s and cal["created_by_client"] == tok["client_id"]
        if events:
            ok = {SCOPE + "calendar", SCOPE + "calendar.events", SCOPE + "calendar.events.owned"}
            if not write:
                ok |= {SCOPE + "calendar.readonly", SCOPE + "calendar.events.readonly",
                       SCOPE + "calendar.events.owned.readonly"}
        else:
            ok = {SCOPE + "calendar", SCOPE + "calendar.calendars"}
            if not write:
                ok |= {SCOPE + "calendar.readonly", SCOPE + "calendar.calendars.readonly"}
        if not (s & ok or app_ok):
            raise GError(403, "insufficientPermissions", "Request had insufficient authentication scopes.")
        return cal

    def _validate(self, body, method_id):
        if not self.state.config["validate"]:
            return
        self.validator.validate(body, {"$ref": self.validator.request_schema(method_id)}, "resource")

    @staticmethod
    def _json_body(req):
        try:
            b = json.loads(req.body or b"null")
        except ValueError:
            raise GError(400, "parseError", "Parse Error")
        if not isinstance(b, dict):
            raise GError(400, "parseError", "Parse Error")
        return b

    def render_calendar(self, cal):
        d = {"kind": "calendar#calendar", "etag": cal["etag"], "id": cal["id"], "summary": cal["summary"]}
        for k in ("description", "location"):
            if cal.get(k) is not None:
                d[k] = cal[k]
        d["timeZone"] = cal["timeZone"]
        d["conferenceProperties"] = {"allowedConferenceSolutionTypes": ["hangoutsMeet"]}
        return d

    def render_list_entry(self, cal):
        d = {"kind": "calendar#calendarListEntry", "etag": cal["etag"], "id": cal["id"], "summary": cal["summary"]}
        if cal.get("description"):
            d["description"] = cal["description"]
        d.update({"timeZone": cal["timeZone"], "colorId": "14", "backgroundColor": "#9fe1e7",
                  "foregroundColor": "#000000", "selected": True, "accessRole": "owner",
                  "defaultReminders": [] if not cal["primary"] else [{"method": "popup", "minutes": 10}],
                  "conferenceProperties": {"allowedConferenceSolutionTypes": ["hangoutsMeet"]}})
        if cal["primary"]:
            d["primary"] = True
        return d

    # --- calendars ------------------------------------------------------------------------------------------
    def cal_insert(self, req, tok):
        b = self._json_body(req)
        self._validate(b, "calendar.calendars.insert")
        if not b.get("summary"):
            raise GError(400, "required", "Missing title.")
        if b.get("timeZone") and tz_of(b["timeZone"]) is None:
            raise GError(400, "invalid", "Invalid time zone definition: %s" % b["timeZone"])
        s = tok["scopes"]
        if not s & {SCOPE + "calendar", SCOPE + "calendar.app.created", SCOPE + "calendar.calendars"}:
            raise GError(403, "insufficientPermissions", "Request had insufficient authentication scopes.")
        st = self.state
        with st.lock:
            cid = "c_" + secrets.token_hex(32) + "@group.calendar.google.com"
            cal = st.new_calendar(cid, b, tok["client_id"])
            st.accounts[tok["email"]]["calendars"][cid] = cal
            return json_resp(self.render_calendar(cal))

    def cal_get(self, req, tok):
        with self.state.lock:
            return json_resp(self.render_calendar(self._calendar(tok, req.group("cal"), False, False)))

    def _cal_change(self, req, tok, replace):
        b = self._json_body(req)
        self._validate(b, "calendar.calendars.update" if replace else "calendar.calendars.patch")
        if replace and not b.get("summary"):
            raise GError(400, "required", "Missing title.")
        if b.get("timeZone") and tz_of(b["timeZone"]) is None:
            raise GError(400, "invalid", "Invalid time zone definition: %s" % b["timeZone"])
        with self.state.lock:
            cal = self._calendar(tok, req.group("cal"), True, False)
            for k in ("summary", "description", "location", "timeZone"):
                if k in b or replace:
                    v = b.get(k)
                    if k == "summary" and not v:
                        raise GError(400, "required", "Missing title.")
                    cal[k] = v if (v is not None or k != "timeZone") else cal[k]
            cal["etag"] = self.state.etag()
            return json_resp(self.render_calendar(cal))

    def cal_patch(self, req, tok):
        return self._cal_change(req, tok, False)

    def cal_update(self, req, tok):
        return self._cal_change(req, tok, True)

    def cal_delete(self, req, tok):
        with self.state.lock:
            cal = self._calendar(tok, req.group("cal"), True, False)
            if cal["primary"]:
                raise GError(400, "cannotDeletePrimaryCalendar", "Cannot delete primary calendar.")
            cal["deleted"] = True
        return Resp(204)

    def callist_list(self, req, tok):
        st = self.state
        try:
            max_results = min(int(req.q("maxResults", "100")), 250)
            offset = int(req.q("pageToken") or "0")
        except ValueError:
            raise GError(400, "invalid", "Invalid Value")
        with st.lock:
            s = tok["scopes"]
            full = s & {SCOPE + "calendar", SCOPE + "calendar.readonly", SCOPE + "calendar.calendarlist",
                        SCOPE + "calendar.calendarlist.readonly"}
            if not full and SCOPE + "calendar.app.created" not in s:
                raise GError(403, "insufficientPermissions", "Request had insufficient authentication scopes.")
            cals = [c for c in st.accounts[tok["email"]]["calendars"].values() if not c["deleted"]
                    and (full or c["created_by_client"] == tok["client_id"])]
            items = [self.render_list_entry(c) for c in cals[offset: offset + max_results]]
            out = {"kind": "calendar#calendarList", "etag": st.etag()}
            if offset + max_results < len(cals):
                out["nextPageToken"] = str(offset + max_results)
            else:
                out["nextSyncToken"] = "fake-calendarlist-sync"
            out["items"] = items
            return json_resp(out)

    def callist_get(self, req, tok):
        with self.state.lock:
            return json_resp(self.render_list_entry(self._calendar(tok, req.group("cal"), False, False)))

    def colors(self, req, tok):
        return json_resp({"kind": "calendar#colors", "updated": "2012-02-14T00:00:00.000Z",
                          "calendar": {"1": {"background": "#ac725e", "foreground": "#1d1d1d"}},
                          "event": {k: {"background": v, "foreground": "#1d1d1d"} for k, v in EVENT_COLORS.items()}})

    # --- events ---------------------------------------------------------------------------------------------
    def _when(self, edt, cal, which):
        """EventDateTime -> (aware start instant, normalised dict). Raises GError 400."""
        if not isinstance(edt, dict) or (edt.get("dateTime") is None and edt.get("date") is None):
            raise GError(400, "required", "Missing %s time." % which)
        if edt.get("dateTime") is not None and edt.get("date") is not None:
            raise GError(400, "invalid", "Invalid %s time." % which)
        tzname = edt.get("timeZone")
        tz = None
        if tzname is not None:
            tz = tz_of(tzname)
            if tz is None:
                raise GError(400, "invalid", "Invalid time zone definition for %s time." % which)
        if edt.get("date") is not None:
            d = dt.date.fromisoformat(edt["date"])
            at = dt.datetime.combine(d, dt.time(), tz or tz_of(cal["timeZone"]) or dt.timezone.utc)
            out = {"date": edt["date"]}
            if tzname:
                out["timeZone"] = tzname
            return at, out, True
        s = edt["dateTime"]
        at = parse_rfc3339(s)
        if at is None:
            if tz is None or not LOCAL_DT_RX.match(s):
                raise GError(400, "required", "Missing time zone definition for %s time." % which)
            at = dt.datetime.fromisoformat(s.upper()).replace(tzinfo=tz)
        # Google answers in the event's (or else the calendar's) time zone, not in the form it was sent.
        shown = at.astimezone(tz or tz_of(cal["timeZone"]) or dt.timezone.utc)
        out = {"dateTime": fmt_dt(shown)}
        if tzname:
            out["timeZone"] = tzname
        return at, out, False

    def _check_event(self, data, cal):
        """Semantic checks on a complete event (after merge). Returns normalised start/end and instants."""
        if data.get("start") is None:
            raise GError(400, "required", "Missing start time.")
        if data.get("end") is None:
            raise GError(400, "required", "Missing end time.")
        s_at, s_out, s_all = self._when(data["start"], cal, "start")
        e_at, e_out, e_all = self._when(data["end"], cal, "end")
        if s_all != e_all:
            raise GError(400, "invalid", "Start and end times must either both be date or both be dateTime.")
        if e_at < s_at or (s_all and e_at == s_at):
            raise GError(400, "timeRangeEmpty", "The specified time range is empty.", "calendar")
        cid = data.get("colorId")
        if cid is not None and cid not in EVENT_COLORS:
            raise GError(400, "invalid", "Invalid value for: colorId: %s" % cid)
        for k, allowed in (("status", ("confirmed", "tentative", "cancelled")),
                           ("transparency", ("opaque", "transparent")),
                           ("visibility", ("default", "public", "private", "confidential"))):
            if data.get(k) is not None and data[k] not in allowed:
                raise GError(400, "invalid", "Invalid value for: %s" % k)
        ext = data.get("extendedProperties") or {}
        for which in ("private", "shared"):
            props = ext.get(which) or {}
            if len(props) > 300:
                raise GError(400, "invalid", "Too many extended properties.")
            for k, v in props.items():
                if len(k) > 44 or len(v) > 1024:
                    raise GError(400, "invalid", "Extended property key or value too long: %s" % k)
        return s_out, e_out, s_at, e_at, s_all

    def _store(self, ev, data, cal):
        s_out, e_out, s_at, e_at, all_day = self._check_event(data, cal)
        data["start"], data["end"] = s_out, e_out
        ev["data"] = data
        ev["t0"], ev["t1"] = s_at.timestamp(), e_at.timestamp()
        ev["status"] = data.pop("status", None) or ev.get("status") or "confirmed"
        ev["updated"] = time.time()
        ev["etag"] = self.state.etag()
        ev["seq"] = next(self.state.change_seq)

    def render_event(self, ev, cal, minimal=False):
        if minimal:
            return {"kind": "calendar#event", "etag": ev["etag"], "id": ev["id"], "status": ev["status"]}
        data = ev["data"]
        owner = cal["id"]
        d = {"kind": "calendar#event", "etag": ev["etag"], "id": ev["id"], "status": ev["status"],
             "htmlLink": "https://www.google.com/calendar/event?eid=" + b64url(("%s %s" % (ev["id"], owner)).encode()),
             "created": fmt_updated(ev["created"]), "updated": fmt_updated(ev["updated"]),
             "creator": {"email": ev["creator"], "self": True},
             "organizer": {"email": owner, "displayName": cal["summary"], "self": True} if not cal["primary"]
             else {"email": owner, "self": True},
             "iCalUID": ev["id"] + "@google.com", "sequence": ev["sequence"],
             "reminders": {"useDefault": True}, "eventType": "default"}
        for k, v in data.items():
            d[k] = v
        return {k: d[k] for k in EVENT_ORDER if k in d} | {k: v for k, v in d.items() if k not in EVENT_ORDER}

    def _log_event(self, method, tok, cal_id, ev_id, status, ev=None):
        priv = ((ev or {}).get("data", {}).get("extendedProperties") or {}).get("private") if ev else None
        self.state.events_log.append({
            "seq": next(self.state.log_seq), "method": method, "user": tok["email"] if tok else None,
            "calendar_id": cal_id, "event_id": ev_id, "status": status, "t_mono": time.monotonic(),
            "t_wall": time.time(), "private": priv, "summary": (ev or {}).get("data", {}).get("summary")})

    @staticmethod
    def _clean(body):
        return {k: copy.deepcopy(v) for k, v in body.items() if k not in READ_ONLY_EVENT_FIELDS and v is not None}

    def ev_insert(self, req, tok):
        b = self._json_body(req)
        cal_id = req.group("cal")
        try:
            self._validate(b, "calendar.events.insert")
            st = self.state
            with st.lock:
                cal = self._calendar(tok, cal_id, True, True)
                eid = b.get("id")
                if eid is not None:
                    if not BASE32HEX_RX.match(eid):
                        raise GError(400, "invalid", "Invalid resource id value.")
                    if eid in cal["events"]:  # ids of deleted events stay reserved
                        raise GError(409, "duplicate", "The requested identifier already exists.")
                else:
                    eid = rand_base32hex()
                ev = {"id": eid, "created": time.time(), "creator": tok["email"], "sequence": 0, "status": None}
                data = self._clean(b)
                data.pop("id", None)
                self._store(ev, data, cal)
                cal["events"][eid] = ev
                out = self.render_event(ev, cal)
                self._log_event("insert", tok, cal["id"], eid, 200, ev)
                return json_resp(out)
        except GError as e:
            self._log_event("insert", tok, cal_id, b.get("id"), e.code)
            raise

    def _event(self, cal, eid):
        ev = cal["events"].get(eid)
        if ev is None:
            raise GError(404, "notFound", "Not Found")
        return ev

    def ev_get(self, req, tok):
        with self.state.lock:
            cal = self._calendar(tok, req.group("cal"), False, True)
            ev = self._event(cal, req.group("ev"))  # get returns cancelled events too
            return json_resp(self.render_event(ev, cal))

    def _change(self, req, tok, replace):
        b = self._json_body(req)
        cal_id, eid = req.group("cal"), req.group("ev")
        method = "update" if replace else "patch"
        try:
            self._validate(b, "calendar.events." + method)
            st = self.state
            with st.lock:
                cal = self._calendar(tok, cal_id, True, True)
                ev = self._event(cal, eid)
                patch = self._clean(b) if replace else {k: copy.deepcopy(v) for k, v in b.items()
                                                        if k not in READ_ONLY_EVENT_FIELDS}
                patch.pop("id", None)
                old = copy.deepcopy(ev["data"])
                old["status"] = ev["status"]
                if replace:
                    data = patch
                    data.setdefault("status", ev["status"])  # full replace, but keep a cancelled event cancelled
                else:
                    data = merge_patch(copy.deepcopy(old), patch)
                backup = dict(ev)
                try:
                    self._store(ev, data, cal)
                except GError:
                    ev.clear()
                    ev.update(backup)
                    raise
                if ev["data"].get("start") != old.get("start") or ev["data"].get("end") != old.get("end"):
                    ev["sequence"] += 1
                out = self.render_event(ev, cal)
                self._log_event(method, tok, cal["id"], eid, 200, ev)
                return json_resp(out)
        except GError as e:
            self._log_event(method, tok, cal_id, eid, e.code)
            raise

    def ev_patch(self, req, tok):
        return self._change(req, tok, False)

    def ev_update(self, req, tok):
        return self._change(req, tok, True)

    def ev_delete(self, req, tok):
        cal_id, eid = req.group("cal"), req.group("ev")
        try:
            with self.state.lock:
                cal = self._calendar(tok, cal_id, True, True)
                ev = self._event(cal, eid)
                if ev["status"] == "cancelled":
                    raise GError(410, "deleted", "Resource has been deleted")
                self._cancel(ev)
                self._log_event("delete", tok, cal["id"], eid, 204, ev)
            return Resp(204)
        except GError as e:
            self._log_event("delete", tok, cal_id, eid, e.code)
            raise

    def _cancel(self, ev):
        ev["status"] = "cancelled"
        ev["updated"] = time.time()
        ev["etag"] = self.state.etag()
        ev["seq"] = next(self.state.change_seq)

    def _sync_token(self, cal, seq):
        return b64url(json.dumps([cal["id"], seq, self.state.sync_epoch]).encode())

    def ev_list(self, req, tok):
        st = self.state
        q = req.q
        try:
            max_results = int(q("maxResults", "250"))
        except ValueError:
            raise GError(400, "invalid", "Invalid value for: maxResults", location="maxResults")
        if max_results < 1:
            raise GError(400, "invalid", "Invalid value for: maxResults", location="maxResults")
        max_results = min(max_results, 2500)
        sync = q("syncToken")
        if sync is not None:
            for bad in ("iCalUID", "orderBy", "privateExtendedProperty", "q", "sharedExtendedProperty", "timeMin",
                        "timeMax", "updatedMin"):
                if q(bad) is not None:
                    raise GError(400, "invalid", "The %s parameter cannot be used with syncToken." % bad,
                                 location=bad)
        bounds = {}
        for name in ("timeMin", "timeMax", "updatedMin"):
            if q(name) is not None:
                d = parse_rfc3339(q(name))
                if d is None:
                    raise GError(400, "badRequest", "Bad Request", location=name)
                bounds[name] = d.timestamp()
        if "timeMin" in bounds and "timeMax" in bounds and bounds["timeMax"] <= bounds["timeMin"]:
            raise GError(400, "timeRangeEmpty", "The specified time range is empty.", "calendar", location="timeMax")
        single = q("singleEvents", "false") == "true"
        order = q("orderBy")
        if order not in (None, "startTime", "updated"):
            raise GError(400, "invalid", "Invalid value for: orderBy", location="orderBy")
        if order == "startTime" and not single:
            raise GError(400, "badRequest", "The requested ordering is not available for the particular query.")
        show_deleted = q("showDeleted", "false") == "true" or "updatedMin" in bounds or sync is not None
        priv = [p.partition("=") for p in req.query.get("privateExtendedProperty", [])]
        shared = [p.partition("=") for p in req.query.get("sharedExtendedProperty", [])]
        text = (q("q") or "").lower()
        ical = q("iCalUID")
        with st.lock:
            cal = self._calendar(tok, req.group("cal"), False, True)
            since_seq = 0
            if sync is not None:
                try:
                    cid, since_seq, epoch = json.loads(base64.urlsafe_b64decode(sync + "=" * (-len(sync) % 4)))
                except Exception:
                    raise GError(400, "invalid", "Invalid sync token value.", location="syncToken")
                if cid != cal["id"] or epoch != st.sync_epoch:
                    raise GError(410, "fullSyncRequired", "Sync token is no longer valid, a full sync is required.",
                                 location="syncToken")
            items = []
            for ev in cal["events"].values():
                if ev["seq"] <= since_seq:
                    continue
                if ev["status"] == "cancelled" and not show_deleted:
                    continue
                if "timeMin" in bounds and not ev["t1"] > bounds["timeMin"]:
                    continue
                if "timeMax" in bounds and not ev["t0"] < bounds["timeMax"]:
                    continue
                if "updatedMin" in bounds and ev["updated"] < bounds["updatedMin"]:
                    continue
                ext = ev["data"].get("extendedProperties") or {}
                if priv and not all((ext.get("private") or {}).get(k) == v for k, _, v in priv):
                    continue
                if shared and not all((ext.get("shared") or {}).get(k) == v for k, _, v in shared):
                    continue
                if text and not any(text in str(ev["data"].get(k) or "").lower()
                                    for k in ("summary", "description", "location")):
                    continue
                if ical and ev["id"] + "@google.com" != ical:
                    continue
                items.append(ev)
            if order == "startTime":
                items.sort(key=lambda e: (e["t0"], e["id"]))
            elif order == "updated":
                items.sort(key=lambda e: (e["updated"], e["id"]))
            fingerprint = hashlib.sha1(("%s|%s" % (cal["id"], sorted((k, v) for k, v in req.query.items()
                                                                       if k != "pageToken"))).encode()).hexdigest()[:8]
            offset, max_seq = 0, self._max_seq(cal)
            if q("pageToken"):
                try:
                    fp, offset, max_seq = json.loads(base64.urlsafe_b64decode(q("pageToken") + "=="))
                    assert fp == fingerprint
                except Exception:
                    raise GError(400, "invalid", "Invalid page token value.", location="pageToken")
            page = items[offset: offset + max_results]
            out = {"kind": "calendar#events", "etag": st.etag(), "summary": cal["summary"]}
            if cal.get("description"):
                out["description"] = cal["description"]
            out.update({"updated": fmt_updated(max((e["updated"] for e in cal["events"].values()),
                                                   default=cal["created"])),
                        "timeZone": cal["timeZone"], "accessRole": "owner", "defaultReminders": []})
            if offset + max_results < len(items):
                out["nextPageToken"] = b64url(json.dumps([fingerprint, offset + max_results, max_seq]).encode())
            else:
                out["nextSyncToken"] = self._sync_token(cal, max(max_seq, since_seq))
            out["items"] = [self.render_event(e, cal, minimal=(e["status"] == "cancelled")) for e in page]
            return json_resp(out)

    @staticmethod
    def _max_seq(cal):
        return max((e["seq"] for e in cal["events"].values()), default=0)

    # --- control API ----------------------------------------------------------------------------------------
    @staticmethod
    def _body(req):
        try:
            b = json.loads(req.body or b"{}")
        except ValueError:
            raise GError(400, "parseError", "control body is not JSON")
        return b if isinstance(b, dict) else {}

    def c_reset(self, req):
        self.state.reset()
        return json_resp({"ok": True})

    def c_state(self, req):
        st = self.state
        with st.lock:
            return json_resp({"accounts": sorted(st.accounts), "clients": sorted(st.clients),
                              "grants": len(st.grants), "access_tokens": len(st.access),
                              "events": sum(len(c["events"]) for a in st.accounts.values()
                                            for c in a["calendars"].values()),
                              "config": st.config, "consent": st.consent, "failures": st.failures})

    def c_clients(self, req):
        b = self._body(req)
        c = {"client_id": b["client_id"], "client_secret": b.get("client_secret", DEFAULT_CLIENT_SECRET),
             "redirect_uris": list(b.get("redirect_uris") or [])}
        with self.state.lock:
            self.state.clients[c["client_id"]] = c
        return json_resp(c)

    def c_users(self, req):
        b = self._body(req)
        with self.state.lock:
            a = self.state.account(b["email"], b.get("name"), b.get("timezone", "UTC"))
            return json_resp({"email": a["email"], "sub": a["sub"], "calendars": sorted(a["calendars"])})

    def c_consent(self, req):
        st = self.state
        if req.method == "POST":
            b = self._body(req)
            with st.lock:
                for k in ("email", "grant_scopes", "drop_scopes", "auto"):
                    if k in b:
                        st.consent[k] = b[k] if k != "drop_scopes" else list(b[k] or [])
                if "email" in b:
                    st.account(b["email"])
        return json_resp(st.consent)

    def c_config(self, req):
        st = self.state
        if req.method == "POST":
            b = self._body(req)
            unknown = set(b) - set(st.config)
            if unknown:
                raise GError(400, "invalid", "unknown config keys: %s" % ", ".join(sorted(unknown)))
            with st.lock:
                st.config.update(b)
                if "quota_per_minute" in b or "quota_window_seconds" in b:
                    st.quota_hits = {}
        return json_resp(st.config)

    def c_invalid_grant(self, req):
        b = self._body(req)
        st = self.state
        n = 0
        with st.lock:
            for rt, gid in st.refresh.items():
                if b.get("all") or rt == b.get("refresh_token") or st.grants[gid]["email"] == b.get("email"):
                    st.grants[gid]["invalid"] = True
                    n += 1
        return json_resp({"invalidated": n})

    def c_expire(self, req):
        b = self._body(req)
        st = self.state
        n = 0
        with st.lock:
            for tok, a in st.access.items():
                if b.get("all", not b) or tok == b.get("access_token") or \
                        st.grants[a["grant"]]["email"] == b.get("email"):
                    a["expired"] = True
                    n += 1
        return json_resp({"expired": n})

    def c_tokens(self, req):
        st = self.state
        with st.lock:
            return json_resp({"grants": [dict(g, id=gid) for gid, g in st.grants.items()],
                              "access_tokens": [{"token": t, "grant": a["grant"], "expired": a["expired"]
                                                 or a["expires_at"] < time.time()} for t, a in st.access.items()],
                              "codes": [{"code": c, "used": v["used"], "email": v["email"]}
                                        for c, v in st.codes.items()]})

    def c_delay(self, req):
        st = self.state
        if req.method == "POST":
            b = self._body(req)
            d = {"seconds": float(b.get("seconds", 1.0)), "count": int(b.get("count", 1)),
                 "path_contains": b.get("path_contains", ""), "method": b.get("method")}
            with st.lock:
                if b.get("clear"):
                    st.delays = []
                if d["count"] > 0:
                    st.delays.append(d)
        with st.lock:
            return json_resp({"delays": st.delays, **st.delayed})

    def c_fail(self, req):
        b = self._body(req)
        err = b.get("error", "rateLimitExceeded")
        if err not in ERROR_KINDS:
            raise GError(400, "invalid", "error must be one of %s" % ", ".join(sorted(ERROR_KINDS)))
        f = {"error": err, "count": int(b.get("count", 1)), "path_contains": b.get("path_contains", ""),
             "method": b.get("method"), "target": b.get("target", "calendar")}
        with self.state.lock:
            if b.get("clear"):
                self.state.failures = []
            if f["count"] > 0:
                self.state.failures.append(f)
            return json_resp({"failures": self.state.failures})

    def _acct(self, req_or_body):
        email = req_or_body.get("user") or DEFAULT_EMAIL
        a = self.state.accounts.get(email)
        if a is None:
            raise GError(404, "notFound", "no account %s" % email)
        return a

    def c_calendars(self, req):
        with self.state.lock:
            a = self._acct({"user": req.q("user")})
            return json_resp([dict(self.render_calendar(c), deleted=c["deleted"], primary=c["primary"],
                                   created_by_client=c["created_by_client"], event_count=len(c["events"]))
                              for c in a["calendars"].values()])

    def c_events(self, req):
        with self.state.lock:
            a = self._acct({"user": req.q("user")})
            cid = req.q("calendar_id")
            out = []
            for c in a["calendars"].values():
                if cid is not None and c["id"] != cid:
                    continue
                if cid is None and c["primary"]:
                    continue  # by default, the calendars the app writes to
                out += [dict(self.render_event(e, c), calendarId=c["id"]) for e in c["events"].values()]
            return json_resp(out)

    def _ctl_calendar(self, b):
        a = self._acct(b)
        cid = b.get("calendar_id") or a["email"]
        cal = a["calendars"].get(a["email"] if cid == "primary" else cid)
        if cal is None:
            raise GError(404, "notFound", "no calendar %s" % cid)
        return cal

    def c_event_seed(self, req):
        """Put an event into a calendar as if the user made it in the Calendar UI (e.g. a meeting)."""
        b = self._body(req)
        st = self.state
        with st.lock:
            cal = self._ctl_calendar(b)
            body = b.get("event") or {}
            self.validator.validate(body, {"$ref": "Event"}, "resource")
            eid = body.get("id") or rand_base32hex()
            ev = {"id": eid, "created": time.time(), "creator": self._acct(b)["email"], "sequence": 0, "status": None}
            data = self._clean(body)
            data.pop("id", None)
            self._store(ev, data, cal)
            cal["events"][eid] = ev
            return json_resp(self.render_event(ev, cal))

    def c_delete_event(self, req):
        """The user deletes an event by hand. purge=true forgets it entirely (its id becomes free)."""
        b = self._body(req)
        with self.state.lock:
            cal = self._ctl_calendar(b)
            ev = cal["events"].get(b["event_id"])
            if ev is None:
                raise GError(404, "notFound", "Not Found")
            if b.get("purge"):
                del cal["events"][b["event_id"]]
            else:
                self._cancel(ev)
        return json_resp({"ok": True})

    def c_patch_event(self, req):
        """The user edits an event by hand in the Calendar UI (merge semantics, no scope checks)."""
        b = self._body(req)
        with self.state.lock:
            cal = self._ctl_calendar(b)
            ev = cal["events"].get(b["event_id"])
            if ev is None:
                raise GError(404, "notFound", "Not Found")
            old = copy.deepcopy(ev["data"])
            old["status"] = ev["status"]
            self._store(ev, merge_patch(old, b.get("patch") or {}), cal)
            return json_resp(self.render_event(ev, cal))

    def c_delete_calendar(self, req):
        b = self._body(req)
        with self.state.lock:
            cal = self._ctl_calendar(b)
            cal["deleted"] = True
        return json_resp({"ok": True})

    def c_events_log(self, req):
        since = int(req.q("since", "0"))
        with self.state.lock:
            return json_resp([r for r in self.state.events_log if r["seq"] > since])

    def c_rejected(self, req):
        with self.state.lock:
            return json_resp(list(self.state.rejected))

    def c_requests(self, req):
        since = int(req.q("since", "0"))
        with self.state.lock:
            return json_resp([dict(r, index=i) for i, r in enumerate(self.state.requests) if i >= since])

    def c_invalidate_sync(self, req):
        with self.state.lock:
            self.state.sync_epoch += 1
        return json_resp({"sync_epoch": self.state.sync_epoch})

    def c_view(self, req):
        """A human-readable page of the fake calendars (demo mode and browser tests watch it)."""
        st = self.state
        user = req.q("user") or DEFAULT_EMAIL
        with st.lock:
            a = st.accounts.get(user)
            parts = []
            for c in (a["calendars"].values() if a else []):
                rows = "".join(
                    "<tr class=%s><td>%s</td><td>%s</td><td>%s</td><td>%s</td><td>%s</td></tr>" % (
                        html.escape(e["status"]), html.escape(e["id"]), html.escape(str(e["data"].get("summary", ""))),
                        html.escape(str(e["data"]["start"])), html.escape(str(e["data"]["end"])),
                        html.escape(e["status"]))
                    for e in sorted(c["events"].values(), key=lambda e: -e["t0"])[:200])
                parts.append("<h2>%s%s</h2><table border=1><tr><th>id</th><th>summary</th><th>start</th>"
                             "<th>end</th><th>status</th></tr>%s</table>" % (
                                 html.escape(str(c["summary"])), " (deleted)" if c["deleted"] else "", rows))
        page = ("<!doctype html><html><head><meta charset=utf-8><meta http-equiv=refresh content=3>"
                "<title>Fake Google Calendar</title></head><body><h1>Fake Google Calendar (test double): %s</h1>%s"
                "</body></html>") % (html.escape(user), "".join(parts))
        return Resp(200, page.encode(), "text/html; charset=utf-8")


def merge_patch(dst, patch):
    """Google patch semantics: nested objects merge key by key (so extendedProperties.private keeps keys the
    patch does not name), arrays and start/end/originalStartTime are replaced, and null clears a field."""
    for k, v in patch.items():
        if v is None:
            dst.pop(k, None)
        elif k in ("start", "end", "originalStartTime") or not isinstance(v, dict) or not isinstance(dst.get(k), dict):
            dst[k] = copy.deepcopy(v)
        else:
            dst[k] = merge_patch(dst[k], v)
    return dst


# ---------------------------------------------------------------------------------------------------------
# Start/stop


def start(port=0, host="127.0.0.1", quiet=None, discovery=None):
    """Start the fake in a background thread. Returns (server, thread, base_url)."""
    if quiet is None:
        quiet = bool(os.environ.get("FAKE_QUIET"))
    app = GoogleApp(discovery, quiet)
    server = Server((host, port), Handler)
    server.app = app
    app.base_url = "http://%s:%d" % (host, server.server_address[1])
    th = threading.Thread(target=server.serve_forever, name="fake-google", daemon=True)
    th.start()
    return server, th, app.base_url


def stop(server):
    server.shutdown()
    server.server_close()


def main(argv=None):
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--host", default="127.0.0.1")
    ap.add_argument("--port", type=int, default=0)
    ap.add_argument("--port-file", help="write the bound port here once listening")
    ap.add_argument("--discovery", help="discovery JSON (default $TB_DISCOVERY or " + DEFAULT_DISCOVERY + ")")
    ap.add_argument("--client-id", help="register this OAuth client (besides the default test client)")
    ap.add_argument("--client-secret", default=DEFAULT_CLIENT_SECRET)
    ap.add_argument("--redirect-uri", action="append", default=[], help="allowed redirect URI (repeatable)")
    ap.add_argument("--consent", choices=("page", "allow", "deny"), default="page",
                    help="show the consent page (default) or decide automatically")
    ap.add_argument("--quiet", action="store_true", help="no per-request log lines")
    a = ap.parse_args(argv)
    server, th, base = start(a.port, a.host, a.quiet or None, a.discovery)
    st = server.app.state
    if a.client_id:
        st.clients[a.client_id] = {"client_id": a.client_id, "client_secret": a.client_secret,
                                   "redirect_uris": a.redirect_uri}
    if a.consent != "page":
        st.consent["auto"] = a.consent
    if a.port_file:
        tmp = a.port_file + ".tmp"
        with open(tmp, "w") as f:
            f.write("%d\n" % server.server_address[1])
        os.replace(tmp, a.port_file)
    sys.stderr.write("fake_google listening on %s\n" % base)
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
