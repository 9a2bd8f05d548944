// tests/e2e/security.test.js: API token, listen-address guard, HTTPS, passwords from the environment, hostile identifiers, connection limits
'use strict';

const { describe, it, before, after } = require('node:test');
const assert = require('node:assert/strict');
const crypto = require('node:crypto');
const fs = require('node:fs');
const https = require('node:https');
const net = require('node:net');
const os = require('node:os');
const path = require('node:path');
const { execFileSync } = require('node:child_process');

const { startCluster } = require('../lib/cluster');
const { startFerryd, ferrydAvailable } = require('../lib/ferryd');
const { client } = require('../lib/api');
const { validateResponse } = require('../lib/openapi');
const { pollUntil, freePort } = require('../lib/util');
const {
	recordingClient, createJob, triggerRun, waitRun, runTables, rel, tableChecksum, waitTables,
	spawnFerryd,
} = require('./helpers');

const TOKEN = `tok-${crypto.randomBytes(16).toString('hex')}`;
const PASSWORD = `Pw!${crypto.randomBytes(9).toString('hex')}#;'"`;
const PASSWORD_ENV = 'FERRY_E2E_SOURCE_PASSWORD';
const OTHER_RUN = '7d3c1a52-9e8b-4f6a-b1c2-d3e4f5a6b7c8';

/* Wait for `what` in a spawned ferryd's output; resolves to the regex match. */
function waitForLog(proc, re, what, timeoutMs = 15000) {
	return pollUntil(() => {
		if (!proc.running())
			throw new Error(`ferryd exited while waiting for ${what}:\n${proc.log()}`);
		return proc.log().match(re);
	}, { timeoutMs, intervalMs: 25, what });
}

/* Resolve { code, signal } when the process exits within timeoutMs, else null. */
async function exitWithin(proc, timeoutMs) {
	let timer;
	const timeout = new Promise((resolve) => { timer = setTimeout(resolve, timeoutMs, null); });
	const r = await Promise.race([proc.exited, timeout]);
	clearTimeout(timer);
	return r;
}

/* GET over HTTPS with the given TLS options; resolves { status, headers, body } or rejects. */
function httpsGet(url, tls = {}, headers = {}) {
	return new Promise((resolve, reject) => {
		const req = https.get(url, { ...tls, headers, agent: false, timeout: 5000 }, (res) => {
			const chunks = [];
			res.on('data', (c) => chunks.push(c));
			res.on('end', () => resolve({ status: res.statusCode, headers: res.headers, body: Buffer.concat(chunks).toString('utf8') }));
			res.on('error', reject);
		});
		req.on('timeout', () => req.destroy(new Error('timed out')));
		req.on('error', reject);
	});
}

/* Open a TCP connection to 127.0.0.1:port; resolves once connected to { socket, closed, closedAt }. */
function openIdle(port) {
	return new Promise((resolve, reject) => {
		const socket = net.connect({ host: '127.0.0.1', port });
		const conn = { socket, closed: false, closedAt: null, openedAt: null };
		socket.on('error', () => {}); // a reset by the server counts as closed
		socket.on('close', () => {
			conn.closed = true;
			conn.closedAt = Date.now();
		});
		socket.once('connect', () => {
			conn.openedAt = Date.now();
			resolve(conn);
		});
		socket.once('error', (e) => {
			if (!conn.openedAt)
				reject(e);
		});
	});
}

/*
 * GET path on a new connection of its own (never a pooled one); resolves to
 * "HTTP <status>", or "no answer (…)" when the connection is refused or
 * closed, or nothing arrives within timeoutMs.
 */
function rawGet(port, p, timeoutMs) {
	return new Promise((resolve) => {
		const socket = net.connect({ host: '127.0.0.1', port });
		let data = '';
		const done = (v) => {
			clearTimeout(timer);
			socket.destroy();
			resolve(v);
		};
		const timer = setTimeout(() => done('no answer (timed out)'), timeoutMs);
		socket.on('connect', () => socket.write(`GET ${p} HTTP/1.1\r\nHost: 127.0.0.1\r\nConnection: close\r\n\r\n`));
		socket.on('data', (b) => {
			data += b;
			const m = data.match(/^HTTP\/1\.[01] (\d{3})/);
			if (m)
				done(`HTTP ${m[1]}`);
		});
		socket.on('error', (e) => done(`no answer (${e.code})`));
		socket.on('close', () => done('no answer (closed)'));
	});
}

describe('security', { skip: !ferrydAvailable() && 'build/ferryd is not built' }, () => {
	let cluster;
	let pwCluster;
	let meta;
	const sql = (db, text) => cluster.psql(text, { db });
	const dataEnv = { sql: (db, text) => (db === 'secure_src' ? pwCluster.psql(text, { db }) : sql(db, text)) };

	before(async () => {
		cluster = await startCluster();
		try {
			for (const db of ['ferry_meta', 'src', 'dst', 'pw_dst', 'hsrc', 'hdst', 'lim_dst'])
				await cluster.createDb(db);
			meta = cluster.dsn('ferry_meta');
			// a source that asks for a password over TCP
			pwCluster = await startCluster({ port: 0, settings: { password_encryption: 'scram-sha-256' } });
			await pwCluster.createDb('secure_src');
			const hba = path.join(pwCluster.dataDir, 'pg_hba.conf');
			fs.writeFileSync(hba, `host all app 127.0.0.1/32 scram-sha-256\n${fs.readFileSync(hba, 'utf8')}`);
			const pw = PASSWORD.replace(/'/g, "''");
			await pwCluster.psql(`CREATE ROLE app LOGIN PASSWORD '${pw}'; SELECT pg_reload_conf();`);
			await pwCluster.psql(`CREATE TABLE public.secret (id integer PRIMARY KEY, v text);
				INSERT INTO public.secret SELECT g, 'secret-' || g FROM generate_series(1, 1000) g;
				GRANT SELECT ON public.secret TO app;`, { db: 'secure_src' });
			await sql('src', `CREATE TABLE public.slow (id integer PRIMARY KEY, payload text);
				INSERT INTO public.slow SELECT g, md5(g::text) FROM generate_series(1, 100000) g;`);
		} catch (e) {
			await cluster.stop().catch(() => {});
			if (pwCluster)
				await pwCluster.stop().catch(() => {});
			throw e;
		}
	});

	after(async () => {
		await cluster?.stop();
		await pwCluster?.stop();
	});

	describe('API token', () => {
		let srv;
		let open; // no token
		let authed;

		/* Requests over every kind of /api/ route: [method, path, json body]. */
		const ROUTES = [
			['GET', '/api/v1/jobs'],
			['POST', '/api/v1/jobs', { name: 'sneaky', source: { dsn: 'postgresql://x@127.0.0.1/a' }, target: { dsn: 'postgresql://x@127.0.0.1/b' }, include: ['public.*'] }],
			['GET', '/api/v1/jobs/sneaky'],
			['PUT', '/api/v1/jobs/sneaky', { name: 'sneaky', source: { dsn: 'postgresql://x@127.0.0.1/a' }, target: { dsn: 'postgresql://x@127.0.0.1/b' }, include: ['public.*'] }],
			['DELETE', '/api/v1/jobs/sneaky'],
			['GET', '/api/v1/jobs/sneaky/plan'],
			['POST', '/api/v1/jobs/sneaky/runs'],
			['GET', '/api/v1/jobs/sneaky/runs'],
			['GET', `/api/v1/runs/${OTHER_RUN}`],
			['GET', `/api/v1/runs/${OTHER_RUN}/tables`],
			['GET', `/api/v1/runs/${OTHER_RUN}/events`],
			['POST', `/api/v1/runs/${OTHER_RUN}/cancel`],
			['POST', `/api/v1/runs/${OTHER_RUN}/retry`],
			['POST', '/api/v1/connections/test', { dsn: 'postgresql://x@127.0.0.1:1/a' }],
		];

		function send(api, [method, p, json], headers) {
			return api.req(method, p, { json, headers });
		}

		function assertUnauthorized(r, what) {
			assert.equal(r.status, 401, `${what}: ${r.status} ${r.text}`);
			assert.equal(r.json.error.code, 'unauthorized', what);
			assert.ok(r.json.error.message.length > 0);
			assert.match(r.headers.get('www-authenticate') ?? '', /^Bearer\b/, `${what}: WWW-Authenticate`);
			assert.ok(!r.text.includes(TOKEN), `${what}: the answer shows the token`);
		}

		before(async () => {
			srv = await startFerryd({ meta, workers: 1, args: ['--api-token', TOKEN] });
			open = client(srv.url);
			authed = client(srv.url, { token: TOKEN });
		});

		after(async () => {
			const r = await srv?.stop();
			assert.equal(r?.code, 0);
			assert.ok(!srv.log().includes(TOKEN), 'ferryd logged its token');
		});

		it('answers 401 with WWW-Authenticate on every /api/ route without a token', async () => {
			for (const route of ROUTES)
				assertUnauthorized(await send(open, route), `${route[0]} ${route[1]} without a token`);
		});

		it('answers 401 to wrong tokens and other schemes', async () => {
			const wrong = [
				'Bearer nope',
				`Bearer ${TOKEN}x`,
				`Bearer ${TOKEN.slice(0, -1)}`,
				`Bearer ${TOKEN.toUpperCase()}`,
				'Bearer ',
				`Basic ${Buffer.from(`user:${TOKEN}`).toString('base64')}`,
				TOKEN,
				`Token ${TOKEN}`,
			];
			for (const authorization of wrong) {
				for (const route of [ROUTES[0], ROUTES[1], ROUTES[8], ROUTES[13]])
					assertUnauthorized(await send(open, route, { authorization }), `${route[0]} ${route[1]} with "${authorization}"`);
			}
		});

		it('wrote nothing for the refused requests', async () => {
			const list = await authed.get('/api/v1/jobs');
			assert.equal(list.status, 200, list.text);
			assert.ok(!list.json.items.some((j) => j.name === 'sneaky'), 'a refused POST created a job');
		});

		it('serves /api/ with the right token', async () => {
			const list = await authed.get('/api/v1/jobs');
			assert.equal(list.status, 200, list.text);
			const created = await authed.post('/api/v1/jobs', {
				name: 'with-token', source: { dsn: cluster.dsn('src') }, target: { dsn: cluster.dsn('dst') }, include: ['public.nothing'],
			});
			assert.equal(created.status, 201, created.text);
			const got = await authed.get('/api/v1/jobs/with-token');
			assert.equal(got.status, 200);
			assert.equal(got.json.id, created.json.id);
			const missing = await authed.get(`/api/v1/runs/${OTHER_RUN}`);
			assert.equal(missing.status, 404, 'past the token check the route answers as usual');
			const test = await authed.post('/api/v1/connections/test', { dsn: cluster.dsn('src') });
			assert.equal(test.status, 200, test.text);
			assert.equal(test.json.reachable, true);
			const del = await authed.del('/api/v1/jobs/with-token');
			assert.equal(del.status, 204);
		});

		it('leaves /healthz, /readyz, /openapi.yaml and the status page open', async () => {
			const health = await open.get('/healthz');
			assert.equal(health.status, 200);
			assert.deepEqual(health.json, { status: 'ok' });
			const ready = await open.get('/readyz');
			assert.equal(ready.status, 200);
			assert.deepEqual(ready.json, { status: 'ready' });
			const contract = await open.get('/openapi.yaml');
			assert.equal(contract.status, 200);
			assert.match(contract.text, /^openapi: 3\./m);
			const page = await open.get('/');
			assert.equal(page.status, 200);
			assert.match(page.headers.get('content-type'), /text\/html/);
			assert.ok(!page.text.includes(TOKEN), 'the status page embeds the token');
		});
	});

	describe('listen address', () => {
		it('refuses a non-loopback --listen without a token: exit status 2, before binding', async () => {
			const port = await freePort();
			// a metadata DSN that cannot be reached: getting as far as using it would exit with 1, not 2
			const cases = [
				{ args: ['--listen', `0.0.0.0:${port}`, '--meta', 'postgresql://nobody@127.0.0.1:1/none'], env: {} },
				{ args: ['--listen', `0.0.0.0:${port}`, '--api-token', '', '--meta', 'postgresql://nobody@127.0.0.1:1/none'], env: {} },
				{ args: ['--meta', 'postgresql://nobody@127.0.0.1:1/none'], env: { FERRY_LISTEN: `0.0.0.0:${port}` } },
			];
			for (const c of cases) {
				const proc = spawnFerryd(c.args, { env: c.env, cwd: os.tmpdir() });
				const r = await exitWithin(proc, 10000);
				if (!r)
					await proc.kill('SIGKILL');
				const what = `ferryd ${c.args.join(' ')} ${JSON.stringify(c.env)}`;
				assert.ok(r, `${what} was still running after 10 s`);
				assert.equal(r.signal, null, what);
				assert.equal(r.code, 2, `${what}: exit ${r.code}\n${proc.log()}`);
				assert.match(proc.log(), /refusing/i, what);
				assert.match(proc.log(), /0\.0\.0\.0/, what);
				assert.match(proc.log(), /--api-token/, what);
				assert.match(proc.log(), /--insecure-listen/, what);
				assert.doesNotMatch(proc.log(), /listening on/i, what);
			}
			// nothing was left listening on the port
			await assert.rejects(openIdle(port), /ECONNREFUSED/);
		});

		it('starts on a non-loopback address with --insecure-listen (and is stopped at once)', async () => {
			const proc = spawnFerryd(['--listen', '0.0.0.0:0', '--insecure-listen', '--meta', meta, '--workers', '1'],
				{ cwd: os.tmpdir() });
			try {
				const m = await waitForLog(proc, /listening on http:\/\/0\.0\.0\.0:(\d+)\//, 'the listening line');
				const r = await fetch(`http://127.0.0.1:${m[1]}/healthz`, { signal: AbortSignal.timeout(5000) });
				assert.equal(r.status, 200);
			} finally {
				const r = await proc.kill('SIGTERM');
				assert.equal(r.code, 0, proc.log());
			}
		});
	});

	describe('HTTPS', () => {
		let dir;
		let proc;
		let port;
		let cert;

		before(async () => {
			dir = fs.mkdtempSync(path.join(os.tmpdir(), 'ferry-tls-'));
			execFileSync('openssl', ['req', '-x509', '-newkey', 'rsa:2048', '-nodes', '-days', '1',
				'-keyout', path.join(dir, 'key.pem'), '-out', path.join(dir, 'cert.pem'),
				'-subj', '/CN=127.0.0.1', '-addext', 'subjectAltName=IP:127.0.0.1'], { stdio: 'pipe' });
			cert = fs.readFileSync(path.join(dir, 'cert.pem'));
			// the token comes from the environment this time
			proc = spawnFerryd(['--listen', '127.0.0.1:0', '--meta', meta, '--workers', '1',
				'--tls-cert', path.join(dir, 'cert.pem'), '--tls-key', path.join(dir, 'key.pem')],
			{ env: { FERRY_API_TOKEN: TOKEN }, cwd: os.tmpdir() });
			port = Number((await waitForLog(proc, /listening on https:\/\/127\.0\.0\.1:(\d+)\//, 'the https listening line'))[1]);
		});

		after(async () => {
			if (proc) {
				const r = await proc.kill('SIGTERM');
				assert.equal(r.code, 0, proc.log());
			}
			if (dir)
				fs.rmSync(dir, { recursive: true, force: true });
		});

		it('serves /healthz over HTTPS', async () => {
			const r = await httpsGet(`https://127.0.0.1:${port}/healthz`, { rejectUnauthorized: false });
			assert.equal(r.status, 200);
			validateResponse('GET', '/healthz', r.status, r.headers['content-type'], r.body, new Headers(r.headers));
			assert.deepEqual(JSON.parse(r.body), { status: 'ok' });
		});

		it('presents the configured certificate', async () => {
			const r = await httpsGet(`https://127.0.0.1:${port}/healthz`, { ca: cert });
			assert.equal(r.status, 200);
			await assert.rejects(httpsGet(`https://127.0.0.1:${port}/healthz`), /self[- ]signed/i,
				'a client that trusts only the usual CAs refuses it');
		});

		it('requires the token (from FERRY_API_TOKEN) on /api/ over HTTPS too', async () => {
			const no = await httpsGet(`https://127.0.0.1:${port}/api/v1/jobs`, { ca: cert });
			assert.equal(no.status, 401);
			assert.equal(no.headers['www-authenticate'], 'Bearer');
			const yes = await httpsGet(`https://127.0.0.1:${port}/api/v1/jobs`, { ca: cert }, { authorization: `Bearer ${TOKEN}` });
			assert.equal(yes.status, 200, yes.body);
			validateResponse('GET', '/api/v1/jobs', yes.status, yes.headers['content-type'], yes.body, new Headers(yes.headers));
		});

		it('does not answer plain HTTP on the same port', async () => {
			let answer = null;
			try {
				const r = await fetch(`http://127.0.0.1:${port}/healthz`, { signal: AbortSignal.timeout(5000) });
				answer = `${r.status} ${await r.text()}`;
			} catch (e) {
				answer = null;
			}
			assert.equal(answer, null, `plain HTTP got an answer: ${answer}`);
			assert.ok(proc.running(), 'ferryd survived the plain request');
		});
	});

	describe('passwords and identifiers', () => {
		let srv;
		let api;
		const seen = [];
		const SECURE_DSN = () => `postgresql://app@127.0.0.1:${pwCluster.port}/secure_src`;

		before(async () => {
			srv = await startFerryd({ meta, workers: 2, logLevel: 'debug', env: { [PASSWORD_ENV]: PASSWORD } });
			api = recordingClient(srv.url, seen);
		});

		after(async () => {
			const r = await srv?.stop();
			assert.equal(r?.code, 0);
		});

		it('the source really asks for a password', async () => {
			const r = await api.post('/api/v1/connections/test', { dsn: SECURE_DSN() });
			assert.equal(r.status, 200, r.text);
			assert.equal(r.json.reachable, false, r.text);
			assert.match(r.json.error, /password/i);
		});

		it('loads with the password from password_env, which overrides the DSN\'s', async () => {
			for (const [name, dsn] of [
				['pw-env', SECURE_DSN()],
				['pw-env-overrides', `postgresql://app:not-the-password@127.0.0.1:${pwCluster.port}/secure_src`],
			]) {
				const job = await createJob(api, {
					name,
					source: { dsn, password_env: PASSWORD_ENV },
					target: { dsn: cluster.dsn('pw_dst') },
					include: ['public.secret'],
					load: { validate: 'checksum' },
				});
				assert.equal(job.source.password_env, PASSWORD_ENV);
				const plan = await api.get(`/api/v1/jobs/${name}/plan`);
				assert.equal(plan.status, 200, plan.text);
				assert.deepEqual(plan.json.tables.map((t) => t.source), ['public.secret']);
				const run = await waitRun(api, (await triggerRun(api, name)).id);
				assert.equal(run.state, 'succeeded', `${name}: ${JSON.stringify(run)}`);
				const [s, d] = await Promise.all([
					tableChecksum(dataEnv, 'secure_src', rel('public', 'secret')),
					tableChecksum(dataEnv, 'pw_dst', rel('public', 'secret')),
				]);
				assert.equal(s.count, 1000);
				assert.deepEqual(d, s);
			}
		});

		it('fails a run clearly when password_env names an unset variable', async () => {
			await createJob(api, {
				name: 'pw-env-unset',
				source: { dsn: SECURE_DSN(), password_env: 'FERRY_E2E_NOT_SET_ANYWHERE' },
				target: { dsn: cluster.dsn('pw_dst') },
				include: ['public.secret'],
			});
			const plan = await api.get('/api/v1/jobs/pw-env-unset/plan');
			assert.equal(plan.status, 422, plan.text);
			assert.equal(plan.json.error.code, 'source_unreachable');
			assert.match(plan.json.error.message, /FERRY_E2E_NOT_SET_ANYWHERE/);
			// planning may fail before the trigger's answer is written, so its state is not checked here
			const trigger = await api.post('/api/v1/jobs/pw-env-unset/runs');
			assert.equal(trigger.status, 202, trigger.text);
			const run = await waitRun(api, trigger.json.id);
			assert.equal(run.state, 'failed');
			assert.match(run.error, /password_env names "FERRY_E2E_NOT_SET_ANYWHERE", which is not set/);
		});

		it('hostile identifiers are copied as names, never run as SQL', async () => {
			const HOSTILE = [
				'x"; DROP TABLE victims; --',
				"t'); DELETE FROM victims; --",
				'fmt %s%n%x%p',
			];
			const SCHEMA = "s'; DROP TABLE public.victims; --";
			const q = (s) => `"${s.replace(/"/g, '""')}"`;
			await sql('hsrc', `
				CREATE TABLE public.victims (id integer PRIMARY KEY, v text);
				INSERT INTO public.victims SELECT g, 'victim ' || g FROM generate_series(1, 50) g;
				CREATE TABLE public.${q(HOSTILE[0])} (id integer PRIMARY KEY, ${q('a") ; DROP TABLE victims ; --')} text);
				INSERT INTO public.${q(HOSTILE[0])} SELECT g, 'one ' || g FROM generate_series(1, 300) g;
				CREATE INDEX ${q('i"); DROP TABLE victims; --')} ON public.${q(HOSTILE[0])} (${q('a") ; DROP TABLE victims ; --')});
				CREATE TABLE public.${q(HOSTILE[1])} (id integer, ${q("v'); DELETE FROM victims; --")} text,
					CONSTRAINT ${q('c"; TRUNCATE victims; --')} CHECK (id > 0));
				INSERT INTO public.${q(HOSTILE[1])} SELECT g, E'quote \\' and "double"' FROM generate_series(1, 200) g;
				CREATE TABLE public.${q(HOSTILE[2])} (id integer PRIMARY KEY, v text);
				INSERT INTO public.${q(HOSTILE[2])} SELECT g, '%s%n' FROM generate_series(1, 100) g;
				CREATE SCHEMA ${q(SCHEMA)};
				CREATE TABLE ${q(SCHEMA)}.${q('inner')} (id integer PRIMARY KEY);
				INSERT INTO ${q(SCHEMA)}.${q('inner')} SELECT generate_series(1, 10);
			`);
			await sql('hdst', `CREATE TABLE public.victims (id integer PRIMARY KEY, v text);
				INSERT INTO public.victims SELECT g, 'target victim ' || g FROM generate_series(1, 7) g;`);
			const victimsBefore = {
				src: await tableChecksum(dataEnv, 'hsrc', 'public.victims'),
				dst: await tableChecksum(dataEnv, 'hdst', 'public.victims'),
			};

			await createJob(api, {
				name: 'hostile-names',
				source: { dsn: cluster.dsn('hsrc') },
				target: { dsn: cluster.dsn('hdst') },
				include: ['public.*', `"${SCHEMA}".*`],
				exclude: ['public.victims'],
				load: { mode: 'replace', validate: 'checksum' },
			});
			const plan = await api.get('/api/v1/jobs/hostile-names/plan');
			assert.equal(plan.status, 200, plan.text);
			assert.equal(plan.json.tables.length, 4, plan.text);
			const run = await waitRun(api, (await triggerRun(api, 'hostile-names')).id);
			assert.equal(run.state, 'succeeded', `${JSON.stringify(run)}\n${srv.log().slice(-3000)}`);
			assert.equal(run.tables.loaded, 4);
			const tables = await runTables(api, run.id);
			assert.equal(Object.keys(tables).length, 4, Object.keys(tables).join(' | '));
			for (const t of Object.values(tables))
				assert.equal(t.validation.state, 'passed', JSON.stringify(t));

			for (const [schema, name] of [...HOSTILE.map((h) => ['public', h]), [SCHEMA, 'inner']]) {
				const [s, d] = await Promise.all([
					tableChecksum(dataEnv, 'hsrc', rel(schema, name)),
					tableChecksum(dataEnv, 'hdst', rel(schema, name)),
				]);
				assert.ok(s.count > 0);
				assert.deepEqual(d, s, `${schema}.${name}`);
			}
			assert.deepEqual(await tableChecksum(dataEnv, 'hsrc', 'public.victims'), victimsBefore.src, 'victims on the source');
			assert.deepEqual(await tableChecksum(dataEnv, 'hdst', 'public.victims'), victimsBefore.dst, 'victims on the target');
			const idx = await sql('hdst', `SELECT count(*) FROM pg_indexes WHERE indexname = 'i"); DROP TABLE victims; --'`);
			assert.equal(idx, '1', 'the hostile index name arrived as a name');
			const chk = await sql('hdst', `SELECT count(*) FROM pg_constraint WHERE conname = 'c"; TRUNCATE victims; --'`);
			assert.equal(chk, '1', 'the hostile constraint name arrived as a name');
			assert.ok(srv.isRunning());
		});

		it('never shows the password from the environment', async () => {
			const leaks = seen.filter((x) => x.text.includes(PASSWORD));
			assert.deepEqual(leaks.map((x) => `${x.method} ${x.path}`), []);
			assert.ok(seen.length > 5);
			assert.ok(!srv.log().includes(PASSWORD), 'ferryd logged the password');
			assert.ok(!srv.log().includes('not-the-password'), 'ferryd logged a DSN password');
			const stored = await sql('ferry_meta', `SELECT
				(SELECT count(*) FROM ferry.jobs WHERE spec::text LIKE '%' || $$${PASSWORD}$$ || '%') +
				(SELECT count(*) FROM ferry.runs WHERE spec::text LIKE '%' || $$${PASSWORD}$$ || '%' OR coalesce(error, '') LIKE '%' || $$${PASSWORD}$$ || '%') +
				(SELECT count(*) FROM ferry.run_events WHERE message LIKE '%' || $$${PASSWORD}$$ || '%') +
				(SELECT count(*) FROM ferry.run_tasks WHERE coalesce(error, '') LIKE '%' || $$${PASSWORD}$$ || '%')`);
			assert.equal(stored, '0', 'the metadata database holds the password');
		});
	});

	describe('HTTP resource limits', () => {
		it('--max-connections: while idle connections take every slot, a run goes on; the API answers once they close', async () => {
			const srv = await startFerryd({ meta, workers: 2, args: ['--max-connections', '4'] });
			const conns = [];
			try {
				const api = client(srv.url);
				const job = await createJob(api, {
					name: 'limits',
					source: { dsn: cluster.dsn('src') },
					target: { dsn: cluster.dsn('lim_dst') },
					include: ['public.slow'],
					tables: { 'public.slow': { where: '(id % 10000 <> 0 OR pg_sleep(0.3) IS NOT NULL)' } },
				});
				const run = await triggerRun(api, job.id);
				await waitTables(api, run.id, (t) => t['public.slow']?.state === 'loading' && t['public.slow'].rows > 0,
					'public.slow loading');
				for (let i = 0; i < 10; i++)
					conns.push(await openIdle(srv.port));
				// the limit holds: a new connection is not served (refused, or left waiting)
				const probe = await rawGet(srv.port, '/healthz', 2000);
				assert.match(probe, /^no answer/, 'a request beyond the connection limit was served');
				const state = await sql('ferry_meta', `SELECT state FROM ferry.runs WHERE id = '${run.id}'`);
				assert.equal(state, 'running', 'the run was still going when the slots filled up');
				// the workers do not need HTTP: the run finishes while the slots are taken
				const final = await pollUntil(() => sql('ferry_meta', `SELECT state FROM ferry.runs WHERE id = '${run.id}'`), {
					until: (s) => s !== 'running', timeoutMs: 60000, intervalMs: 200, what: 'the run to finish',
				});
				assert.equal(final, 'succeeded');
				for (const c of conns)
					c.socket.destroy();
				const after = await pollUntil(async () => {
					try {
						return await api.get(`/api/v1/runs/${run.id}`, { timeoutMs: 2000 });
					} catch {
						return null;
					}
				}, { until: (r) => r && r.status === 200, timeoutMs: 15000, intervalMs: 100, what: 'the API to answer again' });
				assert.equal(after.json.state, 'succeeded');
				assert.equal(after.json.rows, 100000);
				assert.equal(await sql('lim_dst', 'SELECT count(*) FROM public.slow'), '100000');
			} finally {
				for (const c of conns)
					c.socket.destroy();
				const r = await srv.stop();
				assert.equal(r.code, 0);
			}
		});

		it('--max-connections: connections over the limit are refused, as --help says', async () => {
			const srv = await startFerryd({ meta, workers: 1, args: ['--max-connections', '4'] });
			const conns = [];
			try {
				for (let i = 0; i < 10; i++)
					conns.push(await openIdle(srv.port));
				const closed = await pollUntil(() => conns.filter((c) => c.closed).length, {
					until: (n) => n >= 6, timeoutMs: 3000, intervalMs: 20, what: 'the connections over the limit to be closed',
				}).catch((e) => e.lastValue);
				assert.ok(closed >= 6, `with --max-connections 4 and 10 connections open, the server closed ${closed} of them ` +
					'within 3 s; the others wait unanswered in the listen backlog (ferryd --help: "more are refused")');
				assert.ok(conns.filter((c) => !c.closed).length <= 4);
			} finally {
				for (const c of conns)
					c.socket.destroy();
				const r = await srv.stop();
				assert.equal(r.code, 0);
			}
		});

		it('--request-timeout: the server closes an idle connection', async () => {
			const srv = await startFerryd({ meta, workers: 1, args: ['--request-timeout', '2'] });
			try {
				const idle = await openIdle(srv.port);
				const partial = await openIdle(srv.port);
				partial.socket.write('GET /healthz HTTP/1.1\r\nHost: 127.0.0.1\r\n'); // headers never finished
				await pollUntil(() => idle.closed && partial.closed, { timeoutMs: 10000, intervalMs: 50, what: 'ferryd to close idle connections' });
				for (const c of [idle, partial]) {
					const ms = c.closedAt - c.openedAt;
					assert.ok(ms >= 1500 && ms <= 6000, `an idle connection was closed after ${ms} ms with --request-timeout 2`);
				}
				const r = await client(srv.url).get('/healthz');
				assert.equal(r.status, 200, 'fresh connections are still served');
			} finally {
				const r = await srv.stop();
				assert.equal(r.code, 0);
			}
		});
	});
});
