// web/app.js: the ferry status page: jobs, run history and live run progress, read from /api/v1
'use strict';

(() => {
	const TOKEN_KEY = 'ferry.apiToken';
	const POLL_MS = 1000;
	const BACKOFF_MAX_MS = 15000;
	const RELATIVE_TICK_MS = 15000;
	const JOBS_PAGE = 100;
	const RUNS_PAGE = 25;
	const LIST_MAX = 500;
	const EVENTS_PAGE = 500;
	const EVENTS_PAGES_PER_TICK = 5;
	const EVENTS_SHOWN_MAX = 2000;
	const TOAST_MS = 6000;
	const TOASTS_MAX = 4;

	const ACTIVE = new Set(['queued', 'running', 'cancelling']);
	const CANCELLABLE = new Set(['queued', 'running']);
	const TABLE_COUNTS = ['loaded', 'loading', 'queued', 'errored', 'cancelled', 'skipped'];

	/* ------------------------------------------------------------------ DOM helpers */

	const $ = (sel, root = document) => root.querySelector(sel);

	/* Append children (nodes, strings, numbers, nested arrays; null and false are skipped). */
	function append(el, children) {
		for (const c of children.flat(Infinity)) {
			if (c === null || c === undefined || c === false)
				continue;
			el.append(c instanceof Node ? c : String(c));
		}
		return el;
	}

	/* Create an element: h('a', {href: '#/', class: 'x'}, 'text', child). */
	function h(tag, attrs, ...children) {
		const el = document.createElement(tag);
		for (const [k, v] of Object.entries(attrs || {})) {
			if (v === null || v === undefined || v === false)
				continue;
			if (k === 'class')
				el.className = v;
			else if (k.startsWith('on') && typeof v === 'function')
				el.addEventListener(k.slice(2), v);
			else
				el.setAttribute(k, v === true ? '' : String(v));
		}
		return append(el, children);
	}

	/* Set text only when it changed, so live regions speak only about real changes. */
	function setText(el, text) {
		const s = String(text);
		if (el.textContent !== s)
			el.textContent = s;
	}

	function setAttr(el, name, value) {
		if (value === null || value === undefined || value === false) {
			if (el.hasAttribute(name))
				el.removeAttribute(name);
			return;
		}
		const s = value === true ? '' : String(value);
		if (el.getAttribute(name) !== s)
			el.setAttribute(name, s);
	}

	function show(el, visible) {
		if (el.hidden === visible)
			el.hidden = !visible;
	}

	/*
	 * Bring tbody's rows in line with items, reusing the row of each key so
	 * that focus, selection and transitions survive a refresh. create(item)
	 * builds a new row; update(row, item) fills it in.
	 */
	function syncRows(tbody, items, keyOf, create, update) {
		const old = new Map();
		for (const row of tbody.children)
			old.set(row.dataset.key, row);
		let prev = null;
		for (const item of items) {
			const key = String(keyOf(item));
			let row = old.get(key);
			if (row) {
				old.delete(key);
			} else {
				row = create(item);
				row.dataset.key = key;
			}
			update(row, item);
			const want = prev ? prev.nextElementSibling : tbody.firstElementChild;
			if (want !== row)
				tbody.insertBefore(row, want);
			prev = row;
		}
		for (const row of old.values())
			row.remove();
	}

	/* Per-row references to the cells that change (kept off the DOM). */
	const parts = new WeakMap();

	/* ------------------------------------------------------------------ formatting */

	const numberFmt = new Intl.NumberFormat();
	const dateTimeFmt = new Intl.DateTimeFormat(undefined, {
		month: 'short', day: 'numeric', hour: '2-digit', minute: '2-digit', second: '2-digit', hourCycle: 'h23',
	});
	const timeFmt = new Intl.DateTimeFormat(undefined, {
		hour: '2-digit', minute: '2-digit', second: '2-digit', hourCycle: 'h23',
	});
	const dayFmt = new Intl.DateTimeFormat(undefined, { month: 'short', day: 'numeric' });
	const fullFmt = new Intl.DateTimeFormat(undefined, { dateStyle: 'full', timeStyle: 'long' });

	const DASH = '—';

	/* Parse an RFC 3339 timestamp (any number of fractional digits); null when absent or bad. */
	function parseTime(s) {
		if (!s)
			return null;
		const norm = String(s).replace(/\.(\d+)/, (_, f) => `.${(f + '000').slice(0, 3)}`);
		const d = new Date(norm);
		return Number.isNaN(d.getTime()) ? null : d;
	}

	function fmtInt(n) {
		return typeof n === 'number' && Number.isFinite(n) ? numberFmt.format(Math.round(n)) : DASH;
	}

	function fmtBytes(n) {
		if (typeof n !== 'number' || !Number.isFinite(n))
			return DASH;
		const units = ['B', 'KiB', 'MiB', 'GiB', 'TiB', 'PiB'];
		let v = n;
		let i = 0;
		while (v >= 1024 && i < units.length - 1) {
			v /= 1024;
			i++;
		}
		if (i === 0)
			return `${numberFmt.format(v)} B`;
		return `${v.toFixed(v < 10 ? 2 : v < 100 ? 1 : 0)} ${units[i]}`;
	}

	function fmtDuration(ms) {
		if (typeof ms !== 'number' || !Number.isFinite(ms) || ms < 0)
			return DASH;
		if (ms < 1000)
			return `${Math.round(ms)} ms`;
		const s = ms / 1000;
		if (s < 60)
			return `${s.toFixed(1)} s`;
		const total = Math.round(s);
		const hours = Math.floor(total / 3600);
		const min = Math.floor((total % 3600) / 60);
		const sec = total % 60;
		if (hours > 0)
			return `${hours} h ${String(min).padStart(2, '0')} min`;
		return `${min} min ${String(sec).padStart(2, '0')} s`;
	}

	function fmtEta(s) {
		if (typeof s !== 'number' || !Number.isFinite(s))
			return DASH;
		if (s < 1)
			return 'under 1 s';
		if (s < 60)
			return `about ${Math.round(s)} s`;
		return `about ${fmtDuration(s * 1000)}`;
	}

	function fmtRate(n) {
		if (typeof n !== 'number' || !Number.isFinite(n))
			return DASH;
		return numberFmt.format(Math.round(n));
	}

	function fmtRelative(d, now = Date.now()) {
		const sec = Math.round((now - d.getTime()) / 1000);
		if (sec < 5)
			return 'just now';
		if (sec < 60)
			return `${sec} s ago`;
		const min = Math.floor(sec / 60);
		if (min < 60)
			return `${min} min ago`;
		const hours = Math.floor(min / 60);
		if (hours < 24)
			return `${hours} h ago`;
		return dayFmt.format(d);
	}

	const shortId = (id) => String(id).slice(0, 8);
	const pct = (fraction) => `${Math.floor(fraction * 100)}%`;

	/*
	 * A <time> element. mode: 'relative' (kept current by a timer),
	 * 'datetime' or 'time'. The full date is in the tooltip.
	 */
	function timeEl(iso, mode) {
		const el = h('time');
		updateTime(el, iso, mode);
		return el;
	}

	function updateTime(el, iso, mode) {
		const d = parseTime(iso);
		if (!d) {
			setAttr(el, 'datetime', null);
			setAttr(el, 'title', null);
			delete el.dataset.rel;
			setText(el, DASH);
			return;
		}
		setAttr(el, 'datetime', iso);
		setAttr(el, 'title', fullFmt.format(d));
		if (mode === 'relative') {
			el.dataset.rel = '1';
			setText(el, fmtRelative(d));
		} else {
			delete el.dataset.rel;
			setText(el, mode === 'time' ? timeFmt.format(d) : dateTimeFmt.format(d));
		}
	}

	function refreshRelativeTimes() {
		const now = Date.now();
		for (const el of document.querySelectorAll('time[data-rel]')) {
			const d = parseTime(el.getAttribute('datetime'));
			if (d)
				setText(el, fmtRelative(d, now));
		}
	}

	/* ------------------------------------------------------------------ widgets */

	function badge(state, testid) {
		const el = h('span', { class: 'badge', 'data-testid': testid });
		setBadge(el, state);
		return el;
	}

	function setBadge(el, state) {
		const cls = `badge state-${state || 'none'}`;
		if (el.className !== cls)
			el.className = cls;
		setAttr(el, 'data-state', state || null);
		setText(el, state || 'never run');
	}

	/* A progress bar; label names what it measures for assistive technology. */
	function progressBar(label, testid, big) {
		const fill = h('span', { class: 'bar-fill' });
		return h('div', {
			class: big ? 'bar bar-big' : 'bar',
			role: 'progressbar',
			'aria-label': label,
			'aria-valuemin': 0,
			'aria-valuemax': 100,
			'aria-valuenow': 0,
			'data-testid': testid,
		}, fill);
	}

	/* fraction 0..1; tone: '', 'done', 'bad', 'muted'. */
	function setProgress(bar, fraction, valueText, tone) {
		const f = Math.max(0, Math.min(1, Number(fraction) || 0));
		setAttr(bar, 'aria-valuenow', Math.floor(f * 100));
		setAttr(bar, 'aria-valuetext', valueText);
		setAttr(bar, 'data-tone', tone || null);
		const width = `${(f * 100).toFixed(2)}%`;
		if (bar.firstElementChild.style.width !== width)
			bar.firstElementChild.style.width = width;
	}

	function scrollBox(label, table) {
		return h('div', { class: 'scroll-x', role: 'region', 'aria-label': label, tabindex: 0 }, table);
	}

	function emptyNote(text, ...more) {
		return h('div', { class: 'empty', 'data-testid': 'empty' }, h('p', null, text), ...more);
	}

	/* ------------------------------------------------------------------ toasts */

	function toast(message, kind = 'ok') {
		const box = $('#toasts');
		const item = h('div', { class: `toast toast-${kind}`, 'data-testid': 'toast', 'data-kind': kind },
			h('span', { class: 'toast-icon', 'aria-hidden': 'true' }, kind === 'error' ? '!' : '✓'),
			h('p', { class: 'toast-text' }, message));
		const close = h('button', {
			type: 'button', class: 'toast-close', 'aria-label': 'Dismiss message', title: 'Dismiss',
		}, '×');
		close.addEventListener('click', () => item.remove());
		item.append(close);
		box.append(item);
		while (box.children.length > TOASTS_MAX)
			box.firstElementChild.remove();
		/* errors stay until dismissed: a message nobody saw is a swallowed error */
		if (kind !== 'error')
			setTimeout(() => item.remove(), TOAST_MS);
	}

	/* ------------------------------------------------------------------ confirmation */

	/* Ask with the page's own dialog; resolves true when the user confirms. */
	function confirmAction({ title, text, yes, no = 'Cancel', danger = false }) {
		const dlg = $('#confirm');
		if (dlg.open)
			return Promise.resolve(false);
		setText($('#confirm-title'), title);
		setText($('#confirm-text'), text);
		const yesBtn = $('#confirm-yes');
		setText(yesBtn, yes);
		yesBtn.className = danger ? 'btn btn-danger' : 'btn btn-primary';
		setText($('#confirm-no'), no);
		const opener = document.activeElement;
		dlg.returnValue = '';
		return new Promise((resolve) => {
			dlg.addEventListener('close', () => {
				resolve(dlg.returnValue === 'yes');
				if (opener && opener.isConnected && typeof opener.focus === 'function')
					opener.focus();
			}, { once: true });
			dlg.showModal();
			(danger ? $('#confirm-no') : yesBtn).focus();
		});
	}

	/* ------------------------------------------------------------------ API token */

	const tokenStore = {
		memory: '',
		get() {
			try {
				return sessionStorage.getItem(TOKEN_KEY) || '';
			} catch {
				return this.memory;
			}
		},
		set(value) {
			this.memory = value;
			try {
				if (value)
					sessionStorage.setItem(TOKEN_KEY, value);
				else
					sessionStorage.removeItem(TOKEN_KEY);
			} catch {
				/* storage disabled: the token lives in memory until the page is closed */
			}
		},
	};

	const auth = {
		rejected: false,

		panelOpen(open) {
			const panel = $('#token-panel');
			show(panel, open);
			setAttr($('#token-toggle'), 'aria-expanded', open ? 'true' : 'false');
		},

		renderState() {
			const el = $('#token-state');
			const has = Boolean(tokenStore.get());
			const state = this.rejected ? 'rejected' : has ? 'set' : 'not set';
			setText(el, state);
			el.dataset.state = state.replace(' ', '-');
		},

		/* The server answered 401: say so, open the token field and put the cursor there. */
		require() {
			const has = Boolean(tokenStore.get());
			this.rejected = has;
			this.renderState();
			const msg = $('#token-message');
			setText(msg, has
				? 'The API token is missing or wrong: ferryd rejected the token saved in this tab. Paste the right one and press Save.'
				: 'The API token is missing or wrong: this ferryd requires one and none is set. Paste it below and press Save.');
			show(msg, true);
			this.panelOpen(true);
			const input = $('#token-input');
			input.setAttribute('aria-invalid', 'true');
			input.focus();
		},

		init() {
			const input = $('#token-input');
			input.value = tokenStore.get();
			this.renderState();
			$('#token-toggle').addEventListener('click', () => {
				const open = $('#token-panel').hidden;
				this.panelOpen(open);
				if (open)
					input.focus();
			});
			$('#token-form').addEventListener('submit', (ev) => {
				ev.preventDefault();
				const value = input.value.trim();
				const msg = $('#token-message');
				if (!value) {
					setText(msg, 'Paste a token first, or press Forget to remove the saved one.');
					show(msg, true);
					input.focus();
					return;
				}
				if (!/^[\x21-\x7e]+$/.test(value)) {
					setText(msg, 'A token is printable ASCII without spaces; check what was pasted.');
					show(msg, true);
					input.focus();
					return;
				}
				tokenStore.set(value);
				input.value = value;
				input.removeAttribute('aria-invalid');
				this.rejected = false;
				this.renderState();
				show(msg, false);
				this.panelOpen(false);
				toast('API token saved for this browser tab.');
				router.reload();
			});
			$('#token-clear').addEventListener('click', () => {
				tokenStore.set('');
				input.value = '';
				this.rejected = false;
				this.renderState();
				toast('API token forgotten.');
				router.reload();
			});
			document.addEventListener('keydown', (ev) => {
				if (ev.key === 'Escape' && !$('#token-panel').hidden && $('#token-panel').contains(document.activeElement)) {
					this.panelOpen(false);
					$('#token-toggle').focus();
				}
			});
		},
	};

	/* ------------------------------------------------------------------ API client */

	class ApiError extends Error {
		constructor(status, code, message, field) {
			super(message);
			this.name = 'ApiError';
			this.status = status;
			this.code = code;
			this.field = field;
		}
	}

	const isAbort = (err) => err && err.name === 'AbortError';

	/*
	 * Call /api/v1 + path. Resolves to the parsed JSON body; rejects with an
	 * ApiError carrying the server's error code and message (status 0 when
	 * the server could not be reached), or with an AbortError.
	 */
	async function api(method, path, opts = {}) {
		const headers = { Accept: 'application/json' };
		const token = tokenStore.get();
		if (token)
			headers.Authorization = `Bearer ${token}`;
		const init = { method, headers, signal: opts.signal, cache: 'no-store' };
		if (opts.body !== undefined) {
			headers['Content-Type'] = 'application/json';
			init.body = JSON.stringify(opts.body);
		}
		let res;
		let text;
		try {
			res = await fetch(`/api/v1${path}`, init);
			text = await res.text();
		} catch (err) {
			if (isAbort(err))
				throw err;
			throw new ApiError(0, 'network', `could not reach ferryd (${err.message})`);
		}
		let doc = null;
		try {
			doc = text ? JSON.parse(text) : null;
		} catch {
			doc = null;
		}
		if (!res.ok) {
			const e = doc && doc.error ? doc.error : {};
			const message = e.message || `HTTP ${res.status}${res.statusText ? ` ${res.statusText}` : ''}`;
			throw new ApiError(res.status, e.code || `http_${res.status}`, message, e.field);
		}
		if (doc === null || typeof doc !== 'object')
			throw new ApiError(res.status, 'bad_response', `unexpected answer from ${path}: not JSON`);
		return doc;
	}

	/* Show an API failure to the user: never drop it on the floor. */
	function reportError(err, what) {
		if (isAbort(err))
			return;
		if (err && err.status === 401)
			auth.require();
		toast(`${what}: ${err && err.message ? err.message : String(err)}`, 'error');
	}

	/* ------------------------------------------------------------------ actions */

	async function runNow(jobRef, jobName, button) {
		const ok = await confirmAction({
			title: 'Start a run?',
			text: `Start a new run of job “${jobName}” now? It loads every table the job includes.`,
			yes: 'Run now',
		});
		if (!ok)
			return;
		button.disabled = true;
		button.setAttribute('aria-busy', 'true');
		try {
			const run = await api('POST', `/jobs/${encodeURIComponent(jobRef)}/runs`);
			toast(`Started run ${shortId(run.id)} of ${jobName}.`);
			location.hash = `#/runs/${run.id}`;
		} catch (err) {
			reportError(err, `Could not start a run of ${jobName}`);
		} finally {
			button.disabled = false;
			button.removeAttribute('aria-busy');
		}
	}

	async function cancelRun(run, button) {
		const ok = await confirmAction({
			title: 'Cancel this run?',
			text: `Stop run ${shortId(run.id)} of ${run.job_name}? Tables already loaded stay loaded; the others are left as they were.`,
			yes: 'Cancel run',
			no: 'Keep running',
			danger: true,
		});
		if (!ok)
			return;
		button.disabled = true;
		button.setAttribute('aria-busy', 'true');
		try {
			const r = await api('POST', `/runs/${encodeURIComponent(run.id)}/cancel`);
			toast(r.state === 'cancelled' ? `Run ${shortId(run.id)} cancelled.`
				: `Cancelling run ${shortId(run.id)}…`);
		} catch (err) {
			reportError(err, `Could not cancel run ${shortId(run.id)}`);
		} finally {
			button.disabled = false;
			button.removeAttribute('aria-busy');
			router.kick();
		}
	}

	async function retryRun(run, button) {
		const ok = await confirmAction({
			title: 'Retry the tables that did not load?',
			text: `Start a new run of job “${run.job_name}” with only the tables of run ${shortId(run.id)} that did not load?`,
			yes: 'Retry',
		});
		if (!ok)
			return;
		button.disabled = true;
		button.setAttribute('aria-busy', 'true');
		try {
			const r = await api('POST', `/runs/${encodeURIComponent(run.id)}/retry`);
			toast(`Started run ${shortId(r.id)}, retrying ${r.tables_requested ? r.tables_requested.length : 'the'} tables.`);
			location.hash = `#/runs/${r.id}`;
		} catch (err) {
			reportError(err, `Could not retry run ${shortId(run.id)}`);
		} finally {
			button.disabled = false;
			button.removeAttribute('aria-busy');
		}
	}

	function runNowButton(jobRef, jobName, extraClass) {
		const b = h('button', {
			type: 'button', class: `btn btn-primary ${extraClass || ''}`.trim(), 'data-testid': 'run-now',
			'aria-label': `Run ${jobName} now`,
		}, h('span', { class: 'btn-icon', 'aria-hidden': 'true' }, '▶'), 'Run now');
		b.addEventListener('click', () => runNow(jobRef, jobName, b));
		return b;
	}

	/* ------------------------------------------------------------------ views */

	/*
	 * A view owns its element (el), loads and renders its data in refresh(),
	 * says in wantsPoll() whether what it shows can still change, and shows
	 * a failure in failed(err). dispose() aborts its requests.
	 */
	class View {
		constructor(title) {
			this.ac = new AbortController();
			this.loaded = false;
			this.heading = h('h1', { tabindex: -1 }, title);
			this.notice = h('div', { class: 'notice', role: 'alert', 'data-testid': 'view-notice', hidden: true });
			this.body = h('div', { class: 'view-body', 'aria-busy': 'true' }, h('p', { class: 'loading' }, 'Loading…'));
		}

		get signal() {
			return this.ac.signal;
		}

		dispose() {
			this.ac.abort();
		}

		wantsPoll() {
			return false;
		}

		/* The data arrived: clear an earlier failure notice. */
		ok() {
			this.loaded = true;
			this.body.removeAttribute('aria-busy');
			show(this.notice, false);
		}

		/* retryMs: when the page will try again by itself, or 0. */
		failed(err, retryMs) {
			this.body.removeAttribute('aria-busy');
			if (err.status === 401) {
				auth.require();
				this.notice.replaceChildren(
					h('strong', null, 'Sign-in needed. '),
					'The API token is missing or wrong, so ferryd refused to answer. Enter it under ',
					h('button', { type: 'button', class: 'linklike', onclick: () => auth.require() }, 'API token'),
					'; the page loads as soon as it is saved.');
				show(this.notice, true);
				if (!this.loaded)
					this.body.replaceChildren();
				return;
			}
			if (!this.loaded) {
				this.notice.replaceChildren(
					h('strong', null, err.status === 404 ? 'Not found. ' : 'Could not load this page. '),
					err.message, ' ',
					h('button', { type: 'button', class: 'linklike', onclick: () => router.reload() }, 'Try again'));
				show(this.notice, true);
				this.body.replaceChildren();
				return;
			}
			this.notice.replaceChildren(
				h('strong', null, 'Live updates interrupted. '),
				err.message,
				retryMs ? ` Trying again in ${Math.round(retryMs / 1000)} s.` : ' ',
				retryMs ? '' : h('button', { type: 'button', class: 'linklike', onclick: () => router.reload() }, 'Reload'));
			show(this.notice, true);
		}
	}

	/* #/ — every job with its last run and a Run now button. */
	class JobsView extends View {
		constructor() {
			super('Jobs');
			this.title = 'Jobs';
			this.limit = JOBS_PAGE;
			this.jobs = null;
			this.summary = h('p', { class: 'subtitle', 'data-testid': 'jobs-summary' });
			this.el = h('section', { class: 'view', 'aria-labelledby': 'view-title' },
				h('div', { class: 'page-head' }, h('div', { class: 'page-title' }, this.heading, this.summary)),
				this.notice, this.body);
			this.heading.id = 'view-title';
		}

		wantsPoll() {
			return Boolean(this.jobs && this.jobs.some((j) => j.last_run && ACTIVE.has(j.last_run.state)));
		}

		async refresh() {
			const doc = await api('GET', `/jobs?limit=${this.limit}`, { signal: this.signal });
			this.jobs = doc.items;
			this.total = doc.total;
			this.render();
			this.ok();
		}

		render() {
			const active = this.jobs.filter((j) => j.last_run && ACTIVE.has(j.last_run.state)).length;
			setText(this.summary, `${numberFmt.format(this.total)} ${this.total === 1 ? 'job' : 'jobs'}` +
				(active ? ` · ${active} running` : ''));
			if (!this.jobs.length) {
				if (!this.body.querySelector('.empty'))
					this.body.replaceChildren(emptyNote('No jobs yet.',
						h('p', { class: 'hint' }, 'Create one with ', h('code', null, 'POST /api/v1/jobs'),
							'; see ', h('a', { href: '/openapi.yaml' }, 'the API contract'), '.')));
				return;
			}
			if (!this.tbody) {
				this.tbody = h('tbody');
				this.more = h('div', { class: 'list-foot' });
				const table = h('table', { class: 'grid reflow jobs', 'data-testid': 'jobs-table' },
					h('caption', { class: 'visually-hidden' }, 'Jobs, their load mode and last run'),
					h('thead', null, h('tr', null,
						h('th', { scope: 'col' }, 'Job'),
						h('th', { scope: 'col' }, 'Load mode'),
						h('th', { scope: 'col' }, 'Last run'),
						h('th', { scope: 'col', class: 'col-action' }, h('span', { class: 'visually-hidden' }, 'Actions')))),
					this.tbody);
				this.body.replaceChildren(h('div', { class: 'card' }, scrollBox('Jobs', table)), this.more);
			}
			syncRows(this.tbody, this.jobs, (j) => j.id, (j) => this.row(j), (tr, j) => this.update(tr, j));
			this.renderMore();
		}

		row(j) {
			const href = `#/jobs/${encodeURIComponent(j.name)}`;
			const p = {
				name: h('a', { href, class: 'strong-link' }, j.name),
				include: h('span', { class: 'sub' }),
				mode: h('span', { class: 'mode' }),
				state: badge(null, 'job-last-state'),
				when: timeEl(null, 'relative'),
				runLink: h('a', { class: 'run-link' }),
			};
			p.runLink.append(p.state);
			const tr = h('tr', { 'data-testid': 'job-row', 'data-job': j.name },
				h('th', { scope: 'row' }, p.name, p.include),
				h('td', { 'data-label': 'Load mode' }, p.mode),
				h('td', { 'data-label': 'Last run' }, h('span', { class: 'last-run' }, p.runLink, p.when)),
				h('td', { class: 'col-action' }, runNowButton(j.id, j.name, 'btn-small')));
			parts.set(tr, p);
			return tr;
		}

		update(tr, j) {
			const p = parts.get(tr);
			setText(p.include, j.include.join(', '));
			setText(p.mode, j.load.mode);
			const last = j.last_run;
			setBadge(p.state, last ? last.state : null);
			if (last) {
				setAttr(p.runLink, 'href', `#/runs/${last.id}`);
				setAttr(p.runLink, 'aria-label', `Last run: ${last.state}`);
			} else {
				setAttr(p.runLink, 'href', null);
				setAttr(p.runLink, 'aria-label', null);
			}
			updateTime(p.when, last ? last.finished_at || last.created_at : null, 'relative');
			show(p.when, Boolean(last));
		}

		renderMore() {
			const sig = `${this.jobs.length}/${this.total}/${this.limit}`;
			if (this.more.dataset.sig === sig)
				return;
			this.more.dataset.sig = sig;
			this.more.replaceChildren();
			if (this.total <= this.jobs.length)
				return;
			this.more.append(h('p', { class: 'hint' },
				`Showing ${numberFmt.format(this.jobs.length)} of ${numberFmt.format(this.total)} jobs.`));
			if (this.limit < LIST_MAX)
				this.more.append(h('button', {
					type: 'button', class: 'btn', onclick: () => {
						this.limit = Math.min(LIST_MAX, this.limit + JOBS_PAGE);
						router.kick();
					},
				}, 'Show more jobs'));
		}
	}

	/* #/jobs/<name or id> — one job and its run history. */
	class JobView extends View {
		constructor(ref) {
			super(ref);
			this.ref = ref;
			this.title = ref;
			this.limit = RUNS_PAGE;
			this.job = null;
			this.runs = null;
			this.actions = h('div', { class: 'page-actions' });
			this.meta = h('dl', { class: 'facts', 'data-testid': 'job-facts' });
			this.el = h('section', { class: 'view', 'aria-labelledby': 'view-title' },
				h('nav', { class: 'crumbs', 'aria-label': 'Breadcrumb' }, h('ol', null,
					h('li', null, h('a', { href: '#/' }, 'Jobs')),
					h('li', { 'aria-current': 'page' }, ref))),
				h('div', { class: 'page-head' }, h('div', { class: 'page-title' }, this.heading), this.actions),
				this.notice, this.body);
			this.heading.id = 'view-title';
		}

		wantsPoll() {
			return Boolean(this.runs && this.runs.some((r) => ACTIVE.has(r.state)));
		}

		async refresh() {
			const ref = encodeURIComponent(this.ref);
			const [job, runs] = await Promise.all([
				api('GET', `/jobs/${ref}`, { signal: this.signal }),
				api('GET', `/jobs/${ref}/runs?limit=${this.limit}`, { signal: this.signal }),
			]);
			this.job = job;
			this.runs = runs.items;
			this.total = runs.total;
			this.render();
			this.ok();
		}

		render() {
			const job = this.job;
			this.title = job.name;
			setText(this.heading, job.name);
			if (!this.actions.firstChild)
				this.actions.append(runNowButton(job.id, job.name));
			if (!this.tbody) {
				this.tbody = h('tbody');
				this.count = h('span', { class: 'count' });
				this.more = h('div', { class: 'list-foot' });
				this.emptyRuns = emptyNote('This job has not run yet. Press Run now to start it.');
				this.table = h('table', { class: 'grid reflow runs', 'data-testid': 'runs-table' },
					h('caption', { class: 'visually-hidden' }, `Runs of ${job.name}, newest first`),
					h('thead', null, h('tr', null,
						h('th', { scope: 'col' }, 'Run'),
						h('th', { scope: 'col' }, 'State'),
						h('th', { scope: 'col' }, 'Trigger'),
						h('th', { scope: 'col' }, 'Created'),
						h('th', { scope: 'col', class: 'num' }, 'Elapsed'),
						h('th', { scope: 'col', class: 'num' }, 'Tables loaded'),
						h('th', { scope: 'col', class: 'num' }, 'Rows'))),
					this.tbody);
				this.tableCard = h('div', { class: 'card' }, scrollBox('Run history', this.table));
				this.body.replaceChildren(
					h('div', { class: 'card card-pad' }, this.meta),
					h('section', { class: 'section', 'aria-labelledby': 'runs-title' },
						h('h2', { id: 'runs-title' }, 'Run history ', this.count),
						this.emptyRuns, this.tableCard, this.more));
			}
			this.renderFacts(job);
			setText(this.count, `${numberFmt.format(this.total)}`);
			show(this.emptyRuns, this.runs.length === 0);
			show(this.tableCard, this.runs.length > 0);
			syncRows(this.tbody, this.runs, (r) => r.id, (r) => this.row(r), (tr, r) => this.update(tr, r));
			this.renderMore();
		}

		renderFacts(job) {
			const load = job.load;
			const facts = [
				['Source', h('code', { class: 'dsn' }, job.source.dsn)],
				['Target', h('code', { class: 'dsn' }, job.target.dsn)],
				['Include', job.include.join(', ')],
				job.exclude.length ? ['Exclude', job.exclude.join(', ')] : null,
				['Load', `${load.mode} · ${load.parallel} in parallel · validate ${load.validate}` +
					(load.create ? ' · creates tables' : '')],
				['Retry', job.retry.attempts ? `${job.retry.attempts} more attempts, ${job.retry.delay_s} s apart` : 'no retries'],
				Object.keys(job.tables).length ? ['Table options', h('ul', { class: 'plain' },
					Object.entries(job.tables).map(([src, o]) => h('li', null, h('code', null, src),
						o.target ? [' → ', h('code', null, o.target)] : null,
						o.where ? [' where ', h('code', null, o.where)] : null)))] : null,
			].filter(Boolean);
			const sig = JSON.stringify([job.id, job.updated_at]);
			if (this.meta.dataset.sig === sig)
				return;
			this.meta.dataset.sig = sig;
			this.meta.replaceChildren(...facts.map(([k, v]) => h('div', null, h('dt', null, k), h('dd', null, v))));
		}

		row(r) {
			const p = {
				link: h('a', { href: `#/runs/${r.id}`, class: 'mono strong-link', 'aria-label': `Run ${shortId(r.id)}` }, shortId(r.id)),
				state: badge(r.state, 'run-row-state'),
				trigger: h('td', { 'data-label': 'Trigger' }),
				created: timeEl(null, 'datetime'),
				elapsed: h('td', { class: 'num', 'data-label': 'Elapsed' }),
				tables: h('td', { class: 'num', 'data-label': 'Tables loaded' }),
				rows: h('td', { class: 'num', 'data-label': 'Rows' }),
			};
			const tr = h('tr', { 'data-testid': 'run-row', 'data-run': r.id },
				h('th', { scope: 'row' }, p.link),
				h('td', { 'data-label': 'State' }, p.state),
				p.trigger,
				h('td', { 'data-label': 'Created' }, p.created),
				p.elapsed, p.tables, p.rows);
			parts.set(tr, p);
			return tr;
		}

		update(tr, r) {
			const p = parts.get(tr);
			setBadge(p.state, r.state);
			setText(p.trigger, r.trigger);
			updateTime(p.created, r.created_at, 'datetime');
			setText(p.elapsed, fmtDuration(r.elapsed_ms));
			setText(p.tables, `${fmtInt(r.tables.loaded)} / ${fmtInt(r.tables.total)}`);
			setText(p.rows, fmtInt(r.rows));
		}

		renderMore() {
			const sig = `${this.runs.length}/${this.total}/${this.limit}`;
			if (this.more.dataset.sig === sig)
				return;
			this.more.dataset.sig = sig;
			this.more.replaceChildren();
			if (this.total > this.runs.length) {
				this.more.append(h('p', { class: 'hint' },
					`Showing the newest ${numberFmt.format(this.runs.length)} of ${numberFmt.format(this.total)} runs.`));
				if (this.limit < LIST_MAX)
					this.more.append(h('button', {
						type: 'button', class: 'btn', onclick: () => {
							this.limit = Math.min(LIST_MAX, this.limit + RUNS_PAGE * 4);
							router.kick();
						},
					}, 'Show more runs'));
			}
		}
	}

	/* #/runs/<id> — one run: totals, per-table progress and the event log. */
	class RunView extends View {
		constructor(id) {
			super(`Run ${shortId(id)}`);
			this.id = id;
			this.title = `Run ${shortId(id)}`;
			this.run = null;
			this.tables = null;
			this.after = 0;
			this.eventCount = 0;
			this.moreEvents = false;
			this.sawActive = false;
			this.finalDone = false;
			this.jobCrumb = h('a', { href: '#/' }, '…');
			this.state = badge('queued', 'run-state');
			this.state.hidden = true;
			this.actions = h('div', { class: 'page-actions' });
			this.el = h('section', { class: 'view', 'aria-labelledby': 'view-title' },
				h('nav', { class: 'crumbs', 'aria-label': 'Breadcrumb' }, h('ol', null,
					h('li', null, h('a', { href: '#/' }, 'Jobs')),
					h('li', null, this.jobCrumb),
					h('li', { 'aria-current': 'page' }, h('span', { class: 'mono' }, shortId(id))))),
				h('div', { class: 'page-head' },
					h('div', { class: 'page-title' }, this.heading,
						h('span', { class: 'state-live', 'aria-live': 'polite', 'aria-atomic': 'true' }, this.state)),
					this.actions),
				this.notice, this.body);
			this.heading.id = 'view-title';
		}

		wantsPoll() {
			if (!this.run)
				return false;
			if (ACTIVE.has(this.run.state) || this.moreEvents)
				return true;
			/* one more look after the run finished, for its last events and counters */
			return this.sawActive && !this.finalDone;
		}

		async refresh() {
			const id = encodeURIComponent(this.id);
			const finishedBefore = this.run && !ACTIVE.has(this.run.state);
			const [run, tables, events] = await Promise.all([
				api('GET', `/runs/${id}`, { signal: this.signal }),
				api('GET', `/runs/${id}/tables`, { signal: this.signal }),
				this.fetchEvents(),
			]);
			if (ACTIVE.has(run.state))
				this.sawActive = true;
			else if (finishedBefore)
				this.finalDone = true;
			this.run = run;
			this.tables = tables.items;
			this.render();
			this.appendEvents(events);
			this.ok();
		}

		/* The events after the last one shown, a few pages at most per refresh. */
		async fetchEvents() {
			const id = encodeURIComponent(this.id);
			const out = [];
			let after = this.after;
			this.moreEvents = false;
			for (let page = 0; page < EVENTS_PAGES_PER_TICK; page++) {
				const doc = await api('GET', `/runs/${id}/events?after=${after}&limit=${EVENTS_PAGE}`,
					{ signal: this.signal });
				out.push(...doc.items);
				after = doc.next_after;
				if (doc.items.length < EVENTS_PAGE)
					return out;
			}
			this.moreEvents = true;
			return out;
		}

		render() {
			const run = this.run;
			this.title = `Run ${shortId(run.id)} · ${run.job_name} · ${run.state}`;
			document.title = `${this.title} — ferry`;
			setText(this.jobCrumb, run.job_name);
			setAttr(this.jobCrumb, 'href', `#/jobs/${encodeURIComponent(run.job_name)}`);
			this.state.hidden = false;
			setBadge(this.state, run.state);
			this.renderActions(run);
			if (!this.summary)
				this.build();
			this.renderSummary(run);
			syncRows(this.tbody, this.tables, (t) => t.source, (t) => this.tableRow(t), (tr, t) => this.updateTable(tr, t));
			setText(this.tableCount, numberFmt.format(this.tables.length));
		}

		renderActions(run) {
			const retryable = (run.state === 'failed' || run.state === 'cancelled') &&
				run.tables.loaded + run.tables.skipped < run.tables.total;
			if (retryable && !this.retryBtn) {
				this.retryBtn = h('button', { type: 'button', class: 'btn', 'data-testid': 'retry-run' },
					h('span', { class: 'btn-icon', 'aria-hidden': 'true' }, '↻'), 'Retry failed tables');
				this.retryBtn.addEventListener('click', () => retryRun(this.run, this.retryBtn));
				this.actions.append(this.retryBtn);
			} else if (!retryable && this.retryBtn) {
				this.retryBtn.remove();
				this.retryBtn = null;
			}
			const can = CANCELLABLE.has(run.state);
			if (can && !this.cancelBtn) {
				this.cancelBtn = h('button', { type: 'button', class: 'btn btn-danger', 'data-testid': 'cancel-run' },
					h('span', { class: 'btn-icon', 'aria-hidden': 'true' }, '■'), 'Cancel run');
				this.cancelBtn.addEventListener('click', () => cancelRun(this.run, this.cancelBtn));
				this.actions.append(this.cancelBtn);
			} else if (!can && this.cancelBtn) {
				const hadFocus = this.cancelBtn.contains(document.activeElement);
				this.cancelBtn.remove();
				this.cancelBtn = null;
				if (hadFocus)
					this.heading.focus();
			}
		}

		build() {
			const stat = (label, testid) => {
				const dd = h('dd', { 'data-testid': testid });
				return [h('div', { class: 'stat' }, h('dt', null, label), dd), dd];
			};
			const [sStarted, started] = stat('Started', 'run-started');
			const [sElapsed, elapsed] = stat('Elapsed', 'run-elapsed');
			const [sRows, rows] = stat('Rows', 'run-rows');
			const [sBytes, bytes] = stat('Bytes', 'run-bytes');
			const [sTrigger, trigger] = stat('Trigger', 'run-trigger');
			this.startedTime = timeEl(null, 'datetime');
			started.append(this.startedTime);
			this.elapsed = elapsed;
			this.rows = rows;
			this.bytes = bytes;
			this.trigger = trigger;

			this.bar = progressBar('Run progress', 'run-progress', true);
			this.percent = h('span', { class: 'percent', 'data-testid': 'run-percent' });
			this.etaText = h('span');
			this.finishedTime = timeEl(null, 'relative');
			this.eta = h('span', { class: 'eta', 'data-testid': 'run-eta' }, this.etaText, ' ', this.finishedTime);
			this.tablesLoaded = h('span', { class: 'tables-loaded' });
			this.counts = {};
			const chips = h('ul', { class: 'chips', 'data-testid': 'run-table-counts', 'aria-label': 'Tables by state' },
				TABLE_COUNTS.map((s) => {
					const n = h('span', { class: 'chip-n', 'data-testid': `count-${s}` });
					this.counts[s] = n;
					return h('li', { class: `chip chip-${s}`, 'data-state': s }, n, ` ${s}`);
				}));
			this.errorBox = h('div', { class: 'callout callout-error', 'data-testid': 'run-error', hidden: true });

			this.summary = h('div', { class: 'card card-pad summary' },
				h('div', { class: 'progress-head' },
					h('div', { class: 'progress-figures' }, this.percent, this.tablesLoaded),
					this.eta),
				this.bar,
				chips,
				h('dl', { class: 'stats' }, sStarted, sElapsed, sRows, sBytes, sTrigger),
				this.errorBox);

			this.tbody = h('tbody');
			this.tableCount = h('span', { class: 'count' });
			const tables = h('table', { class: 'grid reflow run-tables', 'data-testid': 'tables-table' },
				h('caption', { class: 'visually-hidden' }, 'Tables of this run and their progress'),
				h('thead', null, h('tr', null,
					h('th', { scope: 'col' }, 'Table'),
					h('th', { scope: 'col' }, 'State'),
					h('th', { scope: 'col', class: 'col-progress' }, 'Progress'),
					h('th', { scope: 'col', class: 'num' }, 'Rows'),
					h('th', { scope: 'col', class: 'num' }, 'Rows/s'),
					h('th', { scope: 'col', class: 'num' }, 'Elapsed'),
					h('th', { scope: 'col', class: 'num' }, 'Attempts'))),
				this.tbody);

			this.eventsBody = h('tbody');
			this.eventCountEl = h('span', { class: 'count' });
			this.eventsTrimmed = h('p', { class: 'hint', hidden: true }, 'Older events are not shown here; the API has all of them.');
			this.eventsEmpty = h('p', { class: 'hint events-empty' }, 'No events yet.');
			this.log = h('div', {
				class: 'log', role: 'log', 'aria-label': 'Event log', 'aria-live': 'polite', tabindex: 0,
				'data-testid': 'event-log',
			}, h('table', { class: 'grid reflow events' },
				h('caption', { class: 'visually-hidden' }, 'Event log, oldest first'),
				h('thead', null, h('tr', null,
					h('th', { scope: 'col' }, 'Time'),
					h('th', { scope: 'col' }, 'Level'),
					h('th', { scope: 'col' }, 'Table'),
					h('th', { scope: 'col' }, 'Message'))),
				this.eventsBody));

			this.body.replaceChildren(
				this.summary,
				h('section', { class: 'section', 'aria-labelledby': 'tables-title' },
					h('h2', { id: 'tables-title' }, 'Tables ', this.tableCount),
					h('div', { class: 'card' }, scrollBox('Tables of this run', tables))),
				h('section', { class: 'section', 'aria-labelledby': 'events-title' },
					h('h2', { id: 'events-title' }, 'Events ', this.eventCountEl),
					h('div', { class: 'card' }, this.eventsTrimmed, this.eventsEmpty, this.log)));
		}

		renderSummary(run) {
			const active = ACTIVE.has(run.state);
			const tone = run.state === 'succeeded' ? 'done'
				: run.state === 'failed' ? 'bad'
					: run.state === 'cancelled' || run.state === 'cancelling' || run.state === 'skipped' ? 'muted' : '';
			/* a run that ended early moved only part of the rows, whatever its progress says */
			const fraction = run.state === 'succeeded' ? 1 : active ? run.progress
				: run.rows_estimate > 0 ? Math.min(run.rows / run.rows_estimate, 1) : 0;
			setProgress(this.bar, fraction,
				`${pct(fraction)}, ${fmtInt(run.rows)} of about ${fmtInt(run.rows_estimate)} rows`, tone);
			setText(this.percent, pct(fraction));
			setText(this.tablesLoaded, `${fmtInt(run.tables.loaded)} of ${fmtInt(run.tables.total)} tables loaded`);
			setText(this.etaText, active ? (run.state === 'queued' ? 'Waiting for a worker'
				: run.state === 'cancelling' ? 'Stopping workers…'
					: run.eta_s === null ? 'Estimating time left…' : `ETA ${fmtEta(run.eta_s)}`)
				: `Finished`);
			updateTime(this.finishedTime, active ? null : run.finished_at, 'relative');
			show(this.finishedTime, !active && Boolean(run.finished_at));
			for (const s of TABLE_COUNTS) {
				const n = run.tables[s] || 0;
				setText(this.counts[s], fmtInt(n));
				setAttr(this.counts[s].parentElement, 'data-zero', n === 0 ? 'true' : null);
			}
			show(this.counts.skipped.parentElement, run.tables.skipped > 0);
			updateTime(this.startedTime, run.started_at, 'datetime');
			setText(this.elapsed, fmtDuration(run.elapsed_ms));
			setText(this.rows, run.rows_estimate && active
				? `${fmtInt(run.rows)} of ~${fmtInt(run.rows_estimate)}` : fmtInt(run.rows));
			setText(this.bytes, fmtBytes(run.bytes));
			setText(this.trigger, run.trigger);
			const err = run.error && run.state !== 'succeeded' ? run.error : '';
			setText(this.errorBox, err);
			setAttr(this.errorBox, 'data-state', run.state);
			setAttr(this.errorBox, 'class', run.state === 'failed' ? 'callout callout-error' : 'callout');
			show(this.errorBox, Boolean(err));
		}

		tableRow(t) {
			const p = {
				target: h('span', { class: 'target' }),
				state: badge(t.state, 'table-state'),
				bar: progressBar(`Progress of ${t.source}`, 'table-progress', false),
				percent: h('span', { class: 'bar-label' }),
				rows: h('span'),
				estimate: h('span', { class: 'sub' }),
				rate: h('td', { class: 'num', 'data-label': 'Rows/s' }),
				elapsed: h('td', { class: 'num', 'data-label': 'Elapsed' }),
				attempts: h('td', { class: 'num', 'data-label': 'Attempts' }),
				error: h('p', { class: 'table-error', 'data-testid': 'table-error', hidden: true }),
				validation: h('p', { class: 'sub validation', hidden: true }),
			};
			const tr = h('tr', { 'data-testid': 'table-row', 'data-table': t.source },
				h('th', { scope: 'row', class: 'col-table' },
					t.parent ? h('span', { class: 'sub partition-of', 'data-testid': 'table-parent' }, `partition of ${t.parent}`) : null,
					h('span', { class: 'names' }, h('span', { class: 'source' }, t.source),
						h('span', { class: 'arrow', 'aria-label': 'into' }, ' → '), p.target),
					p.error, p.validation),
				h('td', { class: 'col-state', 'data-label': 'State' }, p.state),
				h('td', { class: 'col-progress', 'data-label': 'Progress' }, h('div', { class: 'bar-wrap' }, p.bar, p.percent)),
				h('td', { class: 'num', 'data-label': 'Rows' }, p.rows, p.estimate),
				p.rate, p.elapsed, p.attempts);
			parts.set(tr, p);
			return tr;
		}

		updateTable(tr, t) {
			const p = parts.get(tr);
			setAttr(tr, 'data-state', t.state);
			setText(p.target, t.target);
			setBadge(p.state, t.state);
			let fraction;
			if (t.state === 'loaded')
				fraction = 1;
			else if (t.rows_estimate > 0)
				fraction = Math.min(t.rows / t.rows_estimate, 0.99);
			else
				fraction = 0;
			const tone = t.state === 'loaded' ? 'done' : t.state === 'errored' ? 'bad'
				: t.state === 'loading' ? '' : 'muted';
			setProgress(p.bar, fraction, `${pct(fraction)}, ${fmtInt(t.rows)} of about ${fmtInt(t.rows_estimate)} rows`, tone);
			setText(p.percent, pct(fraction));
			setText(p.rows, fmtInt(t.rows));
			setText(p.estimate, t.state === 'loaded' ? '' : `of ~${fmtInt(t.rows_estimate)}`);
			show(p.estimate, t.state !== 'loaded');
			setText(p.rate, fmtRate(t.rows_per_s));
			setText(p.elapsed, fmtDuration(t.elapsed_ms));
			setText(p.attempts, fmtInt(t.attempts));
			const err = t.error && t.state !== 'loaded' ? t.error : '';
			setText(p.error, err);
			setAttr(p.error, 'data-tone', t.state === 'errored' ? 'bad' : 'muted');
			show(p.error, Boolean(err));
			const v = t.validation;
			const vtext = v && v.state !== 'skipped'
				? `validation ${v.state}: ${fmtInt(v.source_rows)} source, ${fmtInt(v.target_rows)} target rows` : '';
			setText(p.validation, vtext);
			show(p.validation, Boolean(vtext));
		}

		appendEvents(events) {
			if (!events.length)
				return;
			const log = this.log;
			const atEnd = log.scrollHeight - log.scrollTop - log.clientHeight < 40;
			const frag = document.createDocumentFragment();
			for (const ev of events) {
				if (ev.id <= this.after)
					continue;
				this.after = ev.id;
				this.eventCount++;
				frag.append(h('tr', { 'data-testid': 'event-row', 'data-level': ev.level, 'data-id': ev.id },
					h('td', { class: 'ev-time' }, timeEl(ev.at, 'time')),
					h('td', null, h('span', { class: `level level-${ev.level}` }, ev.level)),
					h('td', { class: 'ev-table' }, ev.table || h('span', { class: 'sub' }, 'run')),
					h('td', { class: 'ev-msg', title: ev.kind }, ev.message)));
			}
			this.eventsBody.append(frag);
			let trimmed = false;
			while (this.eventsBody.children.length > EVENTS_SHOWN_MAX) {
				this.eventsBody.firstElementChild.remove();
				trimmed = true;
			}
			if (trimmed)
				show(this.eventsTrimmed, true);
			show(this.eventsEmpty, this.eventCount === 0);
			setText(this.eventCountEl, numberFmt.format(this.eventCount));
			if (atEnd)
				log.scrollTop = log.scrollHeight;
		}
	}

	class NotFoundView extends View {
		constructor(path) {
			super('Page not found');
			this.title = 'Not found';
			this.heading.id = 'view-title';
			this.el = h('section', { class: 'view', 'aria-labelledby': 'view-title' },
				h('div', { class: 'page-head' }, h('div', { class: 'page-title' }, this.heading)),
				emptyNote(`Nothing lives at “${path}”.`, h('p', null, h('a', { href: '#/' }, 'Go to the jobs list'))));
		}

		async refresh() {
			this.ok();
		}
	}

	/* ------------------------------------------------------------------ router and polling */

	function safeDecode(s) {
		try {
			return decodeURIComponent(s);
		} catch {
			return s;
		}
	}

	function parseRoute(hash) {
		const path = hash.replace(/^#/, '') || '/';
		let m;
		if (path === '/')
			return { name: 'jobs', make: () => new JobsView() };
		if ((m = /^\/jobs\/([^/]+)\/?$/.exec(path)))
			return { name: 'job', make: () => new JobView(safeDecode(m[1])) };
		if ((m = /^\/runs\/([^/]+)\/?$/.exec(path)))
			return { name: 'run', make: () => new RunView(safeDecode(m[1])) };
		return { name: 'notfound', make: () => new NotFoundView(path) };
	}

	/*
	 * One refresh loop for the current view: a refresh starts only after the
	 * previous one ended, repeats every POLL_MS while the view says its data
	 * can still change, backs off after failures, and sleeps while the tab
	 * is hidden. Changing the view aborts the old view's requests.
	 */
	const router = {
		view: null,
		gen: 0,
		timer: 0,
		busy: false,
		again: false,
		failures: 0,

		open(focus) {
			if (this.view)
				this.view.dispose();
			clearTimeout(this.timer);
			this.timer = 0;
			this.gen++;
			this.busy = false;
			this.again = false;
			this.failures = 0;
			const route = parseRoute(location.hash);
			this.view = route.make();
			$('#view').replaceChildren(this.view.el);
			document.title = `${this.view.title} — ferry`;
			for (const a of document.querySelectorAll('[data-nav]'))
				setAttr(a, 'aria-current', a.dataset.nav === 'jobs' && route.name === 'jobs' ? 'page' : null);
			if (focus)
				this.view.heading.focus({ preventScroll: false });
			this.tick(this.gen);
		},

		reload() {
			this.open(false);
		},

		/* Refresh now (after an action), or right after the refresh under way. */
		kick() {
			if (this.busy)
				this.again = true;
			else
				this.tick(this.gen);
		},

		async tick(gen) {
			if (gen !== this.gen)
				return;
			if (this.busy) {
				this.again = true;
				return;
			}
			clearTimeout(this.timer);
			this.timer = 0;
			this.busy = true;
			const view = this.view;
			let error = null;
			try {
				await view.refresh();
			} catch (err) {
				error = err;
			}
			if (gen !== this.gen)
				return;
			this.busy = false;
			if (error && isAbort(error))
				return;
			let delay = POLL_MS;
			if (error) {
				this.failures++;
				const retry = error.status !== 401 && error.status !== 404 && view.loaded && view.wantsPoll();
				delay = retry ? Math.min(BACKOFF_MAX_MS, POLL_MS * 2 ** this.failures) : 0;
				view.failed(error, delay);
				if (!retry)
					return;
			} else {
				this.failures = 0;
				if (view.title)
					document.title = `${view.title} — ferry`;
			}
			if (this.again) {
				this.again = false;
				this.tick(gen);
				return;
			}
			if (!document.hidden && (error || view.wantsPoll()))
				this.timer = setTimeout(() => this.tick(gen), delay);
		},

		onVisibility() {
			if (document.hidden) {
				clearTimeout(this.timer);
				this.timer = 0;
			} else if (this.view && this.view.loaded && !this.busy && !this.timer) {
				this.tick(this.gen);
			}
		},
	};

	/* ------------------------------------------------------------------ start */

	function start() {
		auth.init();
		window.addEventListener('hashchange', () => {
			/* a plain in-page anchor is not a view */
			if (location.hash && !location.hash.startsWith('#/'))
				return;
			router.open(true);
		});
		document.addEventListener('visibilitychange', () => router.onVisibility());
		$('.skip-link').addEventListener('click', (ev) => {
			ev.preventDefault();
			$('#main').focus();
		});
		setInterval(() => {
			if (!document.hidden)
				refreshRelativeTimes();
		}, RELATIVE_TICK_MS);
		router.open(false);
	}

	if (document.readyState === 'loading')
		document.addEventListener('DOMContentLoaded', start);
	else
		start();
})();
