// tests/e2e/bad_input.test.js: bad requests get a clear 4xx error, write nothing, and never echo a password
'use strict';

/*
 * One PostgreSQL cluster and one ferryd serve the whole file. Every case
 * sends one bad request and checks the status, error.code, error.field (where
 * the contract names one) and that the message says something; it also takes
 * a snapshot of what the API shows (every job as stored, and each job's run
 * count) before and after, and requires the two to be identical. Every
 * response is checked against openapi/openapi.yaml by tests/lib/api.js.
 */

const { test, before, after } = require('node:test');
const assert = require('node:assert/strict');
const http = require('node:http');

const { startCluster } = require('../lib/cluster');
const { startFerryd } = require('../lib/ferryd');
const { client, pollUntil } = require('../lib/api');
const { validateResponse } = require('../lib/openapi');

const PASSWORD = 's3cr3t-PW';
const BODY_MAX = 1024 * 1024;
const UNKNOWN_UUID = '6f1c2d3e-4a5b-4c6d-8e7f-901a2b3c4d5e';
const ACTIVE_STATES = new Set(['queued', 'running', 'cancelling']);
const JSON_TYPE = { 'content-type': 'application/json' };

let cluster;
let srv;
let api;
let srcDsn;
let dstDsn;
let fixture; // the job most cases aim at
let other; // a second job, for name conflicts
let runId; // a finished run of fixture
let logMark = 0; // length of ferryd's output before the first bad request

function validJob(name) {
	return {
		name,
		source: { dsn: srcDsn },
		target: { dsn: dstDsn },
		include: ['public.*'],
	};
}

/** A valid job for fixture's name, changed by edit(job). */
function jobWith(edit) {
	const job = validJob('fixture');
	edit(job);
	return job;
}

/** What the API shows: all jobs as stored, and how many runs each has. */
async function snapshot() {
	const list = await api.get('/api/v1/jobs?limit=500');
	assert.equal(list.status, 200, list.text);
	const runs = {};
	for (const job of list.json.items) {
		const r = await api.get(`/api/v1/jobs/${job.id}/runs?limit=500`);
		assert.equal(r.status, 200, r.text);
		runs[job.name] = r.json.total;
	}
	return { total: list.json.total, jobs: list.json.items, runs };
}

/** Send the request and require that nothing visible through the API changed. */
async function writesNothing(send) {
	const before = await snapshot();
	const res = await send();
	const after = await snapshot();
	assert.equal(after.total, before.total, `the number of jobs changed after ${res.status} ${res.text}`);
	assert.deepEqual(after.runs, before.runs, `a run was recorded after ${res.status} ${res.text}`);
	assert.deepEqual(after.jobs, before.jobs, `a stored job changed after ${res.status} ${res.text}`);
	return res;
}

/** field: the expected error.field, or undefined when the contract names none. */
function expectError(res, status, code, field) {
	const seen = `got ${res.status} ${res.text}`;
	assert.equal(res.status, status, seen);
	assert.ok(res.json && typeof res.json.error === 'object', `no error object: ${seen}`);
	assert.equal(res.json.error.code, code, seen);
	assert.equal(typeof res.json.error.message, 'string', seen);
	assert.ok(res.json.error.message.trim().length > 0, `empty message: ${seen}`);
	if (field !== undefined)
		assert.equal(res.json.error.field, field, seen);
}

async function rejected(send, status, code, field) {
	const res = await writesNothing(send);
	expectError(res, status, code, field);
	return res;
}

function assertNoPassword(text, where) {
	assert.ok(!String(text).includes(PASSWORD), `the password shows in ${where}: ${text}`);
}

/** POST size bytes with Expect: 100-continue: the body goes only if the server asks for it. */
function postExpectingContinue(path, size) {
	return new Promise((resolve, reject) => {
		const req = http.request(`${srv.url}${path}`, {
			method: 'POST',
			headers: { ...JSON_TYPE, 'content-length': size, expect: '100-continue' },
		});
		let bodySent = false;
		let answered = false;
		req.setTimeout(10000, () => req.destroy(new Error(`no answer to POST ${path} within 10 s`)));
		req.on('continue', () => {
			bodySent = true;
			req.end(Buffer.alloc(size, 0x20));
		});
		req.on('response', (res) => {
			const chunks = [];
			res.on('data', (b) => chunks.push(b));
			res.on('end', () => {
				answered = true;
				if (!bodySent)
					req.destroy(); // the refused body is never sent
				const text = Buffer.concat(chunks).toString('utf8');
				try {
					validateResponse('POST', path, res.statusCode, res.headers['content-type'] ?? null,
						text, res.headers);
					resolve({ status: res.statusCode, headers: res.headers, text, json: JSON.parse(text) });
				} catch (e) {
					reject(e);
				}
			});
			res.on('error', reject);
		});
		req.on('error', (e) => {
			if (!answered)
				reject(e);
		});
		req.flushHeaders();
	});
}

/** POST a body of size bytes as a stream (chunked, no Content-Length). */
async function postChunked(path, size) {
	const piece = new TextEncoder().encode(' '.repeat(64 * 1024));
	let left = size;
	const body = new ReadableStream({
		pull(ctl) {
			if (left <= 0) {
				ctl.close();
				return;
			}
			const n = Math.min(left, piece.length);
			ctl.enqueue(n === piece.length ? piece : piece.slice(0, n));
			left -= n;
		},
	});
	const res = await fetch(`${srv.url}${path}`, { method: 'POST', headers: JSON_TYPE, body, duplex: 'half' });
	const text = await res.text();
	validateResponse('POST', path, res.status, res.headers.get('content-type'), text, res.headers);
	return { status: res.status, headers: res.headers, text, json: JSON.parse(text) };
}

/** A JSON text of exactly size bytes: value followed by spaces. */
function paddedJson(value, size) {
	const text = JSON.stringify(value);
	assert.ok(text.length <= size);
	return text + ' '.repeat(size - text.length);
}

/*
 * Runs are fixtures here, not the subject. While a run is being claimed,
 * ferryd can show it with elapsed_ms -1 (started_at is the claiming
 * transaction's now(), which can be later than the reading one's), so run
 * documents are read without the contract check until the run has finished;
 * the finished run is then read through the checking client.
 */
async function fetchJson(method, path, body) {
	const res = await fetch(`${srv.url}${path}`, {
		method,
		headers: body === undefined ? {} : JSON_TYPE,
		body: body === undefined ? undefined : JSON.stringify(body),
	});
	return { status: res.status, json: await res.json() };
}

async function startRun(ref) {
	const res = await fetchJson('POST', `/api/v1/jobs/${ref}/runs`, {});
	assert.equal(res.status, 202, JSON.stringify(res.json));
	return res.json;
}

async function waitFinished(id) {
	await pollUntil(async () => (await fetchJson('GET', `/api/v1/runs/${id}`)).json, {
		until: (run) => !ACTIVE_STATES.has(run.state),
		timeoutMs: 15000,
		intervalMs: 20,
		what: `run ${id} to finish`,
	});
	const res = await api.get(`/api/v1/runs/${id}`);
	assert.equal(res.status, 200, res.text);
	return res.json;
}

before(async () => {
	cluster = await startCluster();
	srv = await startFerryd({ meta: await cluster.createDb('ferry_meta'), workers: 2 });
	api = client(srv.url);
	srcDsn = await cluster.createDb('src');
	dstDsn = await cluster.createDb('dst');
	await cluster.psql(`CREATE TABLE public.t (id int PRIMARY KEY, v text);
		INSERT INTO public.t SELECT g, g::text FROM generate_series(1, 10) g;`, { db: 'src' });

	const f = await api.post('/api/v1/jobs', validJob('fixture'));
	assert.equal(f.status, 201, f.text);
	fixture = f.json;
	const o = await api.post('/api/v1/jobs', validJob('other'));
	assert.equal(o.status, 201, o.text);
	other = o.json;

	runId = (await startRun(fixture.id)).id;
	await waitFinished(runId);
	logMark = srv.log().length;
});

after(async () => {
	try {
		if (srv) {
			const r = await srv.stop();
			assert.equal(r.code, 0, `ferryd exited with ${JSON.stringify(r)}\n${srv.log()}`);
		}
	} finally {
		if (cluster)
			await cluster.stop();
	}
});

/* ---- POST /api/v1/jobs: the body as a whole ---- */

test('POST /api/v1/jobs with malformed JSON → 400 invalid_json', async () => {
	await rejected(() => api.post('/api/v1/jobs', undefined,
		{ body: '{"name": "x", "include": [', headers: JSON_TYPE }), 400, 'invalid_json');
});

test('POST /api/v1/jobs with a JSON array instead of an object → 400 naming the problem', async () => {
	const res = await writesNothing(() => api.post('/api/v1/jobs', []));
	assert.equal(res.status, 400, res.text);
	assert.ok(['invalid_json', 'invalid_field'].includes(res.json.error.code), res.text);
	assert.ok(res.json.error.message.trim().length > 0);
});

test('POST /api/v1/jobs with a JSON string instead of an object → 400 naming the problem', async () => {
	const res = await writesNothing(() => api.post('/api/v1/jobs', 'fixture'));
	assert.equal(res.status, 400, res.text);
	assert.ok(['invalid_json', 'invalid_field'].includes(res.json.error.code), res.text);
	assert.ok(res.json.error.message.trim().length > 0);
});

test('POST /api/v1/jobs with an empty body → 400 invalid_json', async () => {
	await rejected(() => api.post('/api/v1/jobs', undefined, { body: '', headers: JSON_TYPE }),
		400, 'invalid_json');
});

test('POST /api/v1/jobs with a duplicate top-level key → 400 invalid_json', async () => {
	const body = `{"name": "dup-a", "name": "dup-b", "source": {"dsn": ${JSON.stringify(srcDsn)}},
		"target": {"dsn": ${JSON.stringify(dstDsn)}}, "include": ["public.*"]}`;
	await rejected(() => api.post('/api/v1/jobs', undefined, { body, headers: JSON_TYPE }),
		400, 'invalid_json');
});

test('POST /api/v1/jobs with a duplicate nested key → 400 invalid_json', async () => {
	const body = `{"name": "dup-nested", "source": {"dsn": ${JSON.stringify(srcDsn)}},
		"target": {"dsn": ${JSON.stringify(dstDsn)}}, "include": ["public.*"],
		"load": {"mode": "append", "mode": "drop"}}`;
	await rejected(() => api.post('/api/v1/jobs', undefined, { body, headers: JSON_TYPE }),
		400, 'invalid_json');
});

test('POST /api/v1/jobs with Content-Type text/plain → 415 unsupported_media_type', async () => {
	await rejected(() => api.post('/api/v1/jobs', undefined, {
		body: JSON.stringify(validJob('plain-text')),
		headers: { 'content-type': 'text/plain' },
	}), 415, 'unsupported_media_type');
});

test('POST /api/v1/jobs with a body and no Content-Type → 415 unsupported_media_type', async () => {
	await rejected(() => api.post('/api/v1/jobs', undefined,
		{ body: Buffer.from(JSON.stringify(validJob('no-type'))) }), 415, 'unsupported_media_type');
});

test('POST /api/v1/jobs with Content-Length over the 1 MiB cap → 413 payload_too_large', async () => {
	await rejected(() => postExpectingContinue('/api/v1/jobs', BODY_MAX + 1), 413, 'payload_too_large');
});

test('POST /api/v1/jobs with a chunked body over the 1 MiB cap → 413 payload_too_large', async () => {
	await rejected(() => postChunked('/api/v1/jobs', BODY_MAX + 1), 413, 'payload_too_large');
});

test('POST /api/v1/jobs with a body of exactly 1 MiB is read and validated, not refused as too large', async () => {
	const body = paddedJson({ ...validJob('x'), name: 5 }, BODY_MAX);
	assert.equal(Buffer.byteLength(body), BODY_MAX);
	await rejected(() => api.post('/api/v1/jobs', undefined, { body, headers: JSON_TYPE }),
		400, 'invalid_field', 'name');
});

test('POST /api/v1/jobs with a body over the cap sent at once is answered 413, every time', async () => {
	// The client writes the whole body without waiting; the 413 must still reach it
	// each time, not a connection closed under the client while it is still writing.
	const ATTEMPTS = 20;
	const body = paddedJson(validJob('too-big'), 4 * BODY_MAX);
	const before = await snapshot();
	const outcomes = [];
	for (let i = 0; i < ATTEMPTS; i++) {
		try {
			const res = await api.post('/api/v1/jobs', undefined, { body, headers: JSON_TYPE });
			outcomes.push(res.status === 413 && res.json?.error?.code === 'payload_too_large'
				? 413 : `${res.status} ${res.text}`);
		} catch (e) {
			outcomes.push(e.message);
		}
	}
	assert.deepEqual(await snapshot(), before);
	assert.deepEqual(outcomes, Array(ATTEMPTS).fill(413),
		'a client sending an oversized body must receive the 413 instead of a broken connection');
});

/* ---- POST /api/v1/jobs: fields ---- */

const jobCases = [
	// wrong types and values
	['"name" is a number', (j) => { j.name = 5; }, 400, 'invalid_field', 'name'],
	['"include" is a string', (j) => { j.include = 'public.*'; }, 400, 'invalid_field', 'include'],
	['"load.parallel" is the string "4"', (j) => { j.load = { parallel: '4' }; }, 400, 'invalid_field', 'load.parallel'],
	['"load.parallel" is 65', (j) => { j.load = { parallel: 65 }; }, 400, 'invalid_field', 'load.parallel'],
	['"load.parallel" is 2.5', (j) => { j.load = { parallel: 2.5 }; }, 400, 'invalid_field', 'load.parallel'],
	['"load.index_parallel" is 0', (j) => { j.load = { index_parallel: 0 }; }, 400, 'invalid_field', 'load.index_parallel'],
	['"load.index_parallel" is 65', (j) => { j.load = { index_parallel: 65 }; }, 400, 'invalid_field', 'load.index_parallel'],
	['"load.index_parallel" is the string "2"', (j) => { j.load = { index_parallel: '2' }; },
		400, 'invalid_field', 'load.index_parallel'],
	['"load.index_parallel" is 1.5', (j) => { j.load = { index_parallel: 1.5 }; }, 400, 'invalid_field', 'load.index_parallel'],
	['"load.index_parallel" is 0 next to a valid "load.parallel"', (j) => { j.load = { parallel: 4, index_parallel: 0 }; },
		400, 'invalid_field', 'load.index_parallel'],
	['"load.split_bytes" is -1', (j) => { j.load = { split_bytes: -1 }; }, 400, 'invalid_field', 'load.split_bytes'],
	['"load.split_bytes" is the string "1GB"', (j) => { j.load = { split_bytes: '1GB' }; },
		400, 'invalid_field', 'load.split_bytes'],
	['"load.split_bytes" is 2 to the power 51', (j) => { j.load = { split_bytes: 2 ** 51 }; },
		400, 'invalid_field', 'load.split_bytes'],
	['"load.validate" is "sha256"', (j) => { j.load = { validate: 'sha256' }; }, 400, 'invalid_field', 'load.validate'],
	['"load.create" is "yes"', (j) => { j.load = { create: 'yes' }; }, 400, 'invalid_field', 'load.create'],
	['"retry.attempts" is -1', (j) => { j.retry = { attempts: -1 }; }, 400, 'invalid_field', 'retry.attempts'],
	['"retry.delay_s" is "5"', (j) => { j.retry = { delay_s: '5' }; }, 400, 'invalid_field', 'retry.delay_s'],
	['"load" is an array', (j) => { j.load = ['replace']; }, 400, 'invalid_field', 'load'],
	['"source" is a string', (j) => { j.source = srcDsn; }, 400, 'invalid_field', 'source'],
	['"exclude" holds a number', (j) => { j.exclude = [1]; }, 400, 'invalid_field', 'exclude[0]'],
	['"tables.public.t.where" is a number', (j) => { j.tables = { 'public.t': { where: 5 } }; },
		400, 'invalid_field', 'tables.public.t.where'],
	['a "tables" key without a schema', (j) => { j.tables = { nodot: {} }; }, 400, 'invalid_field', 'tables.nodot'],
	// per-table column options: renames, dropped columns, expressions, casts
	['"columns" is an array', (j) => { j.tables = { 'public.t': { columns: ['v'] } }; },
		400, 'invalid_field', 'tables.public.t.columns'],
	['"columns" is a string', (j) => { j.tables = { 'public.t': { columns: 'v' } }; },
		400, 'invalid_field', 'tables.public.t.columns'],
	['a "columns" value is a number', (j) => { j.tables = { 'public.t': { columns: { v: 5 } } }; },
		400, 'invalid_field', 'tables.public.t.columns.v'],
	['a "columns" value is null', (j) => { j.tables = { 'public.t': { columns: { v: null } } }; },
		400, 'invalid_field', 'tables.public.t.columns.v'],
	['a "columns" value is empty', (j) => { j.tables = { 'public.t': { columns: { id: 'key', v: '' } } }; },
		400, 'invalid_field', 'tables.public.t.columns.v'],
	['a "columns" key is empty', (j) => { j.tables = { 'public.t': { columns: { '': 'v2' } } }; },
		400, 'invalid_field', 'tables.public.t.columns.'],
	['a "columns" value of 64 bytes', (j) => { j.tables = { 'public.t': { columns: { v: 'n'.repeat(64) } } }; },
		400, 'invalid_field', 'tables.public.t.columns.v'],
	['a "columns" value of 32 letters but 64 bytes', (j) => { j.tables = { 'public.t': { columns: { v: 'é'.repeat(32) } } }; },
		400, 'invalid_field', 'tables.public.t.columns.v'],
	['a "columns" key of 64 bytes', (j) => { j.tables = { 'public.t': { columns: { ['k'.repeat(64)]: 'v' } } }; },
		400, 'invalid_field', `tables.public.t.columns.${'k'.repeat(64)}`],
	['"drop_columns" is a string', (j) => { j.tables = { 'public.t': { drop_columns: 'v' } }; },
		400, 'invalid_field', 'tables.public.t.drop_columns'],
	['"drop_columns" is an object', (j) => { j.tables = { 'public.t': { drop_columns: { v: true } } }; },
		400, 'invalid_field', 'tables.public.t.drop_columns'],
	['"drop_columns" names a column twice', (j) => { j.tables = { 'public.t': { drop_columns: ['v', 'v'] } }; },
		400, 'invalid_field', 'tables.public.t.drop_columns[1]'],
	['"drop_columns" holds a number', (j) => { j.tables = { 'public.t': { drop_columns: ['v', 2] } }; },
		400, 'invalid_field', 'tables.public.t.drop_columns[1]'],
	['"drop_columns" holds an empty name', (j) => { j.tables = { 'public.t': { drop_columns: [''] } }; },
		400, 'invalid_field', 'tables.public.t.drop_columns[0]'],
	['"drop_columns" holds a name of 64 bytes', (j) => { j.tables = { 'public.t': { drop_columns: ['d'.repeat(64)] } }; },
		400, 'invalid_field', 'tables.public.t.drop_columns[0]'],
	['a column both renamed and dropped', (j) => {
		j.tables = { 'public.t': { columns: { v: 'value' }, drop_columns: ['id', 'v'] } };
	}, 400, 'invalid_field', 'tables.public.t.drop_columns[1]'],
	['"expressions" is an array', (j) => { j.tables = { 'public.t': { expressions: ['now()'] } }; },
		400, 'invalid_field', 'tables.public.t.expressions'],
	['an "expressions" value is empty', (j) => { j.tables = { 'public.t': { expressions: { v: '' } } }; },
		400, 'invalid_field', 'tables.public.t.expressions.v'],
	['an "expressions" value is a number', (j) => { j.tables = { 'public.t': { expressions: { v: 1 } } }; },
		400, 'invalid_field', 'tables.public.t.expressions.v'],
	['"casts" is a string', (j) => { j.tables = { 'public.t': { casts: 'text' } }; },
		400, 'invalid_field', 'tables.public.t.casts'],
	['a "casts" value is a number', (j) => { j.tables = { 'public.t': { casts: { v: 25 } } }; },
		400, 'invalid_field', 'tables.public.t.casts.v'],
	['a "casts" value is empty', (j) => { j.tables = { 'public.t': { casts: { v: '' } } }; },
		400, 'invalid_field', 'tables.public.t.casts.v'],
	// unknown fields
	['an unknown top-level field', (j) => { j.owner = 'me'; }, 400, 'unknown_field', 'owner'],
	['an unknown field in "load"', (j) => { j.load = { foo: 1 }; }, 400, 'unknown_field', 'load.foo'],
	['an unknown field in "source"', (j) => { j.source.host = 'db1'; }, 400, 'unknown_field', 'source.host'],
	['an unknown field in a table entry', (j) => { j.tables = { 'public.t': { foo: 'x' } }; },
		400, 'unknown_field', 'tables.public.t.foo'],
	// missing fields
	['no "name"', (j) => { delete j.name; }, 400, 'missing_field', 'name'],
	['no "source"', (j) => { delete j.source; }, 400, 'missing_field', 'source'],
	['no "target"', (j) => { delete j.target; }, 400, 'missing_field', 'target'],
	['no "include"', (j) => { delete j.include; }, 400, 'missing_field', 'include'],
	['no "source.dsn"', (j) => { j.source = {}; }, 400, 'missing_field', 'source.dsn'],
	['no "target.dsn"', (j) => { j.target = {}; }, 400, 'missing_field', 'target.dsn'],
	['an empty "include" list', (j) => { j.include = []; }, 400, 'invalid_field', 'include'],
	// connection strings
	['"source.dsn" is the malformed URI postgresql://[oops', (j) => { j.source.dsn = 'postgresql://[oops'; },
		400, 'invalid_field', 'source.dsn'],
	['"target.dsn" is the malformed conninfo "host=x port"', (j) => { j.target.dsn = 'host=x port'; },
		400, 'invalid_field', 'target.dsn'],
	['"source.dsn" is empty', (j) => { j.source.dsn = ''; }, 400, 'invalid_field', 'source.dsn'],
	['"source.dsn" is a number', (j) => { j.source.dsn = 5432; }, 400, 'invalid_field', 'source.dsn'],
	// glob patterns: schema.table with * and ? only
	['include pattern "public" without a table part', (j) => { j.include = ['public']; },
		400, 'invalid_field', 'include[0]'],
	['include pattern "public.[ab]" with a bracket class', (j) => { j.include = ['public.[ab]']; },
		400, 'invalid_field', 'include[0]'],
	['include pattern "a.b.c" with three parts', (j) => { j.include = ['a.b.c']; }, 400, 'invalid_field', 'include[0]'],
	['a bad second include pattern', (j) => { j.include = ['public.*', 'bad']; }, 400, 'invalid_field', 'include[1]'],
	['exclude pattern "x"', (j) => { j.exclude = ['x']; }, 400, 'invalid_field', 'exclude[0]'],
	// load modes and their table options
	['an unknown "load.mode"', (j) => { j.load = { mode: 'merge' }; }, 400, 'invalid_field', 'load.mode'],
	['a "load.mode" that is a number', (j) => { j.load = { mode: 3 }; }, 400, 'invalid_field', 'load.mode'],
	['an unknown table "mode"', (j) => { j.tables = { 'public.t': { mode: 'merge' } }; },
		400, 'invalid_field', 'tables.public.t.mode'],
	['a table in mode incremental without a "cursor"', (j) => { j.tables = { 'public.t': { mode: 'incremental' } }; },
		400, 'missing_field', 'tables.public.t.cursor'],
	['a "cursor" that is a number', (j) => { j.tables = { 'public.t': { cursor: 5 } }; },
		400, 'invalid_field', 'tables.public.t.cursor'],
	['a "cursor" next to valid column options that is also dropped', (j) => {
		j.tables = { 'public.t': { columns: { v: 'value' }, cursor: 'id', drop_columns: ['id'] } };
	}, 400, 'invalid_field', 'tables.public.t.cursor'],
	['an empty "key"', (j) => { j.tables = { 'public.t': { key: [] } }; },
		400, 'invalid_field', 'tables.public.t.key'],
	['a "key" naming a column twice', (j) => { j.tables = { 'public.t': { key: ['id', 'id'] } }; },
		400, 'invalid_field', 'tables.public.t.key[1]'],
	['a "key" column that is dropped', (j) => { j.tables = { 'public.t': { key: ['id'], drop_columns: ['id'] } }; },
		400, 'invalid_field', 'tables.public.t.key[0]'],
	['a "delete_flag" with mode replace', (j) => { j.tables = { 'public.t': { delete_flag: 'deleted' } }; },
		400, 'invalid_field', 'tables.public.t.delete_flag'],
	['a "delete_flag" on a table in mode append', (j) => {
		j.load = { mode: 'upsert' };
		j.tables = { 'public.t': { mode: 'append', delete_flag: 'deleted' } };
	}, 400, 'invalid_field', 'tables.public.t.delete_flag'],
	// after steps
	['"after" that is a string', (j) => { j.after = 'SELECT 1'; }, 400, 'invalid_field', 'after'],
	['an empty "after" statement', (j) => { j.after = ['SELECT 1', '']; }, 400, 'invalid_field', 'after[1]'],
	['an "after" step without "sql"', (j) => { j.after = [{ name: 'x' }]; }, 400, 'missing_field', 'after[0].sql'],
	['an "after" step with an unknown field', (j) => { j.after = [{ sql: 'SELECT 1', when: 'always' }]; },
		400, 'unknown_field', 'after[0].when'],
	['an "after" step with a bad name', (j) => { j.after = [{ name: 'two words', sql: 'SELECT 1' }]; },
		400, 'invalid_field', 'after[0].name'],
	['101 "after" statements', (j) => { j.after = Array(101).fill('SELECT 1'); }, 400, 'invalid_field', 'after'],
	['a "schedule" with an hour out of range', (j) => { j.schedule = '0 24 * * *'; }, 400, 'invalid_field', 'schedule'],
	['a "schedule" that is not a string', (j) => { j.schedule = 3; }, 400, 'invalid_field', 'schedule'],
	// names
	['a name that is a UUID', (j) => { j.name = UNKNOWN_UUID; }, 400, 'invalid_field', 'name'],
	['a name with a space', (j) => { j.name = 'two words'; }, 400, 'invalid_field', 'name'],
	['an empty name', (j) => { j.name = ''; }, 400, 'invalid_field', 'name'],
	['a name of 129 characters', (j) => { j.name = 'n'.repeat(129); }, 400, 'invalid_field', 'name'],
	['a name with a slash', (j) => { j.name = 'a/b'; }, 400, 'invalid_field', 'name'],
	['a name with a non-ASCII letter', (j) => { j.name = 'naïve'; }, 400, 'invalid_field', 'name'],
];

for (const [what, edit, status, code, field] of jobCases) {
	test(`POST /api/v1/jobs: ${what} → ${status} ${code} ${field}`, async () => {
		const job = jobWith(edit);
		if (job.name === 'fixture')
			job.name = 'bad-input-candidate'; // so that a wrongly accepted job cannot collide
		await rejected(() => api.post('/api/v1/jobs', job), status, code, field);
	});
}

test('POST /api/v1/jobs accepts the column options, validate checksum and index_parallel, and stores them as sent', async () => {
	// the boundary the cases above stay outside of: names of 63 bytes, counted in bytes
	const long = 'c'.repeat(63);
	const wide = `${'é'.repeat(31)}a`;
	const tables = {
		'public.t': {
			target: 'public.t_copy',
			columns: { v: 'value', [long]: wide },
			drop_columns: ['gone', wide],
			expressions: { masked: 'md5(v)', [long]: 'id * 2' },
			casts: { value: 'varchar(20)', [wide]: 'bigint' },
		},
		'public.u': { columns: {}, drop_columns: [], expressions: {}, casts: {} },
	};
	const load = { mode: 'append', create: false, parallel: 2, index_parallel: 5, validate: 'checksum', split_bytes: 1048576 };
	const before = await snapshot();
	const res = await api.post('/api/v1/jobs', { ...validJob('column-options'), tables, load });
	assert.equal(res.status, 201, res.text);
	try {
		assert.deepEqual(res.json.tables, tables);
		assert.deepEqual(res.json.load, load);
		const back = await api.get(`/api/v1/jobs/${res.json.id}`);
		assert.equal(back.status, 200, back.text);
		assert.deepEqual(back.json.tables, tables);
		assert.deepEqual(back.json.load, load);
		// index_parallel left out follows load.parallel
		const put = await api.put(`/api/v1/jobs/${res.json.id}`,
			{ ...validJob('column-options'), tables, load: { parallel: 3 } });
		assert.equal(put.status, 200, put.text);
		assert.deepEqual(put.json.load,
			{ mode: 'replace', create: true, parallel: 3, index_parallel: 3, validate: 'none', split_bytes: 268435456 });
	} finally {
		const del = await api.del(`/api/v1/jobs/${res.json.id}`);
		assert.equal(del.status, 204, del.text);
	}
	const after = await snapshot();
	assert.deepEqual(after, before, 'deleting the accepted job did not restore what the API shows');
});

test('POST /api/v1/jobs with a name that is taken → 409 conflict on "name"', async () => {
	await rejected(() => api.post('/api/v1/jobs', validJob('fixture')), 409, 'conflict', 'name');
});

/* ---- PUT /api/v1/jobs/{id} ---- */

async function rejectedPut(ref, send, status, code, field) {
	const before = await api.get(`/api/v1/jobs/${ref}`);
	assert.equal(before.status, 200, before.text);
	const res = await rejected(send, status, code, field);
	const after = await api.get(`/api/v1/jobs/${ref}`);
	assert.deepEqual(after.json, before.json, 'the job changed');
	return res;
}

test('PUT that renames a job onto another job\'s name → 409 conflict on "name"', async () => {
	await rejectedPut('fixture', () => api.put('/api/v1/jobs/fixture', validJob('other')), 409, 'conflict', 'name');
	assert.equal((await api.get('/api/v1/jobs/other')).json.id, other.id);
});

test('PUT with an "id" that is not the job\'s → 400 invalid_field on "id"', async () => {
	await rejectedPut('fixture', () => api.put('/api/v1/jobs/fixture', { ...validJob('fixture'), id: UNKNOWN_UUID }),
		400, 'invalid_field', 'id');
});

test('PUT with the "id" of another job → 400 invalid_field on "id"', async () => {
	await rejectedPut(fixture.id, () => api.put(`/api/v1/jobs/${fixture.id}`, { ...validJob('fixture'), id: other.id }),
		400, 'invalid_field', 'id');
});

test('PUT with an unknown load.mode → 400 invalid_field, job unchanged', async () => {
	await rejectedPut('fixture', () => api.put('/api/v1/jobs/fixture',
		jobWith((j) => { j.load = { mode: 'merge' }; })), 400, 'invalid_field', 'load.mode');
});

test('PUT with a column both renamed and dropped → 400 invalid_field, job unchanged', async () => {
	await rejectedPut('fixture', () => api.put('/api/v1/jobs/fixture', jobWith((j) => {
		j.tables = { 'public.t': { columns: { v: 'value' }, drop_columns: ['v'] } };
	})), 400, 'invalid_field', 'tables.public.t.drop_columns[0]');
});

test('PUT with "load.index_parallel" 65 → 400 invalid_field, job unchanged', async () => {
	await rejectedPut('fixture', () => api.put('/api/v1/jobs/fixture',
		jobWith((j) => { j.load = { index_parallel: 65 }; })), 400, 'invalid_field', 'load.index_parallel');
});

test('PUT with an incremental table without a "cursor" → 400 missing_field, job unchanged', async () => {
	await rejectedPut('fixture', () => api.put('/api/v1/jobs/fixture',
		jobWith((j) => { j.tables = { 'public.t': { mode: 'incremental' } }; })), 400, 'missing_field', 'tables.public.t.cursor');
});

test('PUT with a missing "include" → 400 missing_field, job unchanged', async () => {
	await rejectedPut('fixture', () => api.put('/api/v1/jobs/fixture',
		jobWith((j) => { delete j.include; })), 400, 'missing_field', 'include');
});

test('PUT with malformed JSON → 400 invalid_json, job unchanged', async () => {
	await rejectedPut('fixture', () => api.put('/api/v1/jobs/fixture', undefined,
		{ body: '{"name": "fixture",', headers: JSON_TYPE }), 400, 'invalid_json');
});

test('PUT with Content-Type text/plain → 415, job unchanged', async () => {
	await rejectedPut('fixture', () => api.put('/api/v1/jobs/fixture', undefined, {
		body: JSON.stringify(validJob('fixture')),
		headers: { 'content-type': 'text/plain' },
	}), 415, 'unsupported_media_type');
});

/* ---- unknown jobs ---- */

for (const ref of [UNKNOWN_UUID, 'no-such-job']) {
	const kind = ref === UNKNOWN_UUID ? 'id' : 'name';
	const cases = [
		['GET', `/api/v1/jobs/${ref}`, undefined],
		['PUT', `/api/v1/jobs/${ref}`, () => validJob('ghost')],
		['DELETE', `/api/v1/jobs/${ref}`, undefined],
		['GET', `/api/v1/jobs/${ref}/plan`, undefined],
		['GET', `/api/v1/jobs/${ref}/runs`, undefined],
		['POST', `/api/v1/jobs/${ref}/runs`, () => ({})],
	];
	for (const [method, path, body] of cases) {
		test(`${method} ${path.replace(ref, `{unknown ${kind}}`)} → 404 not_found`, async () => {
			await rejected(() => api.req(method, path, body ? { json: body() } : {}), 404, 'not_found');
		});
	}
}

/* ---- POST /api/v1/jobs/{id}/runs: the trigger body ---- */

const triggerCases = [
	['"tables" is a string', { tables: 'x' }, 'invalid_field', 'tables'],
	['"tables" is empty', { tables: [] }, 'invalid_field', 'tables'],
	['"tables" holds a number', { tables: [1] }, 'invalid_field', 'tables[0]'],
	['"tables" holds a name without a schema', { tables: ['nodot'] }, 'invalid_field', 'tables[0]'],
	['"tables" holds a bad second name', { tables: ['public.t', 'a.b.c'] }, 'invalid_field', 'tables[1]'],
	['an unknown field', { tables: ['public.t'], only: true }, 'unknown_field', 'only'],
	['"params" is a number', { params: 3 }, 'invalid_field', 'params'],
	['"params" is an array', { params: ['a'] }, 'invalid_field', 'params'],
];

for (const [what, body, code, field] of triggerCases) {
	test(`POST /api/v1/jobs/{id}/runs: ${what} → 400 ${code} ${field}`, async () => {
		await rejected(() => api.post('/api/v1/jobs/fixture/runs', body), 400, code, field);
	});
}

test('POST /api/v1/jobs/{id}/runs with malformed JSON → 400 invalid_json', async () => {
	await rejected(() => api.post('/api/v1/jobs/fixture/runs', undefined,
		{ body: '{"tables": ["public.t"', headers: JSON_TYPE }), 400, 'invalid_json');
});

test('POST /api/v1/jobs/{id}/runs with a duplicate key → 400 invalid_json', async () => {
	await rejected(() => api.post('/api/v1/jobs/fixture/runs', undefined,
		{ body: '{"params": {}, "params": {"a": 1}}', headers: JSON_TYPE }), 400, 'invalid_json');
});

test('POST /api/v1/jobs/{id}/runs with a JSON array body → 400 naming the problem', async () => {
	const res = await writesNothing(() => api.post('/api/v1/jobs/fixture/runs', ['public.t']));
	assert.equal(res.status, 400, res.text);
	assert.ok(['invalid_json', 'invalid_field'].includes(res.json.error.code), res.text);
	assert.ok(res.json.error.message.trim().length > 0);
});

test('POST /api/v1/jobs/{id}/runs with Content-Type text/plain → 415', async () => {
	await rejected(() => api.post('/api/v1/jobs/fixture/runs', undefined,
		{ body: '{}', headers: { 'content-type': 'text/plain' } }), 415, 'unsupported_media_type');
});

test('POST /api/v1/jobs/{id}/runs with a body and no Content-Type → 415', async () => {
	await rejected(() => api.post('/api/v1/jobs/fixture/runs', undefined, { body: Buffer.from('{}') }),
		415, 'unsupported_media_type');
});

/* ---- unknown runs ---- */

for (const ref of [UNKNOWN_UUID, 'not-a-uuid']) {
	const kind = ref === UNKNOWN_UUID ? 'unknown run id' : 'non-UUID run id';
	for (const [method, suffix] of [['GET', ''], ['GET', '/tables'], ['GET', '/events'], ['POST', '/cancel']]) {
		test(`${method} /api/v1/runs/{${kind}}${suffix} → 404 not_found`, async () => {
			await rejected(() => api.req(method, `/api/v1/runs/${ref}${suffix}`), 404, 'not_found');
		});
	}
}

/* ---- query parameters ---- */

const queryCases = [
	['/api/v1/jobs?limit=0', 'limit'],
	['/api/v1/jobs?limit=abc', 'limit'],
	['/api/v1/jobs?limit=5abc', 'limit'],
	['/api/v1/jobs?limit=', 'limit'],
	['/api/v1/jobs?offset=-1', 'offset'],
	['/api/v1/jobs/fixture/runs?limit=0', 'limit'],
	['/api/v1/jobs/fixture/runs?offset=abc', 'offset'],
	['/api/v1/runs/{run}/events?after=-5', 'after'],
	['/api/v1/runs/{run}/events?after=1.5', 'after'],
	['/api/v1/runs/{run}/events?limit=0', 'limit'],
];

for (const [path, field] of queryCases) {
	test(`GET ${path} → 400 invalid_field ${field}`, async () => {
		await rejected(() => api.get(path.replace('{run}', runId)), 400, 'invalid_field', field);
	});
}

/* ---- methods and paths ---- */

const methodCases = [
	['PATCH', '/api/v1/jobs/fixture', ['DELETE', 'GET', 'PUT']],
	['DELETE', '/api/v1/jobs', ['GET', 'POST']],
	['DELETE', '/api/v1/jobs/fixture/runs', ['GET', 'POST']],
	['PUT', '/api/v1/runs/{run}', ['GET']],
	['POST', '/api/v1/runs/{run}/events', ['GET']],
	['GET', '/api/v1/connections/test', ['POST']],
];

for (const [method, path, allowed] of methodCases) {
	test(`${method} ${path} → 405 with Allow: ${allowed.join(', ')}`, async () => {
		const opts = method === 'GET' || method === 'DELETE' ? {} : { json: jobWith((j) => { j.name = 'patched'; }) };
		const res = await rejected(() => api.req(method, path.replace('{run}', runId), opts),
			405, 'method_not_allowed');
		const allow = res.headers.get('allow');
		assert.ok(allow, 'no Allow header');
		assert.deepEqual(allow.split(',').map((m) => m.trim()).sort(), allowed);
	});
}

const unknownPaths = [
	['GET', '/api/v1/nope'],
	['GET', '/api/v2/jobs'],
	['GET', '/api/v1/jobs/fixture/nope'],
	['GET', '/api/v1/jobs/'],
	['POST', '/api/v1/nope'],
	['POST', '/nope'],
];

for (const [method, path] of unknownPaths) {
	test(`${method} ${path} (no such route) → 404 not_found`, async () => {
		const opts = method === 'POST' ? { json: validJob('nope') } : {};
		await rejected(() => api.req(method, path, opts), 404, 'not_found');
	});
}

/* ---- POST /api/v1/connections/test ---- */

const connectionCases = [
	['{}', {}, 'missing_field', 'dsn'],
	['{"dsn": 5}', { dsn: 5 }, 'invalid_field', 'dsn'],
	['{"dsn": "postgresql://[x"}', { dsn: 'postgresql://[x' }, 'invalid_field', 'dsn'],
	['{"dsn": "host=x port"}', { dsn: 'host=x port' }, 'invalid_field', 'dsn'],
	['{"dsn": ""}', { dsn: '' }, 'invalid_field', 'dsn'],
	['an unknown field', { dsn: 'host=x', timeout: 3 }, 'unknown_field', 'timeout'],
];

for (const [what, body, code, field] of connectionCases) {
	test(`POST /api/v1/connections/test: ${what} → 400 ${code} ${field}`, async () => {
		await rejected(() => api.post('/api/v1/connections/test', body), 400, code, field);
	});
}

test('POST /api/v1/connections/test with a JSON array body → 400 naming the problem', async () => {
	const res = await writesNothing(() => api.post('/api/v1/connections/test', [srcDsn]));
	assert.equal(res.status, 400, res.text);
	assert.ok(['invalid_json', 'invalid_field'].includes(res.json.error.code), res.text);
	assert.ok(res.json.error.message.trim().length > 0);
});

test('POST /api/v1/connections/test with Content-Type text/plain → 415', async () => {
	await rejected(() => api.post('/api/v1/connections/test', undefined,
		{ body: JSON.stringify({ dsn: srcDsn }), headers: { 'content-type': 'text/plain' } }),
	415, 'unsupported_media_type');
});

/* ---- passwords in connection strings ---- */

test('a malformed DSN is refused without echoing its password', async () => {
	const dsn = `postgresql://app:${PASSWORD}@[oops`;
	const job = await rejected(() => api.post('/api/v1/jobs', jobWith((j) => {
		j.name = 'leaky';
		j.source.dsn = dsn;
	})), 400, 'invalid_field', 'source.dsn');
	assertNoPassword(job.text, 'the POST /api/v1/jobs error');
	const conn = await rejected(() => api.post('/api/v1/connections/test', { dsn }), 400, 'invalid_field', 'dsn');
	assertNoPassword(conn.text, 'the POST /api/v1/connections/test error');
});

test('DSN passwords (URI and key=value forms) never come back from the API', async () => {
	const withPassword = (uri) => uri.replace('postgresql://postgres@', `postgresql://postgres:${PASSWORD}@`);
	const forms = {
		uriUserinfo: withPassword(srcDsn),
		uriQuery: `${dstDsn}&password=${PASSWORD}`,
		kvBare: `${cluster.conninfo('dst')} password=${PASSWORD}`,
		kvQuoted: `${cluster.conninfo('src')} password='${PASSWORD}'`,
	};
	const texts = [];
	const keep = (res, where) => {
		texts.push([res.text, where]);
		return res;
	};

	const a = keep(await api.post('/api/v1/jobs', {
		...validJob('pw-uri'), source: { dsn: forms.uriUserinfo }, target: { dsn: forms.kvBare },
	}), 'create pw-uri');
	assert.equal(a.status, 201, a.text);
	const b = keep(await api.post('/api/v1/jobs', {
		...validJob('pw-kv'), source: { dsn: forms.kvQuoted }, target: { dsn: forms.uriQuery },
	}), 'create pw-kv');
	assert.equal(b.status, 201, b.text);
	assert.match(a.json.source.dsn, /^postgresql:\/\/postgres:\*\*\*@/);
	assert.match(a.json.target.dsn, /password=\*\*\*$/);
	assert.match(b.json.source.dsn, /password=\*\*\*$/);
	assert.match(b.json.target.dsn, /[?&]password=\*\*\*$/);

	// reading it back by id and by name, in the list, replaced, and planned
	for (const job of [a.json, b.json]) {
		keep(await api.get(`/api/v1/jobs/${job.id}`), `GET ${job.name} by id`);
		keep(await api.get(`/api/v1/jobs/${job.name}`), `GET ${job.name} by name`);
		const plan = keep(await api.get(`/api/v1/jobs/${job.name}/plan`), `plan ${job.name}`);
		assert.equal(plan.status, 200, plan.text);
	}
	const put = keep(await api.put('/api/v1/jobs/pw-uri', {
		...validJob('pw-uri'), source: { dsn: forms.uriUserinfo }, target: { dsn: forms.kvBare },
		load: { mode: 'append' },
	}), 'PUT pw-uri');
	assert.equal(put.status, 200, put.text);
	keep(await api.get('/api/v1/jobs?limit=500'), 'the job list');

	// a reachable and an unreachable connection test
	for (const [form, dsn] of Object.entries(forms)) {
		const r = keep(await api.post('/api/v1/connections/test', { dsn }), `connection test ${form}`);
		assert.equal(r.status, 200, r.text);
		assert.equal(r.json.reachable, true, r.text);
	}
	const down = keep(await api.post('/api/v1/connections/test',
		{ dsn: `host=/nonexistent-ferry-socket port=1 user=app password=${PASSWORD}` }), 'failed connection test');
	assert.equal(down.json.reachable, false, down.text);

	// an unreachable source: plan is refused; an unreachable target: a run fails
	const broken = keep(await api.post('/api/v1/jobs', {
		...validJob('pw-broken'),
		source: { dsn: `postgresql://app:${PASSWORD}@/src?host=/nonexistent-ferry-socket&port=1` },
	}), 'create pw-broken');
	assert.equal(broken.status, 201, broken.text);
	const plan = keep(await api.get('/api/v1/jobs/pw-broken/plan'), 'plan with unreachable source');
	expectError(plan, 422, 'source_unreachable');
	const badTarget = keep(await api.post('/api/v1/jobs', {
		...validJob('pw-target-down'),
		target: { dsn: `host=/nonexistent-ferry-socket port=1 user=app password=${PASSWORD}` },
	}), 'create pw-target-down');
	assert.equal(badTarget.status, 201, badTarget.text);
	const started = await startRun('pw-target-down');
	texts.push([JSON.stringify(started), 'trigger pw-target-down']);
	const failedRun = started.id;
	const done = await waitFinished(failedRun);
	assert.equal(done.state, 'failed', JSON.stringify(done));
	keep(await api.get(`/api/v1/runs/${failedRun}`), 'the failed run');
	keep(await api.get(`/api/v1/runs/${failedRun}/tables`), 'the failed run\'s tables');
	keep(await api.get(`/api/v1/runs/${failedRun}/events?limit=1000`), 'the failed run\'s events');

	for (const [text, where] of texts)
		assertNoPassword(text, where);
});

/* ---- the server's own account ---- */

test('ferryd logged no error and no password while refusing all of the above', () => {
	const log = srv.log();
	assert.ok(log.length >= logMark);
	const errors = log.slice(logMark).split('\n').filter((line) => /^\S+\s+error\s/.test(line));
	assert.deepEqual(errors, [], 'error-level lines were logged');
	assertNoPassword(log, 'ferryd\'s log');
});
