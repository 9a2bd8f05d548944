// tests/lib/mariadb.js: throwaway MariaDB servers for integration tests (ferry's MySQL sources)
'use strict';

/*
 * const m = await startMariadb();
 * await m.sql('CREATE DATABASE shop');  await m.sqlFile('fixtures/sakila_mini.sql');
 * await m.query('SELECT id, name FROM t', { db: 'shop' })   // [['1', 'a'], ['2', null]]
 * m.dsn('shop')   // mysql://ferry:ferry-secret@127.0.0.1:PORT/shop
 * await m.restart()  await m.kill()  await m.stop()
 *
 * A server lives in a fresh directory under os.tmpdir(): the data directory
 * (binary log included), the server log and the unix socket. It listens on
 * the socket and on 127.0.0.1 at a random free port, with the binary log on
 * (ROW format, server_id 1; MariaDB's GTIDs are always on) so that a
 * consistent snapshot has a position to record, and InnoDB flushing relaxed.
 * The harness itself talks to it as root over the socket; ferry is meant to
 * connect as `ferry` (password `ferry-secret`, every privilege) over TCP.
 * stop() removes the directory — or process exit does if a test forgot.
 * When the tests run as root, mariadb-install-db runs as `mysql` (runuser)
 * and mariadbd drops to `mysql` itself (--user), so that the child we spawn
 * is the server and kill() reaches it.
 */

const fs = require('node:fs');
const os = require('node:os');
const path = require('node:path');
const { execFile, execFileSync, spawn } = require('node:child_process');
const { promisify } = require('node:util');

const { freePort, atExit, pollUntil } = require('./util');

const execFileP = promisify(execFile);

const SERVER_USER = 'mysql';
const FERRY_USER = 'ferry';
const FERRY_PASSWORD = 'ferry-secret';
const START_ATTEMPTS = 3;
const START_TIMEOUT_MS = 60000;
const STOP_TIMEOUT_MS = 60000;
const MAX_PACKET = '64M';
const SEARCH_DIRS = ['/usr/sbin', '/usr/bin', '/usr/local/sbin', '/usr/local/bin'];

const programCache = new Map();

/** Absolute path of program name ($PATH, then the usual sbin and bin directories), or null. */
function findProgram(name) {
	if (programCache.has(name))
		return programCache.get(name);
	const dirs = [...(process.env.PATH ?? '').split(path.delimiter).filter(Boolean), ...SEARCH_DIRS];
	let found = null;
	for (const dir of dirs) {
		const p = path.join(dir, name);
		try {
			fs.accessSync(p, fs.constants.X_OK);
			found = p;
			break;
		} catch {
			// not here
		}
	}
	programCache.set(name, found);
	return found;
}

function program(name) {
	const p = findProgram(name);
	if (!p)
		throw new Error(`"${name}" not found (install mariadb-server and mariadb-client: tests/deps.sh test)`);
	return p;
}

/** Whether a MariaDB server binary is installed (tests skip themselves when it is not). */
function mariadbAvailable() {
	return findProgram('mariadbd') !== null;
}

const runningAsRoot = () => typeof process.getuid === 'function' && process.getuid() === 0;

/** Environment without MYSQL_* variables, so nothing outside the test steers the clients. */
function cleanEnv() {
	const env = {};
	for (const [k, v] of Object.entries(process.env))
		if (!k.startsWith('MYSQL') && !k.startsWith('MARIADB'))
			env[k] = v;
	return env;
}

/** A MySQL identifier in backquotes. */
function quoteIdent(name) {
	return `\`${String(name).replace(/`/g, '``')}\``;
}

/** A MySQL string literal (the server runs without NO_BACKSLASH_ESCAPES). */
function quoteString(value) {
	return `'${String(value).replace(/\\/g, '\\\\').replace(/'/g, "\\'").replace(/\0/g, '\\0')}'`;
}

function chownToServerUser(p) {
	if (!runningAsRoot())
		return;
	const uid = Number(execFileSync('id', ['-u', SERVER_USER], { encoding: 'utf8' }).trim());
	const gid = Number(execFileSync('id', ['-g', SERVER_USER], { encoding: 'utf8' }).trim());
	fs.chownSync(p, uid, gid);
}

function readFrom(file, offset = 0) {
	try {
		return fs.readFileSync(file).subarray(offset).toString('utf8');
	} catch {
		return '';
	}
}

function tail(text, lines = 40) {
	return text.trimEnd().split('\n').slice(-lines).join('\n');
}

function fileSize(file) {
	try {
		return fs.statSync(file).size;
	} catch {
		return 0;
	}
}

/* Whether process pid is gone or a zombie (dead, not yet reaped). */
function processGone(pid) {
	try {
		const stat = fs.readFileSync(`/proc/${pid}/stat`, 'utf8');
		return stat.slice(stat.lastIndexOf(')') + 2).startsWith('Z');
	} catch {
		return true;
	}
}

/* Synchronous SIGKILL for process exit, where no event loop is left to wait with. */
function killNowSync(pid) {
	try {
		process.kill(pid, 'SIGKILL');
	} catch {
		return;
	}
	const pause = new Int32Array(new SharedArrayBuffer(4));
	const deadline = Date.now() + 5000;
	while (!processGone(pid) && Date.now() < deadline)
		Atomics.wait(pause, 0, 0, 10);
}

/*
 * Run a MariaDB client program with the SQL (string or readable stream) on
 * its stdin. Resolves to stdout; rejects with stderr and the SQL's start.
 */
function runClient(name, args, input, opts = {}) {
	return new Promise((resolve, reject) => {
		const child = spawn(program(name), args, {
			env: cleanEnv(),
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
				return resolve(stdout);
			const what = typeof input === 'string' ? `--- sql ---\n${input.slice(0, 4000)}` :
				`--- sql from ---\n${opts.source ?? 'a stream'}`;
			const on = opts.db ? ` on "${opts.db}"` : '';
			reject(new Error(`${name}${on} failed (${signal ?? `exit ${code}`})` +
				`${stderr ? `: ${stderr}` : ''}\n${what}`));
		});
		child.stdin.on('error', () => {}); // the client may exit before reading it all
		if (typeof input === 'string')
			child.stdin.end(input);
		else {
			input.on('error', (e) => child.stdin.destroy(e));
			input.pipe(child.stdin);
		}
	});
}

/*
 * Undo the escapes of the client's batch output (\0 \t \n \\). NULL comes
 * out as the bare word NULL, which a four-letter string 'NULL' does too:
 * both are returned as null.
 */
function unescapeField(field) {
	if (field === 'NULL')
		return null;
	return field.replace(/\\([0tn\\])/g, (_, c) => ({ 0: '\0', t: '\t', n: '\n', '\\': '\\' })[c]);
}

/*
 * Start a server.
 *
 * opts.port: a fixed TCP port on 127.0.0.1; omitted or 0 for a random free one.
 * opts.args: extra mariadbd options, e.g. ['--lower-case-table-names=1'].
 *
 * Resolves to the server handle once the server answers and the `ferry` user
 * exists; rejects (with the server log) when it cannot be created or started,
 * leaving nothing behind.
 */
async function startMariadb(opts = {}) {
	const fixedPort = opts.port ? Number(opts.port) : 0;
	const dir = fs.mkdtempSync(path.join(os.tmpdir(), 'ferry-my-'));
	const dataDir = path.join(dir, 'data');
	const logFile = path.join(dir, 'server.log');
	const socket = path.join(dir, 'sock');
	const state = { child: null, exited: null, port: 0 };
	let unregister = () => {};

	const removeDir = () => fs.rmSync(dir, { recursive: true, force: true });
	const stopNow = () => {
		// synchronous variant for process exit
		if (state.child && !state.exited)
			killNowSync(state.child.pid);
		removeDir();
	};

	try {
		fs.chmodSync(dir, 0o755);
		chownToServerUser(dir);
		unregister = atExit(stopNow);
		await installDb(dir, dataDir, logFile);
		const server = { dir, dataDir, logFile, socket, state, extraArgs: opts.args ?? [] };
		for (let attempt = 1; ; attempt++) {
			state.port = fixedPort || await freePort();
			const logStart = fileSize(logFile);
			try {
				await launch(server);
				break;
			} catch (e) {
				const portTaken = /address already in use|bind on tcp\/ip port/i.test(readFrom(logFile, logStart));
				if (!(!fixedPort && portTaken && attempt < START_ATTEMPTS))
					throw e;
			}
		}
		const handle = makeHandle({ ...server, removeDir, unregister });
		await handle.createUser(FERRY_USER, FERRY_PASSWORD, ['ALL PRIVILEGES ON *.*']);
		return handle;
	} catch (e) {
		unregister();
		stopNow();
		throw e;
	}
}

/* Create the system tables in dataDir; rejects with the tool's output. */
async function installDb(dir, dataDir, logFile) {
	const args = ['--no-defaults', `--datadir=${dataDir}`, '--auth-root-authentication-method=normal',
		'--skip-test-db', '--skip-name-resolve'];
	const [cmd, argv] = runningAsRoot() ?
		['runuser', ['-u', SERVER_USER, '--', program('mariadb-install-db'), ...args]] :
		[program('mariadb-install-db'), args];
	try {
		const { stdout, stderr } = await execFileP(cmd, argv, { cwd: dir, env: cleanEnv(), encoding: 'utf8' });
		fs.appendFileSync(logFile, `--- mariadb-install-db ---\n${stdout}${stderr}`);
	} catch (e) {
		const out = [e.stdout, e.stderr].filter(Boolean).join('\n').trim();
		throw new Error(`mariadb-install-db in "${dataDir}" failed: ${e.message.split('\n')[0]}` +
			(out ? `\n${tail(out)}` : ''));
	}
}

/* Options of mariadbd for this server (the same at every start). */
function serverArgs({ dir, dataDir, socket, state, extraArgs }) {
	return [
		'--no-defaults',
		...(runningAsRoot() ? [`--user=${SERVER_USER}`] : []),
		`--datadir=${dataDir}`,
		`--socket=${socket}`,
		`--pid-file=${path.join(dir, 'mariadbd.pid')}`,
		`--port=${state.port}`,
		'--bind-address=127.0.0.1',
		'--skip-name-resolve',
		'--log-bin=binlog',
		'--server-id=1',
		'--binlog-format=ROW',
		'--character-set-server=utf8mb4',
		'--default-time-zone=+00:00',
		`--max-allowed-packet=${MAX_PACKET}`,
		'--innodb-buffer-pool-size=256M',
		// 2, not 0: a commit reaches the OS at once, so kill() loses nothing and the
		// binary log never runs ahead of InnoDB after crash recovery
		'--innodb-flush-log-at-trx-commit=2',
		'--innodb-doublewrite=0',
		'--innodb-buffer-pool-dump-at-shutdown=0',
		'--innodb-buffer-pool-load-at-startup=0',
		'--sync-binlog=0',
		...extraArgs,
	];
}

/*
 * Spawn mariadbd and wait until it answers on its socket. Rejects with the
 * log of this start when the server exits or does not answer in time (the
 * child is then killed).
 */
async function launch(server) {
	const { logFile, socket, state } = server;
	const logStart = fileSize(logFile);
	const logFd = fs.openSync(logFile, 'a');
	fs.writeSync(logFd, `--- mariadbd on port ${state.port}, ${new Date().toISOString()} ---\n`);
	let child;
	try {
		// stderr is the error log: it also catches what mariadbd says before opening a log
		child = spawn(program('mariadbd'), serverArgs(server),
			{ cwd: server.dir, env: cleanEnv(), stdio: ['ignore', logFd, logFd] });
	} finally {
		fs.closeSync(logFd);
	}
	state.child = child;
	state.exited = null;
	state.exitP = new Promise((resolve) => {
		child.on('exit', (code, signal) => {
			state.exited = { code, signal };
			resolve(state.exited);
		});
		child.on('error', (e) => {
			state.exited = { code: null, signal: null, error: e };
			resolve(state.exited);
		});
	});
	let lastError = '';
	try {
		await pollUntil(async () => {
			if (state.exited)
				throw new Error(`mariadbd exited (${state.exited.error?.message ??
					state.exited.signal ?? `exit ${state.exited.code}`})`);
			try {
				await runClient('mariadb-admin', [...adminArgs(socket), 'ping'], '');
				return true;
			} catch (e) {
				lastError = e.message.split('\n')[0];
				return false;
			}
		}, { timeoutMs: START_TIMEOUT_MS, intervalMs: 50, what: `mariadbd to answer on "${socket}"` });
	} catch (e) {
		if (!state.exited) {
			child.kill('SIGKILL');
			await state.exitP;
		}
		throw new Error(`could not start mariadbd in "${server.dir}": ${e.message}` +
			(lastError && !state.exited ? `\nlast ping: ${lastError}` : '') +
			`\n--- server log ---\n${tail(readFrom(logFile, logStart))}`);
	}
}

function adminArgs(socket) {
	return ['--no-defaults', '--protocol=socket', `--socket=${socket}`, '--user=root', '--connect-timeout=5'];
}

/*
 * Options of the mariadb client: as root over the socket, or as opts.user
 * (with opts.password, if any) over TCP to 127.0.0.1 like ferry connects.
 */
function clientArgs(socket, port, opts) {
	const conn = opts.user == null ? adminArgs(socket) :
		['--no-defaults', '--protocol=tcp', '--host=127.0.0.1', `--port=${port}`, `--user=${opts.user}`,
			...(opts.password ? [`--password=${opts.password}`] : []), '--connect-timeout=5'];
	return [...conn, '--batch', '--default-character-set=utf8mb4', `--max-allowed-packet=${MAX_PACKET}`,
		...(opts.db ? [`--database=${opts.db}`] : [])];
}

function makeHandle(server) {
	const { dir, dataDir, logFile, socket, state, removeDir, unregister } = server;
	let stopping;

	/*
	 * Connection URI for database db (none when omitted). As `ferry` with its
	 * password unless opts.user is given; then with opts.password, or none.
	 */
	function dsn(db, opts = {}) {
		const user = opts.user ?? FERRY_USER;
		const password = opts.user == null ? FERRY_PASSWORD : opts.password;
		const auth = encodeURIComponent(user) + (password ? `:${encodeURIComponent(password)}` : '');
		return `mysql://${auth}@127.0.0.1:${state.port}/${db ? encodeURIComponent(db) : ''}`;
	}

	/*
	 * Run SQL (one or more statements, DELIMITER allowed) as root through the
	 * mariadb client in batch mode, fed on stdin. Resolves to stdout as the
	 * client prints it: with column names, fields separated by tabs, \0 \t \n
	 * and \\ escaped, NULL as NULL. Rejects with the client's error (which
	 * names the line) when a statement fails; the statements before it stay
	 * done. opts: { db, timeoutMs, user, password } — with user, it connects
	 * as that user over TCP instead (to check what a user may do).
	 */
	function sql(text, opts = {}) {
		return runClient('mariadb', clientArgs(socket, state.port, opts), text, opts);
	}

	/* sql() with the contents of file (streamed, so it may be large). */
	function sqlFile(file, opts = {}) {
		return runClient('mariadb', clientArgs(socket, state.port, opts), fs.createReadStream(file),
			{ ...opts, source: file });
	}

	/*
	 * Rows of every result of text as arrays of strings (the client's text
	 * form: numbers as digits, dates as 'YYYY-MM-DD hh:mm:ss', BIT and binary
	 * strings as their bytes read as UTF-8 — select HEX(col) for those).
	 * NULL is null; so is a string that is exactly 'NULL', as the client
	 * prints both alike: select QUOTE(col) or col IS NULL when that matters.
	 * Tabs, newlines, backslashes and NUL bytes in values come back as they
	 * are. No rows: []. opts: as for sql().
	 */
	async function query(text, opts = {}) {
		const args = [...clientArgs(socket, state.port, opts), '--skip-column-names'];
		const out = await runClient('mariadb', args, text, opts);
		if (out === '')
			return [];
		return out.replace(/\n$/, '').split('\n').map((line) => line.split('\t').map(unescapeField));
	}

	/*
	 * Create user name (password may be null for none) at 127.0.0.1 and
	 * localhost, and grant it each of grants, e.g. ['SELECT ON sakila.*',
	 * 'RELOAD, BINLOG MONITOR ON *.*']. Resolves to { user, password, dsn(db) }.
	 */
	async function createUser(name, password, grants = []) {
		const list = Array.isArray(grants) ? grants : [grants];
		let text = '';
		for (const host of ['127.0.0.1', 'localhost']) {
			const who = `${quoteString(name)}@${quoteString(host)}`;
			text += `CREATE USER ${who}${password ? ` IDENTIFIED BY ${quoteString(password)}` : ''};\n`;
			for (const g of list)
				text += `GRANT ${g} TO ${who};\n`;
		}
		await sql(text);
		return { user: name, password, dsn: (db) => dsn(db, { user: name, password }) };
	}

	/* Whether the server process is running. */
	function running() {
		return Boolean(state.child && !state.exited);
	}

	/* Wait for the server to exit after signal; SIGKILL it if it takes longer than ms. */
	async function signalAndWait(signal, ms) {
		if (!running())
			return;
		state.child.kill(signal);
		let timer;
		const timedOut = new Promise((resolve) => {
			timer = setTimeout(() => resolve(null), ms);
		});
		const done = await Promise.race([state.exitP, timedOut]);
		clearTimeout(timer);
		if (!done) {
			state.child.kill('SIGKILL');
			await state.exitP;
			throw new Error(`mariadbd in "${dir}" did not stop within ${ms} ms of ${signal}; killed it` +
				`\n--- server log ---\n${tail(log())}`);
		}
	}

	/*
	 * Shut the server down gracefully (SIGTERM: connections are closed,
	 * InnoDB flushed) and start it again on the same port and data. After
	 * kill() it only starts it again, which is crash recovery. Rejects with
	 * the server log when either step fails.
	 */
	async function restart() {
		if (stopping)
			throw new Error(`mariadbd in "${dir}" is stopped`);
		await signalAndWait('SIGTERM', STOP_TIMEOUT_MS);
		await launch(server);
	}

	/* SIGKILL the server, as a crash would; resolves once it is dead. The data stay for restart(). */
	async function kill() {
		if (!running())
			return;
		state.child.kill('SIGKILL');
		await state.exitP;
	}

	/* Stop the server gracefully and remove its directory; safe to call twice. */
	function stop() {
		if (!stopping) {
			stopping = (async () => {
				try {
					await signalAndWait('SIGTERM', STOP_TIMEOUT_MS);
				} finally {
					if (!running()) {
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
		return readFrom(logFile);
	}

	return {
		get port() { return state.port; },
		get pid() { return running() ? state.child.pid : null; },
		socket, dir, dataDir, user: FERRY_USER, password: FERRY_PASSWORD,
		dsn, sql, sqlFile, query, createUser, restart, kill, stop, running, log,
	};
}

module.exports = { startMariadb, mariadbAvailable, quoteIdent, quoteString };
