// oauth.mjs — the TypeScript SDK's OAuth client (auth() from
// @modelcontextprotocol/sdk/client/auth.js) against servagent's built-in
// authorization server, approval mode "operator".
//
//   401 + WWW-Authenticate resource_metadata=  →  protected resource metadata
//   → authorization server metadata  →  dynamic registration at /mcp/register
//   (HTTP Basic with the operator client credentials, done here with fetch:
//   the SDK's registerClient does not send Basic)  →  auth() → authorization
//   URL  →  the approval page answered programmatically (hidden inputs, CSRF
//   token, cookie, operator secret = API key)  →  303 to the redirect URI with
//   code, state, iss  →  auth() with the code → tokens  →  MCP session with
//   authProvider  →  refresh  →  code replay (refused, revokes the grant).
//
// Environment: INTEROP_URL (base URL, no path; the issuer is INTEROP_URL/mcp),
// INTEROP_KEY (API key = approval secret), OAUTH_CLIENT_ID,
// OAUTH_CLIENT_SECRET, INTEROP_TMP.

import { Client } from '@modelcontextprotocol/sdk/client/index.js';
import { StreamableHTTPClientTransport } from '@modelcontextprotocol/sdk/client/streamableHttp.js';
import {
  auth,
  discoverAuthorizationServerMetadata,
  discoverOAuthProtectedResourceMetadata,
  extractWWWAuthenticateParams,
} from '@modelcontextprotocol/sdk/client/auth.js';
import { MemoryProvider, answerApproval } from './approval.mjs';
import { assert, env, makeReporter, withTimeout } from './lib.mjs';

const BASE = env('INTEROP_URL').replace(/\/+$/, '');
const KEY = env('INTEROP_KEY');
const CLIENT_ID = env('OAUTH_CLIENT_ID');
const CLIENT_SECRET = env('OAUTH_CLIENT_SECRET');
const MCP_URL = `${BASE}/mcp`;
const ISSUER = `${BASE}/mcp`;
// Nothing listens there: the test reads the redirect from the Location header.
const REDIRECT = 'http://127.0.0.1:48123/callback';
const TIMEOUT = 20000;

const r = makeReporter('oauth');

// ---- the flow -----------------------------------------------------------------
const provider = new MemoryProvider({ redirect: REDIRECT, clientName: 'servagent interop (TypeScript SDK)', authMethod: 'client_secret_basic' });
let resourceMetadataUrl;
let asMeta;

async function main() {
  await r.check('no token: 401 with WWW-Authenticate resource_metadata=', async () => {
    const res = await fetch(MCP_URL, {
      method: 'POST',
      headers: { 'Content-Type': 'application/json', Accept: 'application/json, text/event-stream' },
      body: JSON.stringify({ jsonrpc: '2.0', id: 1, method: 'ping' }),
    });
    const wa = res.headers.get('www-authenticate') || '';
    assert(res.status === 401, `HTTP ${res.status}`);
    assert(/resource_metadata=/.test(wa), `WWW-Authenticate: ${JSON.stringify(wa)}`);
    resourceMetadataUrl = extractWWWAuthenticateParams(res).resourceMetadataUrl;
    assert(resourceMetadataUrl, 'resource_metadata URL not parsed by the SDK');
    return wa;
  });

  await r.check('protected resource metadata (SDK discovery)', async () => {
    const prm = await discoverOAuthProtectedResourceMetadata(MCP_URL, { resourceMetadataUrl });
    assert(prm.resource?.replace(/\/$/, '') === MCP_URL, `resource = ${prm.resource}`);
    assert(prm.authorization_servers?.includes(ISSUER), `authorization_servers = ${JSON.stringify(prm.authorization_servers)}`);
  });

  await r.check('protected resource metadata at the path-aware well-known URL', async () => {
    const res = await fetch(`${BASE}/.well-known/oauth-protected-resource/mcp`);
    assert(res.ok, `HTTP ${res.status}`);
    const prm = await res.json();
    assert(prm.resource, 'no resource');
  });

  await r.check('authorization server metadata (SDK discovery)', async () => {
    asMeta = await discoverAuthorizationServerMetadata(ISSUER);
    assert(asMeta, 'not found');
    assert(asMeta.issuer === ISSUER, `issuer = ${asMeta.issuer}`);
    assert(asMeta.code_challenge_methods_supported?.includes('S256'), 'S256 not supported');
    assert(asMeta.registration_endpoint, 'no registration_endpoint');
    assert(asMeta.authorization_response_iss_parameter_supported === true, 'iss parameter not announced');
  });

  const reg = asMeta?.registration_endpoint || `${ISSUER}/register`;
  await r.check('registration without operator credentials is refused', async () => {
    const res = await fetch(reg, {
      method: 'POST', headers: { 'Content-Type': 'application/json' },
      body: JSON.stringify(provider.clientMetadata),
    });
    assert(res.status === 401, `HTTP ${res.status}`);
  });

  await r.check('dynamic registration with HTTP Basic', async () => {
    const basic = Buffer.from(`${encodeURIComponent(CLIENT_ID)}:${encodeURIComponent(CLIENT_SECRET)}`).toString('base64');
    const res = await fetch(reg, {
      method: 'POST',
      headers: { 'Content-Type': 'application/json', Accept: 'application/json', Authorization: `Basic ${basic}` },
      body: JSON.stringify(provider.clientMetadata),
    });
    const text = await res.text();
    assert(res.status === 201, `HTTP ${res.status}: ${text.slice(0, 300)}`);
    const info = JSON.parse(text);
    assert(info.client_id && info.client_secret, `no client_id/client_secret: ${text.slice(0, 300)}`);
    provider.saveClientInformation(info);
    return info.client_id;
  });
  if (!provider.clientInformation()) return;

  await r.check('auth() → authorization URL (PKCE S256, resource, state)', async () => {
    const result = await withTimeout(auth(provider, { serverUrl: MCP_URL, resourceMetadataUrl }), TIMEOUT, 'auth()');
    assert(result === 'REDIRECT', `auth() returned ${result}`);
    const u = provider.authorizationUrl;
    assert(u, 'redirectToAuthorization not called');
    assert(u.href.startsWith(asMeta.authorization_endpoint), `authorization URL ${u.href}`);
    const q = u.searchParams;
    assert(q.get('response_type') === 'code', 'response_type');
    assert(q.get('code_challenge_method') === 'S256', 'code_challenge_method');
    assert(q.get('client_id') === provider.clientInformation().client_id, 'client_id');
    assert(q.get('state') === provider.lastState, 'state');
    assert(q.get('resource'), 'no resource parameter');
  });
  if (!provider.authorizationUrl) return;

  await r.check('approval page: wrong operator secret gives no code', async () => {
    const a = await answerApproval(provider.authorizationUrl, 'wrong-secret');
    assert(a.status === 403, `HTTP ${a.status}, Location ${a.location}`);
    assert(!a.location, `redirected to ${a.location}`);
  });

  let code;
  await r.check('approval page: approve with the API key → 303 with code, state, iss', async () => {
    const a = await answerApproval(provider.authorizationUrl, KEY);
    assert(a.status === 302 || a.status === 303, `HTTP ${a.status}: ${a.body.slice(0, 300)}`);
    assert(a.location, 'no Location');
    const loc = new URL(a.location);
    assert(loc.origin + loc.pathname === REDIRECT, `redirected to ${loc.origin}${loc.pathname}`);
    assert(!loc.searchParams.get('error'), `error=${loc.searchParams.get('error')}: ${loc.searchParams.get('error_description')}`);
    code = loc.searchParams.get('code');
    assert(code, 'no code');
    assert(loc.searchParams.get('state') === provider.lastState, `state = ${loc.searchParams.get('state')}`);
    assert(loc.searchParams.get('iss') === ISSUER, `iss = ${loc.searchParams.get('iss')}`);
    return `HTTP ${a.status}`;
  });
  if (!code) return;

  await r.check('auth() with the code → tokens', async () => {
    const result = await withTimeout(auth(provider, { serverUrl: MCP_URL, authorizationCode: code, resourceMetadataUrl }),
      TIMEOUT, 'auth()');
    assert(result === 'AUTHORIZED', `auth() returned ${result}`);
    const t = provider.tokens();
    assert(t?.access_token, 'no access_token');
    assert(/^bearer$/i.test(t.token_type), `token_type = ${t.token_type}`);
    return `expires_in=${t.expires_in} refresh_token=${t.refresh_token ? 'yes' : 'no'} scope=${t.scope ?? ''}`;
  });
  if (!provider.tokens()) return;

  const session = async (label) => {
    const client = new Client({ name: 'servagent-interop-oauth', version: '1.0.0' }, { capabilities: {} });
    try {
      await withTimeout(client.connect(new StreamableHTTPClientTransport(new URL(MCP_URL), { authProvider: provider })),
        TIMEOUT, 'connect');
      const { tools } = await withTimeout(client.listTools(), TIMEOUT, 'tools/list');
      assert(tools.some((t) => t.name === 'execute_command'), 'execute_command not listed');
      const res = await withTimeout(client.callTool({ name: 'execute_command', arguments: { command: 'echo oauth' } }),
        TIMEOUT, 'tools/call');
      assert(!res.isError && res.structuredContent?.stdout === 'oauth\n',
        `execute_command: ${JSON.stringify(res.structuredContent ?? res.content).slice(0, 200)}`);
      return `${label}: ${tools.length} tools`;
    } finally {
      await client.close().catch(() => {});
    }
  };

  await r.check('MCP session with authProvider: tools/list + tools/call', () => session('access token'));

  await r.check('a wrong access token is refused with 401', async () => {
    const res = await fetch(MCP_URL, {
      method: 'POST',
      headers: { 'Content-Type': 'application/json', Accept: 'application/json, text/event-stream',
        Authorization: `Bearer ${provider.tokens().access_token}x` },
      body: JSON.stringify({ jsonrpc: '2.0', id: 1, method: 'ping' }),
    });
    assert(res.status === 401, `HTTP ${res.status}`);
  });

  if (provider.tokens().refresh_token) {
    await r.check('auth() refreshes with the refresh token', async () => {
      const before = provider.tokens();
      const result = await withTimeout(auth(provider, { serverUrl: MCP_URL, resourceMetadataUrl }), TIMEOUT, 'auth()');
      assert(result === 'AUTHORIZED', `auth() returned ${result}`);
      assert(provider.tokens().access_token !== before.access_token, 'access token unchanged');
    });
    await r.check('MCP session with the refreshed token', () => session('refreshed token'));
  } else {
    r.warn('no refresh_token issued: refresh not tested');
  }

  await r.check('a replayed code is refused', async () => {
    const p2 = new MemoryProvider({ redirect: REDIRECT, clientName: 'servagent interop (TypeScript SDK)', authMethod: 'client_secret_basic' });
    p2.saveClientInformation(provider.clientInformation());
    p2.saveCodeVerifier(provider.codeVerifier());
    let err;
    try {
      await auth(p2, { serverUrl: MCP_URL, authorizationCode: code, resourceMetadataUrl });
    } catch (e) {
      err = e;
    }
    assert(err, 'second redemption succeeded');
    return `${err.constructor?.name}: ${String(err.message).slice(0, 80)}`;
  });

  await r.check('the replay revoked the tokens of that code (RFC 6749 §4.1.2)', async () => {
    const res = await fetch(MCP_URL, {
      method: 'POST',
      headers: { 'Content-Type': 'application/json', Accept: 'application/json, text/event-stream',
        Authorization: `Bearer ${provider.tokens().access_token}` },
      body: JSON.stringify({ jsonrpc: '2.0', id: 1, method: 'ping' }),
    });
    assert(res.status === 401, `HTTP ${res.status}`);
  });

  await r.check('the API key still works next to OAuth', async () => {
    const client = new Client({ name: 'servagent-interop-oauth', version: '1.0.0' }, { capabilities: {} });
    try {
      await withTimeout(client.connect(new StreamableHTTPClientTransport(new URL(MCP_URL),
        { requestInit: { headers: { Authorization: `Bearer ${KEY}` } } })), TIMEOUT, 'connect');
      await withTimeout(client.listTools(), TIMEOUT, 'tools/list');
    } finally {
      await client.close().catch(() => {});
    }
  });
}

main()
  .catch((err) => r.fail('unexpected error', err))
  .finally(() => {
    r.finish();
    setTimeout(() => process.exit(process.exitCode ?? 0), 50).unref();
  });
