// approval.mjs — answers servagent's OAuth approval page the way a browser
// would: GET the authorization URL (keeping its cookie), read the form's
// hidden inputs (request id, CSRF token), fill the operator secret, press a
// button. Shared by oauth.mjs and cimd.mjs.

import { assert } from './lib.mjs';

function unescapeHtml(s) {
  return s
    .replace(/&#(\d+);/g, (_, d) => String.fromCodePoint(Number(d)))
    .replace(/&#x([0-9a-f]+);/gi, (_, h) => String.fromCodePoint(parseInt(h, 16)))
    .replace(/&quot;/g, '"').replace(/&#39;/g, "'").replace(/&lt;/g, '<').replace(/&gt;/g, '>')
    .replace(/&amp;/g, '&');
}
function attrs(tag) {
  const out = {};
  for (const m of tag.matchAll(/([a-zA-Z_:-]+)(?:\s*=\s*(?:"([^"]*)"|'([^']*)'|([^\s>]+)))?/g)) {
    out[m[1].toLowerCase()] = unescapeHtml(m[2] ?? m[3] ?? m[4] ?? '');
  }
  return out;
}
function parseForm(html) {
  const form = html.match(/<form\b[^>]*>/i);
  assert(form, 'no <form> on the approval page');
  const fa = attrs(form[0].slice(5, -1));
  const inputs = [...html.matchAll(/<input\b([^>]*)>/gi)].map((m) => attrs(m[1]));
  const buttons = [...html.matchAll(/<button\b([^>]*)>/gi)].map((m) => attrs(m[1]));
  return { action: fa.action || '', method: (fa.method || 'get').toLowerCase(), inputs, buttons };
}
function cookiesFrom(res) {
  const list = typeof res.headers.getSetCookie === 'function' ? res.headers.getSetCookie() : [];
  return list.map((c) => c.split(';')[0]).join('; ');
}

// answerApproval GETs the authorization URL, fills the approval form with
// secret and action, POSTs it, and returns {status, location, body}.
export async function answerApproval(authUrl, secret, action = 'approve') {
  const page = await fetch(authUrl, { redirect: 'manual' });
  const html = await page.text();
  assert(page.status === 200, `GET authorize: HTTP ${page.status}: ${html.slice(0, 200)}`);
  const cookie = cookiesFrom(page);
  const form = parseForm(html);
  assert(form.method === 'post', `form method ${form.method}`);
  const body = new URLSearchParams();
  let pw = null;
  for (const i of form.inputs) {
    const type = (i.type || 'text').toLowerCase();
    if (!i.name) continue;
    if (type === 'hidden') body.set(i.name, i.value ?? '');
    else if (type === 'password') pw = i.name;
  }
  assert(pw, 'no password field on the approval page');
  assert([...body.keys()].some((k) => /csrf/i.test(k)), `no CSRF hidden input (hidden: ${[...body.keys()].join(', ')})`);
  body.set(pw, secret);
  const btn = form.buttons.find((b) => b.value === action);
  assert(btn?.name, `no "${action}" button`);
  body.set(btn.name, btn.value);
  const target = new URL(form.action || authUrl, authUrl);
  const res = await fetch(target, {
    method: 'POST',
    redirect: 'manual',
    headers: { 'Content-Type': 'application/x-www-form-urlencoded', ...(cookie ? { Cookie: cookie } : {}) },
    body,
  });
  return { status: res.status, location: res.headers.get('location'), body: await res.text(), cookie, page: html };
}

