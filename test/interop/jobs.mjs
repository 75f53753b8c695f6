// jobs.mjs — long-running and interactive commands driven by the official
// MCP TypeScript SDK client with its default request timeout (60 s), over
// Streamable HTTP: a 75 s command yields a job before 60 s and its whole
// output arrives in order; a job outlives its session; PTY prompts; ctrl-c;
// kill_job kills grandchildren; cancel before the yield kills; a shutdown
// leaves no job process (a server of its own, started from INTEROP_BIN).
//
// Environment:
//   INTEROP_URL   base URL of a server with the API key (no path)
//   INTEROP_KEY   the API key (Bearer)
//   INTEROP_TMP   a scratch directory the server can write to
//   INTEROP_BIN   the servagent binary (for the shutdown case)
//
// Prints one line per check and closes with "jobs: N passed, N failed".
// (Another credential not seeing a job needs two credentials: the Go test
// TestJobsOfAnotherCredentialAreInvisible covers it with the API key and OAuth.)

import { spawn } from 'node:child_process';
import { mkdirSync, readFileSync, writeFileSync } from 'node:fs';
import { createServer } from 'node:net';
import { join } from 'node:path';
import { Client } from '@modelcontextprotocol/sdk/client/index.js';
import { StreamableHTTPClientTransport } from '@modelcontextprotocol/sdk/client/streamableHttp.js';
import { assert, env, makeReporter } from './lib.mjs';

const BASE = env('INTEROP_URL').replace(/\/+$/, '');
const KEY = env('INTEROP_KEY');
const TMP = join(env('INTEROP_TMP'), 'jobs');
const BIN = env('INTEROP_BIN');
mkdirSync(TMP, { recursive: true });

const r = makeReporter('jobs');

async function connect(base = BASE, key = KEY) {
  const client = new Client({ name: 'servagent-interop-jobs', version: '1.0.0' }, { capabilities: {} });
  await client.connect(new StreamableHTTPClientTransport(new URL(`${base}/mcp`), {
    requestInit: { headers: { Authorization: `Bearer ${key}` } },
  }));
  return client;
}

// call uses the SDK's default request timeout (60 s): no options passed.
async function call(client, name, args) {
  const res = await client.callTool({ name, arguments: args });
  const text = (res.content || []).filter((c) => c.type === 'text').map((c) => c.text).join('\n');
  assert(!res.isError, `${name}: isError: ${text.slice(0, 300)}`);
  return res.structuredContent;
}

// follow reads with waits until the job ends; returns all stdout and the last read.
async function follow(client, id, want) {
  let all = '';
  for (;;) {
    const out = await call(client, 'read_job_output', { job_id: id, wait_seconds: 30 });
    all += out.stdout;
    if (!out.running || (want && all.includes(want))) return { all, out };
  }
}

const sleep = (ms) => new Promise((res) => setTimeout(res, ms));

function alive(pid) {
  try {
    process.kill(pid, 0);
  } catch {
    return false;
  }
  // A zombie still answers kill 0.
  try {
    const stat = readFileSync(`/proc/${pid}/stat`, 'utf8');
    return stat.slice(stat.lastIndexOf(')') + 2)[0] !== 'Z';
  } catch {
    return false;
  }
}

async function waitGone(pids, ms = 5000) {
  const end = Date.now() + ms;
  while (pids.some(alive) && Date.now() < end) await sleep(50);
  const left = pids.filter(alive);
  assert(left.length === 0, `still alive: ${left.join(' ')}`);
}

async function readPids(file, n) {
  const end = Date.now() + 10000;
  for (;;) {
    let pids = [];
    try {
      pids = readFileSync(file, 'utf8').trim().split(/\s+/).filter(Boolean).map(Number);
    } catch {}
    if (pids.length >= n) return pids;
    assert(Date.now() < end, `no ${n} pids in ${file}`);
    await sleep(50);
  }
}

const client = await connect();

// The 75 s command runs while the quicker checks go on beside it.
const long = r.check('a 75 s command yields a job before 60 s; its whole output arrives in order', async () => {
  const c = await connect();
  const t0 = Date.now();
  const first = await call(c, 'execute_command', { command: 'for i in $(seq 1 75); do echo tick$i; sleep 1; done' });
  const yieldedAfter = Date.now() - t0;
  assert(first.running === true && first.job_id, `not yielded: ${JSON.stringify(first).slice(0, 300)}`);
  assert(yieldedAfter < 60000, `yielded after ${yieldedAfter} ms`);
  const { all, out } = await follow(c, first.job_id);
  let want = '';
  for (let i = 1; i <= 75; i++) want += `tick${i}\n`;
  assert(first.stdout + all === want, `output differs: ${JSON.stringify((first.stdout + all).slice(0, 200))}`);
  assert(out.exit_code === 0, `exit_code ${out.exit_code}`);
  await c.close();
  return `yielded after ${(yieldedAfter / 1000).toFixed(1)} s, ${want.length} bytes in order`;
});

await r.check('a background job survives its session and is read from a new one', async () => {
  const c1 = await connect();
  const started = await call(c1, 'execute_command', { command: 'sleep 2; echo survived', background: true });
  assert(started.running && started.job_id, 'no job id');
  await c1.close();
  const c2 = await connect();
  const { all, out } = await follow(c2, started.job_id);
  const list = await call(c2, 'list_jobs', {});
  await c2.close();
  assert(all === 'survived\n' && out.exit_code === 0, `${JSON.stringify(all)} ${out.exit_code}`);
  assert(list.jobs.some((j) => j.job_id === started.job_id), 'not in list_jobs');
});

await r.check('a PTY job has a terminal; python3 input() is waiting_for_input and answered', async () => {
  const started = await call(client, 'execute_command', {
    command: `test -t 0 && echo TTY_YES; python3 -c 'print("hello", input("Name: "))'`, pty: true, background: true,
  });
  const { all, out } = await follow(client, started.job_id, 'Name: ');
  let waiting = out.waiting_for_input;
  if (!waiting) waiting = (await call(client, 'read_job_output', { job_id: started.job_id })).waiting_for_input;
  assert(all.includes('TTY_YES'), `test -t 0 false: ${JSON.stringify(all)}`);
  assert(waiting === true, 'waiting_for_input not reported at the prompt');
  await call(client, 'write_job_input', { job_id: started.job_id, text: 'ada', keys: ['enter'] });
  const end = await follow(client, started.job_id);
  assert(end.all.includes('hello ada') && end.out.exit_code === 0, JSON.stringify(end.all));
});

await r.check('ctrl-c ends sleep on a terminal', async () => {
  const started = await call(client, 'execute_command', { command: 'echo go; sleep 100', pty: true, background: true });
  await follow(client, started.job_id, 'go');
  await sleep(200);
  await call(client, 'write_job_input', { job_id: started.job_id, keys: ['ctrl-c'] });
  const t0 = Date.now();
  const { out } = await follow(client, started.job_id);
  assert(!out.running && Date.now() - t0 < 10000, JSON.stringify(out));
  return `ended with ${out.signal || `exit ${out.exit_code}`}`;
});

await r.check('kill_job kills grandchildren (background, nohup, TERM-ignoring)', async () => {
  const pidfile = join(TMP, 'kill.pids');
  const started = await call(client, 'execute_command', {
    command: `sleep 300 & echo $! >>${pidfile}; nohup sleep 301 >/dev/null 2>&1 & echo $! >>${pidfile}; (trap '' TERM; exec sleep 302) & echo $! >>${pidfile}; wait`,
    background: true,
  });
  const pids = await readPids(pidfile, 3);
  const killed = await call(client, 'kill_job', { job_id: started.job_id });
  assert(!killed.running, 'still running after kill_job');
  await waitGone(pids);
});

await r.check('cancelling the call before the yield kills the command', async () => {
  const pidfile = join(TMP, 'cancel.pids');
  const ac = new AbortController();
  const p = client.callTool({ name: 'execute_command', arguments: { command: `echo $$ >${pidfile}; sleep 303 & echo $! >>${pidfile}; wait` } },
    undefined, { signal: ac.signal });
  const pids = await readPids(pidfile, 2);
  ac.abort();
  await p.then(() => {}, () => {});
  await waitGone(pids);
});

await long;
await client.close();

function freePort() {
  return new Promise((res) => {
    const s = createServer();
    s.listen(0, '127.0.0.1', () => {
      const { port } = s.address();
      s.close(() => res(port));
    });
  });
}

await r.check('a server shutdown kills every job and says how many', async () => {
  const dir = join(TMP, 'shutdown');
  mkdirSync(join(dir, 'work'), { recursive: true });
  writeFileSync(join(dir, 'empty.env'), '');
  const port = await freePort();
  const key = `jobs-${Date.now()}`;
  let log = '';
  const srv = spawn(BIN, ['serve', '--env-file', join(dir, 'empty.env')], {
    cwd: dir,
    env: { ...process.env, SERVAGENT_HOST: '127.0.0.1', SERVAGENT_PORT: String(port), SERVAGENT_API_KEY: key, SERVAGENT_WORK_DIR: join(dir, 'work') },
    stdio: ['ignore', 'ignore', 'pipe'],
  });
  srv.stderr.on('data', (d) => { log += d; });
  const exited = new Promise((res) => srv.on('exit', (code, sig) => res({ code, sig })));
  try {
    const base = `http://127.0.0.1:${port}`;
    for (let i = 0; ; i++) {
      try {
        if ((await fetch(`${base}/healthz`)).ok) break;
      } catch {}
      assert(i < 100, `server did not start: ${log}`);
      await sleep(100);
    }
    const c = await connect(base, key);
    const pidfile = join(dir, 'pids');
    for (const pty of [false, true]) {
      await call(c, 'execute_command', { command: `(trap '' TERM HUP; exec sleep 304) & echo $! >>${pidfile}; wait`, background: true, pty });
    }
    const pids = await readPids(pidfile, 2);
    await c.close();
    srv.kill('SIGTERM');
    const { code } = await exited;
    assert(code === 0, `exit ${code}: ${log.slice(-500)}`);
    await waitGone(pids, 1000);
    assert(log.includes('msg="killed running jobs" jobs=2'), `log: ${log.slice(-800)}`);
  } finally {
    srv.kill('SIGKILL');
  }
});

r.finish();
