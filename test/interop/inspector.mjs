// inspector.mjs — servagent driven by the MCP Inspector CLI
// (`npx @modelcontextprotocol/inspector --cli ...`, v2), over Streamable HTTP
// and SSE, with the API key sent as a header.
//
// Environment: INTEROP_URL (base URL, no path), INTEROP_KEY, INTEROP_TMP.
// The Inspector needs Node >= 22.19: run.sh puts node_modules/.bin (the
// pinned Node 22) first on PATH; INSPECTOR_NODE overrides the interpreter.

import { spawnSync } from 'node:child_process';
import { mkdirSync } from 'node:fs';
import { dirname, join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { assert, env, makeReporter } from './lib.mjs';

const HERE = dirname(fileURLToPath(import.meta.url));
const BASE = env('INTEROP_URL').replace(/\/+$/, '');
const KEY = env('INTEROP_KEY');
const TMP = env('INTEROP_TMP');
// The interpreter: $INSPECTOR_NODE, else this script's own Node when it is >= 22
// (run.sh runs the scripts with the pinned Node 22), else the pinned one.
const NODE = process.env.INSPECTOR_NODE ||
  (Number(process.versions.node.split('.')[0]) >= 22 ? process.execPath : join(HERE, 'node_modules', '.bin', 'node'));
const LAUNCHER = join(HERE, 'node_modules', '@modelcontextprotocol', 'inspector', 'clients', 'launcher', 'build', 'index.js');

// Keep the Inspector's catalog and secret store out of the real $HOME.
const home = join(TMP, 'inspector-home');
mkdirSync(home, { recursive: true });
const childEnv = {
  ...process.env,
  HOME: home,
  XDG_CONFIG_HOME: join(home, '.config'),
  MCP_CATALOG_PATH: join(home, 'mcp.json'),
  CI: 'true',
  NO_COLOR: '1',
};

const r = makeReporter('inspector');

function inspector(args) {
  const argv = [LAUNCHER, '--cli', ...args];
  const res = spawnSync(NODE, argv, { env: childEnv, encoding: 'utf8', timeout: 60000, stdio: ['ignore', 'pipe', 'pipe'] });
  if (res.error) throw res.error;
  return res;
}

function json(res, what) {
  assert(res.status === 0, `${what}: exit ${res.status}${res.signal ? ` (${res.signal})` : ''}: ${res.stderr.trim().slice(0, 400)}`);
  try {
    return JSON.parse(res.stdout);
  } catch {
    throw new Error(`${what}: stdout is not JSON: ${res.stdout.slice(0, 300)}`);
  }
}

const auth = `Authorization: Bearer ${KEY}`;
const targets = [
  { label: 'http', url: `${BASE}/mcp`, transport: 'http' },
  { label: 'sse', url: `${BASE}/sse`, transport: 'sse' },
];

await r.check('inspector --version', async () => {
  const res = inspector(['--version']);
  const out = (res.stdout + res.stderr).trim();
  assert(res.status === 0, `exit ${res.status}: ${out.slice(0, 300)}`);
  return out.split('\n')[0];
});

for (const t of targets) {
  const common = [t.url, '--transport', t.transport, '--header', auth];

  await r.check(`${t.label}: tools/list`, async () => {
    const out = json(inspector([...common, '--method', 'tools/list']), 'tools/list');
    const names = (out.tools || []).map((x) => x.name);
    assert(names.includes('execute_command'), `execute_command not listed: ${names.join(', ')}`);
    const noHints = (out.tools || []).filter((x) => typeof x.annotations?.readOnlyHint !== 'boolean').map((x) => x.name);
    assert(noHints.length === 0, `tools without readOnlyHint: ${noHints.join(', ')}`);
    return `${names.length} tools`;
  });

  await r.check(`${t.label}: tools/call execute_command`, async () => {
    const out = json(inspector([...common, '--method', 'tools/call', '--tool-name', 'execute_command',
      '--tool-arg', 'command=echo hi']), 'tools/call');
    assert(!out.isError, `isError: ${JSON.stringify(out.content).slice(0, 300)}`);
    const sc = out.structuredContent || {};
    assert(sc.exit_code === 0, `exit_code = ${JSON.stringify(sc.exit_code)}`);
    assert(sc.stdout === 'hi\n', `stdout = ${JSON.stringify(sc.stdout)}`);
  });

  await r.check(`${t.label}: tools/call system_info`, async () => {
    const out = json(inspector([...common, '--method', 'tools/call', '--tool-name', 'system_info']), 'tools/call');
    assert(!out.isError, `isError: ${JSON.stringify(out.content).slice(0, 300)}`);
    assert(out.structuredContent && typeof out.structuredContent === 'object', 'no structuredContent');
  });

  await r.check(`${t.label}: wrong key fails`, async () => {
    const res = inspector([t.url, '--transport', t.transport, '--header', 'Authorization: Bearer wrong-key',
      '--method', 'tools/list', '--stored-auth-only']);
    assert(res.status !== 0, `exit 0 with a wrong key: ${res.stdout.slice(0, 200)}`);
    const out = res.stdout + res.stderr;
    // The Inspector reports the 401 as {"error":{"code":"auth_required",...}}
    // (it would start OAuth; --stored-auth-only keeps it non-interactive).
    assert(/auth_required|\b401\b|unauthori[sz]ed/i.test(out), `not an auth failure: ${out.trim().slice(0, 300)}`);
    return `exit ${res.status}`;
  });
}

r.finish();
