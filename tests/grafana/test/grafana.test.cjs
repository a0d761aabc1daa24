// tests/grafana/test/grafana.test.cjs: the Grafana JSON API as Grafana itself reads it. Every /query answer
// element goes through toDataFrame() from @grafana/data (what the simPod plugin calls on each one) and its
// field names and types are asserted; /variable is read the same way; request bodies are built like the
// plugin's (rangeUtil.calculateInterval makes interval and intervalMs as Grafana would). The provisioning in
// grafana/ is checked against the live server: every datasource uid exists, every metric is in /metrics,
// and every panel's query answers. The server is a throw-away stack (stack_helper.py).
'use strict';

const { test, describe, before, after } = require('node:test');
const assert = require('node:assert/strict');
const { spawn } = require('node:child_process');
const fs = require('node:fs');
const path = require('node:path');
const readline = require('node:readline');
const { toDataFrame, rangeUtil, dateTime, FieldType } = require('@grafana/data');
const YAML = require('yaml');
const jsonata = require('jsonata');

const ROOT = path.resolve(__dirname, '..', '..', '..');
const JSON_DS = { type: 'simpod-json-datasource', uid: 'timebridge-json' };
let server, helper;

before(async () => {
  helper = spawn('/usr/bin/python3', [path.join(__dirname, '..', 'stack_helper.py')], {
    stdio: ['pipe', 'pipe', 'inherit'],
    env: { ...process.env, TB_BUILD_DIR: process.env.TB_BUILD_DIR || path.join(ROOT, 'build', 'check') },
  });
  const line = await new Promise((resolve, reject) => {
    const rl = readline.createInterface({ input: helper.stdout });
    rl.once('line', resolve);
    helper.once('exit', (code) => reject(new Error(`stack_helper.py exited ${code} before it was ready`)));
  });
  server = JSON.parse(line);
});

after(async () => {
  if (!helper) return;
  const done = new Promise((resolve) => helper.once('exit', resolve));
  helper.stdin.end();
  await done;
});

async function post(p, body, token) {
  const r = await fetch(`${server.url}/api/grafana${p}`, {
    method: 'POST',
    headers: { 'Content-Type': 'application/json', Accept: 'application/json, text/plain, */*',
               Authorization: `Bearer ${token || server.token}` },
    body: JSON.stringify(body),
  });
  const text = await r.text();
  return { status: r.status, body: text ? JSON.parse(text) : null };
}

async function ok(p, body, token) {
  const r = await post(p, body, token);
  assert.equal(r.status, 200, `${p}: ${JSON.stringify(r.body)}`);
  return r.body;
}

// A /query body as the simPod plugin sends it (DataQueryRequest with rewritten targets).
function queryBody(targets, { days = 14, maxDataPoints = 800, minInterval, filters = [], requestId = 'Q1' } = {}) {
  const to = dateTime(), from = dateTime().subtract(days, 'd');
  const { interval, intervalMs } = rangeUtil.calculateInterval({ from, to, raw: { from, to } }, maxDataPoints,
    minInterval);
  return {
    app: 'dashboard', requestId, timezone: 'browser', panelId: 2, dashboardUID: 'timebridge-hours',
    range: { from: from.toISOString(), to: to.toISOString(), raw: { from: `now-${days}d`, to: 'now' } },
    rangeRaw: { from: `now-${days}d`, to: 'now' }, interval, intervalMs, maxDataPoints,
    targets: targets.map((t, i) => ({ refId: String.fromCharCode(65 + i), datasource: JSON_DS,
                                      editorMode: 'builder', ...t })),
    scopedVars: { __interval: { text: interval, value: interval }, __interval_ms: { text: `${intervalMs}`,
                                                                                     value: intervalMs } },
    filters, startTime: Date.now(),
  };
}

// Every element through toDataFrame; returns the frames.
function frames(answer) {
  assert.ok(Array.isArray(answer), 'a /query answer must be an array');
  return answer.map((el) => toDataFrame(el));
}

function shape(frame) {
  return frame.fields.map((f) => [f.name, f.type]);
}

function assertTypedValues(frame) {
  for (const f of frame.fields) {
    for (const v of f.values) {
      if (v === null) continue;
      if (f.type === FieldType.number || f.type === FieldType.time) assert.equal(typeof v, 'number', `${f.name}: ${v}`);
      if (f.type === FieldType.string) assert.equal(typeof v, 'string', `${f.name}: ${v}`);
      if (f.type === FieldType.boolean) assert.equal(typeof v, 'boolean', `${f.name}: ${v}`);
    }
    assert.equal(f.values.length, frame.length, `${f.name} has ${f.values.length} values, frame ${frame.length}`);
  }
}

const SERIES_METRICS = { hours: 'hours', entries: 'entries', billable_ratio: 'billable_ratio', earnings: 'earnings' };

describe('/query through toDataFrame', () => {
  for (const metric of Object.keys(SERIES_METRICS)) {
    for (const group of ['none', 'project', 'client', 'tag', 'workspace', 'billable', 'description']) {
      test(`${metric} grouped by ${group}: time + number frames`, async () => {
        const fs_ = frames(await ok('/query', queryBody([{ target: metric, payload: { group_by: group } }])));
        if (metric !== 'earnings') assert.ok(fs_.length >= 1);
        for (const f of fs_) {
          assert.deepEqual(shape(f), [['time', FieldType.time], [SERIES_METRICS[metric], FieldType.number]]);
          assert.equal(f.refId, 'A');
          assert.ok(f.length > 0 && f.length <= 800);
          assertTypedValues(f);
          if (group !== 'none') assert.ok(f.fields[1].labels && f.fields[1].labels[group] !== undefined);
        }
      });
    }
  }

  test('maxDataPoints and intervalMs bound every series', async () => {
    for (const [days, mdp] of [[1, 10], [30, 31], [365, 100], [3 * 365, 50], [14, 1]]) {
      for (const bucket of ['auto', 'hour', 'day', 'week', 'month', 'all']) {
        const body = queryBody([{ target: 'hours', payload: { group_by: 'project', bucket } }],
          { days, maxDataPoints: mdp });
        for (const f of frames(await ok('/query', body))) {
          assert.ok(f.length <= mdp, `${days}d ${bucket}: ${f.length} > ${mdp}`);
          const t = f.fields[0].values;
          for (let i = 1; i < t.length; i++) assert.ok(t[i] - t[i - 1] >= Math.min(body.intervalMs, 23 * 3600e3));
        }
      }
    }
  });

  test('legacy timeserie: Time + Value', async () => {
    const body = queryBody([{ target: 'hours', type: 'timeserie', data: { group_by: 'project' } }]);
    const fs_ = frames(await ok('/query', body));
    assert.equal(fs_.length, 2);
    for (const f of fs_) {
      assert.deepEqual(shape(f), [['Time', FieldType.time], ['Value', FieldType.number]]);
      assertTypedValues(f);
    }
    assert.deepEqual(fs_.map((f) => f.name).sort(), ['Internal', 'Website']);
  });

  test('legacy table of a series: time, group, value', async () => {
    const body = queryBody([{ target: 'hours', type: 'table', payload: { group_by: 'client', bucket: 'all' } }]);
    const fs_ = frames(await ok('/query', body));
    assert.equal(fs_.length, 1);
    assert.deepEqual(shape(fs_[0]), [['time', FieldType.time], ['client', FieldType.string],
      ['hours', FieldType.number]]);
    assertTypedValues(fs_[0]);
  });

  const ENTRY_FIELDS = [['start', FieldType.time], ['stop', FieldType.time], ['hours', FieldType.number],
    ['project', FieldType.string], ['client', FieldType.string], ['tags', FieldType.string],
    ['description', FieldType.string], ['billable', FieldType.boolean]];

  test('entries_table: one frame, typed columns, as frames and as a legacy table', async () => {
    for (const extra of [{}, { type: 'table' }, { payload: { format: 'table' } }]) {
      const fs_ = frames(await ok('/query', queryBody([{ target: 'entries_table', ...extra }])));
      assert.equal(fs_.length, 1);
      assert.deepEqual(shape(fs_[0]), ENTRY_FIELDS);
      assert.ok(fs_[0].length > 30, `${fs_[0].length} rows`);
      assertTypedValues(fs_[0]);
    }
    // an admin also sees whose entry it is
    const fs_ = frames(await ok('/query', queryBody([{ target: 'entries_table' }]), server.admin_token));
    assert.deepEqual(shape(fs_[0]), [...ENTRY_FIELDS, ['user', FieldType.string]]);
  });

  test('running: start, elapsed and what runs', async () => {
    const fs_ = frames(await ok('/query', queryBody([{ target: 'running' }])));
    assert.deepEqual(shape(fs_[0]), [['start', FieldType.time], ['elapsed', FieldType.number],
      ['description', FieldType.string], ['project', FieldType.string], ['client', FieldType.string],
      ['tags', FieldType.string], ['billable', FieldType.boolean]]);
    assert.equal(fs_[0].length, 1);
    assert.equal(fs_[0].fields[2].values[0], 'running');
    assert.ok(Math.abs(fs_[0].fields[1].values[0] - 0.7) < 0.05);
  });

  test('annotations through /query: time, timeEnd, title, text, tags', async () => {
    const body = queryBody([{ refId: 'Anno', target: 'annotations', payload: { limit: '20' } }],
      { requestId: 'AQ101' });
    const fs_ = frames(await ok('/query', body));
    assert.equal(fs_.length, 1);
    assert.deepEqual(shape(fs_[0]), [['time', FieldType.time], ['timeEnd', FieldType.time],
      ['title', FieldType.string], ['text', FieldType.string], ['tags', FieldType.other]]);
    assert.equal(fs_[0].length, 20);
    for (let i = 0; i < fs_[0].length; i++) {
      assert.ok(fs_[0].fields[1].values[i] > fs_[0].fields[0].values[i]);
      assert.ok(Array.isArray(fs_[0].fields[4].values[i]));
    }
  });

  test('ad-hoc filters narrow the frames', async () => {
    const all = frames(await ok('/query', queryBody([{ target: 'hours', payload: { group_by: 'project', bucket: 'all' } }])));
    const dev = frames(await ok('/query', queryBody([{ target: 'hours', payload: { group_by: 'project', bucket: 'all' } }],
      { filters: [{ key: 'tag', operator: '=', value: 'dev' }] })));
    assert.deepEqual(all.map((f) => f.name).sort(), ['Internal', 'Website']);
    assert.deepEqual(dev.map((f) => f.name), ['Website']);
  });
});

describe('/variable, /metrics and the other endpoints', () => {
  test('/variable answers __text and __value, read as Grafana reads it', async () => {
    for (const [query, texts] of [['projects', ['Internal', 'Website', '(no project)']],
      ['clients', ['Acme', '(no client)']], ['tags', ['dev', 'meeting', '(no tag)']], ['workspaces', ['Node WS']]]) {
      const answer = await ok('/variable', { payload: { target: query }, range: queryBody([]).range });
      const f = toDataFrame(answer);
      assert.deepEqual(f.fields.map((x) => x.name), ['__text', '__value']);
      assert.equal(f.fields[0].type, FieldType.string);
      assert.deepEqual(f.fields[0].values, texts);
      for (const v of f.fields[1].values) assert.ok(v !== undefined && v !== null && `${v}` !== '');
    }
  });

  test('/metrics: objects with value, label and payloads the builder reads', async () => {
    const metrics = await ok('/metrics', {});
    for (const m of metrics) {
      assert.equal(typeof m.value, 'string');
      assert.equal(typeof m.label, 'string');
      for (const p of m.payloads) {
        assert.equal(typeof p.name, 'string');
        assert.ok(['select', 'multi-select', 'input', 'textarea'].includes(p.type));
        if (p.type === 'select') assert.ok(Array.isArray(p.options) && p.options.every((o) => o.value && o.label));
      }
    }
    // a multi-select without options is answered by /metric-payload-options
    const opts = await ok('/metric-payload-options', { metric: 'hours', payload: {}, name: 'projects' });
    assert.ok(opts.every((o) => typeof o.value === 'string' && typeof o.label === 'string'));
  });

  test('/tag-keys and /tag-values in Grafana\'s shapes', async () => {
    const keys = await ok('/tag-keys', {});
    assert.ok(keys.every((k) => k.type === 'string' && typeof k.text === 'string'));
    const vals = await ok('/tag-values', { key: 'project', filters: [] });
    assert.deepEqual(vals.map((v) => v.text), ['Internal', 'Website']);
  });

  test('Save & test: GET on the base is 200, a bad token gives the error Save & test shows', async () => {
    let r = await fetch(`${server.url}/api/grafana`, { headers: { Authorization: `Bearer ${server.token}` } });
    assert.equal(r.status, 200);
    r = await fetch(`${server.url}/api/grafana`, { headers: { Authorization: 'Bearer nope' } });
    assert.equal(r.status, 401);
    const b = await r.json();
    assert.ok(b.message && b.error.code && b.error.message);
  });
});

describe('provisioning (grafana/)', () => {
  const dsFile = YAML.parse(fs.readFileSync(path.join(ROOT, 'grafana', 'datasources', 'timebridge.yaml'), 'utf8'));
  const dash = JSON.parse(fs.readFileSync(path.join(ROOT, 'grafana', 'dashboards', 'timebridge.json'), 'utf8'));
  const provider = YAML.parse(fs.readFileSync(path.join(ROOT, 'grafana', 'dashboards', 'provider.yaml'), 'utf8'));
  const uids = new Map(dsFile.datasources.map((d) => [d.uid, d.type]));

  // Every {type, uid} datasource reference anywhere in the dashboard.
  function refs(node, out = []) {
    if (Array.isArray(node)) node.forEach((n) => refs(n, out));
    else if (node && typeof node === 'object') {
      if (node.datasource && typeof node.datasource === 'object') out.push(node.datasource);
      Object.values(node).forEach((n) => refs(n, out));
    }
    return out;
  }

  // Dashboard variables as Grafana substitutes them with "All" selected.
  function interpolate(v) {
    if (typeof v === 'string') return v.replace(/\$(project|client)\b/g, '$__all');
    if (Array.isArray(v)) return v.map(interpolate);
    if (v && typeof v === 'object') return Object.fromEntries(Object.entries(v).map(([k, x]) => [k, interpolate(x)]));
    return v;
  }

  test('datasource and provider files are well-formed', () => {
    assert.equal(dsFile.apiVersion, 1);
    assert.deepEqual([...uids.keys()].sort(), ['timebridge-infinity', 'timebridge-json']);
    for (const d of dsFile.datasources) {
      assert.equal(d.access, 'proxy');
      assert.match(d.url, /\/api\/grafana$/);
    }
    assert.equal(provider.apiVersion, 1);
    assert.equal(provider.providers[0].type, 'file');
  });

  test('every datasource uid the dashboard uses is provisioned, with the same type', () => {
    const used = refs(dash);
    assert.ok(used.length > 10);
    for (const ref of used) {
      assert.ok(uids.has(ref.uid), `unknown datasource uid ${ref.uid}`);
      assert.equal(uids.get(ref.uid), ref.type, `uid ${ref.uid} is a ${uids.get(ref.uid)}, not ${ref.type}`);
    }
  });

  test('every metric and payload field the dashboard uses is in /metrics, and every query answers', async () => {
    const metrics = new Map((await ok('/metrics', {})).map((m) => [m.value, new Set(m.payloads.map((p) => p.name))]));
    const targets = [...dash.panels.flatMap((p) => p.targets), ...dash.annotations.list.map((a) => a.target)];
    let simpod = 0, infinity = 0;
    for (const t of targets) {
      const ds = t.datasource || JSON_DS;
      if (ds.uid === 'timebridge-json') {
        simpod++;
        assert.ok(metrics.has(t.target), `metric ${t.target} is not in /metrics`);
        for (const k of Object.keys(t.payload || {})) assert.ok(metrics.get(t.target).has(k), `${t.target}: ${k}`);
        const answer = await ok('/query', queryBody([interpolate({ ...t, refId: t.refId })]));
        for (const f of frames(answer)) assertTypedValues(f);
      } else {
        infinity++;
        // Infinity posts its body itself, Grafana filling ${__from} and ${__to} with epoch ms
        const body = JSON.parse(t.url_options.data.replace('${__from}', `${Date.now() - 7 * 864e5}`)
          .replace('${__to}', `${Date.now()}`));
        for (const it of body.targets) assert.ok(metrics.has(it.target), `metric ${it.target} is not in /metrics`);
        const answer = await ok(t.url, body);
        // Infinity's backend parser applies root_selector (JSONata) and then reads the columns
        const rows = await jsonata(t.root_selector).evaluate(answer);
        assert.ok(Array.isArray(rows) && rows.length >= 1, `root_selector ${t.root_selector}: ${JSON.stringify(rows)}`);
        for (const row of rows)
          for (const c of t.columns) assert.equal(typeof row[c.selector], c.type, `${c.selector} of ${JSON.stringify(row)}`);
      }
    }
    assert.ok(simpod >= 6 && infinity >= 1);
  });

  test('the dashboard variables are lists /variable knows', async () => {
    for (const v of dash.templating.list.filter((x) => x.type === 'query')) {
      const f = toDataFrame(await ok('/variable', { payload: { target: v.query.query } }));
      assert.deepEqual(f.fields.map((x) => x.name), ['__text', '__value']);
      assert.ok(f.length >= 1);
    }
  });
});
