"""tests/e2e/conftest.py: session fixtures for the end-to-end tests.

`stack`: PostgreSQL (throw-away cluster), `timebridge migrate`, one timebridge-fcgi, one timebridge-worker and
the real nginx with the shipped nginx/timebridge.conf on free loopback ports (tests/harness/stack.py), the
upstream URLs pointing at the fakes from tests/fakes when they are there. `db`: SQL against that database.
The programs come from $TB_BUILD_DIR (./dev check sets it), default build/check.
"""
import importlib.util
import sys
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[2]
sys.path.insert(0, str(ROOT / "tests" / "harness"))
import stack as harness  # noqa: E402

_live_stacks = []


def _load_fake(name):
    """tests/fakes/fake_NAME.py as a module, or None while it is not written yet."""
    path = ROOT / "tests" / "fakes" / f"fake_{name}.py"
    if not path.exists():
        return None
    spec = importlib.util.spec_from_file_location(f"fake_{name}", path)
    module = importlib.util.module_from_spec(spec)
    sys.modules[spec.name] = module
    spec.loader.exec_module(module)
    return module if hasattr(module, "start") else None


@pytest.fixture(scope="session")
def fakes():
    """The fakes that exist: {"toggl": base URL, "toggl_module": the module, "google": ..., ...}."""
    urls, servers = {}, []
    for name in ("toggl", "google"):
        module = _load_fake(name)
        if module is None:
            continue
        server, _thread, base_url = module.start()
        urls[name] = base_url.rstrip("/")
        urls[f"{name}_module"] = module
        servers.append(server)
    yield urls
    for server in servers:
        server.shutdown()
        server.server_close()


def upstream_env(fakes):
    """TIMEBRIDGE_* settings that point the app at the fakes (the paths mirror Google's real ones)."""
    env = {}
    if "toggl" in fakes:
        env["TIMEBRIDGE_TOGGL_URL"] = fakes["toggl"]
    if "google" in fakes:
        g, module = fakes["google"], fakes["google_module"]
        env.update(TIMEBRIDGE_GOOGLE_AUTH_URL=f"{g}/o/oauth2/v2/auth", TIMEBRIDGE_GOOGLE_TOKEN_URL=f"{g}/token",
                   TIMEBRIDGE_GOOGLE_REVOKE_URL=f"{g}/revoke", TIMEBRIDGE_GOOGLE_API_URL=f"{g}/calendar/v3",
                   GOOGLE_CLIENT_ID=module.DEFAULT_CLIENT_ID, GOOGLE_CLIENT_SECRET=module.DEFAULT_CLIENT_SECRET)
    return env


@pytest.fixture(scope="session")
def stack(fakes):
    """The running stack: .nginx.url / .https_url / .redirect_url, .app (fcgi, workers, cli()), .pg, .env."""
    s = harness.Stack(env=upstream_env(fakes))
    try:
        s.start()
    except harness.HarnessError as e:
        pytest.fail(f"the stack did not start: {e}", pytrace=False)
    _live_stacks.append(s)
    yield s
    _live_stacks.remove(s)
    problems = s.stop()
    if problems:
        pytest.fail("the stack did not stop cleanly:\n" + "\n".join(problems), pytrace=False)


@pytest.fixture(scope="session")
def db(stack):
    """db.sql(query, *params) -> list of row tuples, with %s parameters (psycopg2, or psql without it)."""
    return stack.pg


@pytest.fixture(scope="session")
def api_user(stack):
    """A user and an API token for it, made with the CLI: (email, token)."""
    email = "e2e@example.com"
    stack.app.cli("user", "add", email, input="e2e-password-0123456789")
    out = stack.app.cli("token", "create", email, "--name", "e2e").stdout.split()
    return email, out[-1]


@pytest.hookimpl(hookwrapper=True)
def pytest_runtest_makereport(item, call):
    """Attach the tails of the stack's logs to a failing test's report."""
    outcome = yield
    report = outcome.get_result()
    if report.failed and _live_stacks:
        for s in _live_stacks:
            report.sections.append(("timebridge logs", s.logs()))
