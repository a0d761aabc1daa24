#!/usr/bin/env python3
"""tests/grafana/stack_helper.py: a throw-away timebridge stack with Grafana test data, for the Node tests.

Starts tests/harness/stack.py's Stack (programs from $TB_BUILD_DIR, default build/check), makes a user and an
admin with API tokens, fills a workspace with projects, clients, tags and entries (one running), prints one
JSON line {url, token, admin_token} and runs until its stdin closes, then stops everything."""
import json
import sys
from datetime import datetime, timedelta, timezone
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[1] / "harness"))
import stack as harness  # noqa: E402


def main():
    s = harness.Stack()
    try:
        s.start()
        out = {"url": s.nginx.url}
        for key, email, admin in (("token", "node@example.com", False), ("admin_token", "node-admin@example.com", True)):
            s.app.cli("user", "add", email, *(["--admin"] if admin else []), input="node-password-0123456789")
            out[key] = s.app.cli("token", "create", email, "--name", "node").stdout.split()[-1]
        uid = int(s.pg.sql("SELECT id FROM users WHERE email = 'node@example.com'")[0][0])
        s.pg.sql("INSERT INTO toggl_accounts (user_id, toggl_user_id, time_zone, beginning_of_week) "
                 "VALUES (%s, 5001, 'Europe/Prague', 1)", uid)
        s.pg.sql("INSERT INTO toggl_workspaces (id, name, user_id) VALUES (500, 'Node WS', %s)", uid)
        s.pg.sql("INSERT INTO toggl_clients (id, workspace_id, name) VALUES (510, 500, 'Acme')")
        s.pg.sql("INSERT INTO toggl_projects (id, workspace_id, client_id, name, color, billable, rate, currency) "
                 "VALUES (520, 500, 510, 'Website', '#e36a00', true, 90, 'EUR'), (521, 500, NULL, 'Internal', NULL, "
                 "false, NULL, NULL)")
        s.pg.sql("INSERT INTO toggl_tags (id, workspace_id, name) VALUES (530, 500, 'dev'), (531, 500, 'meeting')")
        now = datetime.now(timezone.utc).replace(microsecond=0)
        day = now.replace(hour=0, minute=0, second=0)
        n = 0
        for d in range(1, 20):
            for (h, mins, pid, bill, tags, desc) in ((8, 30, 521, False, "{meeting}", "standup"),
                                                     (9, 150, 520, True, "{dev}", "build the site"),
                                                     (23, 120, 520, True, "{dev}", "late fix")):
                n += 1
                start = day - timedelta(days=d) + timedelta(hours=h)
                s.pg.sql("INSERT INTO time_entries (id, user_id, toggl_user_id, workspace_id, project_id, description, "
                         "billable, start, stop, duration, tags, at) VALUES (%s, %s, 5001, 500, %s, %s, %s, %s, %s, %s, "
                         "%s::text[], now())", 50000 + n, uid, pid, desc, bill, start, start + timedelta(minutes=mins),
                         mins * 60, tags)
        start = now - timedelta(minutes=42)
        s.pg.sql("INSERT INTO time_entries (id, user_id, toggl_user_id, workspace_id, project_id, description, billable, "
                 "start, stop, duration, tags, at) VALUES (59999, %s, 5001, 500, 520, 'running', true, %s, NULL, %s, "
                 "'{dev}', now())", uid, start, -int(start.timestamp()))
        print(json.dumps(out), flush=True)
        sys.stdin.read()
    finally:
        problems = s.stop()
        for p in problems:
            print(p, file=sys.stderr)


if __name__ == "__main__":
    main()
