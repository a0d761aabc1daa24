// tests/browser/test/demo.test.js: demo mode as a newcomer meets it (issue 6). launch.py --demo does what
// `./dev run --demo` does (TIMEBRIDGE_DEMO=1, then `timebridge demo setup` against the fakes); the demo user
// logs in and, within a minute, sees the system move: the history imported, the webhook live, events in
// the fake calendar, and new changes of the fake's demo person arriving. Every page says it is a demo.
'use strict';

const { describe, it, before, after } = require('node:test');
const assert = require('node:assert/strict');
const { startStack, launchBrowser, control, until, sql, screenshot } = require('../lib/harness');

let stack, browser, page, info;

describe('demo mode', () => {
	before(async () => {
		stack = await startStack(['--demo']);
		info = stack.info;
		browser = await launchBrowser(1280, 900);
		page = browser.page;
	});

	after(async () => {
		if (browser) await browser.close();
		if (stack) {
			const code = await stack.stop();
			if (code !== 0) console.log(stack.logs().slice(-4000));
		}
	});

	it('gives a demo login and labels every page', async () => {
		assert.ok(info.demo, 'demo setup printed a login');
		const [email, password] = info.demo;
		await page.goto(info.url + '/login');
		assert.match(await page.locator('.demo-banner').innerText(), /DEMO MODE|Demo mode/i);
		await page.fill('#email', email);
		await page.fill('#password', password);
		await page.click('form[action="/login"] button[type=submit]');
		await page.waitForURL(info.url + '/');
		for (const p of ['/', '/toggl', '/google', '/entries', '/jobs', '/tokens']) {
			await page.goto(info.url + p);
			assert.equal(await page.locator('.demo-banner').count(), 1, `${p} carries the banner`);
		}
		const href = await page.locator('.demo-banner a').first().getAttribute('href');
		assert.equal(href, info.toggl + '/_control/view', 'the banner links to the fake Toggl');
	});

	it('moves within a minute: history, webhook, calendar, live changes', async () => {
		await until('the history import', async () => {
			await page.goto(info.url + '/toggl');
			return /done/.test(await page.locator('table.imports').innerText()) &&
				/Active/.test(await page.locator('table.workspaces').innerText());
		}, 60000, 1000);
		const imported = Number(sql(info.conninfo, 'SELECT count(*) FROM time_entries')[0][0]);
		assert.ok(imported >= 100, `the month of history arrived (${imported} entries)`);
		await until('events in the fake calendar', async () => {
			const ev = await control(info.google, '/_control/events?user=demo@example.com', undefined, 'GET');
			const list = Array.isArray(ev) ? ev : ev.events || ev.items;
			return list.filter((e) => e.status !== 'cancelled').length >= 100;
		}, 60000, 1000);
		const received = () => Number(sql(info.conninfo, "SELECT count(*) FROM webhook_events WHERE model = 'time_entry'")[0][0]);
		const first = received();
		await until('the demo person to change something', async () => received() > first, 30000, 1000);
		await page.goto(info.url + '/');
		assert.match(await page.locator('.status-line').first().innerText(), /Connected/);
		assert.equal(await page.locator('.chart-svg rect').count() > 20, true, 'the chart has bars');
		await screenshot(page, 'demo-dashboard-1280');
		await page.goto(info.url + '/entries');
		await screenshot(page, 'demo-entries-1280');
		assert.match(await page.locator('table.entries tbody').innerText(), /In calendar/);
	});
});
