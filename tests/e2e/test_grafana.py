"""tests/e2e/test_grafana.py: the Grafana JSON API (issue 5) end to end, through the real nginx: the numbers
(bucket splitting across midnight and DST, week starts, every filter operator, running and deleted
entries, earnings and ratios), who sees what (auth failures, own data only, admins and `user`), the error
body on every non-2xx, tolerant payloads, legacy SimpleJSON shapes, CORS and the statement timeout.
Request bodies are modelled on what the simPod plugin sends (../shared/docs/grafana-json-api.md §1.2).

Data: users and entries inserted with SQL in ids of their own (9xxx), so the shared session stack can hold
other tests' data too; admin queries name their users."""
import base64
import json
import threading
import time
from datetime import datetime, timedelta, timezone

import pytest
import requests

import stack as harness

UTC = timezone.utc


def iso(dt):
    return dt.astimezone(UTC).strftime("%Y-%m-%dT%H:%M:%S.000Z")


def ms(dt):
    return int(dt.timestamp() * 1000)


def t(s):
    """'2024-03-01 22:00' in UTC."""
    return datetime.strptime(s, "%Y-%m-%d %H:%M").replace(tzinfo=UTC)


class Api:
    def __init__(self, base, token):
        self.base, self.token = base, token

    def post(self, path, body, token=None, headers=None, raw=None):
        h = {"Content-Type": "application/json", "Accept": "application/json, text/plain, */*"}
        if token is not False:
            h["Authorization"] = f"Bearer {token or self.token}"
        h.update(headers or {})
        data = raw if raw is not None else json.dumps(body)
        return requests.post(self.base + "/api/grafana" + path, data=data, headers=h, timeout=30)

    def ok(self, path, body, **kw):
        r = self.post(path, body, **kw)
        assert r.status_code == 200, f"{path}: {r.status_code} {r.text}"
        return r.json()

    def err(self, path, body, status, **kw):
        r = self.post(path, body, **kw)
        assert r.status_code == status, f"{path}: want {status}, got {r.status_code} {r.text}"
        check_error_shape(r)
        return r.json()["message"]

    def query(self, frm, to, *targets, **extra):
        token = extra.pop("token", None)
        body = {"app": "dashboard", "requestId": "Q1", "timezone": extra.pop("timezone", "browser"),
                "range": {"from": iso(frm), "to": iso(to), "raw": {"from": "now-7d", "to": "now"}},
                "interval": "1h", "intervalMs": extra.pop("intervalMs", 3600000),
                "maxDataPoints": extra.pop("maxDataPoints", 1000),
                "targets": [dict({"refId": chr(65 + i), "datasource": {"type": "simpod-json-datasource",
                                  "uid": "timebridge-json"}, "editorMode": "builder"}, **tg)
                            for i, tg in enumerate(targets)],
                "scopedVars": {}, "filters": extra.pop("filters", []), "startTime": ms(to)}
        body.update(extra)
        return self.ok("/query", body, token=token)


def check_error_shape(r):
    """Grafana's panels read body.message, its Save & test body.error.code and body.error.message."""
    assert r.headers["Content-Type"].startswith("application/json"), r.headers
    b = r.json()
    assert isinstance(b.get("message"), str) and b["message"], b
    assert isinstance(b.get("error"), dict), b
    assert isinstance(b["error"].get("code"), str) and b["error"]["code"], b
    assert b["error"].get("message") == b["message"], b


def frames_values(resp):
    """{series name: {time ms: value}} of DataFrame answers."""
    out = {}
    for f in resp:
        times = f["fields"][0]["values"]
        vals = f["fields"][1]["values"]
        out[f["name"]] = dict(zip(times, vals))
    return out


def total(resp, name=None):
    s = 0.0
    for f in resp:
        if name is None or f["name"] == name:
            s += sum(v for v in f["fields"][1]["values"] if v is not None)
    return round(s, 6)


# ---- fixtures ------------------------------------------------------------------------------------------

@pytest.fixture(scope="module")
def g(stack, db):
    """Users alice (Europe/Prague, weeks from Monday), bob (America/New_York, weeks from Sunday) and an
    admin, with tokens, and alice's workspace, projects and entries."""
    info = {}
    for name, admin in (("alice", False), ("bob", False), ("root", True), ("carol", False), ("dave", False)):
        email = f"grafana-{name}@example.com"
        stack.app.cli("user", "add", email, *(["--admin"] if admin else []), input="grafana-password-0123")
        info[name] = stack.app.cli("token", "create", email, "--name", "grafana").stdout.split()[-1]
        info[name + "_id"] = int(db.sql("SELECT id FROM users WHERE email = %s", email)[0][0])
        info[name + "_email"] = email
    a, b = info["alice_id"], info["bob_id"]
    db.sql("INSERT INTO toggl_accounts (user_id, toggl_user_id, time_zone, beginning_of_week) VALUES "
           "(%s, 919001, 'Europe/Prague', 1), (%s, 919002, 'America/New_York', 0)", a, b)
    db.sql("INSERT INTO toggl_workspaces (id, name, user_id) VALUES (9100, 'Alice WS', %s), (9101, 'Bob WS', %s)",
           a, b)
    db.sql("INSERT INTO toggl_clients (id, workspace_id, name) VALUES (9200, 9100, 'Acme'), (9201, 9100, 'Beta')")
    db.sql("INSERT INTO toggl_projects (id, workspace_id, client_id, name, color, billable, rate, currency) VALUES "
           "(9300, 9100, 9200, 'Website', '#e36a00', true, 100, 'EUR'), "
           "(9301, 9100, NULL, 'Internal', '#2da608', false, NULL, NULL), "
           "(9302, 9100, 9201, 'Ops', '#06aaf5', true, 80, 'USD'), "
           "(9303, 9101, NULL, 'Bob Project', NULL, false, NULL, NULL)")
    db.sql("INSERT INTO toggl_tags (id, workspace_id, name) VALUES (9400, 9100, 'dev'), (9401, 9100, 'meeting'), "
           "(9402, 9100, 'ops')")
    now = datetime.now(UTC).replace(microsecond=0)
    rows = [
        # id, user, project, billable, tags, description, start, stop (None: running), deleted
        (91001, a, 9300, True, ["dev"], "late night", t("2024-03-01 22:00"), t("2024-03-02 00:00"), False),
        (91002, a, 9301, False, ["meeting"], "standup", t("2024-03-02 08:00"), t("2024-03-02 08:30"), False),
        (91003, a, 9302, True, ["dev", "ops"], "deploy", t("2024-03-02 12:00"), t("2024-03-02 13:00"), False),
        (91004, a, None, False, [], "", t("2024-03-02 13:00"), t("2024-03-02 13:15"), False),
        (91005, a, 9300, True, ["dev"], "deleted", t("2024-03-02 14:00"), t("2024-03-02 18:00"), True),
        # the whole of 31 March 2024 in Prague: 23 hours (CET -> CEST)
        (91006, a, 9301, False, [], "spring", t("2024-03-30 23:00"), t("2024-03-31 22:00"), False),
        # the whole of 27 October 2024 in Prague: 25 hours (CEST -> CET), longer than a day
        (91007, a, 9301, False, [], "autumn", t("2024-10-26 22:00"), t("2024-10-27 23:00"), False),
        # three days long, begun long before the range it is asked about
        (91008, a, 9301, False, [], "long", t("2024-05-01 00:00"), t("2024-05-04 00:00"), False),
        # running for 90 minutes
        (91009, a, 9300, True, ["dev"], "running now", now - timedelta(minutes=90), None, False),
        # bob's, in the same days: alice must never see them
        (91101, b, 9303, False, ["dev"], "bob work", t("2024-03-02 09:00"), t("2024-03-02 12:00"), False),
        (91102, b, 9303, False, [], "bob week", t("2024-03-03 15:00"), t("2024-03-03 16:00"), False),
    ]
    for (eid, uid, pid, bill, tags, desc, start, stop, deleted) in rows:
        ws = 9101 if uid == b else 9100
        dur = int((stop - start).total_seconds()) if stop else -int(start.timestamp())
        db.sql("INSERT INTO time_entries (id, user_id, toggl_user_id, workspace_id, project_id, description, "
               "billable, start, stop, duration, tags, at, server_deleted_at) VALUES (%s, %s, %s, %s, %s, %s, %s, "
               "%s, %s, %s, %s::text[], now(), %s)", eid, uid, 919000 + uid, ws, pid, desc, bill, start, stop, dur,
               "{" + ",".join(tags) + "}", start if deleted else None)
    info["now"] = now
    return Api(stack.nginx.url, info["alice"]), info


# ---- buckets and time zones --------------------------------------------------------------------------

def test_entry_across_midnight_counts_one_hour_on_each_day(g):
    api, _ = g
    r = api.query(t("2024-03-01 00:00"), t("2024-03-03 00:00"),
                  {"target": "hours", "payload": {"group_by": "project", "bucket": "day", "projects": ["9300"]}})
    vals = frames_values(r)["Website"]
    # Days in Prague: 29 Feb 23:00Z, 1 Mar 23:00Z, 2 Mar 23:00Z
    assert vals[ms(t("2024-02-29 23:00"))] == 1.0
    assert vals[ms(t("2024-03-01 23:00"))] == 1.0
    assert sum(vals.values()) == 2.0


def test_same_entry_in_utc_days_is_one_day(g):
    api, _ = g
    r = api.query(t("2024-03-01 00:00"), t("2024-03-03 00:00"),
                  {"target": "hours", "payload": {"bucket": "day", "projects": "9300", "tz": "UTC"}})
    vals = frames_values(r)["Hours"]
    assert vals == {ms(t("2024-03-01 00:00")): 2.0, ms(t("2024-03-02 00:00")): 0.0}


@pytest.mark.parametrize("day,hours", [("2024-03-31", 23), ("2024-10-27", 25)])
def test_dst_day_buckets_are_23_and_25_hours(g, day, hours):
    api, _ = g
    start = datetime.strptime(day, "%Y-%m-%d").replace(tzinfo=UTC) - timedelta(days=2)
    r = api.query(start, start + timedelta(days=5),
                  {"target": "hours", "payload": {"bucket": "day", "tz": "Europe/Prague",
                                                  "projects": ["Internal"]}})
    f = r[0]
    times, vals = f["fields"][0]["values"], f["fields"][1]["values"]
    i = max(range(len(vals)), key=lambda k: vals[k])
    assert vals[i] == pytest.approx(hours), (times, vals)
    assert times[i + 1] - times[i] == hours * 3600 * 1000, "the bucket is not as long as the local day"
    # the days around it are 24 hours long
    assert times[i] - times[i - 1] == 24 * 3600 * 1000
    assert times[i + 2] - times[i + 1] == 24 * 3600 * 1000


def test_long_entry_begun_before_the_range_is_clipped(g):
    api, _ = g
    r = api.query(t("2024-05-03 00:00"), t("2024-05-05 00:00"),
                  {"target": "hours", "payload": {"bucket": "day", "tz": "UTC"}})
    assert frames_values(r)["Hours"] == {ms(t("2024-05-03 00:00")): 24.0, ms(t("2024-05-04 00:00")): 0.0}


def test_zone_falls_back_from_payload_to_request_to_toggl(g):
    api, _ = g
    frm, to = t("2024-03-01 00:00"), t("2024-03-03 00:00")
    tg = {"target": "hours", "payload": {"bucket": "day"}}
    first = lambda r: r[0]["fields"][0]["values"][0]  # noqa: E731
    # "browser" names no zone: alice's Toggl zone, Prague
    assert first(api.query(frm, to, tg, timezone="browser")) == ms(t("2024-02-29 23:00"))
    # Grafana's "utc" and IANA names are zones
    assert first(api.query(frm, to, tg, timezone="utc")) == ms(t("2024-03-01 00:00"))
    assert first(api.query(frm, to, tg, timezone="Asia/Kolkata")) == ms(t("2024-02-29 18:30"))
    # the payload's tz wins
    tg2 = {"target": "hours", "payload": {"bucket": "day", "tz": "America/New_York"}}
    assert first(api.query(frm, to, tg2, timezone="utc")) == ms(t("2024-02-29 05:00"))
    # an unknown request timezone is no error (it is Grafana's); an unknown payload tz is
    assert first(api.query(frm, to, tg, timezone="Mars/Olympus")) == ms(t("2024-02-29 23:00"))
    msg = api.err("/query", {"range": {"from": iso(frm), "to": iso(to)},
                             "targets": [{"refId": "A", "target": "hours", "payload": {"tz": "Mars/Olympus"}}]}, 400)
    assert "tz" in msg and "Mars/Olympus" in msg


def test_weeks_start_on_the_users_first_day(g):
    api, info = g
    frm, to = t("2024-03-06 12:00"), t("2024-03-20 12:00")   # a Wednesday to a Wednesday
    tg = {"target": "hours", "payload": {"bucket": "week"}}
    alice = api.query(frm, to, tg)[0]["fields"][0]["values"]
    # alice: Monday 4 March 00:00 in Prague
    assert alice[0] == ms(t("2024-03-03 23:00"))
    assert [b - a for a, b in zip(alice, alice[1:])] == [7 * 86400000] * (len(alice) - 1)
    bob = api.query(frm, to, tg, token=info["bob"])[0]["fields"][0]["values"]
    # bob: Sunday 3 March 00:00 in New York (EST); the week after DST starts is an hour shorter
    assert bob[0] == ms(t("2024-03-03 05:00"))
    assert bob[1] == ms(t("2024-03-10 05:00"))
    assert bob[2] == ms(t("2024-03-17 04:00"))


def test_buckets_honour_interval_and_max_data_points(g):
    api, _ = g
    frm, to = t("2024-03-01 00:00"), t("2024-03-04 00:00")
    r = api.query(frm, to, {"target": "hours", "payload": {"tz": "UTC"}}, intervalMs=3600000)
    times = r[0]["fields"][0]["values"]
    assert times[1] - times[0] == 3600000 and len(times) == 72
    r = api.query(frm, to, {"target": "hours", "payload": {"tz": "UTC"}}, intervalMs=6 * 3600000)
    times = r[0]["fields"][0]["values"]
    assert times[1] - times[0] == 6 * 3600000
    for mdp in (1, 2, 5, 13, 50):
        for bucket in ("auto", "hour", "day"):
            r = api.query(frm, to, {"target": "hours", "payload": {"bucket": bucket}}, maxDataPoints=mdp,
                          intervalMs=60000)
            for f in r:
                assert len(f["fields"][0]["values"]) <= mdp, (mdp, bucket, f)
            assert total(r) == 3.75, (mdp, bucket)


def test_month_buckets(g):
    api, _ = g
    r = api.query(t("2024-02-15 00:00"), t("2024-06-01 00:00"),
                  {"target": "hours", "payload": {"bucket": "month", "tz": "UTC"}})
    vals = frames_values(r)["Hours"]
    assert sorted(vals) == [ms(t(f"2024-0{m}-01 00:00")) for m in (2, 3, 4, 5)]
    assert vals[ms(t("2024-03-01 00:00"))] == pytest.approx(3.75 + 23)   # and the 23 hours of 31 March
    assert vals[ms(t("2024-05-01 00:00"))] == 72.0


# ---- metrics -------------------------------------------------------------------------------------------

MAR = (t("2024-03-01 00:00"), t("2024-03-03 00:00"))


def test_deleted_entries_never_count(g):
    api, _ = g
    r = api.query(*MAR, {"target": "hours", "payload": {"bucket": "all"}})
    assert total(r) == 3.75   # 2 + 0.5 + 1 + 0.25; not the deleted 4 hours, not bob's
    rows = api.query(*MAR, {"target": "entries_table"})[0]
    assert "deleted" not in rows["fields"][6]["values"]


def test_group_by_every_dimension(g):
    api, _ = g

    def totals(group):
        r = api.query(*MAR, {"target": "hours", "payload": {"bucket": "all", "group_by": group}})
        return {f["name"]: total([f]) for f in r}
    assert totals("project") == {"Website": 2, "Ops": 1, "Internal": 0.5, "(no project)": 0.25}
    assert totals("client") == {"Acme": 2, "Beta": 1, "(no client)": 0.75}
    assert totals("tag") == {"dev": 3, "ops": 1, "meeting": 0.5, "(no tag)": 0.25}
    assert totals("workspace") == {"Alice WS": 3.75}
    assert totals("billable") == {"billable": 3, "non-billable": 0.75}
    assert totals("description") == {"late night": 2, "deploy": 1, "standup": 0.5, "(no description)": 0.25}
    assert totals("none") == {"Hours": 3.75}
    # series come largest first; labels say the group
    r = api.query(*MAR, {"target": "hours", "payload": {"bucket": "all", "group_by": "project"}})
    assert [f["name"] for f in r] == ["Website", "Ops", "Internal", "(no project)"]
    assert r[0]["fields"][1]["labels"] == {"project": "Website"}
    assert r[0]["fields"][1]["config"]["color"]["fixedColor"] == "#e36a00"


def test_entries_ratio_and_earnings(g):
    api, _ = g
    r = api.query(*MAR, {"target": "entries", "payload": {"bucket": "all"}})
    assert total(r) == 4
    # an entry counts in the bucket it starts in, once
    r = api.query(*MAR, {"target": "entries", "payload": {"bucket": "day", "projects": "Website"}})
    assert frames_values(r)["Entries"][ms(t("2024-02-29 23:00"))] == 1
    assert total(r) == 1
    r = api.query(*MAR, {"target": "billable_ratio", "payload": {"bucket": "all"}})
    assert r[0]["fields"][1]["values"] == [pytest.approx(0.8)]
    assert r[0]["fields"][1]["config"]["unit"] == "percentunit"
    r = api.query(*MAR, {"target": "billable_ratio", "payload": {"bucket": "day", "tz": "UTC"}},
                  timezone="utc")
    assert None not in r[0]["fields"][1]["values"]
    r = api.query(t("2024-03-05 00:00"), t("2024-03-07 00:00"), {"target": "billable_ratio",
                                                                 "payload": {"bucket": "day"}})
    assert set(r[0]["fields"][1]["values"]) == {None}, "nothing tracked: the ratio is undefined, not 0"
    r = api.query(*MAR, {"target": "earnings", "payload": {"bucket": "all"}})
    got = {f["name"]: (total([f]), f["fields"][1]["config"]["unit"]) for f in r}
    assert got == {"Earnings (EUR)": (200.0, "currencyEUR"), "Earnings (USD)": (80.0, "currencyUSD")}


def test_running_entry_counts_up_to_now_and_shows_as_running(g):
    api, info = g
    now = datetime.now(UTC)
    r = api.query(now - timedelta(hours=3), now, {"target": "hours", "payload": {"bucket": "all"}})
    assert total(r) == pytest.approx(1.5, abs=0.05)
    r = api.query(now - timedelta(hours=3), now, {"target": "running"})
    f = {x["name"]: x["values"] for x in r[0]["fields"]}
    assert f["description"] == ["running now"]
    assert f["project"] == ["Website"]
    assert f["elapsed"][0] == pytest.approx(1.5, abs=0.05)
    assert f["start"] == [ms(info["now"] - timedelta(minutes=90))]
    rows = api.query(now - timedelta(hours=3), now, {"target": "entries_table"})[0]
    cols = {x["name"]: x["values"] for x in rows["fields"]}
    assert cols["stop"] == [None] and cols["description"] == ["running now"]


def test_entries_table_and_annotations(g):
    api, _ = g
    r = api.query(*MAR, {"target": "entries_table", "payload": {"limit": 3}})
    f = r[0]
    assert [x["name"] for x in f["fields"]] == ["start", "stop", "hours", "project", "client", "tags",
                                                 "description", "billable"]
    cols = {x["name"]: x["values"] for x in f["fields"]}
    assert cols["description"] == ["", "deploy", "standup"]
    assert cols["tags"][1] == "dev, ops"
    assert cols["hours"] == [0.25, 1.0, 0.5]
    assert cols["billable"] == [False, True, False]
    assert "limit" in f["meta"]["notices"][0]["text"]
    r = api.query(*MAR, {"target": "annotations"}, requestId="AQ101")
    a = {x["name"]: x["values"] for x in r[0]["fields"]}
    i = a["text"].index("late night (2.00 h)")
    assert a["time"][i] == ms(t("2024-03-01 22:00")) and a["timeEnd"][i] == ms(t("2024-03-02 00:00"))
    assert a["title"][i] == "Website" and a["tags"][i] == ["dev"]


# ---- filters -------------------------------------------------------------------------------------------

FILTER_CASES = [
    ("project", "=", "Website", 2), ("project", "!=", "Website", 1.75), ("project", "=~", "Web.*", 2),
    ("project", "!~", "Web.*", 1.75), ("project", "=|", ["Website", "Ops"], 3),
    ("project", "!=|", ["Website", "Ops"], 0.75), ("project", "=", "(no project)", 0.25),
    ("project", "=~", "web", 0),   # anchored and case-sensitive
    ("client", "=", "Acme", 2), ("client", "!=", "Acme", 1.75), ("client", "=~", "A.*|B.*", 3),
    ("client", "!~", "A.*", 1.75), ("client", "=|", ["Beta"], 1), ("client", "!=|", ["Acme", "Beta"], 0.75),
    ("client", "=", "(no client)", 0.75),
    ("tag", "=", "dev", 3), ("tag", "!=", "dev", 0.75), ("tag", "=~", "op.*", 1), ("tag", "!~", "d.*", 0.75),
    ("tag", "=|", ["meeting", "ops"], 1.5), ("tag", "!=|", ["dev"], 0.75), ("tag", "=", "(no tag)", 0.25),
    ("workspace", "=", "Alice WS", 3.75), ("workspace", "!=", "Alice WS", 0), ("workspace", "=~", "Al.*", 3.75),
    ("workspace", "!~", "Al.*", 0), ("workspace", "=|", ["Alice WS", "x"], 3.75), ("workspace", "!=|", ["x"], 3.75),
    ("billable", "=", "true", 3), ("billable", "!=", "true", 0.75), ("billable", "=", "false", 0.75),
    ("billable", "=~", "t.*", 3), ("billable", "!~", "t.*", 0.75), ("billable", "=|", ["false", "true"], 3.75),
    ("billable", "!=|", ["true"], 0.75),
    ("description", "=", "standup", 0.5), ("description", "!=", "standup", 3.25),
    ("description", "=~", "st.*|de.*", 1.5), ("description", "!~", ".*t.*", 1),
    ("description", "=|", ["deploy", "late night"], 3), ("description", "!=|", ["deploy"], 2.75),
    ("description", "=", "(no description)", 0.25),
]


@pytest.mark.parametrize("key,op,value,want", FILTER_CASES, ids=[f"{k}{o}{v}" for k, o, v, _ in FILTER_CASES])
def test_every_filter_operator(g, key, op, value, want):
    api, _ = g
    f = {"key": key, "operator": op, "value": value if isinstance(value, str) else value[0]}
    if not isinstance(value, str):
        f["values"] = value
    r = api.query(*MAR, {"target": "hours", "payload": {"bucket": "all"}}, filters=[f])
    assert total(r) == pytest.approx(want)
    # the legacy field name of simPod < 0.6.4 and SimpleJSON filters the same
    r = api.query(*MAR, {"target": "hours", "payload": {"bucket": "all"}}, adhocFilters=[f])
    assert total(r) == pytest.approx(want)


def test_filters_combine_and_apply_to_tables(g):
    api, _ = g
    filters = [{"key": "tag", "operator": "=", "value": "dev"}, {"key": "billable", "operator": "=", "value": "true"},
               {"key": "client", "operator": "!=", "value": "Acme"}]
    assert total(api.query(*MAR, {"target": "hours", "payload": {"bucket": "all"}}, filters=filters)) == 1
    rows = api.query(*MAR, {"target": "entries_table"}, filters=filters)[0]
    assert rows["fields"][6]["values"] == ["deploy"]


@pytest.mark.parametrize("payload,want", [
    ({"projects": ["9300"]}, 2), ({"projects": "9300,9302"}, 3), ({"projects": "{9300,9302}"}, 3),
    ({"projects": 9302}, 1), ({"projects": "Website, Ops"}, 3), ({"projects": ["0"]}, 0.25),
    ({"projects": "$__all"}, 3.75), ({"projects": []}, 3.75), ({"clients": ["9200"]}, 2),
    ({"clients": "Beta"}, 1), ({"clients": "0"}, 0.75), ({"tags": ["ops", "meeting"]}, 1.5),
    ({"workspaces": [9100]}, 3.75), ({"workspaces": "Bob WS"}, 0), ({"billable": "false"}, 0.75),
    ({"billable": True}, 3), ({"billable": ["any"]}, 3.75), ({"billable": 0}, 0.75),
])
def test_payload_multi_selects_in_every_shape(g, payload, want):
    api, _ = g
    r = api.query(*MAR, {"target": "hours", "payload": dict(payload, bucket="all")})
    assert total(r) == pytest.approx(want)


# ---- who sees what -------------------------------------------------------------------------------------

def test_auth_failures_are_json_401(g, stack, db):
    api, info = g
    body = {"range": {"from": iso(MAR[0]), "to": iso(MAR[1])}, "targets": [{"refId": "A", "target": "hours"}]}
    url = stack.nginx.url + "/api/grafana/query"

    def post(headers):
        return requests.post(url, json=body, headers=headers, timeout=10)
    basic = lambda u, p: "Basic " + base64.b64encode(f"{u}:{p}".encode()).decode()  # noqa: E731
    cases = {
        "no header": {},
        "bad bearer": {"Authorization": "Bearer tb_not-a-real-token"},
        "empty bearer": {"Authorization": "Bearer "},
        "basic, wrong email": {"Authorization": basic("someone@example.com", info["alice"])},
        "basic, wrong password": {"Authorization": basic(info["alice_email"], "nope")},
        "unknown scheme": {"Authorization": "Token " + info["alice"]},
    }
    for name, headers in cases.items():
        r = post(headers)
        assert r.status_code == 401, name
        check_error_shape(r)
        assert r.json()["error"]["code"] == "UNAUTHORIZED"
        assert "Bearer" in r.headers.get("WWW-Authenticate", "")
    # Grafana's own basic auth: the e-mail and an API token
    assert post({"Authorization": basic(info["alice_email"], info["alice"])}).status_code == 200
    assert post({"Authorization": basic(info["alice_email"].upper(), info["alice"])}).status_code == 200
    # a revoked token and a disabled user's token stop working at once
    assert post({"Authorization": "Bearer " + info["carol"]}).status_code == 200
    db.sql("UPDATE api_tokens SET revoked_at = now() WHERE user_id = %s", info["carol_id"])
    r = post({"Authorization": "Bearer " + info["carol"]})
    assert r.status_code == 401
    check_error_shape(r)
    assert post({"Authorization": "Bearer " + info["dave"]}).status_code == 200
    db.sql("UPDATE users SET disabled = true WHERE id = %s", info["dave_id"])
    r = post({"Authorization": "Bearer " + info["dave"]})
    assert r.status_code == 401
    check_error_shape(r)
    # Save & test (GET on the base) needs the token too
    assert requests.get(stack.nginx.url + "/api/grafana", timeout=10).status_code == 401


def test_users_see_only_their_own_entries(g):
    api, info = g
    r = api.query(*MAR, {"target": "hours", "payload": {"bucket": "all", "group_by": "description"}})
    assert "bob work" not in {f["name"] for f in r}
    r = api.query(*MAR, {"target": "hours", "payload": {"bucket": "all"}}, token=info["bob"])
    assert total(r) == 3.0
    assert api.query(*MAR, {"target": "entries_table"}, token=info["bob"])[0]["fields"][6]["values"] == ["bob work"]
    # naming another user, grouping or filtering by user: admins only
    msg = api.err("/query", {"range": {"from": iso(MAR[0]), "to": iso(MAR[1])}, "targets": [
        {"refId": "A", "target": "hours", "payload": {"users": [str(info["bob_id"])]}}]}, 403)
    assert "users" in msg
    api.err("/query", {"range": {"from": iso(MAR[0]), "to": iso(MAR[1])}, "targets": [
        {"refId": "A", "target": "hours", "payload": {"group_by": "user"}}]}, 403)
    api.err("/query", {"range": {"from": iso(MAR[0]), "to": iso(MAR[1])}, "filters": [
        {"key": "user", "operator": "=", "value": info["bob_email"]}], "targets": [{"refId": "A", "target": "hours"}]},
        403)
    api.err("/tag-values", {"key": "user"}, 403)
    # "me" is always fine
    assert total(api.query(*MAR, {"target": "hours", "payload": {"bucket": "all", "users": "me"}})) == 3.75
    # lists are the user's own too
    projects = [o["label"] for o in api.ok("/metric-payload-options", {"metric": "hours", "name": "projects",
                                                                        "payload": {}})]
    assert "Website" in projects and "Bob Project" not in projects


def test_admin_queries_everyone_by_user(g):
    api, info = g
    root = info["root"]
    two = [str(info["alice_id"]), info["bob_email"]]
    r = api.query(*MAR, {"target": "hours", "payload": {"bucket": "all", "group_by": "user", "users": two}},
                  token=root)
    assert {f["name"]: total([f]) for f in r} == {info["alice_email"]: 3.75, info["bob_email"]: 3.0}
    r = api.query(*MAR, {"target": "hours", "payload": {"bucket": "all", "users": two}}, token=root,
                  filters=[{"key": "user", "operator": "=", "value": info["bob_email"]}])
    assert total(r) == 3.0
    # without users: everyone (at least these two)
    r = api.query(*MAR, {"target": "hours", "payload": {"bucket": "all"}}, token=root)
    assert total(r) >= 6.75
    vals = [v["text"] for v in api.ok("/tag-values", {"key": "user"}, token=root)]
    assert info["alice_email"] in vals and info["bob_email"] in vals
    assert {"type": "string", "text": "user"} in api.ok("/tag-keys", {}, token=root)
    assert {"type": "string", "text": "user"} not in api.ok("/tag-keys", {})
    msg = api.err("/query", {"range": {"from": iso(MAR[0]), "to": iso(MAR[1])}, "targets": [
        {"refId": "A", "target": "hours", "payload": {"users": ["nobody@example.com"]}}]}, 400, token=root)
    assert "nobody@example.com" in msg


# ---- errors --------------------------------------------------------------------------------------------

@pytest.mark.parametrize("payload,field,value", [
    ({"group_by": "projekt"}, "group_by", "projekt"), ({"bucket": "fortnight"}, "bucket", "fortnight"),
    ({"billable": "maybe"}, "billable", "maybe"), ({"limit": "lots"}, "limit", "lots"),
    ({"limit": 1000000}, "limit", "1000000"), ({"format": "csv"}, "format", "csv"),
    ({"projects": {"id": 1}}, "projects", "projects"), ({"tz": ["UTC", "Europe/Prague"]}, "tz", "tz"),
    ({"projects": "$project"}, "projects", "$project"),
])
def test_bad_payload_value_is_named(g, payload, field, value):
    api, _ = g
    msg = api.err("/query", {"range": {"from": iso(MAR[0]), "to": iso(MAR[1])},
                             "targets": [{"refId": "A", "target": "hours", "payload": payload}]}, 400)
    assert f"targets[0].payload.{field}" in msg and value in msg, msg


def test_error_body_on_every_non_2xx(g, stack):
    api, info = g
    rng = {"from": iso(MAR[0]), "to": iso(MAR[1])}
    api.err("/query", {"targets": []}, 400)                                       # no range
    api.err("/query", {"range": {"from": "yesterday", "to": "now"}}, 400)        # unreadable range
    api.err("/query", {"range": {"from": rng["to"], "to": rng["from"]}}, 400)    # reversed
    api.err("/query", {"range": rng, "targets": [{"target": "minutes"}]}, 400)   # unknown metric
    api.err("/query", None, 400, raw=b'{"targets": [ not json')                  # malformed JSON
    api.err("/query", None, 400, raw=b'[1, 2]')                                  # not an object
    api.err("/query", {"range": rng, "filters": [{"key": "colour", "operator": "=", "value": "x"}]}, 400)
    api.err("/query", {"range": rng, "filters": [{"key": "project", "operator": ">", "value": "x"}]}, 400)
    msg = api.err("/query", {"range": rng, "filters": [{"key": "project", "operator": "=~", "value": "(("}],
                             "targets": [{"refId": "A", "target": "hours"}]}, 400)
    assert "regular expression" in msg
    api.err("/variable", {"payload": {"target": "planets"}}, 400)
    api.err("/metric-payload-options", {"metric": "hours", "payload": {}}, 400)
    api.err("/tag-values", {"key": "colour"}, 400)
    api.err("/no-such-endpoint", {}, 404)
    api.err("/query", {}, 401, token=False)
    # GET on an endpoint that takes POST
    r = requests.get(stack.nginx.url + "/api/grafana/query", timeout=10,
                     headers={"Authorization": "Bearer " + info["alice"]})
    assert r.status_code == 405 and r.headers["Allow"] == "POST"
    check_error_shape(r)
    # OPTIONS while CORS is off (the default)
    r = requests.options(stack.nginx.url + "/api/grafana/query", timeout=10)
    assert r.status_code == 405
    check_error_shape(r)


def test_statement_timeout_answers_504(g, stack):
    """A query that cannot finish in LIMIT_GRAFANA_STATEMENT_MS is cancelled: here it waits for a lock."""
    import psycopg2
    api, _ = g
    conn = psycopg2.connect(stack.pg.conninfo)
    try:
        cur = conn.cursor()
        cur.execute("LOCK TABLE time_entries IN ACCESS EXCLUSIVE MODE")
        t0 = time.monotonic()
        r = api.post("/query", {"range": {"from": iso(MAR[0]), "to": iso(MAR[1])},
                                "targets": [{"refId": "A", "target": "hours"}]})
        took = time.monotonic() - t0
    finally:
        conn.rollback()
        conn.close()
    assert r.status_code == 504, r.text
    check_error_shape(r)
    assert r.json()["error"]["code"] == "TIMEOUT"
    assert 4 < took < 20
    # and the connection is fine for the next request
    assert total(api.query(*MAR, {"target": "hours", "payload": {"bucket": "all"}})) == 3.75


# ---- endpoints and legacy shapes ---------------------------------------------------------------------

def test_save_and_test(g, stack):
    api, info = g
    for path in ("/api/grafana", "/api/grafana/"):
        r = requests.get(stack.nginx.url + path, headers={"Authorization": "Bearer " + info["alice"]}, timeout=10)
        assert r.status_code == 200 and r.json()["status"] == "ok"
    r = requests.head(stack.nginx.url + "/api/grafana", headers={"Authorization": "Bearer " + info["alice"]},
                      timeout=10)
    assert r.status_code == 200
    # a trailing slash on an endpoint is tolerated
    assert isinstance(api.ok("/metrics/", {}), list)


def test_metrics_and_payload_options(g):
    api, info = g
    metrics = api.ok("/metrics", {})
    names = [m["value"] for m in metrics]
    assert names == ["hours", "entries", "billable_ratio", "earnings", "entries_table", "running", "annotations"]
    hours = metrics[0]
    fields = {p["name"]: p for p in hours["payloads"]}
    assert fields["group_by"]["type"] == "select" and "options" in fields["group_by"]
    assert "user" not in [o["value"] for o in fields["group_by"]["options"]]
    assert fields["projects"]["type"] == "multi-select" and "options" not in fields["projects"]
    assert "users" not in fields
    admin_fields = {p["name"] for p in api.ok("/metrics", {"metric": "hours"}, token=info["root"])[0]["payloads"]}
    assert "users" in admin_fields
    opts = api.ok("/metric-payload-options", {"metric": "hours", "name": "projects", "payload": {}})
    assert {"value": "9300", "label": "Website"} in opts and opts[-1]["label"] == "(no project)"
    # narrowed by the current payload: projects of one client
    opts = api.ok("/metric-payload-options", {"metric": "hours", "name": "projects", "payload": {"clients": ["9200"]}})
    assert [o["label"] for o in opts if o["value"] != "0"] == ["Website"]
    opts = api.ok("/metric-payload-options", {"metric": "hours", "name": "tags", "payload": {}})
    assert [o["value"] for o in opts] == ["dev", "meeting", "ops", "(no tag)"]
    assert api.ok("/metric-payload-options", {"metric": "hours", "name": "bucket", "payload": {}})[0]["value"] == "auto"


def test_variable_answers_text_and_value(g):
    api, _ = g
    assert {"__text": "Website", "__value": "9300"} in api.ok("/variable", {"payload": {"target": "projects"}})
    # raw JSON mode: the user's object; narrowing by workspace
    r = api.ok("/variable", {"payload": {"target": "clients", "workspaces": "Alice WS"}, "range": {}})
    assert [v["__text"] for v in r] == ["Acme", "Beta", "(no client)"]
    # the variable editor's text may itself be JSON
    r = api.ok("/variable", {"payload": {"target": "{\"target\": \"workspaces\"}"}})
    assert r == [{"__text": "Alice WS", "__value": "9100"}]
    assert api.ok("/variable", {"payload": {"target": "group_by"}})[1] == {"__text": "Project", "__value": "project"}


def test_tag_keys_and_values_respect_other_filters(g):
    api, _ = g
    keys = [k["text"] for k in api.ok("/tag-keys", {})]
    assert keys == ["project", "client", "tag", "workspace", "billable", "description"]
    rng = {"from": iso(MAR[0]), "to": iso(MAR[1])}
    vals = [v["text"] for v in api.ok("/tag-values", {"key": "project", "timeRange": rng})]
    assert vals == ["(no project)", "Internal", "Ops", "Website"]
    vals = [v["text"] for v in api.ok("/tag-values", {"key": "project", "timeRange": rng,
                                                      "filters": [{"key": "tag", "operator": "=", "value": "dev"}]})]
    assert vals == ["Ops", "Website"]
    # a filter on the same key does not hide its alternatives
    vals = [v["text"] for v in api.ok("/tag-values", {"key": "project", "timeRange": rng,
                                                      "filters": [{"key": "project", "operator": "=",
                                                                   "value": "Ops"}]})]
    assert "Website" in vals
    assert [v["text"] for v in api.ok("/tag-values", {"key": "billable", "timeRange": rng})] == ["false", "true"]
    # without a range: all time
    assert "spring" in [v["text"] for v in api.ok("/tag-values", {"key": "description"})]


def test_legacy_simplejson(g):
    api, _ = g
    assert api.ok("/search", {"target": ""}) == ["hours", "entries", "billable_ratio", "earnings", "entries_table",
                                                  "running", "annotations"]
    assert api.ok("/search", {"target": "entr"}) == ["entries", "entries_table"]
    assert "Website" in api.ok("/search", {"target": "projects"})
    # targets[].type "timeserie" and "table", `data` for payload
    body = {"range": {"from": iso(MAR[0]), "to": iso(MAR[1])}, "rangeRaw": {"from": "now-7d", "to": "now"},
            "interval": "1d", "intervalMs": 86400000, "maxDataPoints": 100, "format": "json",
            "adhocFilters": [{"key": "billable", "operator": "=", "value": "true"}],
            "targets": [{"target": "hours", "refId": "A", "type": "timeserie", "data": {"group_by": "project",
                                                                                      "tz": "UTC"}},
                        {"target": "entries_table", "refId": "B", "type": "table"}]}
    r = api.ok("/query", body)
    series = {x["target"]: x["datapoints"] for x in r if "target" in x}
    assert series["Website"] == [[2.0, ms(t("2024-03-01 00:00"))], [0.0, ms(t("2024-03-02 00:00"))]]
    assert series["Ops"][1] == [1.0, ms(t("2024-03-02 00:00"))]
    table = [x for x in r if x.get("type") == "table"][0]
    assert [c["text"] for c in table["columns"]][:3] == ["start", "stop", "hours"]
    assert len(table["rows"]) == 2 and table["rows"][0][6] == "deploy"
    # legacy /annotations: events echoing the annotation; the query names projects
    anno = {"name": "work", "datasource": "timebridge", "enable": True, "iconColor": "red", "query": "Website"}
    ev = api.ok("/annotations", {"range": body["range"], "rangeRaw": body["rangeRaw"], "annotation": anno})
    assert len(ev) == 1 and ev[0]["annotation"] == anno and ev[0]["isRegion"] is True
    assert ev[0]["time"] == ms(t("2024-03-01 22:00")) and ev[0]["timeEnd"] == ms(t("2024-03-02 00:00"))
    ev = api.ok("/annotations", {"range": body["range"], "annotation": dict(anno, query='{"tags": "meeting"}')})
    assert [e["title"] for e in ev] == ["Internal"]


def test_alias_and_table_format(g):
    api, _ = g
    r = api.query(*MAR, {"target": "hours", "alias": "Time on {{label}}",
                         "payload": {"bucket": "all", "group_by": "client"}})
    assert r[0]["name"] == "Time on Acme"
    assert r[0]["fields"][1]["config"]["displayNameFromDS"] == "Time on Acme"
    r = api.query(*MAR, {"target": "hours", "payload": {"bucket": "day", "group_by": "project", "format": "table",
                                                        "tz": "UTC"}})
    assert len(r) == 1 and r[0]["type"] == "table"
    assert [c["text"] for c in r[0]["columns"]] == ["time", "project", "hours"]
    assert [ms(t("2024-03-01 00:00")), "Website", 2.0] in r[0]["rows"]


# ---- CORS ----------------------------------------------------------------------------------------------

@pytest.fixture(scope="module")
def cors_nginx(stack):
    """A second app process and nginx on the same database, with TIMEBRIDGE_GRAFANA_CORS on."""
    env = dict(stack.env, TIMEBRIDGE_GRAFANA_CORS="1", TIMEBRIDGE_GRAFANA_CORS_ORIGIN="https://grafana.example")
    app = harness.App(stack.build_dir, env, stack.workdir, fcgi=1, workers=0, name="cors").start()
    ngx = harness.Nginx(upstream_sockets=app.sockets, workdir=stack.workdir).start()
    yield ngx
    problems = ngx.stop() + app.stop()
    assert not problems, problems


def test_cors_preflight_without_credentials(g, cors_nginx):
    _, info = g
    r = requests.options(cors_nginx.url + "/api/grafana/query", timeout=10, headers={
        "Origin": "https://grafana.example", "Access-Control-Request-Method": "POST",
        "Access-Control-Request-Headers": "authorization,content-type"})
    assert r.status_code == 204
    assert r.headers["Access-Control-Allow-Origin"] == "https://grafana.example"
    assert "POST" in r.headers["Access-Control-Allow-Methods"]
    assert "authorization" in r.headers["Access-Control-Allow-Headers"]
    assert r.headers["Access-Control-Allow-Credentials"] == "true"
    # the real request carries the header too
    r = requests.post(cors_nginx.url + "/api/grafana/metrics", json={}, timeout=10,
                      headers={"Origin": "https://grafana.example", "Authorization": "Bearer " + info["alice"]})
    assert r.status_code == 200
    assert r.headers["Access-Control-Allow-Origin"] == "https://grafana.example"


# ---- concurrency ---------------------------------------------------------------------------------------

def test_concurrent_queries_agree(g):
    api, _ = g
    results, errors = [], []

    def run():
        try:
            results.append(total(api.query(*MAR, {"target": "hours", "payload": {"bucket": "day",
                                                                                 "group_by": "tag"}})))
        except Exception as e:  # noqa: BLE001
            errors.append(e)
    threads = [threading.Thread(target=run) for _ in range(8)]
    for th in threads:
        th.start()
    for th in threads:
        th.join()
    assert not errors and results == [4.75] * 8   # by tag: dev 3 + ops 1 + meeting 0.5 + (no tag) 0.25
