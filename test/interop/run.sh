#!/usr/bin/env bash
# Interop tests: servagent against MCP clients written elsewhere.
#
#   bash test/interop/run.sh path/to/servagent
#
# Installs the pinned npm packages (npm ci, skipped when node_modules matches
# the lockfile), starts servagent instances on free loopback ports with
# temporary directories, and runs:
#   client       official TypeScript SDK client, Streamable HTTP + SSE
#   inspector    MCP Inspector CLI (v2), Streamable HTTP + SSE
#   client2026   TypeScript SDK v2 client, versionNegotiation legacy / auto /
#                pinned 2026-07-28, and against a legacy-only server
#   conformance  official MCP conformance suite, scenarios for a tools-only server
#   conformance-2026  the newer suite (0.2.0-alpha.12) at --spec-version 2026-07-28
#   claude       Claude Code: `claude mcp list` connects and stays on 2026-07-28
#                (INTEROP_CLAUDE=0 skips it)
#   oauth        TypeScript SDK OAuth client against servagent's authorization
#                server (INTEROP_OAUTH=0 skips it and cimd)
#   cimd         TypeScript SDK v2 client registering with a Client ID Metadata
#                Document served by a local HTTPS server
# Exits non-zero on any failure; the last line is "N passed, N failed".
set -euo pipefail

if [[ $# -ne 1 ]]; then
  echo "usage: $0 path/to/servagent-binary" >&2
  exit 2
fi
BIN=$1
[[ -x $BIN ]] || { echo "run.sh: $BIN is not an executable file" >&2; exit 2; }
BIN=$(cd "$(dirname "$BIN")" && pwd)/$(basename "$BIN")

HERE=$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)
cd "$HERE"
START=$(date +%s)

# ---- npm packages ------------------------------------------------------------
lock_sum=$(sha256sum package.json package-lock.json | sha256sum | cut -d' ' -f1)
stamp=node_modules/.interop-installed
if [[ -f $stamp && $(cat "$stamp") == "$lock_sum" ]] && node_modules/.bin/node --version >/dev/null 2>&1; then
  echo "== npm: node_modules up to date with package-lock.json"
else
  echo "== npm ci"
  t0=$(date +%s)
  npm ci --no-audit --no-fund --loglevel=error </dev/null
  echo "$lock_sum" >"$stamp"
  echo "   npm ci took $(( $(date +%s) - t0 ))s"
fi
NODE22=$HERE/node_modules/.bin/node
if ! "$NODE22" --version >/dev/null 2>&1; then
  # The "node" package's install script was not run (e.g. ignore-scripts):
  # fall back to a system Node that is recent enough for the Inspector.
  if command -v node >/dev/null && node -e 'const [a,b]=process.versions.node.split(".").map(Number);process.exit(a>22||(a===22&&b>=19)?0:1)'; then
    NODE22=$(command -v node)
    echo "   node_modules/.bin/node does not run; using $NODE22 ($(node --version))"
  else
    echo "run.sh: the pinned Node 22 (node_modules/.bin/node) does not run and no system Node >= 22.19 was found" >&2
    exit 1
  fi
fi
# Every script and tool below runs on the pinned Node 22.
export PATH=$(dirname "$NODE22"):$HERE/node_modules/.bin:$PATH
# No SERVAGENT_* setting of the caller's environment reaches the servers.
while read -r v; do unset "$v"; done < <(compgen -e | grep '^SERVAGENT_' || true)

# ---- servers -----------------------------------------------------------------
TMP=$(mktemp -d "${TMPDIR:-/tmp}/servagent-interop.XXXXXX")
PIDS=()
cleanup() {
  local pid
  for pid in "${PIDS[@]}"; do
    kill "$pid" 2>/dev/null || true
  done
  for pid in "${PIDS[@]}"; do
    wait "$pid" 2>/dev/null || true
  done
  if [[ ${INTEROP_KEEP_TMP:-0} == 1 ]]; then
    echo "(kept $TMP)"
  else
    rm -rf "$TMP"
  fi
}
trap cleanup EXIT
trap 'exit 130' INT TERM

free_port() {
  "$NODE22" -e 'const s=require("net").createServer();s.listen(0,"127.0.0.1",()=>{console.log(s.address().port);s.close()})'
}

healthy() {
  if command -v curl >/dev/null; then
    curl -fsS -o /dev/null --max-time 2 "$1" 2>/dev/null
  else
    "$NODE22" -e 'fetch(process.argv[1]).then(r=>process.exit(r.ok?0:1),()=>process.exit(1))' "$1"
  fi
}

# start_server NAME [VAR=value...] — starts "servagent serve" with those extra
# environment variables (and $SERVE_ARGS), on port $SA_PORT or a free one,
# cwd and work dir under $TMP/NAME; waits for /healthz; sets PORT.
start_server() {
  local name=$1; shift
  local dir=$TMP/$name
  mkdir -p "$dir/work" "$dir/skills"
  : >"$dir/empty.env"
  PORT=${SA_PORT:-$(free_port)}
  # cwd = the temp dir: no ./.env, ./skills of the developer's tree leak in.
  (cd "$dir" && exec env "$@" \
      SERVAGENT_HOST=127.0.0.1 SERVAGENT_PORT="$PORT" SERVAGENT_TOOLS=all \
      SERVAGENT_WORK_DIR="$dir/work" SERVAGENT_SKILLS_DIR="$dir/skills" \
      "$BIN" serve --env-file "$dir/empty.env" ${SERVE_ARGS:-} \
      >"$dir/server.log" 2>&1 </dev/null) &
  PIDS+=($!)
  local pid=$!
  local i
  for i in $(seq 1 100); do
    if healthy "http://127.0.0.1:$PORT/healthz"; then
      return 0
    fi
    if ! kill -0 "$pid" 2>/dev/null; then
      echo "run.sh: servagent ($name) exited during startup:" >&2
      sed 's/^/    /' "$dir/server.log" >&2
      return 1
    fi
    sleep 0.1
  done
  echo "run.sh: servagent ($name) did not answer /healthz on port $PORT within 10s:" >&2
  sed 's/^/    /' "$dir/server.log" >&2
  return 1
}

TOTAL_PASS=0
TOTAL_FAIL=0
SUMMARY=()
# run_suite NAME CMD... — runs a client, adds its "N passed, N failed" line.
run_suite() {
  local name=$1; shift
  local log=$TMP/$name.out rc=0 t0
  t0=$(date +%s)
  echo
  echo "== $name"
  "$@" 2>&1 | tee "$log" || rc=$?
  local line p f
  line=$(grep -E '^[a-z0-9-]+: [0-9]+ passed, [0-9]+ failed$' "$log" | tail -1 || true)
  if [[ -n $line ]]; then
    p=$(sed -E 's/.*: ([0-9]+) passed.*/\1/' <<<"$line")
    f=$(sed -E 's/.*, ([0-9]+) failed/\1/' <<<"$line")
  else
    p=0; f=1
  fi
  if [[ $rc -ne 0 && $f -eq 0 ]]; then f=1; fi  # crashed after its summary
  TOTAL_PASS=$((TOTAL_PASS + p))
  TOTAL_FAIL=$((TOTAL_FAIL + f))
  SUMMARY+=("$(printf '%-12s %3d passed, %d failed  (%ss, exit %d)' "$name" "$p" "$f" "$(( $(date +%s) - t0 ))" "$rc")")
}

dump_log_on_failure() {
  local name=$1 before=$2
  if [[ $TOTAL_FAIL -gt $before ]]; then
    echo "---- $name server log (last 40 lines)"
    tail -n 40 "$TMP/$name/server.log" | sed 's/^/    /'
  fi
}

KEY="interop-$(od -An -N16 -tx1 /dev/urandom | tr -d ' \n')"

# 1+2: API key server for the SDK client and the Inspector CLI.
start_server key SERVAGENT_API_KEY="$KEY"
before=$TOTAL_FAIL
export INTEROP_URL="http://127.0.0.1:$PORT" INTEROP_KEY="$KEY"
INTEROP_TMP=$TMP/key/work run_suite client "$NODE22" client.mjs
INTEROP_TMP=$TMP/key run_suite inspector "$NODE22" inspector.mjs
INTEROP_TMP=$TMP/key/work INTEROP_BIN="$BIN" run_suite jobs "$NODE22" jobs.mjs
dump_log_on_failure key "$before"

# TypeScript SDK v2 client in each version-negotiation mode, against the
# key server (both eras) and a legacy-only one.
KEY_URL=$INTEROP_URL
start_server legacy SERVAGENT_API_KEY="$KEY" SERVAGENT_PROTOCOLS=legacy
before=$TOTAL_FAIL
INTEROP_URL=$KEY_URL INTEROP_LEGACY_URL="http://127.0.0.1:$PORT" run_suite client2026 "$NODE22" client2026.mjs
dump_log_on_failure legacy "$before"

# Claude Code, against a server at DEBUG level so its log shows each
# request's protocol version.
if [[ ${INTEROP_CLAUDE:-1} == 1 ]]; then
  start_server claude SERVAGENT_API_KEY="$KEY" SERVAGENT_LOG_LEVEL=DEBUG
  before=$TOTAL_FAIL
  INTEROP_URL="http://127.0.0.1:$PORT" INTEROP_SERVER_LOG=$TMP/claude/server.log INTEROP_TMP=$TMP/claude \
    run_suite claude "$NODE22" claude.mjs
  dump_log_on_failure claude "$before"
else
  SUMMARY+=("$(printf '%-12s skipped (INTEROP_CLAUDE=0)' claude)")
fi

# 3: conformance suite, no auth (it cannot send headers).
SERVE_ARGS="--insecure-no-auth" start_server noauth
before=$TOTAL_FAIL
CONFORMANCE_URL="http://127.0.0.1:$PORT/mcp" INTEROP_TMP=$TMP/noauth run_suite conformance "$NODE22" conformance.mjs
CONFORMANCE_SPEC=2026-07-28 CONFORMANCE_URL="http://127.0.0.1:$PORT/mcp" INTEROP_TMP=$TMP/noauth-2026 \
  run_suite conformance-2026 "$NODE22" conformance.mjs
dump_log_on_failure noauth "$before"

# 4: OAuth.
if [[ ${INTEROP_OAUTH:-1} == 1 ]]; then
  OAUTH_SECRET="secret-$(od -An -N16 -tx1 /dev/urandom | tr -d ' \n')"
  OAUTH_CLIENT_ID=servagent-0123456789abcdef
  # The issuer URL needs the port before the server starts.
  OPORT=$(free_port)
  if SA_PORT=$OPORT start_server oauth SERVAGENT_API_KEY="$KEY" \
      SERVAGENT_OAUTH_ISSUER_URL="http://127.0.0.1:$OPORT/mcp" \
      SERVAGENT_OAUTH_CLIENT_ID="$OAUTH_CLIENT_ID" \
      SERVAGENT_OAUTH_CLIENT_SECRET="$OAUTH_SECRET" \
      SERVAGENT_OAUTH_DB_PATH="$TMP/oauth/oauth.db"; then
    before=$TOTAL_FAIL
    INTEROP_URL="http://127.0.0.1:$PORT" INTEROP_KEY="$KEY" \
      OAUTH_CLIENT_ID="$OAUTH_CLIENT_ID" OAUTH_CLIENT_SECRET="$OAUTH_SECRET" \
      INTEROP_TMP=$TMP/oauth run_suite oauth "$NODE22" oauth.mjs
    dump_log_on_failure oauth "$before"
  else
    TOTAL_FAIL=$((TOTAL_FAIL + 1))
    SUMMARY+=("$(printf '%-12s server did not start' oauth)")
  fi
else
  SUMMARY+=("$(printf '%-12s skipped (INTEROP_OAUTH=0)' oauth)")
fi

# 5: OAuth with a Client ID Metadata Document (SDK v2 client), against a local
# HTTPS document server whose self-signed certificate servagent trusts.
if [[ ${INTEROP_OAUTH:-1} != 1 ]]; then
  SUMMARY+=("$(printf '%-12s skipped (INTEROP_OAUTH=0)' cimd)")
elif ! command -v openssl >/dev/null; then
  SUMMARY+=("$(printf '%-12s skipped (no openssl to make the document server certificate)' cimd)")
else
  mkdir -p "$TMP/cimd-cert"
  openssl req -x509 -newkey ec -pkeyopt ec_paramgen_curve:prime256v1 -nodes -days 1 \
    -subj /CN=127.0.0.1 -addext subjectAltName=IP:127.0.0.1 \
    -keyout "$TMP/cimd-cert/key.pem" -out "$TMP/cimd-cert/cert.pem" 2>"$TMP/cimd-cert/openssl.log"
  CPORT=$(free_port)
  if SA_PORT=$CPORT start_server cimd SERVAGENT_API_KEY="$KEY" \
      SERVAGENT_OAUTH_ISSUER_URL="http://127.0.0.1:$CPORT/mcp" \
      SERVAGENT_OAUTH_CIMD_CA_FILE="$TMP/cimd-cert/cert.pem" \
      SERVAGENT_OAUTH_DB_PATH="$TMP/cimd/oauth.db"; then
    before=$TOTAL_FAIL
    INTEROP_URL="http://127.0.0.1:$PORT" INTEROP_KEY="$KEY" \
      CIMD_CERT="$TMP/cimd-cert/cert.pem" CIMD_KEY="$TMP/cimd-cert/key.pem" \
      run_suite cimd "$NODE22" cimd.mjs
    dump_log_on_failure cimd "$before"
  else
    TOTAL_FAIL=$((TOTAL_FAIL + 1))
    SUMMARY+=("$(printf '%-12s server did not start' cimd)")
  fi
fi

echo
echo "== summary ($(( $(date +%s) - START ))s)"
printf '  %s\n' "${SUMMARY[@]}"
echo "$TOTAL_PASS passed, $TOTAL_FAIL failed"
[[ $TOTAL_FAIL -eq 0 ]]
