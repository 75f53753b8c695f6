// cimd.mjs — the TypeScript SDK v2 client (@modelcontextprotocol/client) with
// a Client ID Metadata Document, the way Claude.ai and ChatGPT connect: the
// client_id is the HTTPS URL of a JSON document served here by a local HTTPS
// server (self-signed certificate; servagent trusts it through
// SERVAGENT_OAUTH_CIMD_CA_FILE, which also allows a loopback document host).
//
//   AS metadata advertises client_id_metadata_document_supported + "none"
//   → auth() with clientMetadataUrl (no registration)  →  the approval page
//   names the client and shows the document's host  →  approve  →  auth()
//   with the code → tokens (public client: PKCE, no secret)  →  MCP session:
//   tools/list + tools/call  →  refresh  →  a bad document gets a 400 page,
//   never a redirect.
//
// Environment: INTEROP_URL (base URL; the issuer is INTEROP_URL/mcp),
// INTEROP_KEY (API key = approval secret), CIMD_CERT and CIMD_KEY (PEM files
// of the document server's certificate, whose CA file servagent was given).

import { readFileSync } from 'node:fs';
import { createServer } from 'node:https';
import {
  Client,
  StreamableHTTPClientTransport,
  auth,
  discoverAuthorizationServerMetadata,
} from '@modelcontextprotocol/client';
import { MemoryProvider, answerApproval } from './approval.mjs';
import { assert, env, makeReporter, withTimeout } from './lib.mjs';

const BASE = env('INTEROP_URL').replace(/\/+$/, '');
const KEY = env('INTEROP_KEY');
const MCP_URL = `${BASE}/mcp`;
const ISSUER = MCP_URL;
// Nothing listens there: the test reads the redirect from the Location header.
const REDIRECT = 'http://127.0.0.1:48124/callback';
const CLIENT_NAME = 'servagent interop (SDK v2, CIMD)';
const TIMEOUT = 20000;

const r = makeReporter('cimd');

// ---- the document server ------------------------------------------------------
const fetches = {};
let docBase;
const documents = {
  '/oauth/client.json': (url) => ({
    client_id: url,
    client_name: CLIENT_NAME,
    redirect_uris: [REDIRECT],
    grant_types: ['authorization_code', 'refresh_token'],
    response_types: ['code'],
    token_endpoint_auth_method: 'none',
  }),
  // client_id names another URL: must be refused.
  '/oauth/mismatch.json': () => ({
    client_id: 'https://elsewhere.example/oauth/client.json',
    client_name: 'impostor',
    redirect_uris: [REDIRECT],
    token_endpoint_auth_method: 'none',
  }),
};
const docServer = createServer(
  { cert: readFileSync(env('CIMD_CERT')), key: readFileSync(env('CIMD_KEY')) },
  (req, res) => {
    const path = new URL(req.url, 'https://x').pathname;
    fetches[path] = (fetches[path] ?? 0) + 1;
    const make = documents[path];
    if (!make) {
      res.writeHead(404).end();
      return;
    }
    res.writeHead(200, { 'Content-Type': 'application/json', 'Cache-Control': 'max-age=300' });
    res.end(JSON.stringify(make(docBase + path)));
  },
);

async function main() {
  await new Promise((resolve, reject) => {
    docServer.once('error', reject);
    docServer.listen(0, '127.0.0.1', resolve);
  });
  const docHost = `127.0.0.1:${docServer.address().port}`;
  docBase = `https://${docHost}`;
  const clientURL = `${docBase}/oauth/client.json`;
  const provider = new MemoryProvider({ redirect: REDIRECT, clientName: CLIENT_NAME, authMethod: 'none', clientMetadataUrl: clientURL });

  await r.check('AS metadata: client_id_metadata_document_supported and "none"', async () => {
    const m = await discoverAuthorizationServerMetadata(ISSUER);
    assert(m?.client_id_metadata_document_supported === true, `client_id_metadata_document_supported = ${m?.client_id_metadata_document_supported}`);
    assert(m.token_endpoint_auth_methods_supported?.includes('none'), `token_endpoint_auth_methods_supported = ${JSON.stringify(m.token_endpoint_auth_methods_supported)}`);
  });

  await r.check('auth() with clientMetadataUrl → authorization URL, no registration', async () => {
    const result = await withTimeout(auth(provider, { serverUrl: MCP_URL }), TIMEOUT, 'auth()');
    assert(result === 'REDIRECT', `auth() returned ${result}`);
    const u = provider.authorizationUrl;
    assert(u, 'redirectToAuthorization not called');
    assert(u.searchParams.get('client_id') === clientURL, `client_id = ${u.searchParams.get('client_id')}`);
    assert(u.searchParams.get('code_challenge_method') === 'S256', 'code_challenge_method');
    assert(provider.clientInformation()?.client_id === clientURL, 'client information is not the metadata URL');
  });
  if (!provider.authorizationUrl) return;

  let code;
  await r.check('approval page names the client and its document host; approve → code', async () => {
    const a = await answerApproval(provider.authorizationUrl, KEY);
    assert(a.page.includes(`Client published by <strong>${docHost}</strong>`), `page does not show the document host ${docHost}`);
    assert(a.page.includes(CLIENT_NAME), 'page does not show the client name');
    assert(a.status === 303, `HTTP ${a.status}: ${a.body.slice(0, 300)}`);
    const loc = new URL(a.location);
    assert(loc.origin + loc.pathname === REDIRECT, `redirected to ${loc.origin}${loc.pathname}`);
    code = loc.searchParams.get('code');
    assert(code, `no code: ${a.location}`);
    assert(loc.searchParams.get('state') === provider.lastState, 'state');
    provider.iss = loc.searchParams.get('iss');
    assert(provider.iss === ISSUER, `iss = ${provider.iss}`);
  });
  if (!code) return;

  await r.check('auth() with the code → tokens (public client, no secret)', async () => {
    const result = await withTimeout(auth(provider, { serverUrl: MCP_URL, authorizationCode: code, iss: provider.iss }), TIMEOUT, 'auth()');
    assert(result === 'AUTHORIZED', `auth() returned ${result}`);
    const t = provider.tokens();
    assert(t?.access_token && t.refresh_token, `tokens: ${JSON.stringify(Object.keys(t ?? {}))}`);
    return `scope=${t.scope ?? ''}`;
  });
  if (!provider.tokens()) return;

  const session = async (label) => {
    const client = new Client({ name: 'servagent-interop-cimd', version: '1.0.0' }, { capabilities: {} });
    try {
      await withTimeout(client.connect(new StreamableHTTPClientTransport(new URL(MCP_URL), { authProvider: provider })), TIMEOUT, 'connect');
      const { tools } = await withTimeout(client.listTools(), TIMEOUT, 'tools/list');
      assert(tools.some((t) => t.name === 'execute_command'), 'execute_command not listed');
      const res = await withTimeout(client.callTool({ name: 'execute_command', arguments: { command: 'echo cimd' } }), TIMEOUT, 'tools/call');
      assert(!res.isError && res.structuredContent?.stdout === 'cimd\n', `execute_command: ${JSON.stringify(res.structuredContent ?? res.content).slice(0, 200)}`);
      return `${label}: ${tools.length} tools`;
    } finally {
      await client.close().catch(() => {});
    }
  };
  await r.check('MCP session with the document client: tools/list + tools/call', () => session('access token'));

  await r.check('auth() refreshes (public client, refresh token rotated)', async () => {
    const before = provider.tokens();
    const result = await withTimeout(auth(provider, { serverUrl: MCP_URL }), TIMEOUT, 'auth()');
    assert(result === 'AUTHORIZED', `auth() returned ${result}`);
    assert(provider.tokens().access_token !== before.access_token, 'access token unchanged');
    assert(provider.tokens().refresh_token !== before.refresh_token, 'refresh token not rotated');
  });
  await r.check('MCP session with the refreshed token', () => session('refreshed token'));

  await r.check('the document was fetched once (Cache-Control max-age=300)', async () => {
    assert(fetches['/oauth/client.json'] === 1, `fetched ${fetches['/oauth/client.json']} times`);
  });

  await r.check('a document whose client_id is another URL: 400 page, no redirect', async () => {
    const bad = new MemoryProvider({ redirect: REDIRECT, clientName: CLIENT_NAME, authMethod: 'none', clientMetadataUrl: `${docBase}/oauth/mismatch.json` });
    const result = await withTimeout(auth(bad, { serverUrl: MCP_URL }), TIMEOUT, 'auth()');
    assert(result === 'REDIRECT', `auth() returned ${result}`);
    const res = await fetch(bad.authorizationUrl, { redirect: 'manual' });
    const html = await res.text();
    assert(res.status === 400, `HTTP ${res.status}`);
    assert(!res.headers.get('location'), `redirected to ${res.headers.get('location')}`);
    assert(html.includes('is not the URL it was fetched from'), `page: ${html.slice(0, 300)}`);
  });

  await r.check('an unknown document (404): 400 page, no redirect', async () => {
    const bad = new MemoryProvider({ redirect: REDIRECT, clientName: CLIENT_NAME, authMethod: 'none', clientMetadataUrl: `${docBase}/oauth/missing.json` });
    await withTimeout(auth(bad, { serverUrl: MCP_URL }), TIMEOUT, 'auth()');
    const res = await fetch(bad.authorizationUrl, { redirect: 'manual' });
    const html = await res.text();
    assert(res.status === 400 && !res.headers.get('location'), `HTTP ${res.status}, Location ${res.headers.get('location')}`);
    assert(html.includes('HTTP 404'), `page: ${html.slice(0, 300)}`);
  });
}

main()
  .catch((err) => r.fail('unexpected error', err))
  .finally(() => {
    docServer.close();
    docServer.closeAllConnections?.();
    r.finish();
  });
