// tests/e2e/demo.test.js: `make demo`'s script, run the way scripts run it (DEMO_EXIT=1), end to end
'use strict';

const { test } = require('node:test');
const assert = require('node:assert/strict');
const { spawn } = require('node:child_process');
const path = require('node:path');

const root = path.resolve(__dirname, '..', '..');

function runDemo(env, timeoutMs) {
	return new Promise((resolve, reject) => {
		const child = spawn('bash', [path.join(root, 'tests', 'demo.sh')], {
			cwd: root,
			env: { ...process.env, ...env },
			stdio: ['ignore', 'pipe', 'pipe'],
		});
		let out = '';
		child.stdout.on('data', (d) => { out += d; });
		child.stderr.on('data', (d) => { out += d; });
		const timer = setTimeout(() => {
			child.kill('SIGINT');
			reject(new Error(`demo did not finish within ${timeoutMs} ms:\n${out}`));
		}, timeoutMs);
		child.on('exit', (code, signal) => {
			clearTimeout(timer);
			resolve({ code, signal, out });
		});
	});
}

test('make demo migrates the sample database and prints the per-table report', async () => {
	const { code, out } = await runDemo({ DEMO_EXIT: '1', DEMO_ROWS: '400000' }, 180000);
	assert.equal(code, 0, out);
	assert.match(out, /run [0-9a-f-]{36} succeeded/);
	const device = out.split('\n').find((l) => /^\s*public\.device\s+loaded\s/.test(l));
	assert.ok(device, `no report line for public.device in:\n${out}`);
	assert.match(device, /\s400,002\s/, device);
	for (const t of ['public.devices', 'public.alerts', 'public.readings_daily'])
		assert.ok(out.split('\n').some((l) => l.trim().startsWith(`${t} `) && / loaded /.test(l)),
			`${t} not reported loaded:\n${out}`);
	const total = out.split('\n').find((l) => /^\s*TOTAL\s+succeeded\s/.test(l));
	assert.ok(total, `no TOTAL line:\n${out}`);
});
