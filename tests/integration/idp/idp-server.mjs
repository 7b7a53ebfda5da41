#!/usr/bin/env node
// SPDX-License-Identifier: MIT
// TEST-ONLY OpenID Connect provider for the mail-oauth2 integration tests.
// Never run this anywhere but loopback: it has fixed client secrets, in-memory
// storage and an unauthenticated /test/* control surface that mints tokens.
//
// Usage: node idp-server.mjs --state DIR --tls DIR [--port N] [--port-file F] [--pid-file F]
// Every option also has an environment variable: IDP_STATE_DIR, IDP_TLS_DIR,
// IDP_PORT (0 = any free port), IDP_PORT_FILE, IDP_PID_FILE.
// Other environment:
//   IDP_ACCESS_TOKEN_TTL   access token lifetime in seconds (default 300)
//   IDP_REFRESH_TOKEN_TTL  refresh token lifetime in seconds (default 14 days)
//   IDP_ROTATE_REFRESH     "all" (default): every refresh rotates, also for
//                          confidential clients; "public": only public clients
//   IDP_KEYS               "reuse" (default: reuse STATE/jwks-private.json if
//                          present), "new" (fresh keys) or "rotate" (fresh
//                          keys first, the old ones still published)
//   IDP_LOG                "0" silences the per-request log on stdout
//
// Uses oidc-provider 8.x, the newest major that supports Node 18 (Debian 12).

import crypto from 'node:crypto';
import fs from 'node:fs';
import https from 'node:https';
import path from 'node:path';
import process from 'node:process';

import Provider, { errors as oidcErrors } from 'oidc-provider';

const HOST = '127.0.0.1';

function parseArgs(argv) {
	const opts = {
		state: process.env.IDP_STATE_DIR,
		tls: process.env.IDP_TLS_DIR,
		port: process.env.IDP_PORT ?? '0',
		'port-file': process.env.IDP_PORT_FILE,
		'pid-file': process.env.IDP_PID_FILE,
	};
	for (let i = 0; i < argv.length; i += 2) {
		const name = argv[i].replace(/^--/, '');
		if (!(name in opts) || argv[i + 1] === undefined)
			throw new Error(`unknown or incomplete option: ${argv[i]}`);
		opts[name] = argv[i + 1];
	}
	if (!opts.state || !opts.tls)
		throw new Error('--state DIR and --tls DIR are required');
	opts.port = Number.parseInt(opts.port, 10);
	if (!(opts.port >= 0 && opts.port < 65536))
		throw new Error('bad --port');
	return opts;
}

function positiveIntEnv(name, fallback) {
	const value = process.env[name];
	if (value === undefined || value === '')
		return fallback;
	const n = Number.parseInt(value, 10);
	if (!(n > 0) || String(n) !== value.trim())
		throw new Error(`${name} must be a positive integer, got "${value}"`);
	return n;
}

const opts = parseArgs(process.argv.slice(2));
const settings = {
	accessTokenTTL: positiveIntEnv('IDP_ACCESS_TOKEN_TTL', 300),
	refreshTokenTTL: positiveIntEnv('IDP_REFRESH_TOKEN_TTL', 14 * 24 * 3600),
	rotateAll: (process.env.IDP_ROTATE_REFRESH ?? 'all') !== 'public',
	log: process.env.IDP_LOG !== '0',
};

// ---- accounts --------------------------------------------------------------

const ACCOUNTS = {
	alice: { email: 'alice@example.test', preferred_username: 'alice', name: 'Alice Example' },
	bob: { email: 'bob@example.test', preferred_username: 'bob', name: 'Bob Example' },
	// mixed case, for username normalisation tests
	carol: { email: 'Carol@Example.TEST', preferred_username: 'Carol', name: 'Carol Example' },
};

function accountFor(accountId) {
	const profile = ACCOUNTS[accountId];
	if (!profile)
		return undefined;
	return {
		accountId,
		async claims() {
			return { sub: accountId, email_verified: true, ...profile };
		},
	};
}

// ---- resource servers (audiences) ------------------------------------------

const MAIL_SCOPE = 'mail imap smtp';
const RESOURCES = {
	'https://mail.test': { alg: 'RS256' },
	'https://mail-ps.test': { alg: 'PS256' },
	'https://mail-es.test': { alg: 'ES256' },
	'https://mail-ed.test': { alg: 'EdDSA' },
	'https://mail-opaque.test': { format: 'opaque' },
};
const DEFAULT_RESOURCE = 'https://mail.test';

function resourceServerInfo(resource) {
	const r = RESOURCES[resource];
	if (!r)
		return undefined;
	const info = {
		scope: MAIL_SCOPE,
		audience: resource,
		accessTokenTTL: settings.accessTokenTTL,
		accessTokenFormat: r.format ?? 'jwt',
	};
	if (info.accessTokenFormat === 'jwt')
		info.jwt = { sign: { alg: r.alg } };
	return info;
}

// ---- clients -----------------------------------------------------------------

const DEVICE_GRANT = 'urn:ietf:params:oauth:grant-type:device_code';
// The relay secret contains URL-special characters on purpose: a token client
// that does not form-encode it (RFC 6749 2.3.1 / appendix B) fails to log in.
const CLIENTS = [
	{ // verifier: client_credentials + introspection, HTTP Basic
		client_id: 'mail-verifier',
		client_secret: 'verifier-secret-0123456789',
		grant_types: ['client_credentials'],
		token_endpoint_auth_method: 'client_secret_basic',
		introspection_endpoint_auth_method: 'client_secret_basic',
		revocation_endpoint_auth_method: 'client_secret_basic',
	},
	{ // the same with credentials in the form body
		client_id: 'mail-verifier-post',
		client_secret: 'verifier-post-secret-0123456789',
		grant_types: ['client_credentials'],
		token_endpoint_auth_method: 'client_secret_post',
		introspection_endpoint_auth_method: 'client_secret_post',
		revocation_endpoint_auth_method: 'client_secret_post',
	},
	{ // public device-flow client (CLI); refresh tokens rotate
		client_id: 'mail-device',
		grant_types: [DEVICE_GRANT, 'refresh_token'],
		token_endpoint_auth_method: 'none',
	},
	{ // confidential token client (the SASL client plugin / Postfix relay)
		client_id: 'mail-relay',
		client_secret: 'relay+secret&x=1%2F=',
		grant_types: [DEVICE_GRANT, 'refresh_token', 'client_credentials'],
		token_endpoint_auth_method: 'client_secret_post',
	},
	{ // public native client: authorization code + PKCE, loopback redirect (RFC 8252)
		client_id: 'mail-native',
		application_type: 'native',
		grant_types: ['authorization_code', 'refresh_token'],
		response_types: ['code'],
		redirect_uris: ['http://127.0.0.1/callback', 'http://127.0.0.1/', 'http://[::1]/callback'],
		token_endpoint_auth_method: 'none',
	},
].map((c) => ({ redirect_uris: [], response_types: [], ...c }));

// ---- signing keys ------------------------------------------------------------

function generateKeys() {
	const tag = crypto.randomBytes(4).toString('hex');
	const make = (type, options, alg, prefix) => {
		const { privateKey } = crypto.generateKeyPairSync(type, options);
		return { ...privateKey.export({ format: 'jwk' }), kid: `${prefix}-${tag}`, alg, use: 'sig' };
	};
	return [
		make('rsa', { modulusLength: 2048 }, 'RS256', 'rs256'),
		make('rsa', { modulusLength: 2048 }, 'PS256', 'ps256'),
		make('ec', { namedCurve: 'P-256' }, 'ES256', 'es256'),
		make('ed25519', {}, 'EdDSA', 'eddsa'),
	];
}

function publicJwk(jwk) {
	const { d, p, q, dp, dq, qi, ...pub } = jwk;
	return pub;
}

function writeAtomic(file, data, mode) {
	const tmp = `${file}.tmp${process.pid}`;
	fs.writeFileSync(tmp, data, { mode });
	fs.renameSync(tmp, file);
}

function loadOrCreateKeys(stateDir) {
	const file = path.join(stateDir, 'jwks-private.json');
	const mode = process.env.IDP_KEYS ?? 'reuse';
	let old = [];
	if (fs.existsSync(file))
		old = JSON.parse(fs.readFileSync(file, 'utf8')).keys;
	let keys;
	if (mode === 'reuse' && old.length)
		keys = old;
	else if (mode === 'rotate')
		keys = [...generateKeys(), ...old.filter((k) => !k.retired)].map((k, i) => (i >= 4 ? { ...k, retired: true } : k));
	else if (mode === 'reuse' || mode === 'new')
		keys = generateKeys();
	else
		throw new Error(`IDP_KEYS must be reuse, new or rotate, got "${mode}"`);
	writeAtomic(file, `${JSON.stringify({ keys }, null, 1)}\n`, 0o600);
	writeAtomic(path.join(stateDir, 'jwks-public.json'),
		`${JSON.stringify({ keys: keys.map(publicJwk).map(({ retired, ...k }) => k) }, null, 1)}\n`, 0o644);
	const rs = crypto.createPublicKey({ key: publicJwk(keys[0]), format: 'jwk' });
	writeAtomic(path.join(stateDir, 'rs256-public.pem'), rs.export({ type: 'spki', format: 'pem' }), 0o644);
	// oidc-provider signs with the first key of an alg; retired keys come last
	return keys.map(({ retired, ...k }) => k);
}

// ---- test knobs and counters ------------------------------------------------

const ENDPOINTS = {
	'/token': 'token',
	'/token/introspection': 'introspection',
	'/token/revocation': 'revocation',
	'/device/auth': 'device_authorization',
	'/jwks': 'jwks',
	'/.well-known/openid-configuration': 'discovery',
	'/.well-known/oauth-authorization-server': 'discovery',
	'/me': 'userinfo',
	'/auth': 'authorization',
};
const knobs = {
	latencyMs: Object.fromEntries(Object.values(ENDPOINTS).map((e) => [e, 0])),
	down: Object.fromEntries(Object.values(ENDPOINTS).map((e) => [e, 'up'])),
	interactionAccount: 'alice',
	// refresh_token_expires_in in token responses (as Microsoft sends it)
	refreshExpiresIn: false,
};
function emptyStats() {
	return {
		requests: Object.fromEntries(Object.values(ENDPOINTS).map((e) => [e, 0])),
		token_requests: 0, // every request that reached /token, including refused ones
		token_by_grant: {}, // grant_type -> requests the provider handled
		token_errors: {}, // OAuth error code -> count
		token_refused_down: 0,
	};
}
let stats = emptyStats();

const sleep = (ms) => new Promise((resolve) => { setTimeout(resolve, ms); });

function isLoopback(address) {
	return address === '127.0.0.1' || address === '::1' || address === '::ffff:127.0.0.1';
}

function normalizeUserCode(input) {
	return String(input).toUpperCase().replace(/\W/g, '');
}

// ---- provider ----------------------------------------------------------------

function buildProvider(issuer, jwks) {
	const configuration = {
		clients: CLIENTS,
		jwks: { keys: jwks },
		cookies: { keys: [crypto.randomBytes(32).toString('base64url')] },
		async findAccount(_ctx, sub) {
			return accountFor(sub);
		},
		claims: {
			openid: ['sub'],
			email: ['email', 'email_verified'],
			profile: ['preferred_username', 'name'],
		},
		// OIDC scopes only; mail scopes belong to the resource servers
		scopes: ['openid', 'offline_access', 'email', 'profile'],
		features: {
			devInteractions: { enabled: false },
			clientCredentials: { enabled: true },
			introspection: { enabled: true },
			revocation: { enabled: true },
			userinfo: { enabled: true },
			deviceFlow: { enabled: true },
			resourceIndicators: {
				enabled: true,
				async defaultResource(_ctx, _client, oneOf) {
					return oneOf ? oneOf[0] : DEFAULT_RESOURCE;
				},
				async useGrantedResource() {
					return true;
				},
				async getResourceServerInfo(_ctx, resource) {
					const info = resourceServerInfo(resource);
					if (!info)
						throw new oidcErrors.InvalidTarget(`unknown resource ${resource}`);
					return info;
				},
			},
		},
		// user claims for resource servers that identify users by email or name
		async extraTokenClaims(_ctx, token) {
			if (token.kind !== 'AccessToken' || !token.accountId || !ACCOUNTS[token.accountId])
				return undefined;
			const { email, preferred_username } = ACCOUNTS[token.accountId];
			return { email, preferred_username };
		},
		rotateRefreshToken(ctx) {
			if (settings.rotateAll)
				return true;
			return ctx.oidc.entities.Client.clientAuthMethod === 'none';
		},
		ttl: {
			AccessToken: (_ctx, token) => token.resourceServer?.accessTokenTTL ?? settings.accessTokenTTL,
			ClientCredentials: (_ctx, token) => token.resourceServer?.accessTokenTTL ?? settings.accessTokenTTL,
			RefreshToken: () => settings.refreshTokenTTL,
			DeviceCode: 600,
			Grant: settings.refreshTokenTTL,
			IdToken: 3600,
			Interaction: 600,
			Session: 3600,
			AuthorizationCode: 60,
		},
		interactions: {
			url: (_ctx, interaction) => `/test/interaction/${interaction.uid}`,
		},
		pkce: { required: () => true },
		enabledJWA: {
			idTokenSigningAlgValues: ['RS256', 'PS256', 'ES256', 'EdDSA'],
		},
	};
	const provider = new Provider(issuer, configuration);
	provider.on('server_error', (_ctx, err) => console.error('idp: server_error', err));
	provider.on('grant.error', (ctx, err) => {
		stats.token_errors[err.error] = (stats.token_errors[err.error] ?? 0) + 1;
		console.log(`idp: grant error ${ctx.oidc?.params?.grant_type}: ${err.error} (${err.error_description})`);
	});
	return provider;
}

// ---- test-only control surface (/test/...) ----------------------------------

async function saveGrant(provider, accountId, clientId, oidcScope, resource, resourceScope) {
	const grant = new provider.Grant({ accountId, clientId });
	if (oidcScope)
		grant.addOIDCScope(oidcScope);
	if (resource)
		grant.addResourceScope(resource, resourceScope);
	return grant.save();
}

function splitScopes(requested, resource) {
	const oidcAll = ['openid', 'offline_access', 'email', 'profile'];
	const rsAll = resource ? MAIL_SCOPE.split(' ') : [];
	const want = requested ? requested.split(' ').filter(Boolean) : [...oidcAll, ...rsAll];
	return {
		oidc: want.filter((s) => oidcAll.includes(s)).join(' '),
		rs: want.filter((s) => rsAll.includes(s)).join(' '),
	};
}

class TestError extends Error {
	constructor(status, message) {
		super(message);
		this.status = status;
	}
}

function requireAccount(q) {
	const account = q.get('account') ?? 'alice';
	if (!ACCOUNTS[account])
		throw new TestError(400, `unknown account ${account}`);
	return account;
}

function requireResource(q) {
	const resource = q.has('resource') ? q.get('resource') : DEFAULT_RESOURCE;
	if (resource !== '' && !RESOURCES[resource])
		throw new TestError(400, `unknown resource ${resource}`);
	return resource;
}

// approve (or deny) a pending device authorization as if a person had
async function deviceDecision(provider, q, approve) {
	const code = await provider.DeviceCode.findByUserCode(normalizeUserCode(q.get('user_code') ?? ''), { ignoreExpiration: true });
	if (!code)
		throw new TestError(404, 'no such user code');
	if (code.isExpired)
		throw new TestError(410, 'user code expired');
	if (code.accountId || code.error)
		throw new TestError(409, 'user code already used');
	if (!approve) {
		Object.assign(code, { error: 'access_denied', errorDescription: 'End-User denied the request (test)' });
		await code.save();
		return { denied: true };
	}
	const account = requireAccount(q);
	const requestedResource = q.get('resource') ?? code.params?.resource ?? DEFAULT_RESOURCE;
	const resource = Array.isArray(requestedResource) ? requestedResource[0] : requestedResource;
	if (!RESOURCES[resource])
		throw new TestError(400, `unknown resource ${resource}`);
	const scopes = splitScopes(code.params?.scope, resource);
	const grantId = await saveGrant(provider, account, code.clientId, scopes.oidc, resource, scopes.rs);
	Object.assign(code, {
		accountId: account,
		grantId,
		authTime: Math.floor(Date.now() / 1000),
		scope: [scopes.oidc, scopes.rs].filter(Boolean).join(' '),
		resource,
		expiresWithSession: false,
	});
	await code.save();
	return { approved: true, account, resource, scope: code.scope };
}

// Issue tokens through the provider's own token models (same formatting,
// signing, extraTokenClaims and storage as the token endpoint), bound to a
// saved Grant, as if the account had just completed a device flow.
async function mintToken(provider, q) {
	const account = requireAccount(q);
	const resource = requireResource(q);
	const clientId = q.get('client') ?? 'mail-device';
	const client = await provider.Client.find(clientId);
	if (!client)
		throw new TestError(400, `unknown client ${clientId}`);
	const ttl = q.has('ttl') ? Number.parseInt(q.get('ttl'), 10) : undefined;
	if (ttl !== undefined && !(ttl > 0))
		throw new TestError(400, 'ttl must be a positive integer');
	const wantRefresh = q.get('refresh') === '1';
	const scopes = splitScopes(q.get('scope'), resource || undefined);
	if (wantRefresh && !scopes.oidc.split(' ').includes('offline_access'))
		scopes.oidc = `${scopes.oidc} offline_access`.trim();
	const grantId = await saveGrant(provider, account, clientId, scopes.oidc, resource || undefined, scopes.rs);
	const common = { accountId: account, client, grantId, gty: 'device_code', expiresWithSession: false };
	const at = new provider.AccessToken({
		...common,
		...(ttl ? { expiresIn: ttl } : {}),
		scope: resource ? scopes.rs : scopes.oidc,
	});
	if (resource)
		at.resourceServer = new provider.ResourceServer(resource, resourceServerInfo(resource));
	const body = {
		access_token: await at.save(),
		token_type: 'Bearer',
		expires_in: at.expiration,
		scope: at.scope,
	};
	if (wantRefresh) {
		const rt = new provider.RefreshToken({
			...common,
			authTime: Math.floor(Date.now() / 1000),
			resource: resource || undefined,
			rotations: 0,
			scope: [scopes.oidc, scopes.rs].filter(Boolean).join(' '),
		});
		body.refresh_token = await rt.save();
	}
	return body;
}

// finish an authorization-code interaction as the configured account
async function finishInteraction(provider, ctx) {
	const details = await provider.interactionDetails(ctx.req, ctx.res);
	const { prompt, params, session } = details;
	let result;
	if (prompt.name === 'login') {
		result = { login: { accountId: knobs.interactionAccount } };
	} else if (prompt.name === 'consent') {
		const grant = details.grantId
			? await provider.Grant.find(details.grantId)
			: new provider.Grant({ accountId: session.accountId, clientId: params.client_id });
		const { missingOIDCScope, missingResourceScopes } = prompt.details;
		if (missingOIDCScope)
			grant.addOIDCScope(missingOIDCScope.join(' '));
		for (const [resource, scopes] of Object.entries(missingResourceScopes ?? {}))
			grant.addResourceScope(resource, scopes.join(' '));
		result = { consent: { grantId: await grant.save() } };
	} else {
		throw new TestError(400, `unsupported prompt ${prompt.name}`);
	}
	return provider.interactionResult(ctx.req, ctx.res, result, { mergeWithLastSubmission: true });
}

function setDown(q) {
	const endpoint = q.get('endpoint') ?? 'token';
	const state = q.get('state');
	if (!(endpoint in knobs.down))
		throw new TestError(400, `unknown endpoint ${endpoint}`);
	if (!['up', 'down', 'reset'].includes(state))
		throw new TestError(400, 'state must be up, down (503) or reset (connection closed)');
	knobs.down[endpoint] = state;
	return { endpoint, state };
}

function setLatency(q) {
	const endpoint = q.get('endpoint') ?? 'token';
	const ms = Number.parseInt(q.get('ms') ?? '', 10);
	if (!(endpoint in knobs.latencyMs))
		throw new TestError(400, `unknown endpoint ${endpoint}`);
	if (!(ms >= 0 && ms <= 120000))
		throw new TestError(400, 'ms must be 0..120000');
	knobs.latencyMs[endpoint] = ms;
	return { endpoint, ms };
}

async function controlRoute(provider, ctx) {
	const q = new URLSearchParams(ctx.querystring);
	const route = ctx.path.replace(/^\/test\//, '');
	if (route.startsWith('interaction/')) {
		ctx.redirect(await finishInteraction(provider, ctx));
		return;
	}
	let body;
	switch (route) {
	case 'token': body = await mintToken(provider, q); break;
	case 'device/approve': body = await deviceDecision(provider, q, true); break;
	case 'device/deny': body = await deviceDecision(provider, q, false); break;
	case 'latency': body = setLatency(q); break;
	case 'token-endpoint': q.set('endpoint', 'token'); body = setDown(q); break;
	case 'endpoint': body = setDown(q); break;
	case 'ttl': {
		const seconds = Number.parseInt(q.get('seconds') ?? '', 10);
		if (!(seconds > 0))
			throw new TestError(400, 'seconds must be a positive integer');
		settings.accessTokenTTL = seconds;
		body = { access_token_ttl: seconds };
		break;
	}
	case 'refresh-expires-in': {
		const state = q.get('state');
		if (!['on', 'off'].includes(state))
			throw new TestError(400, 'state must be on or off');
		knobs.refreshExpiresIn = state === 'on';
		body = { refresh_expires_in: knobs.refreshExpiresIn };
		break;
	}
	case 'interaction-account':
		knobs.interactionAccount = requireAccount(q);
		body = { account: knobs.interactionAccount };
		break;
	case 'stats':
		body = { ...stats, latency_ms: knobs.latencyMs, state: knobs.down };
		if (q.get('reset') === '1')
			stats = emptyStats();
		break;
	case 'health': body = { ok: true, pid: process.pid }; break;
	default: throw new TestError(404, `no test route ${route}`);
	}
	ctx.status = 200;
	ctx.type = 'application/json';
	ctx.set('Cache-Control', 'no-store');
	ctx.body = body;
}

function installMiddleware(provider) {
	provider.use(async (ctx, next) => {
		const started = Date.now();
		try {
			if (!isLoopback(ctx.req.socket.remoteAddress)) {
				ctx.status = 403;
				ctx.body = 'loopback only';
				return;
			}
			if (ctx.path.startsWith('/test/')) {
				try {
					await controlRoute(provider, ctx);
				} catch (err) {
					ctx.status = err.status ?? 500;
					ctx.type = 'application/json';
					ctx.body = { error: err.message };
					if (!err.status)
						console.error('idp: test route failed', err);
				}
				return;
			}
			const endpoint = ENDPOINTS[ctx.path];
			if (endpoint) {
				stats.requests[endpoint] += 1;
				if (endpoint === 'token')
					stats.token_requests += 1;
				if (knobs.latencyMs[endpoint])
					await sleep(knobs.latencyMs[endpoint]);
				const state = knobs.down[endpoint];
				if (state === 'reset') {
					ctx.req.socket.destroy();
					ctx.respond = false;
					return;
				}
				if (state === 'down') {
					if (endpoint === 'token')
						stats.token_refused_down += 1;
					ctx.status = 503;
					ctx.set('Retry-After', '1');
					ctx.type = 'application/json';
					ctx.body = { error: 'temporarily_unavailable', error_description: 'test switch: endpoint down' };
					return;
				}
			}
			await next();
			if (endpoint === 'token') {
				const gt = ctx.oidc?.params?.grant_type ?? 'unknown';
				stats.token_by_grant[gt] = (stats.token_by_grant[gt] ?? 0) + 1;
				// the lifetime the refresh token was issued with
				if (knobs.refreshExpiresIn && ctx.status === 200 && ctx.body?.refresh_token)
					ctx.body = { ...ctx.body, refresh_token_expires_in: settings.refreshTokenTTL };
			}
		} finally {
			if (settings.log)
				console.log(`idp: ${ctx.method} ${ctx.path} ${ctx.status} ${Date.now() - started}ms`);
		}
	});
}

// ---- main --------------------------------------------------------------------

function main() {
	fs.mkdirSync(opts.state, { recursive: true });
	const jwks = loadOrCreateKeys(opts.state);
	const server = https.createServer({
		key: fs.readFileSync(path.join(opts.tls, 'server.key')),
		cert: fs.readFileSync(path.join(opts.tls, 'server.pem')),
	});
	server.on('error', (err) => {
		console.error(`idp: cannot listen on ${HOST}:${opts.port}: ${err.message}`);
		process.exit(1);
	});
	server.listen(opts.port, HOST, () => {
		const { port } = server.address();
		const issuer = `https://${HOST}:${port}`;
		const provider = buildProvider(issuer, jwks);
		installMiddleware(provider);
		server.on('request', provider.callback());
		if (opts['pid-file'])
			writeAtomic(opts['pid-file'], `${process.pid}\n`, 0o644);
		if (opts['port-file'])
			writeAtomic(opts['port-file'], `${port}\n`, 0o644);
		console.log(`idp: listening issuer=${issuer} pid=${process.pid} node=${process.version} at_ttl=${settings.accessTokenTTL}s`);
	});
	const stop = () => {
		server.close();
		server.closeAllConnections?.();
		process.exit(0);
	};
	process.on('SIGTERM', stop);
	process.on('SIGINT', stop);
}

main();
