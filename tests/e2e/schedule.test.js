// tests/e2e/schedule.test.js: schedules (next_run_at, scheduled and skipped runs, pause, resume, a restart) and backfills
'use strict';

const { describe, it, before, after } = require('node:test');
const assert = require('node:assert/strict');

const { ferrydAvailable } = require('../lib/ferryd');
const { pollUntil } = require('../lib/util');
const { startEnv, createJob, getRun, runEvents, waitRun, FINISHED, UUID_RE } = require('./helpers');

const SOURCE_SQL = `
CREATE TABLE public.quick (id integer PRIMARY KEY, v text);
INSERT INTO public.quick SELECT g, 'q-' || g FROM generate_series(1, 20) g;
CREATE TABLE public.slow (id integer PRIMARY KEY, v text);
INSERT INTO public.slow SELECT g, 's-' || g FROM generate_series(1, 3000) g;
CREATE TABLE public.days (id integer PRIMARY KEY, d date NOT NULL, v text);
INSERT INTO public.days SELECT g, date '2024-01-01' + g / 1000, 'd-' || g FROM generate_series(1, 3999) g;
`;
/* About three seconds for public.slow: 0.1 s of sleep every 100 rows. */
const SLOW_WHERE = '(id % 100 <> 0 OR pg_sleep(0.1) IS NOT NULL)';
/* About three seconds for each day of public.days. */
const SLOWER_WHERE = '(id % 100 <> 0 OR pg_sleep(0.3) IS NOT NULL)';
const ACTIVE = new Set(['queued', 'running', 'cancelling']);

describe('schedules and backfills', { skip: !ferrydAvailable() && 'build/ferryd is not built' }, () => {
	let env;

	before(async () => {
		env = await startEnv({ dbs: ['src', 'dst_once', 'dst_every', 'dst_fill', 'dst_cancel'], workers: 2 });
		await env.sql('src', SOURCE_SQL);
	});

	after(async () => {
		if (env)
			await env.stop();
	});

	function job(name, db, extra = {}) {
		return createJob(env.api, {
			name,
			source: { dsn: env.dsn('src') },
			target: { dsn: env.dsn(db) },
			include: ['public.quick'],
			...extra,
		});
	}

	/* Every run of a job, oldest first. */
	async function history(jobRef) {
		const r = await env.api.get(`/api/v1/jobs/${jobRef}/runs?limit=500`);
		assert.equal(r.status, 200, r.text);
		return r.json.items.slice().reverse();
	}

	async function getJob(ref) {
		const r = await env.api.get(`/api/v1/jobs/${ref}`);
		assert.equal(r.status, 200, r.text);
		return r.json;
	}

	async function getBackfill(id) {
		const r = await env.api.get(`/api/v1/backfills/${id}`);
		assert.equal(r.status, 200, r.text);
		return r.json;
	}

	/* No two runs that started ever ran at the same time. */
	function assertNoOverlap(runs) {
		const ran = runs.filter((r) => r.started_at).map((r) => ({
			id: r.id, from: Date.parse(r.started_at), to: r.finished_at ? Date.parse(r.finished_at) : Infinity,
		})).sort((a, b) => a.from - b.from);
		for (let i = 1; i < ran.length; i++)
			assert.ok(ran[i].from >= ran[i - 1].to,
				`run ${ran[i].id} started before run ${ran[i - 1].id} finished`);
	}

	it('refuses an invalid schedule with the reason', async () => {
		const base = { name: 'bad-schedule', source: { dsn: env.dsn('src') }, target: { dsn: env.dsn('dst_once') },
			include: ['public.quick'] };
		const cases = [
			['61 * * * *', 'minute field: 61 is out of range 0-59'],
			['0 0 * *', 'expected 5 fields'],
			['*/0 * * * *', 'minute field: bad step'],
			['0 0 * * funday', 'day-of-week field: "funday"'],
			['@every 0s', '@every 0s is out of range'],
			['@fortnightly', 'unknown schedule "@fortnightly"'],
			['', 'schedule is empty'],
		];
		for (const [schedule, message] of cases) {
			const r = await env.api.post('/api/v1/jobs', { ...base, schedule });
			assert.equal(r.status, 400, `${schedule}: ${r.text}`);
			assert.equal(r.json.error.code, 'invalid_field');
			assert.equal(r.json.error.field, 'schedule');
			assert.ok(r.json.error.message.includes(message), `${schedule}: ${r.json.error.message}`);
		}
		const list = await env.api.get('/api/v1/jobs');
		assert.ok(!list.json.items.some((j) => j.name === 'bad-schedule'), 'nothing was written');
	});

	it('shows next_run_at and paused, and computes next_run_at again on replace', async () => {
		const manual = await job('manual', 'dst_once');
		assert.equal(manual.schedule, null);
		assert.equal(manual.next_run_at, null);
		assert.equal(manual.paused, false);

		const t0 = Date.now();
		const nightly = await job('nightly', 'dst_once', { schedule: '30 3 * * *' });
		assert.equal(nightly.schedule, '30 3 * * *');
		const next = new Date(nightly.next_run_at);
		assert.equal(next.getUTCHours(), 3);
		assert.equal(next.getUTCMinutes(), 30);
		assert.equal(next.getUTCSeconds(), 0);
		assert.ok(next.getTime() > t0 - 1000 && next.getTime() <= t0 + 24 * 3600 * 1000, nightly.next_run_at);

		/* read-only fields sent back are ignored; a new schedule gives a new next_run_at */
		const put = await env.api.put('/api/v1/jobs/nightly', { ...nightly, schedule: '0 0 1 jan *',
			paused: true, next_run_at: '2000-01-01T00:00:00Z', source: { dsn: env.dsn('src') },
			target: { dsn: env.dsn('dst_once') } });
		assert.equal(put.status, 200, put.text);
		assert.equal(put.json.paused, false);
		const ny = new Date(put.json.next_run_at);
		assert.deepEqual([ny.getUTCMonth(), ny.getUTCDate(), ny.getUTCHours()], [0, 1, 0]);
		assert.ok(ny.getTime() > Date.now());

		const cleared = await env.api.put('/api/v1/jobs/nightly', { name: 'nightly', source: { dsn: env.dsn('src') },
			target: { dsn: env.dsn('dst_once') }, include: ['public.quick'], schedule: null });
		assert.equal(cleared.status, 200, cleared.text);
		assert.equal(cleared.json.next_run_at, null);
		for (const name of ['manual', 'nightly'])
			assert.equal((await env.api.del(`/api/v1/jobs/${name}`)).status, 204);
	});

	it('runs an @once job once, soon after it is stored', async () => {
		const t0 = Date.now();
		const once = await job('once', 'dst_once', { schedule: '@once' });
		assert.ok(Math.abs(Date.parse(once.next_run_at) - t0) < 5000, once.next_run_at);
		const runs = await pollUntil(() => history('once'), {
			until: (rs) => rs.length === 1 && rs[0].state === 'succeeded',
			timeoutMs: 20000, what: 'the @once run to succeed',
		});
		assert.equal(runs[0].trigger, 'schedule');
		const j = await getJob('once');
		assert.equal(j.next_run_at, null);
		assert.equal(j.last_run.id, runs[0].id);
		const events = await runEvents(env.api, runs[0].id);
		assert.ok(events.some((e) => e.kind === 'run_scheduled' && e.message.includes('@once')), JSON.stringify(events));
		/* resuming a job whose @once run is done does not run it again */
		const resumed = await env.api.post('/api/v1/jobs/once/resume');
		assert.equal(resumed.status, 200, resumed.text);
		assert.equal(resumed.json.next_run_at, null);
	});

	it('starts runs on an @every schedule, records overlapping slots as skipped, pauses, resumes and catches up once after a restart', async () => {
		const j = await job('every', 'dst_every', {
			include: ['public.slow'],
			tables: { 'public.slow': { where: SLOW_WHERE } },
			schedule: '@every 2s',
		});
		assert.equal(j.paused, false);
		assert.ok(j.next_run_at);

		/* scheduled runs start and succeed; slots that come while one runs are skipped */
		const seen = await pollUntil(() => history('every'), {
			until: (rs) => rs.some((r) => r.state === 'succeeded') && rs.some((r) => r.state === 'skipped'),
			timeoutMs: 30000, intervalMs: 200, what: 'a succeeded and a skipped scheduled run',
		});
		for (const r of seen)
			assert.equal(r.trigger, 'schedule');
		const ok = seen.find((r) => r.state === 'succeeded');
		assert.equal(ok.rows, 3000);
		const skipped = seen.find((r) => r.state === 'skipped');
		assert.equal(skipped.started_at, null);
		assert.ok(skipped.finished_at);
		const blocker = skipped.error.match(/^skipped: run ([0-9a-f-]{36}) of this job was still (running|queued|cancelling)$/);
		assert.ok(blocker, skipped.error);
		const blocking = await getRun(env.api, blocker[1]);
		assert.equal(blocking.job_id, j.id);
		assert.ok(Date.parse(blocking.created_at) <= Date.parse(skipped.created_at));
		const retry = await env.api.post(`/api/v1/runs/${skipped.id}/retry`);
		assert.equal(retry.status, 409, retry.text);
		assert.match(retry.json.error.message, /skipped/);
		const skipEvents = await runEvents(env.api, skipped.id);
		assert.ok(skipEvents.some((e) => e.kind === 'run_skipped'), JSON.stringify(skipEvents));
		assertNoOverlap(seen);

		/* a paused job starts nothing, not even skipped runs */
		const paused = await env.api.post('/api/v1/jobs/every/pause');
		assert.equal(paused.status, 200, paused.text);
		assert.equal(paused.json.paused, true);
		const settled = await pollUntil(() => history('every'), {
			until: (rs) => rs.every((r) => !ACTIVE.has(r.state)),
			timeoutMs: 20000, intervalMs: 200, what: 'the run in progress at the pause to end',
		});
		const quiet = Date.now() + 4500;
		await pollUntil(async () => {
			const rs = await history('every');
			assert.equal(rs.length, settled.length, `a paused job got a run: ${JSON.stringify(rs.at(-1))}`);
			return Date.now() >= quiet;
		}, { timeoutMs: 10000, intervalMs: 250, what: 'two slots to pass while paused' });
		assert.equal((await getJob('every')).paused, true);

		/* a manual run still works while paused */
		const manual = await env.api.post('/api/v1/jobs/every/runs');
		assert.equal(manual.status, 202, manual.text);
		assert.equal(manual.json.trigger, 'api');

		/* resume: runs start again, from the next slot on */
		const before = (await history('every')).length;
		const resumed = await env.api.post('/api/v1/jobs/every/resume');
		assert.equal(resumed.status, 200, resumed.text);
		assert.equal(resumed.json.paused, false);
		assert.ok(Date.parse(resumed.json.next_run_at) > Date.now() - 1000, resumed.json.next_run_at);
		const again = await pollUntil(() => history('every'), {
			until: (rs) => rs.length > before && rs.slice(before).some((r) => r.trigger === 'schedule' && r.started_at),
			timeoutMs: 15000, intervalMs: 200, what: 'a scheduled run after resume',
		});
		assertNoOverlap(again);

		/* ferryd down for several slots: on start-up it runs the job once, not once per missed slot */
		await env.srv.stop('SIGTERM', { timeoutMs: 15000 });
		const stoppedAt = Date.parse(await env.sql('ferry_meta', "SELECT to_char(now() AT TIME ZONE 'UTC', 'YYYY-MM-DD\"T\"HH24:MI:SS.US\"Z\"')"));
		const downRuns = Number(await env.sql('ferry_meta',
			"SELECT count(*) FROM ferry.runs r JOIN ferry.jobs j ON j.id = r.job_id WHERE j.name = 'every'"));
		await pollUntil(async () => await env.sql('ferry_meta',
			"SELECT next_run_at < now() - interval '3 seconds' FROM ferry.jobs WHERE name = 'every'") === 't',
		{ timeoutMs: 15000, intervalMs: 250, what: 'two slots to pass while ferryd is down' });
		await env.restart();
		const caught = await pollUntil(() => history('every'), {
			until: (rs) => rs.length > downRuns,
			timeoutMs: 15000, intervalMs: 100, what: 'the catch-up run after the restart',
		});
		const catchUp = caught[downRuns];
		assert.equal(catchUp.trigger, 'schedule');
		assert.ok(Date.parse(catchUp.created_at) > stoppedAt);
		if (catchUp.state === 'skipped') {
			/* only when a run queued before the stop was still waiting for a worker */
			const id = catchUp.error.match(/run ([0-9a-f-]{36})/)[1];
			assert.ok(Date.parse((await getRun(env.api, id)).created_at) < stoppedAt, catchUp.error);
		}
		/* wait for the first regular slot after the catch-up to fire, then count */
		const slot = Date.parse((await getJob('every')).next_run_at);
		assert.ok(slot > Date.parse(catchUp.created_at), 'next_run_at moved past the catch-up');
		const after = await pollUntil(() => history('every'), {
			until: (rs) => rs.some((r) => Date.parse(r.created_at) >= slot),
			timeoutMs: 15000, intervalMs: 200, what: 'the first slot after the catch-up',
		});
		const between = after.filter((r) => Date.parse(r.created_at) > stoppedAt && Date.parse(r.created_at) < slot);
		assert.equal(between.length, 1, `runs between the stop and the next slot: ${JSON.stringify(between)}`);
		assertNoOverlap(after);

		const done = await env.api.post('/api/v1/jobs/every/pause');
		assert.equal(done.status, 200);
		const last = (await history('every')).filter((r) => ACTIVE.has(r.state));
		for (const r of last)
			await env.api.post(`/api/v1/runs/${r.id}/cancel`);
	});

	it('refuses bad backfills with the field', async () => {
		await job('fill-check', 'dst_fill');
		const cases = [
			[{ to: 10, step: 1 }, 'missing_field', 'from'],
			[{ from: 0, to: 10 }, 'missing_field', 'step'],
			[{ from: 0, to: 10, step: 1, extra: 1 }, 'unknown_field', 'extra'],
			[{ from: 10, to: 10, step: 1 }, 'invalid_field', 'to'],
			[{ from: 0, to: '2024-01-01', step: 1 }, 'invalid_field', 'to'],
			[{ from: true, to: 10, step: 1 }, 'invalid_field', 'from'],
			[{ from: 0, to: 10, step: 0 }, 'invalid_field', 'step'],
			[{ from: 0, to: 10, step: '1 day' }, 'invalid_field', 'step'],
			[{ from: 0, to: 100000, step: 1 }, 'invalid_field', 'step'],
			[{ from: '2024-02-30', to: '2024-03-01', step: '1 day' }, 'invalid_field', 'from'],
			[{ from: 'yesterday', to: '2024-03-01', step: '1 day' }, 'invalid_field', 'from'],
			[{ from: '2024-03-01', to: '2024-02-01', step: '1 day' }, 'invalid_field', 'to'],
			[{ from: '2024-01-01', to: '2024-02-01', step: 1 }, 'invalid_field', 'step'],
			[{ from: '2024-01-01', to: '2024-02-01', step: '1 fortnight' }, 'invalid_field', 'step'],
			[{ from: '2024-01-01', to: '2024-02-01', step: '0 days' }, 'invalid_field', 'step'],
			[{ from: '2000-01-01', to: '2100-01-01', step: '1 hour' }, 'invalid_field', 'step'],
		];
		for (const [body, code, field] of cases) {
			const r = await env.api.post('/api/v1/jobs/fill-check/backfill', body);
			assert.equal(r.status, 400, `${JSON.stringify(body)}: ${r.text}`);
			assert.equal(r.json.error.code, code, JSON.stringify(body));
			assert.equal(r.json.error.field, field, JSON.stringify(body));
		}
		const many = await env.api.post('/api/v1/jobs/fill-check/backfill', { from: 0, to: 100000, step: 1 });
		assert.match(many.json.error.message, /more than 10000/);
		const list = await env.api.get('/api/v1/jobs/fill-check/backfills');
		assert.equal(list.status, 200);
		assert.equal(list.json.total, 0);
		assert.equal((await env.api.post('/api/v1/jobs/no-such-job/backfill', { from: 0, to: 1, step: 1 })).status, 404);
		assert.equal((await env.api.get('/api/v1/backfills/not-a-uuid')).status, 404);
		assert.equal((await env.api.get(`/api/v1/backfills/${j0()}`)).status, 404);
	});

	/* A UUID that names nothing. */
	function j0() {
		return '00000000-0000-4000-8000-000000000000';
	}

	it('queues the windows of a backfill one after another until it succeeds', async () => {
		const j = await job('fill', 'dst_fill', { tables: { 'public.quick': { cursor: 'id' } }, load: { mode: 'incremental' } });
		const r = await env.api.post('/api/v1/jobs/fill/backfill', { from: 0, to: 25, step: 10 });
		assert.equal(r.status, 202, r.text);
		assert.match(r.json.id, UUID_RE);
		assert.equal(r.headers.get('location'), `/api/v1/backfills/${r.json.id}`);
		assert.equal(r.json.job_id, j.id);
		assert.deepEqual([r.json.from, r.json.to, r.json.step], [0, 25, 10]);
		assert.deepEqual(r.json.windows.map((w) => [w.from, w.to]), [[0, 10], [10, 20], [20, 25]]);
		assert.equal(r.json.state, 'running');

		const busy = await env.api.post('/api/v1/jobs/fill/backfill', { from: 0, to: 5, step: 5 });
		assert.equal(busy.status, 409, busy.text);

		const done = await pollUntil(() => getBackfill(r.json.id), {
			until: (b) => b.state !== 'running', timeoutMs: 40000, intervalMs: 200, what: 'the backfill to end',
		});
		assert.equal(done.state, 'succeeded', JSON.stringify(done));
		assert.ok(done.finished_at);
		assert.equal(done.error, null);
		const runs = [];
		for (const w of done.windows) {
			assert.equal(w.state, 'succeeded');
			const run = await getRun(env.api, w.run_id);
			assert.equal(run.trigger, 'backfill');
			assert.deepEqual(run.params, { from: w.from, to: w.to, backfill: done.id });
			runs.push(run);
		}
		assertNoOverlap(runs);
		/* each window loaded just its rows: ids 1-9, 10-19, 20 */
		assert.deepEqual(runs.map((run) => run.rows), [9, 10, 1]);
		assert.equal(await env.sql('dst_fill', 'SELECT count(*), min(id), max(id), count(DISTINCT id) FROM public.quick'), '20|1|20|20');
		for (let i = 1; i < runs.length; i++)
			assert.ok(Date.parse(runs[i].created_at) >= Date.parse(runs[i - 1].finished_at), 'a window is queued after the one before it ended');

		/* date windows: timestamps unless every boundary is a midnight */
		const ts = await env.api.post('/api/v1/jobs/fill/backfill',
			{ from: '2024-01-01', to: '2024-01-02T06:00:00Z', step: '12 hours' });
		assert.equal(ts.status, 202, ts.text);
		assert.deepEqual(ts.json.windows.map((w) => [w.from, w.to, w.run_id, w.state]), [
			['2024-01-01T00:00:00+00', '2024-01-01T12:00:00+00', null, 'pending'],
			['2024-01-01T12:00:00+00', '2024-01-02T00:00:00+00', null, 'pending'],
			['2024-01-02T00:00:00+00', '2024-01-02T06:00:00+00', null, 'pending'],
		]);
		assert.equal(ts.json.step, '12 hours');
		const stop = await env.api.post(`/api/v1/backfills/${ts.json.id}/cancel`);
		assert.equal(stop.status, 200, stop.text);
		assert.equal(stop.json.state, 'cancelled');
		assert.equal(stop.json.error, 'cancelled by request');
		const list = await env.api.get('/api/v1/jobs/fill/backfills?limit=1');
		assert.equal(list.status, 200);
		assert.equal(list.json.total, 2);
		assert.equal(list.json.items.length, 1);
		assert.equal(list.json.items[0].id, ts.json.id);
		const again = await env.api.post(`/api/v1/backfills/${ts.json.id}/cancel`);
		assert.equal(again.status, 409, again.text);
	});

	it('cancels a backfill: its window in progress is cancelled and no further window is queued', async () => {
		await job('fill-cancel', 'dst_cancel', {
			include: ['public.days'], tables: { 'public.days': { where: SLOWER_WHERE, cursor: 'd' } }, load: { mode: 'incremental' },
		});
		const r = await env.api.post('/api/v1/jobs/fill-cancel/backfill', { from: '2024-01-01', to: '2024-01-04', step: '1 day' });
		assert.equal(r.status, 202, r.text);
		assert.deepEqual(r.json.windows.map((w) => [w.from, w.to]),
			[['2024-01-01', '2024-01-02'], ['2024-01-02', '2024-01-03'], ['2024-01-03', '2024-01-04']]);
		const first = await pollUntil(() => getBackfill(r.json.id), {
			until: (b) => b.windows[0].state === 'running', timeoutMs: 20000, intervalMs: 100, what: 'the first window to run',
		});
		const run = await getRun(env.api, first.windows[0].run_id);
		assert.deepEqual(run.params, { from: '2024-01-01', to: '2024-01-02', backfill: r.json.id });
		const c = await env.api.post(`/api/v1/backfills/${r.json.id}/cancel`);
		assert.equal(c.status, 200, c.text);
		assert.equal(c.json.state, 'cancelled');
		assert.ok(c.json.finished_at);
		const ended = await waitRun(env.api, run.id, { timeoutMs: 20000 });
		assert.equal(ended.state, 'cancelled', JSON.stringify(ended));
		assert.ok(FINISHED.has(ended.state));
		const b = await getBackfill(r.json.id);
		assert.equal(b.state, 'cancelled');
		assert.deepEqual(b.windows.slice(1).map((w) => [w.run_id, w.state]), [[null, 'pending'], [null, 'pending']]);
		let runs = await history('fill-cancel');
		assert.equal(runs.length, 1, 'no window after the cancelled one was queued');

		/* a window whose run is cancelled on its own ends the backfill, naming the window */
		const r2 = await env.api.post('/api/v1/jobs/fill-cancel/backfill', { from: '2024-01-01', to: '2024-01-03', step: '1 day' });
		assert.equal(r2.status, 202, r2.text);
		const running = await pollUntil(() => getBackfill(r2.json.id), {
			until: (b) => b.windows[0].state === 'running', timeoutMs: 20000, intervalMs: 100, what: 'the window to run',
		});
		const rc = await env.api.post(`/api/v1/runs/${running.windows[0].run_id}/cancel`);
		assert.equal(rc.status, 202, rc.text);
		const stopped = await pollUntil(() => getBackfill(r2.json.id), {
			until: (b) => b.state !== 'running', timeoutMs: 20000, intervalMs: 100, what: 'the backfill to stop',
		});
		assert.equal(stopped.state, 'cancelled');
		assert.equal(stopped.error, `window 1 of 2 (from 2024-01-01 to 2024-01-02) cancelled in run ${running.windows[0].run_id}`);
		assert.equal(stopped.windows[1].state, 'pending');
		runs = await history('fill-cancel');
		assert.equal(runs.length, 2);
	});
});
