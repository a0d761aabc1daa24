"""tests/e2e/test_foundation.py: the foundation end to end, through the real nginx with the shipped config:
health and readiness (also while PostgreSQL is down), the error replies for a bad request line, an oversized
body, malformed JSON and an unknown path, bad configuration at start, what the web servers pass to the app,
Caddy, and two FastCGI processes plus two workers on one database."""
import os
import shutil
import socket
import subprocess
import time

import pytest
import requests

import stack as harness

pytestmark = pytest.mark.filterwarnings("ignore::urllib3.exceptions.InsecureRequestWarning")


def get(url, **kw):
    kw.setdefault("timeout", 10)
    kw.setdefault("allow_redirects", False)
    return requests.get(url, **kw)


def poll(url, want, timeout):
    """GET url until it answers `want`; returns the last response (or None)."""
    deadline, r = time.monotonic() + timeout, None
    while time.monotonic() < deadline:
        try:
            r = get(url, timeout=5)
            if r.status_code == want:
                return r
        except requests.RequestException:
            pass
        time.sleep(0.2)
    return r


# ---- health and readiness ------------------------------------------------------------------------------

def test_healthz_through_nginx(stack):
    r = get(stack.nginx.url + "/healthz")
    assert r.status_code == 200


def test_healthz_through_the_tls_server_block(stack):
    r = get(stack.nginx.https_url + "/healthz", verify=False)
    assert r.status_code == 200


def test_port_80_server_redirects_to_https(stack):
    r = get(stack.nginx.redirect_url + "/healthz")
    assert r.status_code == 301
    assert r.headers["Location"].startswith("https://")


def test_readyz_when_ready(stack):
    r = get(stack.nginx.url + "/readyz")
    assert r.status_code == 200, r.text


def test_readyz_503_while_postgres_is_down_then_200_again(stack):
    url = stack.nginx.url + "/readyz"
    assert get(url).status_code == 200
    stack.pg.stop()
    try:
        r = poll(url, 503, 15)
        assert r is not None and r.status_code == 503, f"readyz with PostgreSQL stopped: {r and r.status_code}"
        assert get(stack.nginx.url + "/healthz").status_code == 200, "liveness must not depend on the database"
    finally:
        stack.pg.start()
    r = poll(url, 200, 30)
    assert r is not None and r.status_code == 200, "readyz did not recover after PostgreSQL came back"


def test_metrics_prometheus_text(stack):
    r = get(stack.nginx.url + "/metrics")
    assert r.status_code == 200
    assert r.headers["Content-Type"].startswith("text/plain")
    assert "# TYPE" in r.text


# ---- error replies -------------------------------------------------------------------------------------

def test_unknown_path_is_404(stack):
    assert get(stack.nginx.url + "/no/such/page").status_code == 404


def test_bad_request_line_is_400(stack):
    with socket.create_connection(("127.0.0.1", stack.nginx.port), timeout=10) as s:
        s.sendall(b"THIS IS NOT HTTP\r\n\r\n")
        reply = s.recv(200)
    assert reply.startswith(b"HTTP/1.1 400"), reply


def test_oversized_body_is_413(stack):
    # LIMIT_BODY_MAX + 1 = nginx's client_max_body_size + 1. (Webhook paths let nginx pass up to 8 MiB so the
    # app can answer an unknown token 404 first; tests/e2e/test_webhook.py covers the app's own 413 there.)
    body = b"x" * (1024 * 1024 + 1)
    r = requests.post(stack.nginx.url + "/api/grafana/query", data=body, timeout=30,
                      headers={"Content-Type": "application/json"})
    assert r.status_code == 413


def test_malformed_json_is_400(stack, api_user):
    _email, token = api_user
    r = requests.post(stack.nginx.url + "/api/grafana/query", data=b'{"targets": [ this is not json',
                      headers={"Content-Type": "application/json", "Authorization": f"Bearer {token}"},
                      timeout=10)
    if r.status_code == 404:
        pytest.xfail("POST /api/grafana/query does not exist yet (the Grafana issue adds it)")
    assert r.status_code == 400, r.text


# ---- configuration -------------------------------------------------------------------------------------

BAD_CONFIG = [
    pytest.param({"TIMEBRIDGE_SECRET_KEY": None}, "TIMEBRIDGE_SECRET_KEY", id="secret-missing"),
    pytest.param({"TIMEBRIDGE_SECRET_KEY": "too-short-0123456789"}, "TIMEBRIDGE_SECRET_KEY", id="secret-short"),
    pytest.param({"TIMEBRIDGE_TOGGL_URL": "http://example.com"}, "TIMEBRIDGE_TOGGL_URL", id="toggl-not-https"),
]


@pytest.mark.parametrize("prog", ["timebridge-fcgi", "timebridge-worker"])
@pytest.mark.parametrize("change,variable", BAD_CONFIG)
def test_bad_configuration_stops_with_one_line_naming_the_variable(stack, prog, change, variable):
    env = dict(stack.env)
    for k, v in change.items():
        if v is None:
            env.pop(k, None)
        else:
            env[k] = v
    args = ["--listen", stack.workdir / "badconfig.sock"] if prog == "timebridge-fcgi" else []
    try:
        r = stack.app.run(prog, *args, env=env, timeout=20)
    except subprocess.TimeoutExpired:
        pytest.fail(f"{prog} kept running with a bad {variable}")
    lines = [line for line in r.stderr.splitlines() if line.strip()]
    assert r.returncode != 0, f"{prog} started with a bad {variable}"
    assert len(lines) == 1, f"want one line on stderr, got:\n{r.stderr}"
    assert variable in lines[0]


def test_an_oversized_request_header_is_400_whatever_server_is_in_front(stack):
    """LIMIT_HEADER_MAX (8192) holds at the app itself, straight over FastCGI; exactly the limit passes."""
    from test_webhook import fcgi_post
    sock = stack.app.sockets[0]
    status, _, body = fcgi_post(sock, "/healthz", b"", headers={"X-Big": "a" * 8193})
    assert status == 400 and b"X_BIG" in body
    status, _, _ = fcgi_post(sock, "/healthz", b"", headers={"X-Big": "a" * 8192})
    assert status == 405   # judged normally: POST is not allowed on /healthz


@pytest.mark.skipif(os.geteuid() != 0, reason="needs root to show that root is refused")
@pytest.mark.parametrize("prog", ["timebridge-fcgi", "timebridge-worker"])
def test_daemons_refuse_to_run_as_root(stack, prog):
    r = subprocess.run([str(stack.build_dir / "src" / prog)], env=dict(stack.env), capture_output=True,
                       text=True, timeout=20)
    assert r.returncode != 0
    assert "refusing to run as root" in r.stderr


# ---- what the web servers hand the app (checked against a dummy FastCGI responder) -------------------

@pytest.fixture(scope="module")
def dummy_backend():
    workdir = harness.make_workdir("tb-dummy-")
    sock = workdir / "dummy.sock"
    proc = harness.Proc("dummy-fcgi", ["/usr/bin/python3", harness.HARNESS / "dummy_fcgi.py", "--listen", sock],
                        workdir / "dummy.log").start()
    harness.wait_for(lambda: harness.unix_socket_ready(sock), 10, "dummy FastCGI socket", proc)
    yield workdir, sock
    proc.stop()
    shutil.rmtree(workdir, ignore_errors=True)


def check_params(p, path, query):
    assert p["SCRIPT_NAME"] == ""
    assert p["PATH_INFO"] == path
    assert p["DOCUMENT_URI"] == path
    assert p["REQUEST_URI"] == f"{path}?{query}"
    assert p["QUERY_STRING"] == query
    assert p["REQUEST_METHOD"] == "GET"


def test_nginx_passes_the_path_the_app_routes_on(dummy_backend):
    workdir, sock = dummy_backend
    ngx = harness.Nginx(upstream_sockets=[sock], workdir=workdir).start()
    try:
        check_params(get(ngx.url + "/api/grafana/query?x=1").json(), "/api/grafana/query", "x=1")
        p = get(ngx.https_url + "/webhook/toggl/abc?y=2", verify=False).json()
        check_params(p, "/webhook/toggl/abc", "y=2")
        assert p["HTTPS"] == "on"
        r = get(ngx.url + "/static/no-such-file.css")
        assert r.status_code == 404, "/static/ must be served from www/, not by the app"
    finally:
        assert ngx.stop() == []


@pytest.mark.skipif(shutil.which("caddy") is None, reason="caddy is not installed")
def test_caddy_passes_the_path_the_app_routes_on(dummy_backend):
    workdir, sock = dummy_backend
    caddy = harness.Caddy(upstream_sockets=[sock], workdir=workdir).start()
    try:
        check_params(get(caddy.url + "/api/grafana/query?x=1").json(), "/api/grafana/query", "x=1")
    finally:
        assert caddy.stop() == []


def test_static_files_are_served_by_nginx_with_caching_headers(stack):
    files = sorted(p for p in (harness.ROOT / "www").rglob("*") if p.is_file())
    if not files:
        pytest.skip("www/ has no files yet")
    rel = files[0].relative_to(harness.ROOT / "www").as_posix()
    r = get(f"{stack.nginx.url}/static/{rel}")
    assert r.status_code == 200
    assert r.content == files[0].read_bytes()
    assert "max-age=" in r.headers.get("Cache-Control", "")


# ---- Caddy with the real app ---------------------------------------------------------------------------

@pytest.mark.skipif(shutil.which("caddy") is None, reason="caddy is not installed")
def test_caddy_smoke(stack):
    caddy = harness.Caddy(upstream_sockets=stack.app.sockets, workdir=stack.workdir).start()
    try:
        r = get(caddy.url + "/healthz")
        assert r.status_code == 200
    finally:
        assert caddy.stop() == []


# ---- scaling out ---------------------------------------------------------------------------------------

def test_two_fcgi_processes_and_two_workers_on_one_database(stack, db):
    """Two FastCGI processes behind one nginx upstream and two more workers, all on the stack's database
    (with the same secret key, as on several hosts). Every request succeeds and both processes answer some;
    a batch of jobs is shared out between the workers and each job completes exactly once."""
    app = harness.App(stack.build_dir, stack.env, stack.workdir, fcgi=2, workers=2, name="scale")
    ngx = harness.Nginx(upstream_sockets=app.sockets, workdir=stack.workdir)
    problems = []
    try:
        app.start()
        ngx.start()
        statuses = [get(ngx.url + path).status_code for _ in range(20) for path in ("/healthz", "/readyz")]
        assert statuses == [200] * len(statuses)
        log = ngx.access_log()
        for sock in app.sockets:
            assert f"upstream=unix:{sock}" in log, f"{sock} answered no request"

        n = 24
        db.sql("INSERT INTO jobs (kind, payload) SELECT 'diag.sleep', jsonb_build_object('ms', 150, 'tag', "
               "'scale-' || g) FROM generate_series(1, %s) g", n)
        deadline = time.monotonic() + 60
        while time.monotonic() < deadline:
            done = db.sql("SELECT count(*) FROM jobs WHERE payload->>'tag' LIKE 'scale-%%' AND state = 'done'")
            if int(done[0][0]) == n:
                break
            time.sleep(0.2)
        rows = db.sql("SELECT detail->>'job_id', count(*), min(detail->>'owner') FROM audit_log "
                      "WHERE action = 'diag.sleep' AND detail->>'tag' LIKE 'scale-%%' GROUP BY 1")
        assert len(rows) == n, f"{len(rows)} of {n} jobs completed"
        assert all(int(count) == 1 for _id, count, _owner in rows), "a job completed twice"
        owners = {owner for _id, _count, owner in rows}
        for w in app.workers:
            assert any(o.endswith(f":{w.popen.pid}") for o in owners), f"{w.name} ran none of the jobs"
        assert all(w.alive() for w in app.workers), "a worker exited next to another one"
    finally:
        problems += ngx.stop()
        problems += app.stop()
    assert problems == []
