// tests/browser/test/admin.test.js: the admin pages in a real browser (issue 6), in the order a newcomer
// would go: log in, connect Toggl with a token, set up the webhook, connect Google through the consent
// screen, watch a webhook event reach Entries and the fake calendar, break Google with invalid_grant and
// reconnect, retry a dead job, create and revoke an API token, and the security checks a browser can see
// (markup shown as text, a cross-site POST refused). Every page is photographed at 1280 and 360 px.
'use strict';

const { describe, it, before, after } = require('node:test');
const assert = require('node:assert/strict');
const { startStack, launchBrowser, control, until, sql, screenshot } = require('../lib/harness');

const TOGGL_USER = { id: 4242, api_token: 'browser-test-token-0123456789', email: 'dana@toggl.example',
	fullname: 'Dana Tester', timezone: 'UTC', workspaces: [{ id: 777, name: 'Acme Studio' }], plan: 'starter' };
const MARKUP = '<img src=x onerror="window.__pwned=1"><b>bold</b> & <script>window.__pwned=2</script>';
const PAGES = ['/', '/toggl', '/google', '/entries', '/jobs', '/tokens', '/users', '/settings'];

let stack, browser, page, info;
const dialogs = [];

// Reload a page until the text of selector matches re (jobs run in the worker, a few hundred ms away).
async function reloadUntil(path, re, what, selector = 'main', timeout = 25000) {
	return until(what, async () => {
		await page.goto(info.url + path);
		return re.test(await page.locator(selector).first().innerText());
	}, timeout, 500);
}

describe('admin pages in chromium', () => {
	before(async () => {
		stack = await startStack();
		info = stack.info;
		browser = await launchBrowser(1280, 900);
		page = browser.page;
		page.on('dialog', (d) => { dialogs.push(d.message()); d.accept(); });
		await control(info.toggl, '/_control/users', TOGGL_USER);
	});

	after(async () => {
		if (browser) await browser.close();
		if (stack) {
			const code = await stack.stop();
			if (code !== 0) console.log(stack.logs().slice(-4000));
		}
	});

	it('sends a visitor to the login page and refuses a wrong password', async () => {
		await page.goto(info.url + '/entries');
		assert.match(page.url(), /\/login\?next=\/entries$/);
		await screenshot(page, 'login-1280');
		await page.setViewportSize({ width: 360, height: 780 });
		await screenshot(page, 'login-360');
		await page.setViewportSize({ width: 1280, height: 900 });
		await page.fill('#email', info.admin.email);
		await page.fill('#password', 'not-the-password');
		await page.click('form[action="/login"] button[type=submit]');
		await page.locator('.form-error').waitFor();
		assert.match(await page.locator('.form-error').innerText(), /Wrong email or password/);
	});

	it('logs in and lands where it was going', async () => {
		await page.fill('#email', info.admin.email);
		await page.fill('#password', info.admin.password);
		await page.click('form[action="/login"] button[type=submit]');
		await page.waitForURL(info.url + '/entries');
		assert.match(await page.locator('.whoami').innerText(), /admin@example\.com/);
		const cookies = await browser.context.cookies(info.url);
		const session = cookies.find((c) => c.name === 'tb_session');
		assert.ok(session && session.httpOnly && session.sameSite === 'Lax', 'an HttpOnly, SameSite=Lax session cookie');
	});

	it('connects Toggl with an API token (checked by a job, never shown again)', async () => {
		await page.goto(info.url + '/toggl');
		assert.equal(await page.locator('#t-token').getAttribute('type'), 'password');
		await page.fill('#t-token', TOGGL_USER.api_token);
		await page.click('form[action="/toggl/token"] button[type=submit]');
		await page.locator('.flash-ok').waitFor();
		await reloadUntil('/toggl', /Connected[\s\S]*Acme Studio/, 'the Toggl connection and its workspace');
		assert.ok(!(await page.content()).includes(TOGGL_USER.api_token), 'the token never comes back');
	});

	it('sets up a webhook against the fake Toggl', async () => {
		const row = page.locator('tr', { hasText: 'Acme Studio' });
		await row.getByRole('button', { name: 'Set up' }).click();
		await page.locator('.flash-ok').waitFor();
		await reloadUntil('/toggl', /Active/, 'the webhook to be active', 'table.workspaces tbody');
		const subs = await control(info.toggl, '/_control/subscriptions', undefined, 'GET');
		const list = Array.isArray(subs) ? subs : subs.subscriptions;
		assert.ok(list.some((s) => s.workspace_id === 777 && s.url_callback.startsWith(info.url + '/webhook/toggl/')),
			'a subscription whose callback is ours');
	});

	it('connects Google through the fake consent screen', async () => {
		await page.goto(info.url + '/google');
		await page.getByRole('link', { name: 'Connect Google Calendar' }).click();
		await page.waitForURL(/\/o\/oauth2\/v2\/auth/);
		await screenshot(page, 'google-consent-1280');
		await page.click('#allow');
		await page.waitForURL(info.url + '/google');
		await reloadUntil('/google', /Connected/, 'Google connected', '.status-line');
		await until('the app calendar', async () => {
			const cals = await control(info.google, '/_control/calendars?user=user@example.com', undefined, 'GET');
			const list = Array.isArray(cals) ? cals : cals.calendars || cals.items;
			return list.some((c) => !c.primary && !c.deleted);
		});
	});

	it('shows a webhook event in Entries and in the fake calendar, markup as text', async () => {
		const start = new Date(Date.now() - 2 * 3600 * 1000).toISOString().replace(/\.\d+Z$/, 'Z');
		const made = await control(info.toggl, '/_control/entries', { action: 'create', user_id: TOGGL_USER.id,
			workspace_id: 777, description: MARKUP, start, duration: 1800 });
		await reloadUntil('/entries', /In calendar/, 'the entry to be mirrored', 'table.entries tbody');
		const cell = page.locator('.desc-text').first();
		assert.equal(await cell.innerText(), MARKUP, 'the description is shown exactly, as text');
		assert.equal(await page.locator('table.entries img').count(), 0, 'no element came out of the description');
		assert.equal(await page.evaluate(() => window.__pwned), undefined, 'no script ran');
		const events = await control(info.google, '/_control/events?user=user@example.com', undefined, 'GET');
		const list = Array.isArray(events) ? events : events.events || events.items;
		assert.ok(list.some((e) => e.summary === MARKUP && e.status !== 'cancelled'),
			`an event for entry ${made.id} in the fake calendar`);
	});

	it('shows Reconnect when Google answers invalid_grant, and resumes after a reconnect', async () => {
		await control(info.google, '/_control/invalid_grant', { all: true });
		await control(info.google, '/_control/expire_tokens', { all: true });
		// A change makes the worker call Google: 401, refresh, invalid_grant.
		const entry = await control(info.toggl, '/_control/entries', { action: 'create', user_id: TOGGL_USER.id,
			workspace_id: 777, description: 'after the break', start: new Date(Date.now() - 3600e3).toISOString(),
			duration: 600 });
		await reloadUntil('/google', /Needs reconnect/, 'Needs reconnect', '.status-line');
		await screenshot(page, 'google-reconnect-1280');
		await page.getByRole('link', { name: 'Reconnect Google Calendar' }).click();
		await page.waitForURL(/\/o\/oauth2\/v2\/auth/);
		await page.click('#allow');
		await page.waitForURL(info.url + '/google');
		await reloadUntil('/google', /Connected/, 'connected again', '.status-line');
		await until('the paused sync to finish', async () => {
			const rows = sql(info.conninfo, `SELECT state FROM google_mirror WHERE entry_id = ${entry.id}`);
			return rows.length === 1 && rows[0][0] === 'synced';
		}, 30000);
	});

	it('retries a dead job', async () => {
		const [[id]] = sql(info.conninfo, "INSERT INTO jobs (kind, payload, user_id, state, attempts, last_error) " +
			"SELECT 'diag.sleep', '{\"ms\": 5, \"tag\": \"browser\"}', id, 'dead', 8, 'simulated failure (browser test)' " +
			"FROM users WHERE email = 'admin@example.com' RETURNING id");
		await page.goto(info.url + '/jobs?state=dead');
		const row = page.locator('tr', { hasText: 'simulated failure (browser test)' });
		await row.getByRole('button', { name: 'Retry' }).click();
		await page.locator('.flash-ok').waitFor();
		assert.match(await page.locator('.flash-ok').innerText(), new RegExp(`Job ${id} is queued again`));
		await until('the retried job to finish', async () => sql(info.conninfo,
			`SELECT state FROM jobs WHERE id = ${id}`)[0][0] === 'done');
		await page.goto(info.url + '/jobs?state=done');
		assert.ok(await page.locator('td.num', { hasText: new RegExp(`^${id}$`) }).count() === 1);
	});

	it('creates an API token, shown once, and revokes it', async () => {
		await page.goto(info.url + '/tokens');
		await page.fill('#t-name', 'Grafana');
		await page.click('form[action="/tokens/create"] button[type=submit]');
		const token = (await page.locator('#once-value').innerText()).trim();
		assert.match(token, /^tb_[A-Za-z0-9_-]{40,}$/);
		const api = info.url + '/api/grafana/';
		const ok = await fetch(api, { headers: { Authorization: `Bearer ${token}` } });
		assert.notEqual(ok.status, 401, 'the new token opens the API');
		await page.goto(info.url + '/tokens');
		assert.ok(!(await page.content()).includes(token), 'shown once: not on the list');
		const row = page.locator('tr', { hasText: 'Grafana' });
		await row.getByRole('button', { name: 'Revoke' }).click();
		await page.locator('.flash-ok').waitFor();
		assert.ok(dialogs.some((m) => /Revoke the token/.test(m)), 'a confirmation was asked (JS enhancement)');
		assert.match(await page.locator('tr', { hasText: 'Grafana' }).innerText(), /Revoked/);
		const gone = await fetch(api, { headers: { Authorization: `Bearer ${token}` } });
		assert.equal(gone.status, 401, 'a revoked token opens nothing');
	});

	it('refuses a cross-site POST without the CSRF token', async () => {
		const before = sql(info.conninfo, 'SELECT count(*) FROM api_tokens')[0][0];
		// Another origin (the fake Toggl's port) posts a form at us; the session cookie goes along
		// (127.0.0.1 is the same site), so only the CSRF check stands in the way.
		await page.goto(info.toggl + '/_control/state');
		const [response] = await Promise.all([
			page.waitForNavigation(),
			page.evaluate((target) => {
				const f = document.createElement('form');
				f.method = 'POST';
				f.action = target;
				const i = document.createElement('input');
				i.name = 'name';
				i.value = 'evil';
				f.appendChild(i);
				document.body.appendChild(f);
				f.submit();
			}, info.url + '/tokens/create'),
		]);
		assert.equal(response.status(), 403);
		assert.match(await page.content(), /CSRF/);
		assert.equal(sql(info.conninfo, 'SELECT count(*) FROM api_tokens')[0][0], before, 'nothing was created');
	});

	it('photographs every page at 1280 and 360 px', async () => {
		for (const width of [1280, 360]) {
			await page.setViewportSize({ width, height: width === 360 ? 780 : 900 });
			for (const p of PAGES) {
				const res = await page.goto(info.url + p);
				assert.equal(res.status(), 200, `${p} answers 200`);
				await screenshot(page, `${p === '/' ? 'dashboard' : p.slice(1)}-${width}`);
				const a11y = await page.evaluate(() => ({
					unlabeled: [...document.querySelectorAll('input:not([type=hidden]), select, textarea, button')]
						.filter((el) => (el.tagName === 'BUTTON' ? !el.innerText.trim() && !el.getAttribute('aria-label')
							: !(el.labels && el.labels.length) && !el.getAttribute('aria-label') &&
							!el.getAttribute('aria-labelledby')) && el.offsetParent !== null)
						.map((el) => el.outerHTML.slice(0, 100)),
					h1: document.querySelectorAll('h1').length,
					lang: document.documentElement.lang,
					skip: !!document.querySelector('a.skip-link[href="#main"]'),
				}));
				assert.deepEqual(a11y.unlabeled, [], `${p}: every control has a label`);
				assert.equal(a11y.h1, 1, `${p}: one h1`);
				assert.ok(a11y.lang === 'en' && a11y.skip, `${p}: a language and a skip link`);
				const overflow = await page.evaluate(() => document.documentElement.scrollWidth - window.innerWidth);
				assert.ok(overflow <= 1, `${p} at ${width} px does not scroll sideways (${overflow} px too wide)`);
			}
		}
		await page.setViewportSize({ width: 1280, height: 900 });
	});

	it('can be driven from the keyboard: skip link, then brand, then the navigation in order', async () => {
		await page.goto(info.url + '/jobs');
		const order = [];
		for (let i = 0; i < 5; i++) {
			await page.keyboard.press('Tab');
			order.push(await page.evaluate(() => document.activeElement.className || document.activeElement.textContent.trim()));
		}
		assert.deepEqual(order.slice(0, 5), ['skip-link', 'brand', 'Dashboard', 'Toggl', 'Google']);
		await page.goto(info.url + '/jobs');
		await page.keyboard.press('Tab');
		await page.keyboard.press('Enter');
		assert.equal(await page.evaluate(() => document.activeElement.id), 'main', 'the skip link lands on the content');
	});

	it('logs out', async () => {
		await page.goto(info.url + '/');
		await page.getByRole('button', { name: 'Log out' }).click();
		await page.waitForURL(info.url + '/login');
		assert.match(await page.locator('.flash').innerText(), /logged out/);
		await page.goto(info.url + '/jobs');
		assert.match(page.url(), /\/login\?next=\/jobs$/);
	});
});
