// tests/lib/selftest.test.js: proves the test harness itself works
'use strict';

const { describe, it, before, after } = require('node:test');
const assert = require('node:assert/strict');
const fs = require('node:fs');
const os = require('node:os');
const path = require('node:path');
const { execFileSync } = require('node:child_process');

const { startCluster } = require('./cluster');
const { startFerryd, ferrydAvailable, ferrydPath } = require('./ferryd');
const { validateResponse, validateSchema, matchPath } = require('./openapi');
const { client, pollUntil } = require('./api');

const JOB_ID = '0b5f3c1e-6a2d-4c8e-9f10-2a7b3c4d5e6f';
const RUN_ID = '7d1e2f3a-4b5c-4d6e-8f70-8192a3b4c5d6';

function sampleJob() {
	return {
		id: JOB_ID,
		name: 'iot-archive',
		source: { dsn: 'postgresql://app:***@db1:5432/telemetry' },
		target: { dsn: 'host=db2 user=etl password=*** dbname=warehouse' },
		include: ['public.*'],
		exclude: ['public.tmp_*'],
		tables: { 'public.device': { target: 'iot.device', where: "ts >= '2020-01-01'" } },
		objects: 'tables',
		schemas: {},
		values: { zero_dates: 'null', nul_characters: 'fail' },
		load: { mode: 'replace', create: true, parallel: 4, index_parallel: 4, validate: 'count' },
		retry: { attempts: 3, delay_s: 5 },
		schedule: null,
		paused: false,
		next_run_at: null,
		created_at: '2026-11-22T10:01:02.123456+00:00',
		updated_at: '2026-11-22T10:01:02.123456+00:00',
		last_run: null,
	};
}

function sampleRun() {
	return {
		id: RUN_ID,
		job_id: JOB_ID,
		job_name: 'iot-archive',
		trigger: 'api',
		params: {},
		tables_requested: null,
		state: 'succeeded',
		created_at: '2026-11-22T10:05:00+00:00',
		started_at: '2026-11-22T10:05:01+00:00',
		finished_at: '2026-11-22T10:06:00+00:00',
		error: null,
		tables: { total: 1, queued: 0, loading: 0, loaded: 1, errored: 0, cancelled: 0, skipped: 0 },
		rows: 10,
		bytes: 100,
		rows_estimate: 10,
		progress: 1,
		eta_s: null,
		elapsed_ms: 59000,
	};
}

const json = (v) => JSON.stringify(v);
const JSON_CT = 'application/json; charset=utf-8';

function postgresUid() {
	return Number(execFileSync('id', ['-u', 'postgres'], { encoding: 'utf8' }).trim());
}

describe('cluster on a private unix socket', () => {
	let c;
	before(async () => {
		c = await startCluster();
	});
	after(async () => {
		await c?.stop();
	});

	it('runs SQL through psql', async () => {
		assert.equal(await c.psql('select 1'), '1');
		assert.equal(await c.psql("select current_setting('fsync'), current_setting('listen_addresses')"), 'off|');
		assert.equal(await c.psql('create table t(a int); insert into t values (1), (2); select a from t order by a'), '1\n2');
		assert.equal(c.host, c.dir);
		assert.equal(await c.psql("select current_setting('unix_socket_directories')"), c.dir);
	});

	it('reports SQL errors', async () => {
		await assert.rejects(c.psql('select * from no_such_table'), /no_such_table/);
	});

	it('creates databases and hands out DSNs', async () => {
		const dsn = await c.createDb('ferry meta');
		assert.equal(dsn, c.dsn('ferry meta'));
		assert.match(dsn, /^postgresql:\/\/postgres@\/ferry%20meta\?host=/);
		assert.equal(await c.psql('select current_database()', { db: 'ferry meta' }), 'ferry meta');
		// the URI form and the conninfo form both work for libpq clients
		const psql = path.join(require('./cluster').bindir(), 'psql');
		for (const conn of [dsn, c.conninfo('ferry meta')])
			assert.equal(execFileSync(psql, ['-X', '-At', '-c', 'select current_database()', conn],
				{ encoding: 'utf8' }).trim(), 'ferry meta');
	});

	it('runs the server as postgres when we are root', { skip: process.getuid() !== 0 && 'not root' }, () => {
		const uid = postgresUid();
		assert.equal(fs.statSync(c.dir).uid, uid);
		assert.equal(fs.statSync(c.dataDir).uid, uid);
		const pid = Number(fs.readFileSync(path.join(c.dataDir, 'postmaster.pid'), 'utf8').split('\n')[0]);
		assert.equal(fs.statSync(`/proc/${pid}`).uid, uid);
	});
});

describe('cluster on 127.0.0.1', () => {
	it('listens on a random free port and cleans up after itself', async () => {
		const c = await startCluster({ port: 0 });
		let stopped = false;
		try {
			assert.equal(c.host, '127.0.0.1');
			assert.ok(c.port > 0);
			assert.equal(await c.psql('select inet_server_port()'), String(c.port));
			assert.match(c.dsn('postgres'), new RegExp(`^postgresql://postgres@127\\.0\\.0\\.1:${c.port}/postgres$`));
			await c.stop();
			stopped = true;
			assert.equal(fs.existsSync(c.dir), false, 'cluster directory removed');
			await c.stop(); // a second stop is harmless
		} finally {
			if (!stopped)
				await c.stop();
		}
	});
});

describe('cleanup when a test process ends without stopping its cluster', () => {
	const script = `
		const { startCluster } = require(${JSON.stringify(path.join(__dirname, 'cluster.js'))});
		startCluster().then((c) => {
			const pid = require('node:fs').readFileSync(c.dataDir + '/postmaster.pid', 'utf8').split('\\n')[0];
			process.stdout.write(JSON.stringify({ dir: c.dir, pid: Number(pid) }) + '\\n');
			if (process.argv[1] === 'exit')
				process.exit(0);
			setInterval(() => {}, 1000); // wait for the signal
		});
	`;
	const alive = (pid) => {
		try {
			process.kill(pid, 0);
			return fs.readFileSync(`/proc/${pid}/stat`, 'utf8').split(' ')[2] !== 'Z';
		} catch {
			return false;
		}
	};

	for (const how of ['exit', 'SIGTERM']) {
		it(`stops it on ${how}`, async () => {
			const { spawn } = require('node:child_process');
			const child = spawn(process.execPath, ['-e', script, how], { stdio: ['ignore', 'pipe', 'inherit'] });
			const info = await new Promise((resolve, reject) => {
				let out = '';
				child.stdout.on('data', (b) => {
					out += b;
					if (out.includes('\n'))
						resolve(JSON.parse(out));
				});
				child.on('exit', (code) => reject(new Error(`child exited early (${code}): ${out}`)));
			});
			if (how !== 'exit')
				child.kill(how);
			const [code, signal] = await new Promise((resolve) => {
				if (child.exitCode !== null || child.signalCode !== null)
					resolve([child.exitCode, child.signalCode]);
				else
					child.on('exit', (c, s) => resolve([c, s]));
			});
			assert.deepEqual([code, signal], how === 'exit' ? [0, null] : [null, how]);
			assert.equal(fs.existsSync(info.dir), false, 'cluster directory removed');
			await pollUntil(() => !alive(info.pid), { timeoutMs: 10000, what: `postmaster ${info.pid} to end` });
		});
	}
});

describe('openapi.validateResponse', () => {
	it('accepts a correct Job and Run', () => {
		const r = validateResponse('GET', `/api/v1/jobs/${JOB_ID}`, 200, JSON_CT, json(sampleJob()));
		assert.equal(r.operationId, 'getJob');
		assert.equal(r.body.id, JOB_ID);
		validateResponse('GET', '/api/v1/jobs/iot-archive?x=1', 200, JSON_CT, json(sampleJob()));
		validateResponse('POST', '/api/v1/jobs', 201, JSON_CT, json(sampleJob()),
			{ Location: `/api/v1/jobs/${JOB_ID}` });
		validateResponse('GET', `/api/v1/runs/${RUN_ID}`, 200, JSON_CT, json(sampleRun()));
		validateResponse('GET', '/api/v1/jobs', 200, JSON_CT,
			json({ items: [sampleJob()], total: 1, limit: 50, offset: 0 }));
		validateSchema('Job', sampleJob());
	});

	it('rejects a Job without id', () => {
		const { id, ...job } = sampleJob();
		assert.equal(id, JOB_ID);
		assert.throws(() => validateResponse('GET', `/api/v1/jobs/${JOB_ID}`, 200, JSON_CT, json(job)),
			/must have required property 'id'/);
	});

	it('rejects a wrong state, an extra field and an unredacted password', () => {
		assert.throws(() => validateResponse('GET', `/api/v1/runs/${RUN_ID}`, 200, JSON_CT,
			json({ ...sampleRun(), state: 'done' })), /\/state: must be equal to one of the allowed values/);
		assert.throws(() => validateResponse('GET', `/api/v1/runs/${RUN_ID}`, 200, JSON_CT,
			json({ ...sampleRun(), finished_at: null })), /finished_at/);
		assert.throws(() => validateResponse('GET', `/api/v1/jobs/${JOB_ID}`, 200, JSON_CT,
			json({ ...sampleJob(), owner: 'x' })), /additionalProperty":"owner"/);
		assert.throws(() => validateResponse('GET', `/api/v1/jobs/${JOB_ID}`, 200, JSON_CT,
			json({ ...sampleJob(), source: { dsn: 'postgresql://app:secret@db1/telemetry' } })), /\/source\/dsn/);
		assert.throws(() => validateResponse('GET', `/api/v1/jobs/${JOB_ID}`, 200, JSON_CT,
			json({ ...sampleJob(), created_at: '2026-11-22 10:01:02' })), /created_at: must match format "date-time"/);
	});

	it('checks statuses, content types, headers and empty bodies', () => {
		assert.throws(() => validateResponse('GET', `/api/v1/jobs/${JOB_ID}`, 418, JSON_CT, '{}'),
			/status 418 is not documented for getJob/);
		assert.throws(() => validateResponse('GET', `/api/v1/jobs/${JOB_ID}`, 200, 'text/plain', json(sampleJob())),
			/Content-Type text\/plain is not documented/);
		assert.throws(() => validateResponse('POST', '/api/v1/jobs', 201, JSON_CT, json(sampleJob()), {}),
			/required header Location is missing/);
		validateResponse('DELETE', `/api/v1/jobs/${JOB_ID}`, 204, null, '');
		assert.throws(() => validateResponse('DELETE', `/api/v1/jobs/${JOB_ID}`, 204, JSON_CT, '{}'),
			/no body is documented/);
		assert.throws(() => validateResponse('GET', '/healthz', 200, JSON_CT, 'ok'), /not valid JSON/);
	});

	it('knows the error shapes and the 404/405 rules', () => {
		const err = (code, extra = {}) => json({ error: { code, message: 'something', ...extra } });
		validateResponse('POST', '/api/v1/jobs', 400, JSON_CT, err('invalid_field', { field: 'load.mode' }));
		assert.throws(() => validateResponse('POST', '/api/v1/jobs', 400, JSON_CT, err('invalid_field')),
			/required property 'field'/);
		assert.throws(() => validateResponse('POST', '/api/v1/jobs', 409, JSON_CT, err('not_found')),
			/allowed value: "conflict"|"conflict"/);
		validateResponse('GET', '/no/such/route', 404, JSON_CT, err('not_found'));
		assert.throws(() => validateResponse('GET', '/no/such/route', 200, JSON_CT, '{}'), /only 404/);
		validateResponse('PATCH', `/api/v1/jobs/${JOB_ID}`, 405, JSON_CT, err('method_not_allowed'),
			{ Allow: 'GET, PUT, DELETE' });
		assert.throws(() => validateResponse('PATCH', `/api/v1/jobs/${JOB_ID}`, 405, JSON_CT,
			err('method_not_allowed'), { Allow: 'GET' }), /lacks documented method\(s\) PUT, DELETE/);
		assert.throws(() => validateResponse('PATCH', `/api/v1/jobs/${JOB_ID}`, 200, JSON_CT, '{}'), /only 405/);
		assert.equal(matchPath('/api/v1/jobs/abc/runs'), '/api/v1/jobs/{id}/runs');
		assert.equal(matchPath('/api/v1/connections/test'), '/api/v1/connections/test');
		assert.equal(matchPath('/api/v1/jobs//runs'), null);
	});
});

describe('openapi.yaml', () => {
	it('passes redocly lint', () => {
		const root = path.resolve(__dirname, '..', '..');
		const redocly = path.join(__dirname, '..', 'node_modules', '.bin', 'redocly');
		const r = require('node:child_process').spawnSync(redocly, ['lint', '--config', path.join(root, 'openapi', 'redocly.yaml'), path.join(root, 'openapi', 'openapi.yaml')],
		{ encoding: 'utf8', env: { ...process.env, REDOCLY_SUPPRESS_UPDATE_NOTICE: 'true' } });
		assert.equal(r.status, 0, `${r.stdout}\n${r.stderr}`);
		assert.match(r.stdout + r.stderr, /Your API description is valid/);
		assert.doesNotMatch(r.stdout + r.stderr, /You have \d+ warnings?/);
	});
});

describe('pollUntil', () => {
	it('returns the first good value', async () => {
		let n = 0;
		assert.equal(await pollUntil(() => ++n >= 3 && n, { intervalMs: 1 }), 3);
		const v = await pollUntil(async () => ({ state: n++ > 5 ? 'done' : 'busy' }),
			{ until: (r) => r.state === 'done', intervalMs: 1 });
		assert.equal(v.state, 'done');
	});

	it('times out with the last value in the message', async () => {
		await assert.rejects(pollUntil(() => false, { timeoutMs: 20, intervalMs: 5 }),
			/waiting for condition; last value: false/);
		await assert.rejects(pollUntil(() => ({ state: 'running' }),
			{ until: (r) => r.state === 'done', timeoutMs: 50, intervalMs: 10, what: 'the run' }),
			/timed out after \d+ ms \(\d+ attempts\) waiting for the run; last value: \{"state":"running"\}/);
	});
});

describe('ferryd harness with a stand-in server', () => {
	let dir;
	let bin;
	before(() => {
		dir = fs.mkdtempSync(path.join(os.tmpdir(), 'ferry-selftest-'));
		bin = path.join(dir, 'fake-ferryd');
		fs.writeFileSync(bin, `#!${process.execPath}
'use strict';
const http = require('node:http');
const args = process.argv.slice(2);
const [host, port] = args[args.indexOf('--listen') + 1].split(':');
const send = (res, status, body, headers = {}) => {
	res.writeHead(status, { 'content-type': 'application/json', ...headers });
	res.end(JSON.stringify(body));
};
const srv = http.createServer((req, res) => {
	if (req.url === '/healthz' && req.method === 'GET')
		return send(res, 200, { status: 'ok' });
	if (req.url === '/healthz')
		return send(res, 405, { error: { code: 'method_not_allowed', message: 'use GET' } }, { allow: 'GET' });
	if (req.url === '/readyz')
		return send(res, 200, { status: 'ok' }); // deliberately off-contract
	return send(res, 404, { error: { code: 'not_found', message: 'no route' } });
});
srv.listen(Number(port), host, () => console.log('listening with ' + JSON.stringify(args)));
process.on('SIGTERM', () => {
	console.log('shutting down');
	srv.close(() => process.exit(0));
});
`, { mode: 0o755 });
	});
	after(() => {
		fs.rmSync(dir, { recursive: true, force: true });
	});

	it('starts, validates responses, and stops by signal', async () => {
		const srv = await startFerryd({ bin, meta: 'postgresql://postgres@/meta?host=/nowhere', workers: 3 });
		try {
			assert.match(srv.log(), /listening with/);
			assert.match(srv.log(), /"--workers","3","--log-level","info"/);
			const api = client(srv.url);
			const h = await api.get('/healthz');
			assert.equal(h.status, 200);
			assert.deepEqual(h.json, { status: 'ok' });
			assert.equal((await api.del('/healthz')).status, 405);
			assert.equal((await api.get('/api/v1/nothing-here')).status, 404);
			await assert.rejects(api.get('/readyz'), /GET \/readyz → 200 \(getReadiness\): body does not match/);
		} finally {
			const r = await srv.stop();
			assert.equal(r.code, 0);
			assert.equal(r.signal, null);
			assert.ok(r.ms >= 0);
		}
		assert.match(srv.log(), /shutting down/);
	});

	it('kill9 ends the process', async () => {
		const srv = await startFerryd({ bin });
		const r = await srv.kill9();
		assert.equal(r.signal, 'SIGKILL');
		assert.equal(srv.isRunning(), false);
		assert.deepEqual(await srv.stop(), r);
	});

	it('reports a server that dies before it is healthy', async () => {
		const dead = path.join(dir, 'dead-ferryd');
		fs.writeFileSync(dead, '#!/bin/sh\necho "fatal: cannot start" >&2\nexit 3\n', { mode: 0o755 });
		await assert.rejects(startFerryd({ bin: dead }), /exited \(code 3\) before it was healthy[^]*fatal: cannot start/);
	});
});

describe('the real ferryd', { skip: !ferrydAvailable() && `no binary at ${ferrydPath()}` }, () => {
	it('starts against a throwaway cluster and answers /healthz', async () => {
		const c = await startCluster();
		try {
			const srv = await startFerryd({ meta: await c.createDb('ferry_meta'), workers: 2 });
			try {
				const api = client(srv.url);
				assert.equal((await api.get('/healthz')).status, 200);
			} finally {
				const r = await srv.stop();
				assert.equal(r.code, 0, `ferryd exit ${JSON.stringify(r)}\n${srv.log()}`);
			}
		} finally {
			await c.stop();
		}
	});
});
