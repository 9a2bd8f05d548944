// tests/e2e/progress.test.js: a live run's table list: rows that climb, states never behind the run, final counts at once
'use strict';

const { describe, it, before, after } = require('node:test');
const assert = require('node:assert/strict');

const { ferrydAvailable } = require('../lib/ferryd');
const { pollUntil } = require('../lib/util');
const { startEnv, createJob, triggerRun, getRun, FINISHED } = require('./helpers');

const SLOW_ROWS = 200000;
/* Sleeps 0.25 s every 25,000 rows: about two seconds for the whole table, in steady steps. */
const SLOW_WHERE = '(id % 25000 <> 0 OR pg_sleep(0.25) IS NOT NULL)';
const ROWS = { 'public.slow': SLOW_ROWS, 'public.q1': 1000, 'public.q2': 500 };
const UNKNOWN_RUN = '0d9e8f7a-6b5c-4d3e-8f2a-1b0c9d8e7f6a';

const SOURCE_SQL = `
CREATE TABLE public.slow (id integer PRIMARY KEY, payload text NOT NULL);
INSERT INTO public.slow SELECT g, md5(g::text) FROM generate_series(1, ${SLOW_ROWS}) g;
CREATE TABLE public.q1 (id integer PRIMARY KEY, v text);
INSERT INTO public.q1 SELECT g, 'q1-' || g FROM generate_series(1, 1000) g;
CREATE TABLE public.q2 (id integer PRIMARY KEY, v text);
INSERT INTO public.q2 SELECT g, 'q2-' || g FROM generate_series(1, 500) g;
`;

/* GET a run's table list; asserts 200 and resolves to the items. */
async function tableList(api, runId) {
	const r = await api.get(`/api/v1/runs/${runId}/tables`);
	assert.equal(r.status, 200, `run tables ${runId}: ${r.status} ${r.text}`);
	return r.json.items;
}

function count(items, state) {
	return items.filter((t) => t.state === state).length;
}

describe('a live run\'s table list', { skip: !ferrydAvailable() && 'build/ferryd is not built' }, () => {
	let env;
	let run;
	let finished;
	let last;
	const slowRows = [];
	const behind = [];

	before(async () => {
		env = await startEnv({ dbs: ['src', 'dst'], workers: 2 });
		await env.sql('src', SOURCE_SQL);
		const job = await createJob(env.api, {
			name: 'progress',
			source: { dsn: env.dsn('src') },
			target: { dsn: env.dsn('dst') },
			include: ['public.*'],
			tables: { 'public.slow': { where: SLOW_WHERE } },
		});
		run = await triggerRun(env.api, job.id);
		/*
		 * Ask for the tables and the run in turn, as fast as they answer: once
		 * the run is planned, the table list that follows an answer about the
		 * run must not show fewer tables loaded, or more queued, than that
		 * answer did.
		 */
		let seen = null;
		finished = await pollUntil(async () => {
			const items = await tableList(env.api, run.id);
			if (seen && seen.total === items.length &&
			    (count(items, 'loaded') < seen.loaded || count(items, 'queued') > seen.queued))
				behind.push({ run: seen, tables: items.map((t) => `${t.source} ${t.state}`) });
			const slow = items.find((t) => t.source === 'public.slow');
			if (slow?.state === 'loading')
				slowRows.push(slow.rows);
			const r = await getRun(env.api, run.id);
			seen = r.tables;
			if (r.state === 'succeeded')
				last = await tableList(env.api, run.id);
			return r;
		}, { until: (r) => FINISHED.has(r.state), timeoutMs: 60000, intervalMs: 1, what: `run ${run.id} to finish` });
	});

	after(async () => {
		if (env)
			await env.stop();
	});

	it('shows the rows of the loading table climbing', () => {
		const distinct = [...new Set(slowRows.filter((n) => n > 0 && n < SLOW_ROWS))];
		assert.ok(distinct.length >= 2, `want two different row counts while public.slow loads, saw ${JSON.stringify(slowRows)}`);
		for (let i = 1; i < slowRows.length; i++)
			assert.ok(slowRows[i] >= slowRows[i - 1], `rows went back from ${slowRows[i - 1]} to ${slowRows[i]}`);
	});

	it('never shows a table behind what the run said just before', () => {
		assert.deepEqual(behind, []);
	});

	it('shows every table loaded with its final rows as soon as the run has succeeded', () => {
		assert.equal(finished.state, 'succeeded', JSON.stringify(finished));
		assert.ok(last, 'the table list was asked for right after the run said it had succeeded');
		const got = Object.fromEntries(last.map((t) => [t.source, { state: t.state, rows: t.rows }]));
		const want = Object.fromEntries(Object.entries(ROWS).map(([name, rows]) => [name, { state: 'loaded', rows }]));
		assert.deepEqual(got, want);
		assert.equal(last.reduce((a, t) => a + t.rows, 0), finished.rows);
		for (const t of last)
			assert.ok(t.finished_at, `${t.source} has its finish time`);
	});

	it('answers 404 for a run that does not exist, and for an id that is not a UUID', async () => {
		for (const id of [UNKNOWN_RUN, 'not-a-uuid']) {
			const r = await env.api.get(`/api/v1/runs/${id}/tables`);
			assert.equal(r.status, 404, `${id}: ${r.status} ${r.text}`);
			assert.equal(r.json.error.code, 'not_found');
		}
	});

	it('answers a finished run\'s tables from the metadata database', async () => {
		const again = await tableList(env.api, run.id);
		assert.deepEqual(again, last);
	});
});
