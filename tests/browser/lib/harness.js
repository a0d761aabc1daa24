// tests/browser/lib/harness.js: what the browser tests share. The stack comes from launch.py (PostgreSQL,
// timebridge-fcgi, the worker and nginx from tests/harness/stack.py, plus the fake Toggl and Google); the
// browser is Debian's chromium driven by playwright-core, never a downloaded one.
'use strict';

const { spawn, execFileSync } = require('node:child_process');
const fs = require('node:fs');
const os = require('node:os');
const path = require('node:path');
const { chromium } = require('playwright-core');

const ROOT = path.resolve(__dirname, '..', '..', '..');
const ARTIFACTS = path.join(__dirname, '..', 'artifacts');
const CHROMIUM = process.env.TB_CHROMIUM || '/usr/bin/chromium';
const CHROMIUM_ARGS = ['--headless', '--no-sandbox', '--disable-gpu', '--disable-quic', '--no-first-run',
	'--disable-background-networking', '--disable-component-update', '--disable-sync'];

// Start launch.py and wait for its JSON line. Resolves to { info, stop() }.
function startStack(extraArgs = []) {
	const buildDir = process.env.TB_BUILD_DIR || path.join(ROOT, 'build', 'check');
	const child = spawn('/usr/bin/python3', [path.join(__dirname, '..', 'launch.py'), ...extraArgs], {
		cwd: ROOT,
		env: { ...process.env, TB_BUILD_DIR: buildDir },
		stdio: ['pipe', 'pipe', 'pipe'],
	});
	let err = '';
	child.stderr.on('data', (d) => { err += d; if (err.length > 200000) err = err.slice(-100000); });
	return new Promise((resolve, reject) => {
		let out = '';
		const timer = setTimeout(() => reject(new Error(`launch.py did not start in 120 s:\n${err}`)), 120000);
		child.on('exit', (code) => {
			clearTimeout(timer);
			reject(new Error(`launch.py exited (${code}) before the stack was up:\n${err}`));
		});
		child.stdout.on('data', (d) => {
			out += d;
			const nl = out.indexOf('\n');
			if (nl < 0) return;
			clearTimeout(timer);
			child.removeAllListeners('exit');
			const info = JSON.parse(out.slice(0, nl));
			resolve({
				info,
				logs: () => err,
				stop: () => new Promise((done) => {
					if (child.exitCode !== null) return done(child.exitCode);
					child.on('exit', (code) => done(code));
					child.stdin.end();
					child.kill('SIGTERM');
				}),
			});
		});
	});
}

async function launchBrowser(width = 1280, height = 900) {
	const userDataDir = fs.mkdtempSync(path.join(os.tmpdir(), 'tb-chromium-'));
	const context = await chromium.launchPersistentContext(userDataDir, {
		executablePath: CHROMIUM, headless: true, args: CHROMIUM_ARGS, viewport: { width, height },
		ignoreHTTPSErrors: true,
	});
	context.setDefaultTimeout(15000);
	const page = context.pages()[0] || await context.newPage();
	return {
		context, page,
		close: async () => { await context.close(); fs.rmSync(userDataDir, { recursive: true, force: true }); },
	};
}

// POST JSON to a fake's control endpoint; returns the parsed answer.
async function control(base, pathname, body, method = 'POST') {
	const res = await fetch(base + pathname, {
		method, headers: { 'Content-Type': 'application/json' }, body: body === undefined ? undefined : JSON.stringify(body),
	});
	const text = await res.text();
	if (!res.ok) throw new Error(`${method} ${pathname}: ${res.status} ${text}`);
	return text ? JSON.parse(text) : null;
}

// Poll fn (async, truthy when done) every interval ms until timeout ms; the last value or an error.
async function until(what, fn, timeout = 20000, interval = 300) {
	const deadline = Date.now() + timeout;
	let last;
	for (;;) {
		try {
			last = await fn();
			if (last) return last;
		} catch (e) {
			last = e;
		}
		if (Date.now() > deadline) throw new Error(`timed out waiting for ${what}${last instanceof Error ? `: ${last.message}` : ''}`);
		await new Promise((r) => setTimeout(r, interval));
	}
}

// One SQL statement against the stack's database with psql; rows as arrays of strings.
function sql(conninfo, query) {
	const out = execFileSync('psql', ['-XAtq', '-v', 'ON_ERROR_STOP=1', '-F', '\x1f', conninfo, '-c', query], { encoding: 'utf8' });
	return out.split('\n').filter((l) => l.length).map((l) => l.split('\x1f'));
}

async function screenshot(page, name) {
	fs.mkdirSync(ARTIFACTS, { recursive: true });
	const file = path.join(ARTIFACTS, `${name}.png`);
	await page.screenshot({ path: file, fullPage: true });
	return file;
}

module.exports = { ROOT, ARTIFACTS, startStack, launchBrowser, control, until, sql, screenshot };
