// Small shared helpers for the interop scripts: a check counter that prints
// one line per check and a closing "N passed, N failed" line.

export function makeReporter(suite) {
  let passed = 0;
  let failed = 0;
  const ok = (name, detail) => {
    passed++;
    console.log(`  ok   ${name}${detail ? ` (${detail})` : ''}`);
  };
  const fail = (name, err) => {
    failed++;
    const msg = err instanceof Error ? `${err.name}: ${err.message}` : String(err);
    console.log(`  FAIL ${name}: ${msg}`);
  };
  const warn = (msg) => console.log(`  warn ${msg}`);
  // check runs fn; a thrown error or a returned string starting with "FAIL:"
  // counts as a failure. A returned string is printed as detail.
  const check = async (name, fn) => {
    try {
      const detail = await fn();
      ok(name, typeof detail === 'string' ? detail : undefined);
      return true;
    } catch (err) {
      fail(name, err);
      return false;
    }
  };
  const finish = () => {
    console.log(`${suite}: ${passed} passed, ${failed} failed`);
    process.exitCode = failed > 0 ? 1 : 0;
    return failed;
  };
  return { ok, fail, warn, check, finish, counts: () => ({ passed, failed }) };
}

export function assert(cond, msg) {
  if (!cond) throw new Error(msg);
}

export function env(name, fallback) {
  const v = process.env[name];
  if (v === undefined || v === '') {
    if (fallback !== undefined) return fallback;
    throw new Error(`environment variable ${name} is required`);
  }
  return v;
}

// withTimeout rejects when p does not settle within ms.
export function withTimeout(p, ms, what) {
  let t;
  return Promise.race([
    p.finally(() => clearTimeout(t)),
    new Promise((_, reject) => {
      t = setTimeout(() => reject(new Error(`${what}: no answer within ${ms} ms`)), ms);
    }),
  ]);
}
