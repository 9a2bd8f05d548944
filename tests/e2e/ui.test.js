// tests/e2e/ui.test.js: the status page in headless Chromium against a real ferryd with an API token
'use strict';

/*
 * One cluster holds the metadata, source and target databases; ferryd runs
 * with --api-token. The browser walks through what a person does: sees the
 * 401 message, pastes the token, starts a run from the jobs list, watches a
 * table's progress bar climb, sees the run succeed, opens a failed run,
 * meets a 409 from Run now, cancels a run, reloads a deep link, uses the
 * back button and looks at the page on a phone-sized screen. Screenshots go
 * to tests/artifacts/. Any console error or page error fails the test,
 * except the browser's own "Failed to load resource" line for the 401 and
 * 409 answers this test provokes on purpose (see allowedConsoleError).
 */

const { describe, it, before, after } = require('node:test');
const assert = require('node:assert/strict');
const fs = require('node:fs');
const http = require('node:http');
const path = require('node:path');
const zlib = require('node:zlib');
const { setTimeout: sleep } = require('node:timers/promises');

const { chromium } = require('playwright-core');

const { startCluster } = require('../lib/cluster');
const { startFerryd } = require('../lib/ferryd');
const { client } = require('../lib/api');
const { pollUntil, repoRoot } = require('../lib/util');
const { createJob, triggerRun, waitRun } = require('./helpers');

const TOKEN = 'ui-test-token';
const ARTIFACTS = path.join(repoRoot, 'tests', 'artifacts');
const BIG_ROWS = 3000000;
/* 15 rows sleep 0.3 s each: the copy of public.big takes several seconds and its rows climb steadily */
const WATCH_WHERE = '(id % 200000 <> 0 OR pg_sleep(0.3) IS NOT NULL)';
/* 30 rows sleep 1 s each: a run that is certainly still going when the test cancels it */
const SLOW_WHERE = '(id % 100000 <> 0 OR pg_sleep(1) IS NOT NULL)';
const CHROMIUM_ARGS = ['--headless', '--no-sandbox', '--disable-gpu', '--disable-quic', '--no-first-run',
	'--disable-background-networking', '--disable-component-update', '--disable-sync'];
const UI_TIMEOUT_MS = 15000;

const ctx = {
	cluster: null,
	srv: null,
	api: null,
	browser: null,
	page: null,
	consoleErrors: [],
	phase: 'start',
	apiRequests: 0,
	lastApiRequestAt: 0,
	inFlight: new Map(),
	overlaps: [],
	runs: {},
	broken: false,
};

/* Skip the remaining steps once one has failed: they build on each other. */
function step(name, fn) {
	it(name, async (t) => {
		if (ctx.broken) {
			t.skip('an earlier step failed');
			return;
		}
		try {
			await fn(t);
		} catch (e) {
			ctx.broken = true;
			await shot('ui-failure.png').catch(() => {});
			throw e;
		}
	});
}

async function shot(name, opts = {}) {
	fs.mkdirSync(ARTIFACTS, { recursive: true });
	await ctx.page.screenshot({ path: path.join(ARTIFACTS, name), ...opts });
}

/*
 * The browser prints "Failed to load resource: the server responded with a
 * status of N" for every HTTP error answer, even one the page handles. The
 * test provokes exactly two kinds on purpose: 401 before the token is set,
 * and 409 when it presses Run now on a job that is running. Those lines are
 * allowed in their phase; every other console error fails the test.
 */
function allowedConsoleError(e) {
	const resource = /^Failed to load resource: the server responded with a status of (\d+)/.exec(e.text);
	if (!resource || !/\/api\/v1\//.test(e.url))
		return false;
	return (resource[1] === '401' && e.phase === 'auth') || (resource[1] === '409' && e.phase === 'conflict');
}

/* GET path from ferryd with plain node http; resolves { status, headers, body } (body decoded from gzip). */
function rawGet(urlPath, headers = {}) {
	return new Promise((resolve, reject) => {
		const req = http.get(new URL(urlPath, ctx.srv.url), { headers }, (res) => {
			const chunks = [];
			res.on('data', (c) => chunks.push(c));
			res.on('end', () => {
				let body = Buffer.concat(chunks);
				if (res.headers['content-encoding'] === 'gzip')
					body = zlib.gunzipSync(body);
				resolve({ status: res.statusCode, headers: res.headers, body: body.toString('utf8') });
			});
			res.on('error', reject);
		});
		req.on('error', reject);
		req.setTimeout(10000, () => req.destroy(new Error(`GET ${urlPath} timed out`)));
	});
}

const row = (table) => ctx.page.locator(`[data-testid="table-row"][data-table="${table}"]`);
const jobRow = (job) => ctx.page.locator(`[data-testid="job-row"][data-job="${job}"]`);

/* The run id in the page's URL (#/runs/<id>), or null. */
function runIdInUrl() {
	const m = /#\/runs\/([0-9a-f-]{36})$/.exec(ctx.page.url());
	return m ? m[1] : null;
}

async function waitRunState(state, timeoutMs = UI_TIMEOUT_MS) {
	await ctx.page.locator(`[data-testid="run-state"][data-state="${state}"]`).waitFor({ timeout: timeoutMs });
}

/* Press a button, then confirm in the page's dialog. */
async function clickAndConfirm(button) {
	await button.click();
	const dialog = ctx.page.locator('[data-testid="confirm"]');
	await dialog.waitFor({ state: 'visible', timeout: UI_TIMEOUT_MS });
	await ctx.page.locator('[data-testid="confirm-yes"]').click();
	await dialog.waitFor({ state: 'hidden', timeout: UI_TIMEOUT_MS });
}

async function dismissToasts() {
	const close = ctx.page.locator('[data-testid="toast"] button');
	/* an ok toast also goes by itself: it may vanish between the count and the click */
	while (await close.count())
		await close.first().click({ timeout: 2000 }).catch(() => {});
}

describe('status page', { timeout: 150000 }, () => {
	before(async () => {
		fs.rmSync(path.join(ARTIFACTS, 'ui-failure.png'), { force: true });
		ctx.cluster = await startCluster();
		const c = ctx.cluster;
		for (const db of ['ferry_meta', 'src', 'dst'])
			await c.createDb(db);
		await c.psql(`
			CREATE UNLOGGED TABLE public.big (id bigint NOT NULL, v integer NOT NULL);
			INSERT INTO public.big SELECT g, g % 1000 FROM generate_series(1, ${BIG_ROWS}) g;
			CREATE TABLE public.small1 (id integer PRIMARY KEY, name text NOT NULL);
			INSERT INTO public.small1 SELECT g, 'item ' || g FROM generate_series(1, 1000) g;
			CREATE TABLE public.small2 (id integer PRIMARY KEY, note text);
			INSERT INTO public.small2 SELECT g, 'note ' || g FROM generate_series(1, 50) g;
			ANALYZE;`, { db: 'src', timeoutMs: 120000 });
		ctx.srv = await startFerryd({ meta: c.dsn('ferry_meta'), workers: 2, args: ['--api-token', TOKEN] });
		ctx.api = client(ctx.srv.url, { token: TOKEN });

		const common = { source: { dsn: c.dsn('src') }, target: { dsn: c.dsn('dst') } };
		await createJob(ctx.api, { name: 'watch', ...common, include: ['public.*'],
			tables: { 'public.big': { where: WATCH_WHERE } } });
		await createJob(ctx.api, { name: 'broken', ...common, include: ['public.small*'],
			tables: { 'public.small1': { where: 'no_such_column > 1' } } });
		await createJob(ctx.api, { name: 'slow', ...common, include: ['public.big'],
			tables: { 'public.big': { where: SLOW_WHERE } } });

		ctx.browser = await chromium.launch({ executablePath: '/usr/bin/chromium', args: CHROMIUM_ARGS });
		const context = await ctx.browser.newContext({ viewport: { width: 1200, height: 750 }, colorScheme: 'light' });
		ctx.page = await context.newPage();
		ctx.page.setDefaultTimeout(UI_TIMEOUT_MS);
		ctx.page.on('console', (msg) => {
			if (msg.type() === 'error')
				ctx.consoleErrors.push({ text: msg.text(), url: msg.location().url, phase: ctx.phase });
		});
		ctx.page.on('pageerror', (err) => {
			ctx.consoleErrors.push({ text: `pageerror: ${err.message}`, url: '', phase: ctx.phase });
		});
		/* count API requests, and note any request sent while the same one is still under way */
		const key = (req) => `${req.method()} ${req.url()}`;
		ctx.page.on('request', (req) => {
			if (!new URL(req.url()).pathname.startsWith('/api/'))
				return;
			ctx.apiRequests++;
			ctx.lastApiRequestAt = Date.now();
			const n = (ctx.inFlight.get(key(req)) ?? 0) + 1;
			ctx.inFlight.set(key(req), n);
			if (n > 1)
				ctx.overlaps.push(key(req));
		});
		const done = (req) => {
			if (ctx.inFlight.has(key(req)))
				ctx.inFlight.set(key(req), ctx.inFlight.get(key(req)) - 1);
		};
		ctx.page.on('requestfinished', done);
		ctx.page.on('requestfailed', done);
	});

	after(async () => {
		if (ctx.browser)
			await ctx.browser.close();
		let r = null;
		try {
			if (ctx.srv)
				r = await ctx.srv.stop('SIGTERM', { timeoutMs: 15000 });
		} finally {
			if (ctx.cluster)
				await ctx.cluster.stop();
		}
		if (r)
			assert.equal(r.code, 0, `ferryd exited with ${JSON.stringify(r)}\n${ctx.srv.log().slice(-4000)}`);
	});

	step('static files: gzip, ETag, Cache-Control, content types, 304', async () => {
		const index = await rawGet('/', { 'Accept-Encoding': 'gzip' });
		assert.equal(index.status, 200);
		assert.equal(index.headers['content-encoding'], 'gzip');
		assert.match(index.headers['content-type'], /^text\/html/);
		assert.match(index.headers['cache-control'] ?? '', /no-cache/);
		assert.ok(index.headers.etag, 'index has an ETag');
		assert.match(index.body, /<script src="\/app\.js"/);
		assert.match(index.body, /<link rel="stylesheet" href="\/app\.css">/);

		const again = await rawGet('/', { 'Accept-Encoding': 'gzip', 'If-None-Match': index.headers.etag });
		assert.equal(again.status, 304);
		assert.equal(again.body, '');

		const plain = await rawGet('/');
		assert.equal(plain.status, 200);
		assert.equal(plain.headers['content-encoding'], undefined);
		assert.equal(plain.body, index.body, 'gzip and plain bodies are the same page');
		assert.equal((await rawGet('/', { 'If-None-Match': plain.headers.etag })).status, 304);

		for (const [file, type] of [['/app.js', /^text\/javascript/], ['/app.css', /^text\/css/],
			['/favicon.svg', /^image\/svg\+xml/], ['/index.html', /^text\/html/]]) {
			const r = await rawGet(file, { 'Accept-Encoding': 'gzip' });
			assert.equal(r.status, 200, `GET ${file}: ${r.status} ${r.body.slice(0, 300)}`);
			assert.match(r.headers['content-type'], type, file);
			assert.match(r.headers['cache-control'] ?? '', /no-cache/, file);
			assert.ok(r.headers.etag, `${file} has an ETag`);
			assert.equal((await rawGet(file, { 'Accept-Encoding': 'gzip', 'If-None-Match': r.headers.etag })).status,
				304, `${file} revalidates`);
		}
		assert.equal((await rawGet('/app.js')).body, fs.readFileSync(path.join(repoRoot, 'web', 'app.js'), 'utf8'),
			'the binary serves the current web/app.js (run make after changing web/)');
	});

	step('without a token the page says so and focuses the token field', async () => {
		const page = ctx.page;
		ctx.phase = 'auth';
		await page.goto(`${ctx.srv.url}/`);
		const msg = page.locator('[data-testid="auth-message"]');
		await msg.waitFor({ state: 'visible' });
		assert.match(await msg.innerText(), /token is missing or wrong/i);
		await page.locator('[data-testid="view-notice"]').waitFor({ state: 'visible' });
		await pollUntil(() => page.evaluate(() => document.activeElement && document.activeElement.id === 'token-input'),
			{ timeoutMs: 5000, what: 'the token field to have focus' });
		assert.equal(await page.locator('label[for="token-input"]').innerText(), 'API token');
		assert.equal(await page.locator('#token-input').getAttribute('type'), 'password');
	});

	step('pasting the token shows the jobs list', async () => {
		const page = ctx.page;
		await page.locator('[data-testid="token-input"]').fill(TOKEN);
		await page.locator('[data-testid="token-save"]').click();
		await jobRow('watch').waitFor();
		ctx.phase = 'main';
		assert.equal(await page.locator('[data-testid="auth-message"]').isVisible(), false);
		assert.equal(await page.evaluate(() => sessionStorage.getItem('ferry.apiToken')), 'ui-test-token');
		assert.equal(await page.evaluate(() => localStorage.length), 0, 'nothing is kept in localStorage');
		for (const name of ['watch', 'broken', 'slow'])
			await jobRow(name).waitFor();
		assert.equal(await jobRow('watch').locator('.mode').innerText(), 'replace');
		assert.match(await jobRow('watch').innerText(), /never run/);
		await shot('ui-jobs.png');
	});

	step('Run now with confirmation opens the run, and the loading table climbs', async () => {
		const page = ctx.page;
		await clickAndConfirm(jobRow('watch').locator('[data-testid="run-now"]'));
		ctx.runs.watch = await pollUntil(runIdInUrl, { timeoutMs: UI_TIMEOUT_MS, what: 'the run view URL' });
		await page.locator('[data-testid="toast"]', { hasText: /Started run/ }).waitFor();
		await page.locator('[data-testid="cancel-run"]').waitFor();
		const bar = row('public.big').locator('[data-testid="table-progress"]');
		assert.equal(await bar.getAttribute('role'), 'progressbar');

		/* read the bar while the table loads until its value has gone up */
		const seen = [];
		await pollUntil(async () => {
			const state = await row('public.big').locator('[data-testid="table-state"]').getAttribute('data-state')
				.catch(() => null);
			const now = Number(await bar.getAttribute('aria-valuenow').catch(() => NaN));
			if (state === 'loading' && Number.isFinite(now))
				seen.push(now);
			return seen.length >= 2 && seen[seen.length - 1] > seen[0] && seen[seen.length - 1] < 100;
		}, { timeoutMs: 30000, intervalMs: 100, what: 'the progress of public.big to increase while loading' });
		const overall = Number(await page.locator('[data-testid="run-progress"]').getAttribute('aria-valuenow'));
		assert.ok(overall >= 0 && overall <= 100, `overall progress ${overall}`);
		await dismissToasts();
		await shot('ui-run-loading.png', { fullPage: true });
		await shot('readme-screenshot.png');
	});

	step('the run finishes with every table loaded', async () => {
		const page = ctx.page;
		await waitRunState('succeeded', 60000);
		await pollUntil(async () => {
			const states = await page.locator('[data-testid="table-state"]').evaluateAll(
				(els) => els.map((e) => e.getAttribute('data-state')));
			return states.length === 3 && states.every((s) => s === 'loaded');
		}, { timeoutMs: UI_TIMEOUT_MS, what: 'all three tables loaded' });
		for (const t of ['public.big', 'public.small1', 'public.small2'])
			assert.equal(await row(t).locator('[data-testid="table-progress"]').getAttribute('aria-valuenow'), '100', t);
		assert.equal(await page.locator('[data-testid="run-progress"]').getAttribute('aria-valuenow'), '100');
		assert.equal(await page.locator('[data-testid="cancel-run"]').count(), 0, 'no Cancel button on a finished run');
		assert.equal(await row('public.big').locator('td').nth(2).innerText(), '3,000,000');
		await page.locator('[data-testid="event-row"]', { hasText: 'run succeeded' }).waitFor();
		assert.match(await page.locator('[data-testid="run-bytes"]').innerText(), /MiB$/);
		const api = await ctx.api.get(`/api/v1/runs/${ctx.runs.watch}`);
		assert.equal(api.json.state, 'succeeded');
		await shot('ui-run-done.png', { fullPage: true });
	});

	step('a finished run is not polled any more', async () => {
		/* the page looks once more after the run finished; wait until it has gone quiet ... */
		await pollUntil(() => Date.now() - ctx.lastApiRequestAt > 1500,
			{ timeoutMs: UI_TIMEOUT_MS, intervalMs: 100, what: 'the page to stop polling' });
		/* ... and check that it stays quiet: a fixed window on purpose, since nothing should happen in it */
		const before = ctx.apiRequests;
		await sleep(2500);
		assert.equal(ctx.apiRequests - before, 0, 'no API requests while showing a finished run');
	});

	step('reloading a deep link shows the same run', async () => {
		const page = ctx.page;
		await page.reload();
		await waitRunState('succeeded');
		assert.equal(runIdInUrl(), ctx.runs.watch);
		assert.match(await page.locator('h1').innerText(), new RegExp(ctx.runs.watch.slice(0, 8)));
		await row('public.big').waitFor();
		assert.equal(await page.locator('[data-testid="table-row"]').count(), 3);
	});

	step('a failed run shows the error of its failed table', async () => {
		const page = ctx.page;
		const run = await triggerRun(ctx.api, 'broken');
		const done = await waitRun(ctx.api, run.id, { timeoutMs: 30000 });
		assert.equal(done.state, 'failed');
		ctx.runs.broken = run.id;

		await page.locator('nav[aria-label="Main"] a', { hasText: 'Jobs' }).click();
		await jobRow('broken').locator('[data-testid="job-last-state"][data-state="failed"]').waitFor();
		await jobRow('broken').locator('a', { hasText: 'broken' }).click();
		await page.locator('h1', { hasText: 'broken' }).waitFor();
		await page.locator(`[data-testid="run-row"][data-run="${run.id}"] a`).click();
		await waitRunState('failed');
		const err = row('public.small1').locator('[data-testid="table-error"]');
		await err.waitFor({ state: 'visible' });
		assert.match(await err.innerText(), /no_such_column/);
		assert.equal(await row('public.small1').locator('[data-testid="table-state"]').getAttribute('data-state'), 'errored');
		assert.equal(await row('public.small2').locator('[data-testid="table-state"]').getAttribute('data-state'), 'loaded');
		assert.match(await page.locator('[data-testid="run-error"]').innerText(), /public\.small1/);
		await page.locator('[data-testid="event-row"][data-level="error"]').first().waitFor();
		await shot('ui-run-failed.png', { fullPage: true });
	});

	step('the back button walks back through the views', async () => {
		const page = ctx.page;
		await page.goBack();
		await page.locator('h1', { hasText: 'broken' }).waitFor();
		assert.match(page.url(), /#\/jobs\/broken$/);
		await page.locator(`[data-testid="run-row"][data-run="${ctx.runs.broken}"]`).waitFor();
		await page.goBack();
		await jobRow('watch').waitFor();
		assert.match(page.url(), /\/#\/$/);
		await page.goForward();
		await page.locator('h1', { hasText: 'broken' }).waitFor();
		await page.goBack();
		await jobRow('slow').waitFor();
	});

	step('Run now on a running job shows the 409 message; the run is cancelled from its page', async () => {
		const page = ctx.page;
		await clickAndConfirm(jobRow('slow').locator('[data-testid="run-now"]'));
		ctx.runs.slow = await pollUntil(runIdInUrl, { timeoutMs: UI_TIMEOUT_MS, what: 'the run view URL' });
		await page.locator('[data-testid="cancel-run"]').waitFor();

		await page.goBack();
		await jobRow('slow').locator('[data-testid="job-last-state"][data-state="running"], ' +
			'[data-testid="job-last-state"][data-state="queued"]').waitFor();
		ctx.phase = 'conflict';
		await clickAndConfirm(jobRow('slow').locator('[data-testid="run-now"]'));
		const errToast = page.locator('[data-testid="toast"][data-kind="error"]');
		await errToast.waitFor();
		assert.match(await errToast.innerText(), /already has a queued or running run/);
		assert.match(page.url(), /\/#\/$/, 'a refused run does not leave the jobs list');
		ctx.phase = 'main';
		await errToast.locator('button').click();
		await errToast.waitFor({ state: 'detached' });

		await jobRow('slow').locator('[data-testid="job-last-state"]').click();
		await pollUntil(() => runIdInUrl() === ctx.runs.slow, { timeoutMs: UI_TIMEOUT_MS, what: 'the slow run view' });
		await clickAndConfirm(page.locator('[data-testid="cancel-run"]'));
		await page.locator('[data-testid="toast"][data-kind="ok"]', { hasText: /cancel/i }).waitFor();
		await waitRunState('cancelled', 30000);
		assert.equal(await row('public.big').locator('[data-testid="table-state"]').getAttribute('data-state'), 'cancelled');
		assert.equal(await page.locator('[data-testid="cancel-run"]').count(), 0);
		const api = await ctx.api.get(`/api/v1/runs/${ctx.runs.slow}`);
		assert.equal(api.json.state, 'cancelled');
	});

	step('on a 375 px wide screen the header does not overflow', async () => {
		const page = ctx.page;
		await dismissToasts();
		await page.setViewportSize({ width: 375, height: 812 });
		for (const hash of [`#/runs/${ctx.runs.watch}`, '#/']) {
			await page.goto(`${ctx.srv.url}/${hash}`);
			await (hash === '#/' ? jobRow('watch') : row('public.big')).waitFor();
			const m = await page.evaluate(() => {
				const bar = document.querySelector('[data-testid="topbar"]');
				return {
					page: document.documentElement.scrollWidth,
					bar: bar.scrollWidth,
					barClient: bar.clientWidth,
					right: Math.max(...[...bar.querySelectorAll('*')].map((e) => e.getBoundingClientRect().right)),
				};
			});
			assert.ok(m.bar <= m.barClient, `header scrolls sideways on ${hash}: ${JSON.stringify(m)}`);
			assert.ok(m.right <= 375, `header content reaches past the screen on ${hash}: ${JSON.stringify(m)}`);
			assert.ok(m.page <= 375, `page scrolls sideways on ${hash}: ${JSON.stringify(m)}`);
			if (hash !== '#/')
				await shot('ui-mobile.png', { fullPage: true });
		}
		await page.locator('[data-testid="run-now"]').first().waitFor({ state: 'visible' });
		await page.setViewportSize({ width: 1200, height: 750 });
	});

	step('no console errors or page errors', async () => {
		const unexpected = ctx.consoleErrors.filter((e) => !allowedConsoleError(e));
		assert.deepEqual(unexpected, [], 'console errors');
		assert.deepEqual(ctx.overlaps, [], 'no request is sent again while the same one is under way');
	});
});
