#!/usr/bin/env python3
"""tests/browser/launch.py: the stack for the browser tests. Starts the fake Toggl and fake Google (in this
process), then tests/harness/stack.py's Stack (PostgreSQL, migrations, timebridge-fcgi, timebridge-worker,
nginx) pointed at them, creates an admin and a plain user, prints one line of JSON with every address and
login, and runs until SIGTERM or SIGINT (or its stdin closes), then stops everything.

    TB_BUILD_DIR=build/check /usr/bin/python3 tests/browser/launch.py [--workers N] [--demo]

--demo does what ./dev run --demo does: TIMEBRIDGE_DEMO=1 for the app (the pages carry the demo banner), and
`timebridge demo setup` once the stack answers (the demo login is in the JSON as "demo": [email, password]).
"""
import argparse
import importlib.util
import json
import re
import os
import signal
import sys
import threading
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parents[2]
sys.path.insert(0, str(ROOT / "tests" / "harness"))
import stack as harness  # noqa: E402

ADMIN = ("admin@example.com", "admin-password-0123")
USER = ("user@example.com", "user-password-0123")


def load_fake(name):
    path = ROOT / "tests" / "fakes" / f"fake_{name}.py"
    spec = importlib.util.spec_from_file_location(f"fake_{name}", path)
    module = importlib.util.module_from_spec(spec)
    sys.modules[spec.name] = module
    spec.loader.exec_module(module)
    return module


def main():
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--workers", type=int, default=1)
    ap.add_argument("--demo", action="store_true")
    args = ap.parse_args()

    os.environ.setdefault("FAKE_QUIET", "1")
    fake_toggl, fake_google = load_fake("toggl"), load_fake("google")
    t_server, _t, toggl_url = fake_toggl.start(port=0)
    g_server, _g, google_url = fake_google.start(port=0)
    toggl_url, google_url = toggl_url.rstrip("/"), google_url.rstrip("/")
    env = {
        "TIMEBRIDGE_TOGGL_URL": toggl_url,
        "TIMEBRIDGE_GOOGLE_AUTH_URL": f"{google_url}/o/oauth2/v2/auth",
        "TIMEBRIDGE_GOOGLE_TOKEN_URL": f"{google_url}/token",
        "TIMEBRIDGE_GOOGLE_REVOKE_URL": f"{google_url}/revoke",
        "TIMEBRIDGE_GOOGLE_API_URL": f"{google_url}/calendar/v3",
        "GOOGLE_CLIENT_ID": fake_google.DEFAULT_CLIENT_ID,
        "GOOGLE_CLIENT_SECRET": fake_google.DEFAULT_CLIENT_SECRET,
    }
    if args.demo:
        env["TIMEBRIDGE_DEMO"] = "1"
    stack = harness.Stack(env=env, workers=args.workers)
    stopping = threading.Event()
    signal.signal(signal.SIGTERM, lambda *_: stopping.set())
    signal.signal(signal.SIGINT, lambda *_: stopping.set())
    try:
        stack.start()
        stack.app.cli("user", "add", ADMIN[0], "--admin", input=ADMIN[1])
        stack.app.cli("user", "add", USER[0], input=USER[1])
        demo = None
        if args.demo:
            # What ./dev run --demo does once the stack answers: a demo user connected to the fakes.
            demo = stack.app.cli("demo", "setup", check=False)
            print(demo.stdout + demo.stderr, file=sys.stderr, end="")
            if demo.returncode != 0:
                raise harness.HarnessError(f"timebridge demo setup exited {demo.returncode}")
        info = {
            "url": stack.nginx.url, "https_url": stack.nginx.https_url, "toggl": toggl_url, "google": google_url,
            "conninfo": stack.pg.conninfo, "workdir": str(stack.workdir),
            "admin": {"email": ADMIN[0], "password": ADMIN[1]}, "user": {"email": USER[0], "password": USER[1]},
            "build_dir": str(stack.build_dir),
            "demo": None if demo is None else re.search(r"log in as (\S+) with the password (\S+)", demo.stdout).groups(),
        }
        print(json.dumps(info), flush=True)

        # The parent going away (its end of our stdin closes) also stops us.
        def watch_stdin():
            try:
                while sys.stdin.read(1):
                    pass
            except (OSError, ValueError):
                pass
            stopping.set()
        if not sys.stdin.isatty():
            threading.Thread(target=watch_stdin, daemon=True).start()
        while not stopping.is_set():
            dead = [p.name for p in stack.app.procs() + [stack.nginx.proc] if not p.alive()]
            if dead:
                print(f"launch: {', '.join(dead)} exited", file=sys.stderr)
                break
            time.sleep(0.2)
    finally:
        problems = stack.stop()
        for server, module in ((t_server, fake_toggl), (g_server, fake_google)):
            try:
                module.stop(server)
            except Exception:  # noqa: BLE001 - stopping is best effort
                pass
        for p in problems:
            print(p, file=sys.stderr)
    return 1 if problems else 0


if __name__ == "__main__":
    sys.exit(main())
