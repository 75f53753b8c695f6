// client.mjs — servagent driven by the official MCP TypeScript SDK client,
// over Streamable HTTP (/mcp) and legacy SSE (/sse).
//
// Environment:
//   INTEROP_URL   base URL, e.g. http://127.0.0.1:8765 (no path)
//   INTEROP_KEY   the API key (Bearer)
//   INTEROP_TMP     a scratch directory the server can write to
//
// Prints one line per check and closes with "client: N passed, N failed";
// exits 1 on any failure.

import { mkdirSync } from 'node:fs';
import { join } from 'node:path';
import { Client } from '@modelcontextprotocol/sdk/client/index.js';
import { StreamableHTTPClientTransport } from '@modelcontextprotocol/sdk/client/streamableHttp.js';
import { SSEClientTransport } from '@modelcontextprotocol/sdk/client/sse.js';
import { assert, env, makeReporter, withTimeout } from './lib.mjs';

const BASE = env('INTEROP_URL').replace(/\/+$/, '');
const KEY = env('INTEROP_KEY');
const TMP = env('INTEROP_TMP');
const TIMEOUT = 20000;

const EXPECTED_TOOLS = [
  'execute_command', 'read_file', 'write_file', 'edit_file', 'read_file_binary',
  'write_file_binary', 'upload_file', 'list_directory', 'move_path', 'copy_path',
  'delete_path', 'list_processes', 'kill_process', 'tail_file', 'system_info',
  'network_info', 'service_action', 'get_environment',
];
const HINTS = ['readOnlyHint', 'destructiveHint', 'idempotentHint', 'openWorldHint'];

const r = makeReporter('client');

function streamableTransport(key) {
  return new StreamableHTTPClientTransport(new URL(`${BASE}/mcp`), {
    requestInit: { headers: { Authorization: `Bearer ${key}` } },
  });
}

function sseTransport(key) {
  const auth = `Bearer ${key}`;
  return new SSEClientTransport(new URL(`${BASE}/sse`), {
    requestInit: { headers: { Authorization: auth } },
    eventSourceInit: {
      fetch: (url, init) => {
        const headers = new Headers(init?.headers);
        headers.set('Authorization', auth);
        return fetch(url, { ...init, headers });
      },
    },
  });
}

function newClient() {
  return new Client({ name: 'servagent-interop', version: '1.0.0' }, { capabilities: {} });
}

// callOk calls a tool and asserts a non-error result with structuredContent.
async function callOk(client, name, args) {
  const res = await withTimeout(client.callTool({ name, arguments: args }), TIMEOUT, `tools/call ${name}`);
  const text = (res.content || []).filter((c) => c.type === 'text').map((c) => c.text).join('\n');
  assert(!res.isError, `isError=true: ${text.slice(0, 300)}`);
  assert(res.structuredContent && typeof res.structuredContent === 'object',
    'result has no structuredContent object');
  assert(Array.isArray(res.content) && res.content.length > 0, 'result has no content');
  return res;
}

async function suite(label, makeTransport) {
  console.log(`-- ${label}`);
  const dir = join(TMP, label.replace(/\W+/g, '_'));
  mkdirSync(dir, { recursive: true });
  const client = newClient();
  const transport = makeTransport(KEY);
  const connected = await r.check(`${label}: connect + initialize`, async () => {
    await withTimeout(client.connect(transport), TIMEOUT, 'connect');
    const v = client.getServerVersion();
    return `server ${v?.name} ${v?.version}`;
  });
  if (!connected) return;

  try {
    await r.check(`${label}: server info`, async () => {
      const v = client.getServerVersion();
      assert(v?.name === 'servagent', `serverInfo.name = ${JSON.stringify(v?.name)}`);
      assert(client.getServerCapabilities()?.tools, 'tools capability missing');
    });

    await r.check(`${label}: instructions non-empty`, async () => {
      const ins = client.getInstructions();
      assert(typeof ins === 'string' && ins.trim().length > 0, 'instructions empty or missing');
      return `${ins.length} chars`;
    });

    await r.check(`${label}: ping`, async () => {
      await withTimeout(client.ping(), TIMEOUT, 'ping');
    });

    let tools = [];
    await r.check(`${label}: tools/list`, async () => {
      const res = await withTimeout(client.listTools(), TIMEOUT, 'tools/list');
      tools = res.tools;
      const names = tools.map((t) => t.name);
      const missing = EXPECTED_TOOLS.filter((n) => !names.includes(n));
      assert(missing.length === 0, `missing tools: ${missing.join(', ')}`);
      return `${tools.length} tools`;
    });

    await r.check(`${label}: every tool has a title and all four annotation hints`, async () => {
      const problems = [];
      const noTopTitle = [];
      for (const t of tools) {
        const title = t.title ?? t.annotations?.title;
        if (typeof title !== 'string' || title.trim() === '') problems.push(`${t.name}: no title`);
        if (!t.title) noTopTitle.push(t.name);
        for (const h of HINTS) {
          if (typeof t.annotations?.[h] !== 'boolean') problems.push(`${t.name}: ${h} not a boolean`);
        }
        if (t.inputSchema?.type !== 'object') problems.push(`${t.name}: inputSchema.type != object`);
      }
      if (noTopTitle.length > 0) {
        r.warn(`${noTopTitle.length} tool(s) carry only annotations.title, no top-level Tool.title ` +
          `(2025-06-18 display name): ${noTopTitle.join(', ')}`);
      }
      assert(problems.length === 0, problems.join('; '));
    });

    await r.check(`${label}: execute_command echo hi`, async () => {
      const res = await callOk(client, 'execute_command', { command: 'echo hi' });
      const sc = res.structuredContent;
      assert(sc.exit_code === 0, `exit_code = ${JSON.stringify(sc.exit_code)}`);
      assert(sc.stdout === 'hi\n', `stdout = ${JSON.stringify(sc.stdout)}`);
    });

    await r.check(`${label}: execute_command failing command is a result, not a protocol error`, async () => {
      const res = await withTimeout(client.callTool({ name: 'execute_command', arguments: { command: 'exit 3' } }),
        TIMEOUT, 'tools/call');
      assert(res.structuredContent?.exit_code === 3, `exit_code = ${JSON.stringify(res.structuredContent?.exit_code)}`);
    });

    await r.check(`${label}: invalid arguments give an isError result (not a protocol error)`, async () => {
      const res = await withTimeout(client.callTool({ name: 'read_file', arguments: { path: 42 } }), TIMEOUT, 'tools/call');
      assert(res.isError === true, `isError = ${res.isError}`);
    });

    const textFile = join(dir, 'hello.txt');
    const content = 'line one\nline two\nservagent interop\n';
    await r.check(`${label}: write_file (setup)`, async () => {
      await callOk(client, 'write_file', { path: textFile, content });
    });

    // A job for read_job_output to read (jobs.mjs tests jobs in depth).
    const job = await callOk(client, 'execute_command', { command: 'echo job-ok', background: true }).catch(() => null);

    // Arguments for each read-only tool. A new read-only tool without an entry
    // here fails the run, so this list keeps up with the server.
    const readOnlyArgs = {
      list_jobs: {},
      read_job_output: { job_id: job?.structuredContent?.job_id ?? 'none', wait_seconds: 5 },
      read_file: { path: textFile },
      list_directory: { path: dir },
      list_processes: { limit: 5 },
      system_info: {},
      network_info: {},
      get_environment: { filter: 'PATH' },
      tail_file: { path: textFile, lines: 2 },
      read_file_binary: { path: textFile },
    };
    const extraChecks = {
      read_file: (sc, res) => {
        const all = JSON.stringify(sc) + JSON.stringify(res.content);
        assert(all.includes('servagent interop'), 'file content not in the result');
      },
      list_directory: (sc) => {
        assert(JSON.stringify(sc).includes('hello.txt'), 'hello.txt not listed');
      },
      tail_file: (sc) => {
        assert(JSON.stringify(sc).includes('servagent interop'), 'last line not in the result');
      },
      read_file_binary: (sc) => {
        const b64 = Buffer.from(content).toString('base64');
        assert(JSON.stringify(sc).includes(b64), 'base64 of the file not in the result');
      },
    };
    const readOnly = tools.filter((t) => t.annotations?.readOnlyHint === true);
    await r.check(`${label}: read-only tools known to this test`, async () => {
      const unknown = readOnly.map((t) => t.name).filter((n) => !(n in readOnlyArgs));
      assert(unknown.length === 0, `no test arguments for read-only tool(s): ${unknown.join(', ')}`);
      const notRO = Object.keys(readOnlyArgs).filter((n) => !readOnly.some((t) => t.name === n));
      assert(notRO.length === 0, `expected readOnlyHint=true on: ${notRO.join(', ')}`);
      return readOnly.map((t) => t.name).join(', ');
    });
    for (const t of readOnly) {
      if (!(t.name in readOnlyArgs)) continue;
      await r.check(`${label}: ${t.name}`, async () => {
        const res = await callOk(client, t.name, readOnlyArgs[t.name]);
        extraChecks[t.name]?.(res.structuredContent, res);
      });
    }

    if (typeof transport.terminateSession === 'function') {
      await r.check(`${label}: DELETE ends the session; the old session id then gets 404`, async () => {
        const sid = transport.sessionId;
        assert(sid, 'no Mcp-Session-Id was given');
        await withTimeout(transport.terminateSession(), TIMEOUT, 'DELETE');
        const res = await fetch(`${BASE}/mcp`, {
          method: 'POST',
          headers: {
            Authorization: `Bearer ${KEY}`, 'Content-Type': 'application/json',
            Accept: 'application/json, text/event-stream', 'Mcp-Session-Id': sid,
            ...(transport.protocolVersion ? { 'MCP-Protocol-Version': transport.protocolVersion } : {}),
          },
          body: JSON.stringify({ jsonrpc: '2.0', id: 99, method: 'ping' }),
        });
        assert(res.status === 404, `HTTP ${res.status}`);
      });
    }
  } finally {
    await client.close().catch(() => {});
  }
}

async function rejected(label, makeTransport) {
  await r.check(`${label}: wrong key is rejected with 401`, async () => {
    const client = newClient();
    let err;
    try {
      await withTimeout(client.connect(makeTransport('wrong-key-' + Date.now())), TIMEOUT, 'connect');
    } catch (e) {
      err = e;
    } finally {
      await client.close().catch(() => {});
    }
    assert(err, 'connect succeeded with a wrong key');
    const code = err.code ?? err.status;
    assert(code === 401 || /\b401\b/.test(String(err.message)),
      `expected a 401, got ${err.name}: code=${code} ${err.message}`);
    return `${err.name}: ${String(err.message).slice(0, 80)}`;
  });
}

async function main() {
  await suite('streamable-http', streamableTransport);
  await rejected('streamable-http', streamableTransport);
  await suite('sse', sseTransport);
  await rejected('sse', sseTransport);
}

main()
  .catch((err) => r.fail('unexpected error', err))
  .finally(() => {
    r.finish();
    // Transports may keep sockets open; leave promptly.
    setTimeout(() => process.exit(process.exitCode ?? 0), 50).unref();
  });
