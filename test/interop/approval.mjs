// approval.mjs — answers servagent's OAuth approval page the way a browser
// would: GET the authorization URL (keeping its cookie), read the form's
// hidden inputs (request id, CSRF token), fill the operator secret, press a
// button. Shared by oauth.mjs and cimd.mjs, with the in-memory provider both
// hand to the SDK's auth().

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

// MemoryProvider is an in-memory OAuthClientProvider for the SDK's auth():
// the redirect is answered by answerApproval, so nothing is persisted.
// clientMetadataUrl, when set, makes the client register by a client ID
// metadata document instead of dynamic registration.
export class MemoryProvider {
  constructor({ redirect, clientName, authMethod, clientMetadataUrl }) {
    this._redirect = redirect;
    this._clientName = clientName;
    this._authMethod = authMethod;
    this.clientMetadataUrl = clientMetadataUrl;
    this._client = undefined;
    this._tokens = undefined;
    this._verifier = undefined;
    this._discovery = undefined;
    this._state = undefined;
    this.authorizationUrl = undefined;
  }
  get redirectUrl() { return this._redirect; }
  get clientMetadata() {
    return {
      client_name: this._clientName,
      redirect_uris: [this._redirect],
      grant_types: ['authorization_code', 'refresh_token'],
      response_types: ['code'],
      token_endpoint_auth_method: this._authMethod,
    };
  }
  state() {
    this._state = `st-${Math.random().toString(36).slice(2)}${Date.now()}`;
    return this._state;
  }
  get lastState() { return this._state; }
  clientInformation() { return this._client; }
  saveClientInformation(info) { this._client = info; }
  tokens() { return this._tokens; }
  saveTokens(t) { this._tokens = t; }
  saveDiscoveryState(s) { this._discovery = s; }
  discoveryState() { return this._discovery; }
  redirectToAuthorization(url) { this.authorizationUrl = new URL(url); }
  saveCodeVerifier(v) { this._verifier = v; }
  codeVerifier() {
    if (!this._verifier) throw new Error('no code verifier saved');
    return this._verifier;
  }
}
