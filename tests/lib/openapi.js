// tests/lib/openapi.js: check HTTP responses against openapi/openapi.yaml
'use strict';

/*
 * validateResponse('GET', '/api/v1/jobs/x', 404, 'application/json', text, headers)
 *
 * finds the documented operation for the method and path, picks the response
 * documented for the status, and throws an Error saying what is wrong when the
 * operation or status is not documented, the content type is not the
 * documented one, a required header is missing or malformed, or the body does
 * not match the schema. Two rules of the contract apply to requests that have
 * no operation: a path that matches no route must get the 404 response, and a
 * known path with an unsupported method the 405 response with `Allow`.
 */

const fs = require('node:fs');
const path = require('node:path');
const YAML = require('yaml');
const Ajv2020 = require('ajv/dist/2020');
const addFormats = require('ajv-formats');

const { repoRoot, describe } = require('./util');

const SPEC_PATH = path.join(repoRoot, 'openapi', 'openapi.yaml');
const SPEC_ID = 'https://ferry.test/openapi.yaml';
const METHODS = ['get', 'put', 'post', 'delete', 'options', 'head', 'patch', 'trace'];

const spec = YAML.parse(fs.readFileSync(SPEC_PATH, 'utf8'));

const ajv = new Ajv2020({ strict: false, allErrors: true, validateFormats: true });
addFormats(ajv);
ajv.addSchema(spec, SPEC_ID);

const validators = new Map();
const seenResponses = new Set();

function escapePointer(part) {
	return String(part).replace(/~/g, '~0').replace(/\//g, '~1');
}

/** JSON pointer string for a list of path parts. */
function pointer(...parts) {
	return parts.map((p) => `/${escapePointer(p)}`).join('');
}

/** The node at a local JSON pointer ("/components/schemas/Job") of the spec. */
function resolvePointer(ptr) {
	let node = spec;
	for (const raw of ptr.split('/').slice(1)) {
		const part = raw.replace(/~1/g, '/').replace(/~0/g, '~');
		if (node === null || typeof node !== 'object' || !(part in node))
			throw new Error(`openapi.yaml has nothing at #${ptr}`);
		node = node[part];
	}
	return node;
}

/** Follow OpenAPI $refs (responses, headers): returns { node, ptr } of the target. */
function deref(node, ptr) {
	for (let hops = 0; node && typeof node.$ref === 'string'; hops++) {
		if (hops > 20 || !node.$ref.startsWith('#/'))
			throw new Error(`cannot follow $ref "${node.$ref}" at #${ptr}`);
		ptr = node.$ref.slice(1);
		node = resolvePointer(ptr);
	}
	return { node, ptr };
}

/** Compiled Ajv validator for the schema at a JSON pointer of the spec. */
function validatorAt(ptr) {
	let v = validators.get(ptr);
	if (!v) {
		const fragment = ptr.split('/').map(encodeURIComponent).join('/');
		v = ajv.compile({ $ref: `${SPEC_ID}#${fragment}` });
		validators.set(ptr, v);
	}
	return v;
}

function formatErrors(errors) {
	return (errors ?? []).map((e) => {
		const params = Object.keys(e.params ?? {}).length ? ` ${JSON.stringify(e.params)}` : '';
		return `  at ${e.instancePath || '(root)'}: ${e.message}${params} [schema ${e.schemaPath}]`;
	}).join('\n');
}

/** Validate value against components/schemas/<name>; throws on mismatch. */
function validateSchema(name, value) {
	const ptr = pointer('components', 'schemas', name);
	resolvePointer(ptr);
	const v = validatorAt(ptr);
	if (!v(value))
		throw new Error(`value does not match schema ${name}:\n${formatErrors(v.errors)}\n` +
			`  value: ${describe(value)}`);
	return value;
}

/** Split a path template into literal strings and null for each {param}. */
function templateParts(template) {
	return template.split('/').slice(1).map((s) => (/^\{[^}]+\}$/.test(s) ? null : s));
}

const templates = Object.keys(spec.paths ?? {}).map((template) => {
	const parts = templateParts(template);
	return { template, parts, literals: parts.filter((p) => p !== null).length };
}).sort((a, b) => b.literals - a.literals);

/** The documented path template matching a concrete path, or null. */
function matchPath(pathname) {
	const segs = pathname.split('/').slice(1);
	for (const t of templates) {
		if (t.parts.length !== segs.length)
			continue;
		if (t.parts.every((p, i) => (p === null ? segs[i] !== '' : p === segs[i])))
			return t.template;
	}
	return null;
}

function documentedMethods(template) {
	return METHODS.filter((m) => spec.paths[template][m]).map((m) => m.toUpperCase());
}

/** Case-insensitive header lookup on a fetch Headers object or a plain object. */
function headerValue(headers, name) {
	if (!headers)
		return undefined;
	if (typeof headers.get === 'function')
		return headers.get(name) ?? undefined;
	const key = Object.keys(headers).find((k) => k.toLowerCase() === name.toLowerCase());
	return key === undefined ? undefined : headers[key];
}

function isJsonType(mediaType) {
	return mediaType === 'application/json' || /^application\/[^;]+\+json$/.test(mediaType);
}

function bodyText(body) {
	if (body === undefined || body === null)
		return '';
	if (Buffer.isBuffer(body) || body instanceof Uint8Array)
		return Buffer.from(body).toString('utf8');
	return typeof body === 'string' ? body : null;
}

function findMediaType(content, mediaType) {
	if (content[mediaType])
		return mediaType;
	const [type] = mediaType.split('/');
	if (content[`${type}/*`])
		return `${type}/*`;
	return content['*/*'] ? '*/*' : null;
}

/*
 * Check one response against the response object found at ptr. ctx names
 * the exchange in error messages. Returns the parsed body (JSON) or text.
 */
function checkResponse(response, ptr, ctx, contentType, body, headers) {
	const fail = (msg) => {
		throw new Error(`${ctx}: ${msg}`);
	};

	for (const [name, h] of Object.entries(response.headers ?? {})) {
		const { node: header, ptr: hptr } = deref(h, `${ptr}/headers/${escapePointer(name)}`);
		const value = headerValue(headers, name);
		if (value === undefined) {
			if (header.required && headers)
				fail(`required header ${name} is missing`);
			continue;
		}
		if (header.schema) {
			const v = validatorAt(`${hptr}/schema`);
			if (!v(value))
				fail(`header ${name}: ${JSON.stringify(value)} does not match its schema:\n` +
					formatErrors(v.errors));
		}
	}

	const text = bodyText(body);
	if (!response.content || Object.keys(response.content).length === 0) {
		const empty = text === '' || (text === null && body === undefined);
		if (!empty)
			fail(`no body is documented, but got ${describe(text ?? body)}`);
		return null;
	}

	const mediaType = (contentType ?? '').split(';')[0].trim().toLowerCase();
	if (!mediaType)
		fail(`no Content-Type; documented: ${Object.keys(response.content).join(', ')}`);
	const key = findMediaType(response.content, mediaType);
	if (!key)
		fail(`Content-Type ${mediaType} is not documented; documented: ` +
			Object.keys(response.content).join(', '));

	let value = text === null ? body : text;
	if (isJsonType(mediaType) && text !== null) {
		if (text === '')
			fail('empty body where JSON is documented');
		try {
			value = JSON.parse(text);
		} catch (e) {
			fail(`body is not valid JSON (${e.message}): ${describe(text)}`);
		}
	}
	if (response.content[key].schema) {
		const v = validatorAt(`${ptr}/content/${escapePointer(key)}/schema`);
		if (!v(value))
			fail(`body does not match the documented schema:\n${formatErrors(v.errors)}\n` +
				`  body: ${describe(value)}`);
	}
	return value;
}

function checkAllow(template, method, headers, ctx) {
	const value = headerValue(headers, 'Allow');
	if (value === undefined)
		return;
	const allowed = new Set(value.split(',').map((s) => s.trim().toUpperCase()).filter(Boolean));
	const missing = documentedMethods(template).filter((m) => !allowed.has(m));
	if (missing.length)
		throw new Error(`${ctx}: Allow "${value}" lacks documented method(s) ${missing.join(', ')}`);
	if (allowed.has(method))
		throw new Error(`${ctx}: Allow "${value}" lists ${method}, yet ${method} was refused`);
}

/*
 * Check a response against the contract; see the file comment.
 *
 * method: HTTP method; pathname: request path (a query string is ignored);
 * status: number; contentType: the Content-Type header or null; body: the
 * raw body (string or Buffer; an already parsed JSON value is accepted too);
 * headers (optional): fetch Headers or a plain object, to check documented
 * headers such as Location and Allow.
 *
 * Returns { operationId, template, status, body } with body parsed when JSON.
 * Throws an Error describing the first mismatch.
 */
function validateResponse(method, pathname, status, contentType, body, headers) {
	const m = String(method).toUpperCase();
	const p = String(pathname).split(/[?#]/)[0];
	const ctx = `${m} ${p} → ${status}`;
	const template = matchPath(p);

	if (template === null) {
		if (status !== 404)
			throw new Error(`${ctx}: no documented path matches "${p}", so only 404 is allowed`);
		const { node, ptr } = deref({ $ref: '#/components/responses/NotFound' }, '');
		const parsed = checkResponse(node, ptr, `${ctx} (unknown route)`, contentType, body, headers);
		seenResponses.add(`${m} (unknown route) ${status}`);
		return { operationId: null, template: null, status, body: parsed };
	}

	const op = spec.paths[template][m.toLowerCase()];
	if (!op) {
		if (status !== 405)
			throw new Error(`${ctx}: ${m} ${template} is not a documented operation ` +
				`(documented: ${documentedMethods(template).join(', ')}), so only 405 is allowed`);
		const { node, ptr } = deref({ $ref: '#/components/responses/MethodNotAllowed' }, '');
		const parsed = checkResponse(node, ptr, `${ctx} (method not allowed)`, contentType, body, headers);
		checkAllow(template, m, headers, ctx);
		seenResponses.add(`${m} ${template} ${status}`);
		return { operationId: null, template, status, body: parsed };
	}

	const opPtr = pointer('paths', template, m.toLowerCase());
	const responses = op.responses ?? {};
	const code = String(status);
	const range = `${code[0]}XX`;
	const key = [code, range, 'default'].find((k) => responses[k]);
	if (!key)
		throw new Error(`${ctx}: status ${status} is not documented for ${op.operationId ?? `${m} ${template}`} ` +
			`(documented: ${Object.keys(responses).join(', ')})` +
			`${body ? `; body: ${describe(bodyText(body) ?? body)}` : ''}`);
	const { node, ptr } = deref(responses[key], `${opPtr}/responses/${escapePointer(key)}`);
	const parsed = checkResponse(node, ptr, `${ctx} (${op.operationId})`, contentType, body, headers);
	if (status === 405)
		checkAllow(template, m, headers, ctx);
	seenResponses.add(`${m} ${template} ${status}`);
	return { operationId: op.operationId ?? null, template, status, body: parsed };
}

/** "METHOD template status" strings for every response validated so far in this process. */
function seen() {
	return [...seenResponses].sort();
}

module.exports = { spec, ajv, validateResponse, validateSchema, matchPath, seen, SPEC_PATH };
