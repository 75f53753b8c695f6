// conformance.mjs — the official MCP conformance suite
// (@modelcontextprotocol/conformance, "server" mode) against servagent.
//
// The suite cannot send an Authorization header, so run.sh starts servagent
// with --insecure-no-auth on 127.0.0.1 for it.
//
// Only the scenarios that apply to a tools-only server are run (SCENARIOS);
// the others target the suite's "everything" reference server (fixed tool,
// prompt and resource names such as test_simple_text) and are listed with
// the reason in EXCLUDED and in README.md. Each scenario must exit 0 and
// report no FAILURE check; WARNING checks are printed but do not fail.
//
// CONFORMANCE_SPEC=2026-07-28 runs the newer suite (npm alias
// conformance-next, 0.2.0-alpha.12) at --spec-version 2026-07-28 with its
// own lists (SCENARIOS_2026, EXCLUDED_2026). Some checks of a run scenario
// cannot apply to a tools-only server (they need the reference server's
// diagnostic tools, or prompts and resources servagent does not have): those
// are listed with the reason in NOT_APPLICABLE and reported as warnings when
// they come back as FAILURE; any other FAILURE fails the scenario.
//
// Environment: CONFORMANCE_URL (full MCP endpoint URL), INTEROP_TMP.
// CONFORMANCE_SCENARIOS=a,b overrides the list.

import { spawnSync } from 'node:child_process';
import { existsSync, mkdirSync, readdirSync, readFileSync, rmSync } from 'node:fs';
import { dirname, join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { assert, env, makeReporter } from './lib.mjs';

const HERE = dirname(fileURLToPath(import.meta.url));
const URL_ = env('CONFORMANCE_URL');
const TMP = env('INTEROP_TMP');
// The interpreter: $CONFORMANCE_NODE, else this script's own Node when it is >= 22
// (run.sh runs the scripts with the pinned Node 22), else the pinned one.
const NODE = process.env.CONFORMANCE_NODE ||
  (Number(process.versions.node.split('.')[0]) >= 22 ? process.execPath : join(HERE, 'node_modules', '.bin', 'node'));
const SPEC = process.env.CONFORMANCE_SPEC || '';
const CLI = SPEC === '2026-07-28'
  ? join(HERE, 'node_modules', 'conformance-next', 'dist', 'index.js')
  : join(HERE, 'node_modules', '@modelcontextprotocol', 'conformance', 'dist', 'index.js');

export const SCENARIOS = [
  'server-initialize',           // initialize result structure
  'ping',                        // ping
  'logging-set-level',           // servagent advertises the logging capability
  'tools-list',                  // tools/list structure
  'server-sse-multiple-streams', // concurrent POST streams on Streamable HTTP
  'server-sse-polling',          // SEP-1699 resumability: only SHOULDs, reported as warnings
  'dns-rebinding-protection',    // Host/Origin validation on a loopback server
];

// Not run: they call tools/prompts/resources that only the suite's reference
// server has, or capabilities servagent does not advertise.
export const EXCLUDED = {
  'completion-complete': 'servagent has no completions capability (no prompts or resource templates to complete)',
  'tools-call-simple-text': 'calls test_simple_text, a tool of the reference server',
  'tools-call-image': 'calls test_image_content (reference server tool)',
  'tools-call-audio': 'calls test_audio_content (reference server tool)',
  'tools-call-embedded-resource': 'calls test_embedded_resource (reference server tool)',
  'tools-call-mixed-content': 'calls test_multiple_content_types (reference server tool)',
  'tools-call-with-logging': 'calls test_tool_with_logging (reference server tool)',
  'tools-call-error': 'calls test_error_handling (reference server tool)',
  'tools-call-with-progress': 'calls test_tool_with_progress (reference server tool)',
  'tools-call-sampling': 'calls test_sampling; servagent never asks the client for sampling',
  'tools-call-elicitation': 'calls test_elicitation; servagent never elicits',
  'json-schema-2020-12': 'looks for json_schema_2020_12_tool (reference server tool)',
  'elicitation-sep1034-defaults': 'calls test_elicitation_sep1034_defaults (reference server tool)',
  'elicitation-sep1330-enums': 'calls test_elicitation_sep1330_enums (reference server tool)',
  'resources-list': 'servagent does not advertise resources (passes today only because the Go SDK answers an empty list)',
  'resources-read-text': 'reads test://static-text, a reference server resource',
  'resources-read-binary': 'reads test://static-binary, a reference server resource',
  'resources-templates-read': 'reads a reference server resource template',
  'resources-subscribe': 'servagent has no resources to subscribe to',
  'resources-unsubscribe': 'servagent has no resources to subscribe to',
  'prompts-list': 'servagent does not advertise prompts (passes today only because the Go SDK answers an empty list)',
  'prompts-get-simple': 'gets test_simple_prompt, a reference server prompt',
  'prompts-get-with-args': 'gets test_prompt_with_arguments (reference server prompt)',
  'prompts-get-embedded-resource': 'gets test_prompt_with_embedded_resource (reference server prompt)',
  'prompts-get-with-image': 'gets test_prompt_with_image (reference server prompt)',
};

// MCP 2026-07-28 (conformance 0.2.0-alpha.12, --spec-version 2026-07-28).
export const SCENARIOS_2026 = [
  'server-stateless',            // SEP-2575: _meta validation, server/discover, versions, removed methods, 404/400 codes
  'tools-list',                  // tools/list structure and deterministic order
  'caching',                     // SEP-2549: ttlMs / cacheScope on tools/list
  'http-header-validation',      // SEP-2243: Mcp-Method / Mcp-Name must match the body (-32020)
  'dns-rebinding-protection',    // Host/Origin validation on a loopback server
  'server-sse-multiple-streams', // concurrent POST streams
  'input-required-result-unsupported-methods', // no InputRequiredResult on methods that cannot return one
];

export const EXCLUDED_2026 = {
  'http-custom-header-server-validation': 'needs a tool with x-mcp-header parameters (Mcp-Param-* headers); servagent has none',
  'sep-2164-resource-not-found': 'servagent has no resources: resources/read is -32601 (method not found), not the -32602 of a resource server',
  'completion-complete': 'servagent has no completions capability',
  'tools-call-simple-text': 'calls test_simple_text, a tool of the reference server',
  'tools-call-image': 'calls test_image_content (reference server tool)',
  'tools-call-audio': 'calls test_audio_content (reference server tool)',
  'tools-call-embedded-resource': 'calls test_embedded_resource (reference server tool)',
  'tools-call-mixed-content': 'calls test_multiple_content_types (reference server tool)',
  'tools-call-error': 'calls test_error_handling (reference server tool)',
  'tools-call-with-progress': 'calls test_tool_with_progress (reference server tool); progress is tested by the Go suite',
  'json-schema-2020-12': 'looks for json_schema_2020_12_tool (reference server tool)',
  'resources-list': 'servagent has no resources (-32601)',
  'resources-read-text': 'reads a reference server resource',
  'resources-read-binary': 'reads a reference server resource',
  'resources-templates-read': 'reads a reference server resource template',
  'prompts-list': 'servagent has no prompts (-32601)',
  'prompts-get-simple': 'gets a reference server prompt',
  'prompts-get-with-args': 'gets a reference server prompt',
  'prompts-get-embedded-resource': 'gets a reference server prompt',
  'prompts-get-with-image': 'gets a reference server prompt',
  'input-required-result-basic-elicitation': 'calls reference server tools that elicit; servagent never asks the client for input',
  'input-required-result-basic-sampling': 'reference server tools that sample; servagent never samples',
  'input-required-result-basic-list-roots': 'reference server tools that list roots; servagent never asks for roots',
  'input-required-result-request-state': 'reference server tools (InputRequiredResult round trips)',
  'input-required-result-multiple-input-requests': 'reference server tools (InputRequiredResult round trips)',
  'input-required-result-multi-round': 'reference server tools (InputRequiredResult round trips)',
  'input-required-result-missing-input-response': 'reference server tools (InputRequiredResult round trips)',
  'input-required-result-non-tool-request': 'expects prompts/get to ask for input; servagent has no prompts',
  'input-required-result-result-type': 'reference server tools (InputRequiredResult round trips)',
  'input-required-result-tampered-state': 'reference server tools (InputRequiredResult round trips)',
  'input-required-result-capability-check': 'reference server tools (InputRequiredResult round trips)',
  'input-required-result-ignore-extra-params': 'reference server tools (InputRequiredResult round trips)',
  'input-required-result-validate-input': 'reference server tools (InputRequiredResult round trips)',
};

// Checks inside a run scenario that cannot apply to servagent.
export const NOT_APPLICABLE = {
  'sep-2575-server-rejects-undeclared-capability': 'needs the diagnostic tool test_missing_capability (servagent never needs a client capability)',
  'sep-2575-missing-capability-http-400': 'same diagnostic tool as above',
  'sep-2575-http-server-no-independent-requests-on-stream': 'needs the diagnostic tool test_streaming_elicitation (servagent never sends requests to the client)',
  'sep-2575-server-no-log-without-loglevel': 'needs the diagnostic tool test_logging_tool',
  'sep-2549-prompts-list-caching-hints': 'servagent has no prompts: prompts/list is -32601, as server-stateless requires of a server that does not declare them',
  'sep-2549-resources-list-caching-hints': 'servagent has no resources (-32601)',
  'sep-2549-resources-templates-list-caching-hints': 'servagent has no resources (-32601)',
};

const r = makeReporter(SPEC === '2026-07-28' ? 'conformance-2026' : 'conformance');
const outRoot = join(TMP, 'conformance-results');
rmSync(outRoot, { recursive: true, force: true });
mkdirSync(outRoot, { recursive: true });

const scenarios = process.env.CONFORMANCE_SCENARIOS
  ? process.env.CONFORMANCE_SCENARIOS.split(',').map((s) => s.trim()).filter(Boolean)
  : (SPEC === '2026-07-28' ? SCENARIOS_2026 : SCENARIOS);
const excluded = SPEC === '2026-07-28' ? EXCLUDED_2026 : EXCLUDED;
const specArgs = SPEC ? ['--spec-version', SPEC] : [];

// Warn about scenarios of this suite version that are neither run nor excluded.
{
  const res = spawnSync(NODE, [CLI, 'list', '--server'], { encoding: 'utf8', timeout: 30000 });
  // Lines look like "  - name" or, in newer suites, "  - name [versions]";
  // with a spec version, only scenarios that list it are considered.
  const known = [...(res.stdout || '').matchAll(/^\s*-\s+(\S+)(.*)$/gm)]
    .filter((m) => !SPEC || m[2].includes(SPEC)).map((m) => m[1]);
  const unclassified = known.filter((s) => !scenarios.includes(s) && !(s in excluded));
  if (unclassified.length > 0) r.warn(`scenarios neither run nor excluded (new in this suite version?): ${unclassified.join(', ')}`);
}

for (const sc of scenarios) {
  await r.check(sc, async () => {
    const out = join(outRoot, sc);
    const res = spawnSync(NODE, [CLI, 'server', '--url', URL_, '--scenario', sc, ...specArgs, '-o', out],
      { encoding: 'utf8', timeout: 120000, env: { ...process.env, NO_COLOR: '1', FORCE_COLOR: '0' } });
    if (res.error) throw res.error;
    let checks = [];
    const dirs = existsSync(out) ? readdirSync(out) : [];
    for (const d of dirs) {
      const f = join(out, d, 'checks.json');
      if (existsSync(f)) checks = checks.concat(JSON.parse(readFileSync(f, 'utf8')));
    }
    const notApplicable = checks.filter((c) => c.status === 'FAILURE' && c.id in NOT_APPLICABLE);
    for (const c of notApplicable) r.warn(`${sc}: ${c.id}: not applicable: ${NOT_APPLICABLE[c.id]}`);
    const failures = checks.filter((c) => c.status === 'FAILURE' && !(c.id in NOT_APPLICABLE));
    const warnings = checks.filter((c) => c.status === 'WARNING');
    const successes = checks.filter((c) => c.status === 'SUCCESS');
    for (const w of warnings) r.warn(`${sc}: ${w.id}: ${w.description || w.errorMessage || ''}`);
    assert(failures.length === 0,
      failures.map((c) => `${c.id}: ${c.errorMessage || c.description}`).join('; '));
    assert(res.status === 0 || (failures.length === 0 && notApplicable.length > 0), `exit ${res.status}: ${(res.stdout + res.stderr).trim().split('\n').slice(-5).join(' | ')}`);
    assert(checks.length > 0, 'no checks.json produced');
    return `${successes.length} checks passed, ${warnings.length} warnings`;
  });
}

r.finish();
