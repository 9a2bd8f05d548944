// tests/lib/api.js: HTTP client for tests; every response is checked against the contract
'use strict';

/*
 * const api = client(srv.url);
 * const r = await api.req('POST', '/api/v1/jobs', { json: job });
 * r.status, r.headers (fetch Headers), r.json (parsed, or null), r.text
 *
 * Each response goes through openapi.validateResponse before req() returns,
 * so a response that breaks openapi/openapi.yaml fails the test that saw it.
 */

const { validateResponse } = require('./openapi');
const { pollUntil } = require('./util');

const REQUEST_TIMEOUT_MS = 30000;

/*
 * client(baseUrl, { token, timeoutMs }) → { baseUrl, req, get, post, put, del }
 *
 * req(method, path, { json, body, headers, timeoutMs }):
 *   json: a value sent as JSON with Content-Type: application/json;
 *   body: a raw body (string or Buffer) sent as is — set the Content-Type
 *   yourself in headers, if any; headers: extra request headers.
 * Resolves to { status, headers, json, text }; rejects when the request
 * fails or the response does not match the contract.
 */
function client(baseUrl, defaults = {}) {
	const base = String(baseUrl).replace(/\/+$/, '');

	async function req(method, path, opts = {}) {
		const m = String(method).toUpperCase();
		const headers = new Headers(opts.headers ?? {});
		if (defaults.token && !headers.has('authorization'))
			headers.set('authorization', `Bearer ${defaults.token}`);
		let body = opts.body;
		if (opts.json !== undefined) {
			if (opts.body !== undefined)
				throw new Error('req: pass json or body, not both');
			body = JSON.stringify(opts.json);
			if (!headers.has('content-type'))
				headers.set('content-type', 'application/json');
		}
		const url = new URL(path, `${base}/`);
		const timeoutMs = opts.timeoutMs ?? defaults.timeoutMs ?? REQUEST_TIMEOUT_MS;
		let res;
		try {
			res = await fetch(url, {
				method: m,
				headers,
				body,
				redirect: 'manual',
				signal: AbortSignal.timeout(timeoutMs),
			});
		} catch (e) {
			throw new Error(`${m} ${url.pathname}${url.search} failed: ${e.cause?.message ?? e.message}`);
		}
		const text = await res.text();
		const contentType = res.headers.get('content-type');
		const checked = validateResponse(m, url.pathname, res.status, contentType, text, res.headers);
		const json = checked.body !== null && typeof checked.body === 'object' ? checked.body
			: parseJsonOrNull(text, contentType);
		return { status: res.status, headers: res.headers, json, text };
	}

	return {
		baseUrl: base,
		req,
		get: (path, opts) => req('GET', path, opts),
		post: (path, json, opts = {}) => req('POST', path, json === undefined ? opts : { ...opts, json }),
		put: (path, json, opts = {}) => req('PUT', path, { ...opts, json }),
		del: (path, opts) => req('DELETE', path, opts),
	};
}

function parseJsonOrNull(text, contentType) {
	if (!text || !/json/i.test(contentType ?? ''))
		return null;
	try {
		return JSON.parse(text);
	} catch {
		return null;
	}
}

module.exports = { client, pollUntil };
