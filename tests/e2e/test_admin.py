"""tests/e2e/test_admin.py: the server-side rules of the admin pages (issue 6), through the real nginx: login
and its throttling (per account, per address), session rotation and the idle and absolute expiries, CSRF on
every state-changing route (the list comes from router.c, so a new route cannot slip through), local-only
`next` redirects, security headers (HSTS and Secure cookies under an https PUBLIC_URL), users seeing only
their own data, admin-only pages, escaping, and the page actions' input checks."""
import re
import secrets
import time
from pathlib import Path

import pytest
import requests

import stack as harness

pytestmark = pytest.mark.filterwarnings("ignore::urllib3.exceptions.InsecureRequestWarning")

ROOT = Path(__file__).resolve().parents[2]
PASSWORD = "correct-horse-battery-1"


# ---- helpers ------------------------------------------------------------------------------------------

def csrf_of(html):
    m = re.search(r'name="csrf" value="([^"]+)"', html)
    assert m, "the page carries a CSRF field"
    return m.group(1)


class Web:
    """A browser-like client: a cookie jar, no automatic redirects, HTML wanted."""

    def __init__(self, base):
        self.base = base
        self.s = requests.Session()
        self.s.headers["Accept"] = "text/html"

    def get(self, path, **kw):
        kw.setdefault("allow_redirects", False)
        kw.setdefault("timeout", 15)
        return self.s.get(self.base + path, **kw)

    def post(self, path, data=None, **kw):
        kw.setdefault("allow_redirects", False)
        kw.setdefault("timeout", 15)
        return self.s.post(self.base + path, data=data or {}, **kw)

    def csrf(self, path="/tokens"):
        return csrf_of(self.get(path).text)

    def login(self, email, password=PASSWORD, next_=None):
        token = csrf_of(self.get("/login").text)
        data = {"csrf": token, "email": email, "password": password}
        if next_ is not None:
            data["next"] = next_
        return self.post("/login", data)

    def form(self, path, data, page="/tokens"):
        """POST with this session's CSRF token."""
        return self.post(path, dict(data, csrf=self.csrf(page)))


@pytest.fixture(scope="module")
def site(stack, db):
    class Site:
        url = stack.nginx.url

        def user(self, prefix, admin=False):
            email = f"{prefix}-{secrets.token_hex(4)}@example.com"
            args = ["user", "add", email] + (["--admin"] if admin else [])
            stack.app.cli(*args, input=PASSWORD)
            uid = int(db.sql("SELECT id FROM users WHERE email = %s", email)[0][0])
            return email, uid

        def web(self, email=None):
            w = Web(stack.nginx.url)
            if email:
                r = w.login(email)
                assert r.status_code == 303, r.text
            return w

        def clear_throttle(self):
            db.sql("DELETE FROM login_attempts")

    s = Site()
    yield s
    s.clear_throttle()


def admin_post_routes():
    """Every POST route of router.c that carries R_CSRF (or the admin block's ADMIN_POST), with its path."""
    text = (ROOT / "src" / "http" / "router.c").read_text()
    routes = re.findall(r'\{\s*"([a-z_]+)",\s*METHOD_POST,\s*"([^"]+)",\s*([^,]+),', text)
    return [(name, path) for name, path, flags in routes if "R_CSRF" in flags or "ADMIN_POST" in flags]


# ---- login --------------------------------------------------------------------------------------------

def test_login_form_has_the_fields_and_a_pre_login_csrf_cookie(site):
    w = site.web()
    r = w.get("/login")
    assert r.status_code == 200
    assert 'name="email"' in r.text and 'name="password"' in r.text and 'type="password"' in r.text
    assert "tb_csrf" in w.s.cookies, "before login the CSRF token is bound to a cookie"
    assert "HttpOnly" in r.headers["Set-Cookie"] and "SameSite=Lax" in r.headers["Set-Cookie"]


def test_login_and_cookie_attributes(site):
    email, _ = site.user("cookie")
    w = site.web()
    r = w.login(email)
    assert r.status_code == 303 and r.headers["Location"] == "/"
    cookie = [c for c in r.raw.headers.getlist("Set-Cookie") if c.startswith("tb_session=")][0]
    assert "HttpOnly" in cookie and "SameSite=Lax" in cookie and "Path=/" in cookie
    assert "Secure" not in cookie, "PUBLIC_URL is http here: a Secure cookie would never come back"
    assert w.get("/").status_code == 200


def test_wrong_password_and_unknown_account_look_the_same(site):
    email, _ = site.user("wrong")
    a = site.web().login(email, "not-the-password")
    b = site.web().login("nobody-" + email, "not-the-password")
    assert a.status_code == b.status_code == 401
    assert "Wrong email or password." in a.text and "Wrong email or password." in b.text
    assert "tb_session" not in a.headers.get("Set-Cookie", "")
    site.clear_throttle()


def test_login_with_missing_fields_is_400_and_keeps_the_email(site):
    w = site.web()
    token = csrf_of(w.get("/login").text)
    r = w.post("/login", {"csrf": token, "email": "someone@example.com"})
    assert r.status_code == 400 and "Enter your email and your password." in r.text
    assert 'value="someone@example.com"' in r.text


def test_password_is_never_logged(site, stack):
    email, _ = site.user("nolog")
    site.web().login(email, "a-very-distinct-wrong-password")
    site.web().login(email)
    time.sleep(0.2)
    logs = "".join(p.log_path.read_text(errors="replace") for p in stack.app.fcgi)
    assert "a-very-distinct-wrong-password" not in logs and PASSWORD not in logs
    site.clear_throttle()


def test_login_rotates_the_session_id(site, db):
    email, uid = site.user("rotate")
    w = site.web(email)
    first = w.s.cookies["tb_session"]
    # Logging in again from the same browser replaces the session: the old id is dead. (GET /login sends a
    # logged-in browser on, so the form comes from a second client holding the same pre-login cookie.)
    helper = site.web()
    helper.s.cookies.set("tb_csrf", w.s.cookies["tb_csrf"], domain="127.0.0.1", path="/")
    token = csrf_of(helper.get("/login").text)
    r = w.post("/login", {"csrf": token, "email": email, "password": PASSWORD})
    assert r.status_code == 303
    second = w.s.cookies["tb_session"]
    assert first != second
    old = site.web()
    old.s.cookies.set("tb_session", first, domain="127.0.0.1", path="/")
    assert old.get("/").status_code == 303, "the previous session id no longer works"


def test_a_session_id_planted_before_login_is_not_adopted(site):
    email, _ = site.user("fixation")
    w = site.web()
    planted = "A" * 43
    w.s.cookies.set("tb_session", planted, domain="127.0.0.1", path="/")
    assert w.login(email).status_code == 303
    assert w.s.cookies["tb_session"] != planted
    attacker = site.web()
    attacker.s.cookies.set("tb_session", planted, domain="127.0.0.1", path="/")
    assert attacker.get("/").status_code == 303


def test_idle_expiry(site, db):
    email, uid = site.user("idle")
    w = site.web(email)
    assert w.get("/").status_code == 200
    db.sql("UPDATE sessions SET last_seen_at = now() - interval '2 hours 1 minute' WHERE user_id = %s", str(uid))
    r = w.get("/entries")
    assert r.status_code == 303 and r.headers["Location"] == "/login?next=/entries"


def test_idle_clock_is_reset_by_use(site, db):
    email, uid = site.user("active")
    w = site.web(email)
    db.sql("UPDATE sessions SET last_seen_at = now() - interval '1 hour 50 minutes' WHERE user_id = %s", str(uid))
    assert w.get("/").status_code == 200
    assert w.get("/").status_code == 200, "use within the idle limit keeps the session alive"


def test_absolute_expiry(site, db):
    email, uid = site.user("absolute")
    w = site.web(email)
    (expires,), = db.sql("SELECT extract(epoch FROM expires_at - created_at)::int FROM sessions WHERE user_id = %s",
                         str(uid))
    assert int(expires) == 7 * 24 * 3600
    db.sql("UPDATE sessions SET expires_at = now() - interval '1 second' WHERE user_id = %s", str(uid))
    assert w.get("/").status_code == 303


def test_logout_ends_the_session(site):
    email, _ = site.user("logout")
    w = site.web(email)
    cookie = w.s.cookies["tb_session"]
    r = w.form("/logout", {})
    assert r.status_code == 303 and r.headers["Location"] == "/login"
    replay = site.web()
    replay.s.cookies.set("tb_session", cookie, domain="127.0.0.1", path="/")
    assert replay.get("/").status_code == 303


# ---- throttling ---------------------------------------------------------------------------------------

def test_throttle_per_account(site, db):
    email, _ = site.user("throttle")
    try:
        for _ in range(5):
            assert site.web().login(email, "wrong-password-x").status_code == 401
        r = site.web().login(email)   # even the right password waits now
        assert r.status_code == 429
        assert "Too many failed logins for this account" in r.text and "try again in" in r.text
        assert 0 < int(r.headers["Retry-After"]) <= 900
        other, _ = site.user("bystander")
        assert site.web().login(other).status_code == 303, "another account from the same address still logs in"
        # The window passes: the failures age out and the right password works again.
        db.sql("UPDATE login_attempts SET at = at - interval '16 minutes' WHERE email = %s", email.lower())
        assert site.web().login(email).status_code == 303
    finally:
        site.clear_throttle()


def test_a_success_clears_the_accounts_failures(site, db):
    email, _ = site.user("clears")
    try:
        for _ in range(4):
            site.web().login(email, "wrong-password-x")
        assert site.web().login(email).status_code == 303
        assert db.sql("SELECT count(*) FROM login_attempts WHERE email = %s", email.lower())[0][0] in (0, "0")
    finally:
        site.clear_throttle()


def test_throttle_per_address(site):
    try:
        for i in range(30):
            site.web().login(f"spray-{i}-{secrets.token_hex(3)}@example.com", "guess-guess-1")
        email, _ = site.user("victim")
        r = site.web().login(email)
        assert r.status_code == 429 and "from your network address" in r.text
    finally:
        site.clear_throttle()


# ---- CSRF ---------------------------------------------------------------------------------------------

def test_the_route_table_has_the_admin_posts():
    paths = {p for _, p in admin_post_routes()}
    for p in ("/login", "/logout", "/toggl/token", "/entries/resync", "/jobs/retry", "/tokens/create",
              "/users/add", "/settings"):
        assert p in paths


def test_every_state_changing_route_needs_the_csrf_token(site, db):
    admin, _ = site.user("csrf-admin", admin=True)
    w = site.web(admin)
    other = site.web(site.user("csrf-other")[0])
    foreign = other.csrf()
    before = db.sql("SELECT (SELECT count(*) FROM api_tokens), (SELECT count(*) FROM users), "
                    "(SELECT count(*) FROM jobs)")[0]
    for name, path in admin_post_routes():
        for token in (None, "", "forged-" + "x" * 36, foreign):
            data = {"name": "evil", "email": "evil@example.com", "token": "abc", "workspace": "1", "id": "1",
                    "since": "2024-01-01", "password": "evil-password-1"}
            if token is not None:
                data["csrf"] = token
            r = w.post(path, data)
            assert r.status_code == 403, f"{name} ({path}) with csrf={token!r}: {r.status_code}"
            assert "CSRF" in r.text
    assert db.sql("SELECT (SELECT count(*) FROM api_tokens), (SELECT count(*) FROM users), "
                  "(SELECT count(*) FROM jobs)")[0] == before, "nothing changed"


def test_login_post_needs_the_pre_login_token(site):
    email, _ = site.user("precsrf")
    w = site.web()
    w.get("/login")
    r = w.post("/login", {"email": email, "password": PASSWORD})
    assert r.status_code == 403
    r = w.post("/login", {"email": email, "password": PASSWORD, "csrf": "x" * 43})
    assert r.status_code == 403
    # A token from another browser's pre-login cookie does not fit this one.
    stranger = csrf_of(site.web().get("/login").text)
    assert w.post("/login", {"email": email, "password": PASSWORD, "csrf": stranger}).status_code == 403


def test_the_csrf_header_works_for_scripts(site):
    email, _ = site.user("header")
    w = site.web(email)
    token = w.csrf()
    r = w.post("/tokens/create", {"name": "via header"}, headers={"X-CSRF-Token": token})
    assert r.status_code == 200 and "tb_" in r.text


# ---- next and redirects -------------------------------------------------------------------------------

@pytest.mark.parametrize("nxt", ["//evil.example/", "https://evil.example/x", "/\\evil.example", "http:evil.example",
                                 "javascript:alert(1)", "\\\\evil.example", "/\t/evil.example", " //evil.example",
                                 "/\r\nSet-Cookie: x=1", "evil.example"])
def test_next_is_local_only(site, nxt):
    email, _ = site.user("next")
    w = site.web()
    r = w.login(email, next_=nxt)
    assert r.status_code == 303
    loc = r.headers["Location"]
    assert loc == "/", f"next={nxt!r} redirected to {loc!r}"
    assert "x=1" not in r.headers.get("Set-Cookie", "")
    # Already logged in, GET /login?next= redirects the same careful way.
    r = w.get("/login", params={"next": nxt})
    assert r.status_code == 303 and r.headers["Location"] == "/"


def test_next_keeps_a_local_path(site):
    email, _ = site.user("nextok")
    r = site.web().login(email, next_="/entries?state=error")
    assert r.headers["Location"] == "/entries?state=error"


def test_a_visitor_is_sent_to_login_with_next(site):
    r = site.web().get("/jobs")
    assert r.status_code == 303 and r.headers["Location"] == "/login?next=/jobs"
    r = site.web().post("/tokens/create", {"name": "x"})
    assert r.status_code == 401


# ---- headers ------------------------------------------------------------------------------------------

def check_headers(r):
    csp = r.headers["Content-Security-Policy"]
    assert "unsafe-inline" not in csp and "unsafe-eval" not in csp
    assert "frame-ancestors 'none'" in csp and "default-src 'self'" in csp
    assert r.headers["Referrer-Policy"] in ("same-origin", "no-referrer", "strict-origin-when-cross-origin")
    assert r.headers["X-Content-Type-Options"] == "nosniff"
    assert r.headers["X-Frame-Options"] == "DENY"
    assert "no-store" in r.headers["Cache-Control"]


def test_security_headers_on_every_page(site):
    admin, _ = site.user("headers", admin=True)
    w = site.web(admin)
    check_headers(w.get("/login"))
    for p in ("/", "/toggl", "/google", "/entries", "/jobs", "/tokens", "/users", "/settings"):
        r = w.get(p)
        assert r.status_code == 200, p
        assert r.headers["Content-Type"] == "text/html; charset=utf-8"
        check_headers(r)
        assert "Strict-Transport-Security" not in r.headers, "no HSTS while PUBLIC_URL is http"


def test_pages_use_no_inline_script_or_style(site):
    admin, _ = site.user("inline", admin=True)
    w = site.web(admin)
    for p in ("/", "/toggl", "/google", "/entries", "/jobs", "/tokens", "/users", "/settings", "/login"):
        html = w.get(p).text
        assert not re.search(r"<script(?![^>]*\bsrc=)", html), f"{p} has an inline script"
        assert "<style" not in html and " style=" not in html and not re.search(r"\son[a-z]+=", html), p


@pytest.fixture(scope="module")
def https_stack():
    """A second, small stack whose PUBLIC_URL is https: Secure cookies and HSTS."""
    s = harness.Stack(env={"TIMEBRIDGE_PUBLIC_URL": "https://timebridge.example"}, workers=0)
    try:
        s.start()
    except harness.HarnessError as e:
        pytest.fail(f"the https stack did not start: {e}", pytrace=False)
    yield s
    problems = s.stop()
    assert not problems, problems


def test_https_public_url_brings_hsts_and_secure_cookies(https_stack):
    r = requests.get(https_stack.nginx.https_url + "/login", verify=False, timeout=10, allow_redirects=False)
    assert r.status_code == 200
    assert r.headers["Strict-Transport-Security"].startswith("max-age=")
    assert all("Secure" in c for c in r.raw.headers.getlist("Set-Cookie"))
    check_headers(r)


# ---- who sees what ------------------------------------------------------------------------------------

@pytest.fixture(scope="module")
def two_users(site, db):
    """Users A and B with an entry, a dead job and a token each; and an admin."""
    a, ua = site.user("alice")
    b, ub = site.user("bob")
    adm, _ = site.user("boss", admin=True)
    for uid, who, eid in ((ua, "alice", 9100000001), (ub, "bob", 9100000002)):
        db.sql("INSERT INTO time_entries (id, user_id, toggl_user_id, workspace_id, description, start, stop, "
               "duration, at) VALUES (%s, %s, 1, 1, %s, now() - interval '2 hours', now() - interval '1 hour', "
               "3600, now())", str(eid), str(uid), f"secret-of-{who}")
        db.sql("INSERT INTO jobs (kind, payload, user_id, state, attempts, last_error) VALUES "
               "('diag.sleep', '{}', %s, 'dead', 8, %s)", str(uid), f"dead-job-of-{who}")
        site.web(a if who == "alice" else b).form("/tokens/create", {"name": f"token-of-{who}"})
    return {"a": a, "ua": ua, "b": b, "ub": ub, "admin": adm}


def test_a_user_sees_only_their_own_data(site, two_users):
    w = site.web(two_users["a"])
    for path in ("/entries", f"/entries?user={two_users['ub']}", "/entries?user=all"):
        html = w.get(path).text
        assert "secret-of-alice" in html and "secret-of-bob" not in html, path
    for path in ("/jobs?state=dead", f"/jobs?state=all&user={two_users['ub']}"):
        html = w.get(path).text
        assert "dead-job-of-alice" in html and "dead-job-of-bob" not in html, path
    html = w.get("/tokens").text
    assert "token-of-alice" in html and "token-of-bob" not in html
    assert "Showing" not in w.get(f"/toggl?user={two_users['ub']}").text, "no user picker for a plain user"
    assert two_users["b"] not in w.get("/").text


def test_a_user_cannot_act_on_someone_elses_things(site, db, two_users):
    w = site.web(two_users["a"])
    (tid,), = db.sql("SELECT id FROM api_tokens WHERE name = 'token-of-bob'")
    r = w.form("/tokens/revoke", {"id": tid})
    assert r.status_code == 303
    assert db.sql("SELECT revoked_at IS NULL FROM api_tokens WHERE id = %s", tid)[0][0] in (True, "t")
    (jid,), = db.sql("SELECT id FROM jobs WHERE last_error = 'dead-job-of-bob'")
    w.form("/jobs/retry", {"id": jid})
    assert db.sql("SELECT state FROM jobs WHERE id = %s", jid)[0][0] == "dead"
    before = db.sql("SELECT count(*) FROM jobs WHERE kind = 'google.sync_entry'")[0][0]
    w.form("/entries/resync", {"one": "9100000002"})
    assert db.sql("SELECT count(*) FROM jobs WHERE kind = 'google.sync_entry'")[0][0] == before
    w.form("/jobs/retry-dead", {"user": str(two_users["ub"])})
    assert db.sql("SELECT state FROM jobs WHERE id = %s", jid)[0][0] == "dead"


def test_an_admin_sees_everyone(site, two_users):
    w = site.web(two_users["admin"])
    html = w.get("/entries").text
    assert "secret-of-alice" in html and "secret-of-bob" in html
    html = w.get(f"/entries?user={two_users['ub']}").text
    assert "secret-of-alice" not in html and "secret-of-bob" in html
    assert "dead-job-of-bob" in w.get("/jobs?state=dead").text


@pytest.mark.parametrize("method,path", [("GET", "/users"), ("GET", "/settings"), ("POST", "/users/add"),
                                         ("POST", "/users/update"), ("POST", "/settings")])
def test_admin_pages_are_403_for_users(site, method, path):
    email, _ = site.user("plain")
    w = site.web(email)
    r = w.get(path) if method == "GET" else w.form(path, {"email": "x@example.com", "user": "1", "op": "admin"})
    assert r.status_code == 403, f"{method} {path}"
    assert "Users" not in re.sub(r"<main.*", "", w.get("/").text, flags=re.S), "no admin links in the nav"


# ---- pages and their input checks ---------------------------------------------------------------------

def test_entry_markup_is_escaped(site, db):
    email, uid = site.user("markup")
    db.sql("INSERT INTO time_entries (id, user_id, toggl_user_id, workspace_id, description, tags, start, stop, "
           "duration, at) VALUES (9100000009, %s, 1, 1, %s, ARRAY['<i>tag</i>'], now() - interval '1 hour', now(), "
           "3600, now())", str(uid), '<script>alert("x")</script><img src=x onerror=alert(1)>')
    html = site.web(email).get("/entries").text
    assert "<script>alert" not in html and "<img src=x" not in html and "<i>tag" not in html
    assert "&lt;script&gt;alert(&quot;x&quot;)&lt;/script&gt;&lt;img src=x onerror=alert(1)&gt;" in html


def test_dashboard_chart_counts_finished_entries_only(site, db):
    email, uid = site.user("chart")
    db.sql("INSERT INTO time_entries (id, user_id, toggl_user_id, workspace_id, description, start, stop, "
           "duration, at) VALUES (9100000011, %s, 1, 1, 'done', now() - interval '3 hours', now() - interval "
           "'1 hour', 7200, now()), (9100000012, %s, 1, 1, 'running', now() - interval '30 minutes', NULL, "
           "-1700000000, now())", str(uid), str(uid))
    html = site.web(email).get("/").text
    assert "<svg class=\"chart-svg\"" in html and "2.0 h in all" in html
    assert "No project: 2.0 h" in html


def test_tokens_check_their_input(site):
    email, _ = site.user("tok")
    w = site.web(email)
    r = w.form("/tokens/create", {"name": ""})
    assert r.status_code == 400 and "Give the token a name" in r.text
    r = w.form("/tokens/create", {"name": "x" * 101})
    assert r.status_code == 400
    r = w.form("/tokens/create", {"name": "line\nbreak"})
    assert r.status_code == 400
    r = w.form("/tokens/create", {"name": "Grafana"})
    token = re.search(r'id="once-value">(tb_[A-Za-z0-9_-]+)<', r.text).group(1)
    assert requests.get(site.url + "/api/grafana/", headers={"Authorization": f"Bearer {token}"},
                        timeout=10).status_code != 401
    assert token not in w.get("/tokens").text, "shown once"


def test_users_add_disable_and_self_protection(site, db):
    admin, admin_id = site.user("chief", admin=True)
    w = site.web(admin)
    new = f"new-{secrets.token_hex(4)}@example.com"
    r = w.form("/users/add", {"email": new, "password": ""}, page="/users")
    assert r.status_code == 201
    pw = re.search(r'id="once-value">([^<]+)<', r.text).group(1)
    assert site.web().login(new, pw).status_code == 303
    r = w.form("/users/add", {"email": new, "password": ""}, page="/users")
    assert r.status_code == 409 and "exists already" in r.text
    r = w.form("/users/add", {"email": "not-an-email", "password": ""}, page="/users")
    assert r.status_code == 400
    r = w.form("/users/add", {"email": "short@example.com", "password": "short"}, page="/users")
    assert r.status_code == 400 and "at least 10" in r.text
    (nid,), = db.sql("SELECT id FROM users WHERE email = %s", new)
    victim = site.web()
    assert victim.login(new, pw).status_code == 303
    w.form("/users/update", {"user": nid, "op": "disable"}, page="/users")
    assert victim.get("/").status_code == 303, "a disabled user's sessions end"
    assert site.web().login(new, pw).status_code == 403
    r = w.form("/users/update", {"user": str(admin_id), "op": "disable"}, page="/users")
    assert r.status_code == 303
    assert db.sql("SELECT disabled FROM users WHERE id = %s", str(admin_id))[0][0] in (False, "f")
    r = w.form("/users/update", {"user": nid, "op": "password"}, page="/users")
    assert r.status_code == 200 and "once-value" in r.text


def test_settings_are_checked_and_saved(site, db):
    admin, _ = site.user("settings", admin=True)
    w = site.web(admin)
    good = {"sync_validate_interval": "15", "toggl_reconcile_cron": "0 3,15 * * *", "webhook_event_retention_days": "60"}
    for key, bad in (("sync_validate_interval", "0"), ("sync_validate_interval", "abc"),
                     ("toggl_reconcile_cron", "* * * * *"), ("toggl_reconcile_cron", "not cron"),
                     ("webhook_event_retention_days", "-1")):
        r = w.form("/settings", dict(good, **{key: bad}), page="/settings")
        assert r.status_code == 400, (key, bad)
        assert 'class="form-error"' in r.text
    assert db.sql("SELECT count(*) FROM settings WHERE key = 'webhook_event_retention_days' AND value = '60'")[0][0] \
        in (0, "0"), "nothing saved from a bad form"
    saved = db.sql("SELECT key, value FROM settings")
    try:
        r = w.form("/settings", good, page="/settings")
        assert r.status_code == 303
        vals = dict(db.sql("SELECT key, value FROM settings"))
        assert vals["SYNC_VALIDATE_INTERVAL"] == "15" and vals["webhook_event_retention_days"] == "60"
        assert vals["toggl.reconcile_cron"] == "0 3,15 * * *"
        assert "Settings saved." in w.get("/settings").text
    finally:
        # The stack is shared: leave the settings as the other tests expect them.
        db.sql("DELETE FROM settings WHERE key IN ('SYNC_VALIDATE_INTERVAL', 'webhook_event_retention_days', "
               "'toggl.reconcile_cron')")
        for key, value in saved:
            if key in ("SYNC_VALIDATE_INTERVAL", "webhook_event_retention_days", "toggl.reconcile_cron"):
                db.sql("INSERT INTO settings (key, value) VALUES (%s, %s)", key, value)


def test_toggl_token_is_write_only_and_checked(site, db):
    email, uid = site.user("toggltok")
    w = site.web(email)
    r = w.form("/toggl/token", {"token": "has spaces inside"}, page="/toggl")
    assert r.status_code == 400 and "does not look like a Toggl API token" in r.text
    r = w.form("/toggl/token", {"token": "  abcdef0123456789abcdef0123456789  "}, page="/toggl")
    assert r.status_code == 303
    (sealed,), = db.sql("SELECT sealed FROM secrets WHERE user_id = %s AND kind = 'toggl_token'", str(uid))
    assert "abcdef0123456789" not in sealed
    assert "abcdef0123456789" not in w.get("/toggl").text
    assert db.sql("SELECT count(*) FROM jobs WHERE user_id = %s AND kind = 'toggl.connect'", str(uid))[0][0] \
        in (1, "1"), "a job verifies it; the web request calls nobody"


def test_import_and_webhook_forms_check_their_input(site, db):
    email, uid = site.user("forms")
    w = site.web(email)
    assert w.form("/toggl/import", {"since": "yesterday"}, page="/toggl").status_code == 400
    assert w.form("/toggl/import", {"since": "2024-02-30"}, page="/toggl").status_code == 400
    r = w.form("/toggl/webhook/setup", {"workspace": "123"}, page="/toggl")
    assert r.status_code == 303
    assert "not one of this account" in w.get("/toggl").text
    r = w.form("/toggl/import", {"since": "2024-01-01", "until": "2024-01-31"}, page="/toggl")
    assert r.status_code == 303
    assert db.sql("SELECT payload->>'since' FROM jobs WHERE user_id = %s AND kind = 'toggl.import'",
                  str(uid))[0][0] == "2024-01-01"


def test_a_forged_flash_cookie_is_ignored(site):
    email, _ = site.user("flash")
    w = site.web(email)
    w.s.cookies.set("tb_flash", "MEhhY2tlZA.AAAAAAAAAAAAAAAAAAAAAA", domain="127.0.0.1", path="/")
    assert "Hacked" not in w.get("/").text


def test_no_demo_banner_by_default(site):
    email, _ = site.user("nodemo")
    assert "Demo mode" not in site.web(email).get("/").text


# ---- demo mode ----------------------------------------------------------------------------------------

@pytest.mark.parametrize("toggl_url,why", [("https://api.track.toggl.com", "must be the local fake Toggl"),
                                           ("http://127.0.0.1:1", "does not answer like the fake Toggl")])
def test_demo_setup_touches_nothing_but_the_fakes(stack, db, toggl_url, why):
    env = dict(stack.env, TIMEBRIDGE_TOGGL_URL=toggl_url)
    before = db.sql("SELECT (SELECT count(*) FROM users), (SELECT count(*) FROM toggl_accounts)")[0]
    r = stack.app.run("timebridge", "demo", "setup", env=env)
    assert r.returncode == 4, r.stdout + r.stderr
    assert why in r.stderr
    assert db.sql("SELECT (SELECT count(*) FROM users), (SELECT count(*) FROM toggl_accounts)")[0] == before
