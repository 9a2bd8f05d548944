// tests/lib/cluster.js: throwaway PostgreSQL clusters for integration tests
'use strict';

/*
 * const c = await startCluster();              // private unix socket only
 * const c = await startCluster({ port: 0 });   // 127.0.0.1, random free port
 * c.psql('select 1')  c.createDb('src')  c.dsn('src')  await c.stop()
 *
 * A cluster lives in a fresh directory under os.tmpdir(): the data directory,
 * the server log and the unix socket. It trusts every local connection, runs
 * with fsync off, and is removed by stop() — or at process exit if a test
 * forgot. When the tests run as root, initdb and pg_ctl run as `postgres`.
 */

const fs = require('node:fs');
const os = require('node:os');
const path = require('node:path');
const { execFile, execFileSync, spawn, spawnSync } = require('node:child_process');
const { promisify } = require('node:util');

const { freePort, atExit } = require('./util');

const execFileP = promisify(execFile);

const DEFAULT_BINDIR = '/usr/lib/postgresql/15/bin';
const SOCKET_PORT = 5432;
const START_ATTEMPTS = 3;
const SUPERUSER = 'postgres';

let bindirCache;

/** Directory holding initdb, pg_ctl and psql: $FERRY_PG_BINDIR, pg_config, or the Debian path. */
function bindir() {
	if (bindirCache)
		return bindirCache;
	const usable = (dir) => dir && fs.existsSync(path.join(dir, 'initdb')) &&
		fs.existsSync(path.join(dir, 'pg_ctl'));
	const candidates = [process.env.FERRY_PG_BINDIR];
	try {
		candidates.push(execFileSync('pg_config', ['--bindir'], { encoding: 'utf8' }).trim());
	} catch {
		// no pg_config on PATH
	}
	candidates.push(DEFAULT_BINDIR);
	bindirCache = candidates.find(usable);
	if (!bindirCache)
		throw new Error(`no PostgreSQL binaries found (tried ${candidates.filter(Boolean).join(', ')})`);
	return bindirCache;
}

function bin(name) {
	return path.join(bindir(), name);
}

const runningAsRoot = () => typeof process.getuid === 'function' && process.getuid() === 0;

/** [command, args] that run a server-side PostgreSQL program as the right user. */
function asServerUser(program, args) {
	if (runningAsRoot())
		return ['runuser', ['-u', SUPERUSER, '--', bin(program), ...args]];
	return [bin(program), args];
}

/** Environment without PG* variables, so nothing outside the test steers libpq. */
function cleanEnv(extra = {}) {
	const env = {};
	for (const [k, v] of Object.entries(process.env))
		if (!k.startsWith('PG'))
			env[k] = v;
	return { ...env, ...extra };
}

function quoteIdent(name) {
	return `"${String(name).replace(/"/g, '""')}"`;
}

function quoteConf(value) {
	if (typeof value === 'number' || typeof value === 'boolean')
		return String(value);
	return `'${String(value).replace(/\\/g, '\\\\').replace(/'/g, "''")}'`;
}

async function runServerProgram(program, args, cwd) {
	const [cmd, argv] = asServerUser(program, args);
	try {
		return await execFileP(cmd, argv, { cwd, env: cleanEnv(), encoding: 'utf8' });
	} catch (e) {
		const out = [e.stdout, e.stderr].filter(Boolean).join('\n').trim();
		throw new Error(`${program} ${args.join(' ')} failed: ${e.message.split('\n')[0]}` +
			(out ? `\n${out}` : ''));
	}
}

function chownToServerUser(p) {
	if (!runningAsRoot())
		return;
	const uid = Number(execFileSync('id', ['-u', SUPERUSER], { encoding: 'utf8' }).trim());
	const gid = Number(execFileSync('id', ['-g', SUPERUSER], { encoding: 'utf8' }).trim());
	fs.chownSync(p, uid, gid);
}

function tail(file, lines = 40) {
	try {
		return fs.readFileSync(file, 'utf8').trimEnd().split('\n').slice(-lines).join('\n');
	} catch {
		return '';
	}
}

/*
 * Start a cluster.
 *
 * opts.port: omit for a unix socket only (listen_addresses = ''); a number to
 *   listen on 127.0.0.1 at that port, 0 for a random free one.
 * opts.tcp: true is the same as port 0.
 * opts.settings: extra postgresql.conf settings, e.g. { max_connections: 200 }.
 *
 * Resolves to the cluster handle; rejects (with the server log) when the
 * cluster cannot be created or started, leaving nothing behind.
 */
async function startCluster(opts = {}) {
	const tcp = opts.tcp === true || opts.port != null;
	const fixedPort = tcp && opts.port ? Number(opts.port) : 0;
	const dir = fs.mkdtempSync(path.join(os.tmpdir(), 'ferry-pg-'));
	const dataDir = path.join(dir, 'data');
	const logFile = path.join(dir, 'server.log');
	const confFile = path.join(dir, 'ferry-test.conf');
	let started = false;
	let unregister = () => {};

	const pgCtl = (args) => runServerProgram('pg_ctl', ['-D', dataDir, ...args], dir);

	const removeDir = () => fs.rmSync(dir, { recursive: true, force: true });
	const stopNow = () => {
		// synchronous variant for process exit
		if (started) {
			const [cmd, argv] = asServerUser('pg_ctl', ['-D', dataDir, '-m', 'immediate', '-w', 'stop']);
			spawnSync(cmd, argv, { cwd: dir, env: cleanEnv(), stdio: 'ignore' });
		}
		removeDir();
	};

	try {
		chownToServerUser(dir);
		unregister = atExit(stopNow);
		await runServerProgram('initdb', ['-D', dataDir, '-A', 'trust', '-N', '-U', SUPERUSER,
			'-E', 'UTF8', '--locale=C', '--no-instructions'], dir);
		fs.appendFileSync(path.join(dataDir, 'postgresql.conf'),
			`\n# settings for this throwaway test cluster\ninclude '${confFile}'\n`);

		let port = SOCKET_PORT;
		for (let attempt = 1; ; attempt++) {
			if (tcp)
				port = fixedPort || await freePort();
			const settings = {
				listen_addresses: tcp ? '127.0.0.1' : '',
				port,
				unix_socket_directories: dir,
				fsync: 'off',
				synchronous_commit: 'off',
				full_page_writes: 'off',
				log_line_prefix: '%m [%p] %q%u@%d ',
				...opts.settings,
			};
			fs.writeFileSync(confFile, Object.entries(settings)
				.map(([k, v]) => `${k} = ${quoteConf(v)}\n`).join(''), { mode: 0o644 });
			try {
				await pgCtl(['-l', logFile, '-w', '-t', '60', 'start']);
				started = true;
				break;
			} catch (e) {
				const log = tail(logFile);
				const portTaken = /could not bind|address already in use/i.test(log);
				if (!(tcp && !fixedPort && portTaken && attempt < START_ATTEMPTS))
					throw new Error(`${e.message}\n--- server log ---\n${log}`);
			}
		}
		return makeHandle({ dir, dataDir, logFile, port, tcp, pgCtl, removeDir, unregister });
	} catch (e) {
		unregister();
		stopNow();
		throw e;
	}
}

function makeHandle({ dir, dataDir, logFile, port, tcp, pgCtl, removeDir, unregister }) {
	const host = tcp ? '127.0.0.1' : dir;
	let stopping;

	/** Connection URI for database db as the superuser. */
	function dsn(db = 'postgres') {
		const name = encodeURIComponent(db);
		if (tcp)
			return `postgresql://${SUPERUSER}@127.0.0.1:${port}/${name}`;
		return `postgresql://${SUPERUSER}@/${name}?host=${encodeURIComponent(dir)}&port=${port}`;
	}

	/** The same connection as a key=value conninfo string. */
	function conninfo(db = 'postgres') {
		const q = (v) => `'${String(v).replace(/\\/g, '\\\\').replace(/'/g, "\\'")}'`;
		return `host=${q(host)} port=${port} user=${SUPERUSER} dbname=${q(db)}`;
	}

	/*
	 * Run SQL (one or more statements) through psql -X -q -A -t with
	 * ON_ERROR_STOP. Resolves to stdout without its final newline: the rows
	 * of every query, one per line, columns separated by '|'. Rejects with
	 * psql's error output when a statement fails.
	 */
	function psql(sql, opts = {}) {
		const db = opts.db ?? 'postgres';
		const args = ['-X', '-q', '-A', '-t', '-v', 'ON_ERROR_STOP=1',
			'-h', host, '-p', String(port), '-U', SUPERUSER, '-d', db, '-f', '-'];
		return new Promise((resolve, reject) => {
			const child = spawn(bin('psql'), args, {
				env: cleanEnv({ PGCONNECT_TIMEOUT: '10' }),
				stdio: ['pipe', 'pipe', 'pipe'],
				timeout: opts.timeoutMs,
			});
			const out = [];
			const err = [];
			child.stdout.on('data', (b) => out.push(b));
			child.stderr.on('data', (b) => err.push(b));
			child.on('error', reject);
			child.on('close', (code, signal) => {
				const stdout = Buffer.concat(out).toString('utf8');
				const stderr = Buffer.concat(err).toString('utf8').trim();
				if (code === 0)
					resolve(stdout.replace(/\n$/, ''));
				else
					reject(new Error(`psql on "${db}" failed (${signal ?? `exit ${code}`})` +
						`${stderr ? `: ${stderr}` : ''}\n--- sql ---\n${sql}`));
			});
			child.stdin.on('error', () => {}); // psql may exit before reading it all
			child.stdin.end(sql);
		});
	}

	/** Create database name; resolves to its dsn(). */
	async function createDb(name) {
		await psql(`CREATE DATABASE ${quoteIdent(name)}`);
		return dsn(name);
	}

	/** Stop the server (fast shutdown) and remove its directory; safe to call twice. */
	function stop() {
		if (!stopping) {
			stopping = (async () => {
				try {
					await pgCtl(['-m', 'fast', '-w', '-t', '60', 'stop']);
				} catch (e) {
					await pgCtl(['-m', 'immediate', '-w', 'stop']).catch(() => {});
					if (fs.existsSync(path.join(dataDir, 'postmaster.pid')))
						throw new Error(`could not stop the cluster in "${dir}": ${e.message}`);
				} finally {
					if (!fs.existsSync(path.join(dataDir, 'postmaster.pid'))) {
						unregister();
						removeDir();
					}
				}
			})();
		}
		return stopping;
	}

	/** The server log so far (for failure messages). */
	function log() {
		try {
			return fs.readFileSync(logFile, 'utf8');
		} catch {
			return '';
		}
	}

	return { host, port, dir, dataDir, dsn, conninfo, psql, createDb, stop, log };
}

module.exports = { startCluster, bindir, quoteIdent };
