// claude.mjs — Claude Code (npm @anthropic-ai/claude-code, from the
// lockfile) as a health check: `claude mcp add --transport http` with the
// API key, then `claude mcp list` must report the server connected, and the
// server's debug log must show that Claude Code stayed on MCP 2026-07-28
// (server/discover first, no initialize, every request at 2026-07-28).
//
// Environment:
//   INTEROP_URL         base URL of a server with both eras, at SERVAGENT_LOG_LEVEL=DEBUG
//   INTEROP_KEY         the API key
//   INTEROP_SERVER_LOG  that server's log file
//   INTEROP_TMP         scratch directory (Claude Code's HOME)

import { spawnSync } from 'node:child_process';
import { mkdirSync, readFileSync } from 'node:fs';
import { dirname, join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { assert, env, makeReporter } from './lib.mjs';

const HERE = dirname(fileURLToPath(import.meta.url));
const BASE = env('INTEROP_URL').replace(/\/+$/, '');
const KEY = env('INTEROP_KEY');
const LOG = env('INTEROP_SERVER_LOG');
const HOME = join(env('INTEROP_TMP'), 'claude-home');
const CLAUDE = join(HERE, 'node_modules', '.bin', 'claude');
mkdirSync(HOME, { recursive: true });

const r = makeReporter('claude');
const run = (...args) => spawnSync(CLAUDE, args, {
  encoding: 'utf8', timeout: 90000, cwd: HOME,
  env: { ...process.env, HOME, NO_COLOR: '1', DISABLE_AUTOUPDATER: '1', CLAUDE_CODE_DISABLE_NONESSENTIAL_TRAFFIC: '1' },
});

await r.check('claude --version', async () => {
  const res = run('--version');
  assert(res.status === 0, `exit ${res.status}: ${res.stderr}`);
  return res.stdout.trim();
});

await r.check('claude mcp add --transport http (API key header)', async () => {
  const res = run('mcp', 'add', '--transport', 'http', 'servagent', `${BASE}/mcp`, '--header', `Authorization: Bearer ${KEY}`);
  assert(res.status === 0, `exit ${res.status}: ${res.stdout}${res.stderr}`);
});

let logStart = 0;
await r.check('claude mcp list: servagent connected', async () => {
  logStart = readFileSync(LOG, 'utf8').length;
  const res = run('mcp', 'list');
  const out = res.stdout + res.stderr;
  assert(res.status === 0, `exit ${res.status}: ${out}`);
  const line = out.split('\n').find((l) => l.startsWith('servagent:')) || '';
  assert(/Connected/.test(line), `not connected: ${out.trim()}`);
  return line.trim();
});

await r.check('Claude Code stayed on 2026-07-28 (server debug log)', async () => {
  const lines = readFileSync(LOG, 'utf8').slice(logStart).split('\n').filter((l) => l.includes('msg="mcp request"'));
  assert(lines.length > 0, 'no "mcp request" debug lines (is the server at SERVAGENT_LOG_LEVEL=DEBUG?)');
  const versions = lines.map((l) => (l.match(/ protocol=(\S*)/) || [])[1]);
  const methods = lines.map((l) => (l.match(/ method=(\S*)/) || [])[1]);
  assert(methods[0] === 'server/discover', `first request ${methods[0]}, want server/discover`);
  assert(versions.every((v) => v === '2026-07-28'), `versions seen: ${versions.join(', ')}`);
  assert(!methods.includes('initialize') && !methods.includes('""'), `legacy requests seen: ${methods.join(', ')}`);
  return `${lines.length} requests: ${methods.join(', ')}`;
});

r.finish();
