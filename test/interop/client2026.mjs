// client2026.mjs — servagent driven by the TypeScript SDK v2 client
// (@modelcontextprotocol/client 2.4.0) in each versionNegotiation mode:
// 'legacy' (initialize session), 'auto' (server/discover probe, must pick
// 2026-07-28 here) and { pin: '2026-07-28' }; then 'auto' and the pin
// against a server with only the legacy era (SERVAGENT_PROTOCOLS=legacy):
// auto falls back to a session, the pin fails loudly.
//
// Environment:
//   INTEROP_URL          base URL of a server with both eras and an API key
//   INTEROP_KEY          the API key
//   INTEROP_LEGACY_URL   base URL of a legacy-only server with the same key
//
// Prints one line per check and closes with "client2026: N passed, N failed".

import { Client, StreamableHTTPClientTransport } from '@modelcontextprotocol/client';
import { assert, env, makeReporter, withTimeout } from './lib.mjs';

const BASE = env('INTEROP_URL').replace(/\/+$/, '');
const LEGACY = env('INTEROP_LEGACY_URL').replace(/\/+$/, '');
const KEY = env('INTEROP_KEY');
const TIMEOUT = 20000;

const r = makeReporter('client2026');

async function connect(base, mode, key = KEY) {
  const transport = new StreamableHTTPClientTransport(new URL(`${base}/mcp`), {
    requestInit: { headers: { Authorization: `Bearer ${key}` } },
  });
  const client = new Client({ name: 'servagent-interop-v2', version: '1.0.0' },
    { capabilities: {}, versionNegotiation: { mode } });
  await withTimeout(client.connect(transport), TIMEOUT, `connect (${JSON.stringify(mode)})`);
  return { client, transport };
}

const MODES = [
  ['legacy', 'legacy', false],
  ['auto', 'auto', true],
  ['pinned 2026-07-28', { pin: '2026-07-28' }, true],
];

for (const [name, mode, modern] of MODES) {
  await r.check(`${name}: connect, tools/list, execute_command`, async () => {
    const { client, transport } = await connect(BASE, mode);
    try {
      const version = client.getNegotiatedProtocolVersion();
      if (modern) {
        assert(version === '2026-07-28', `negotiated ${version}, want 2026-07-28`);
        assert(!transport.sessionId, `a 2026-07-28 connection got a session id ${transport.sessionId}`);
      } else {
        assert(version && version < '2026-07-28', `legacy mode negotiated ${version}`);
        assert(transport.sessionId, 'a legacy connection has no Mcp-Session-Id');
      }
      assert((client.getInstructions() || '').length > 0, 'no instructions');
      const list = await withTimeout(client.listTools(), TIMEOUT, 'tools/list');
      assert(list.tools.length >= 18 && list.tools.some((t) => t.name === 'execute_command'), `tools/list: ${list.tools.length} tools`);
      const names = list.tools.map((t) => t.name);
      if (modern) assert(names.join() === [...names].sort().join(), 'tools/list is not in name order');
      const res = await withTimeout(client.callTool({ name: 'execute_command', arguments: { command: 'echo hi' } }), TIMEOUT, 'tools/call');
      assert(!res.isError && res.structuredContent?.stdout === 'hi\n', `echo hi: ${JSON.stringify(res).slice(0, 300)}`);
      return `${version}, ${list.tools.length} tools, session ${transport.sessionId ? 'yes' : 'none'}`;
    } finally {
      await client.close();
    }
  });
}

await r.check('pinned 2026-07-28: a wrong key is refused', async () => {
  let err;
  try {
    const { client } = await connect(BASE, { pin: '2026-07-28' }, 'wrong-key');
    await client.close();
  } catch (e) {
    err = e;
  }
  assert(err, 'connected with a wrong key');
  assert(/401|nauthori/.test(String(err?.message ?? err) + String(err?.code ?? '')), `unexpected error: ${err}`);
  return String(err.message ?? err).slice(0, 80);
});

await r.check('auto against a legacy-only server falls back to a session', async () => {
  const { client, transport } = await connect(LEGACY, 'auto');
  try {
    const version = client.getNegotiatedProtocolVersion();
    assert(version && version < '2026-07-28' && transport.sessionId, `negotiated ${version}, session ${transport.sessionId}`);
    const res = await withTimeout(client.callTool({ name: 'execute_command', arguments: { command: 'echo fallback' } }), TIMEOUT, 'tools/call');
    assert(res.structuredContent?.stdout === 'fallback\n', JSON.stringify(res).slice(0, 300));
    return version;
  } finally {
    await client.close();
  }
});

await r.check('pinned 2026-07-28 against a legacy-only server fails loudly', async () => {
  let err;
  try {
    const { client } = await connect(LEGACY, { pin: '2026-07-28' });
    await client.close();
  } catch (e) {
    err = e;
  }
  assert(err, 'a pin to 2026-07-28 connected to a legacy-only server');
  return String(err.message ?? err).slice(0, 100);
});

r.finish();
