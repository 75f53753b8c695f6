#!/bin/bash
# Runs as root inside a booted throw-away systemd (see run.sh), in a directory
# holding the freshly built ./servagent. Every check exits non-zero on failure.
set -euo pipefail
VERSION="$1"
PORT=8765
BASE="http://127.0.0.1:$PORT"
CURL_TLS=()
step() { printf '\n=== %s (t=%ss)\n' "$*" "$SECONDS"; }
fail() { { echo "FAIL: $*"; journalctl -u servagent.service -n 40 --no-pager -o cat || true; } >&2; exit 1; }

# mcp KEY COMMAND [ARGS_JSON]: MCP initialize + tools/call execute_command
# over HTTP (ARGS_JSON replaces {"command":COMMAND}); prints the tool result
# (JSON or SSE text).
mcp() {
	local key="$1" cmd="$2" args="${3:-}" h sid
	[[ -n $args ]] || args="{\"command\":\"$cmd\"}"
	h="$(mktemp)"
	local common=(-sS --max-time 20 "${CURL_TLS[@]}" -H "Authorization: Bearer $key" -H 'Content-Type: application/json'
		-H 'Accept: application/json, text/event-stream')
	curl "${common[@]}" -D "$h" -o /dev/null "$BASE/mcp" \
		-d '{"jsonrpc":"2.0","id":1,"method":"initialize","params":{"protocolVersion":"2025-06-18","capabilities":{},"clientInfo":{"name":"systemd-test","version":"1"}}}'
	grep -q '^HTTP/[0-9.]* 200' "$h" || { cat "$h" >&2; fail "MCP initialize was refused"; }
	sid="$(grep -i '^mcp-session-id:' "$h" | awk '{print $2}' | tr -d '\r')"
	common+=(-H "Mcp-Session-Id: $sid" -H 'MCP-Protocol-Version: 2025-06-18')
	curl "${common[@]}" -o /dev/null "$BASE/mcp" -d '{"jsonrpc":"2.0","method":"notifications/initialized"}'
	curl "${common[@]}" "$BASE/mcp" \
		-d "{\"jsonrpc\":\"2.0\",\"id\":2,\"method\":\"tools/call\",\"params\":{\"name\":\"execute_command\",\"arguments\":$args}}"
	rm -f "$h"
}

# cgroup_kill_check CMD PATTERN: servagent took its delegated cgroup; CMD,
# started in the background of a command that times out after 2 s, runs in
# the command's own cgroup and is gone afterwards (pgrep -f PATTERN); no
# command cgroup is left.
cgroup_kill_check() {
	local cmd="$1" pattern="$2" res main
	journalctl -u servagent.service --no-pager -o cat | grep -q 'commands run in their own cgroup' ||
		fail "servagent did not take the delegated cgroup: $(journalctl -u servagent.service --no-pager -o cat | grep -i cgroup)"
	res="$(mcp "$KEY" '' "{\"command\":\"cat /proc/self/cgroup; $cmd & sleep 100\",\"timeout\":2}")"
	echo "$res"
	grep -q 'servagent.service/cmd-' <<<"$res" || fail "command not in a cgroup of its own"
	grep -q '"timed_out":true' <<<"$res" || fail "the command did not time out"
	sleep 0.5
	! pgrep -f "$pattern" >/dev/null || fail "$cmd survived the timeout: $(ps -eo pid,user,sid,cgroup,args | grep "$pattern")"
	main="$(systemctl show -P MainPID servagent.service)"
	grep -q '^0::/system.slice/servagent.service/servagent$' "/proc/$main/cgroup" ||
		fail "servagent is not in its leaf cgroup: $(cat "/proc/$main/cgroup")"
	test -z "$(find /sys/fs/cgroup -path '*servagent.service/cmd-*' -type d 2>/dev/null)" || fail "command cgroups left behind"
}

key_from() { grep -A1 '^API key (shown only now' "$1" | tail -n1 | tr -d ' '; }

# pebble_up [HTTP01_PORT]: start Pebble (the ACME test CA) on random free
# ports, HTTP-01 validation on HTTP01_PORT if given; sets PEBBLE_STATE_DIR,
# ACME_DIRECTORY_URL, ACME_CA_CERT, PEBBLE_ISSUER_ROOT, PEBBLE_HTTP01_PORT...
pebble_up() {
	local ports=(PEBBLE_PORTS=auto) vars
	[[ -z ${1:-} ]] || ports=(PEBBLE_ACME_PORT=0 PEBBLE_MGMT_PORT=0 PEBBLE_HTTP01_PORT="$1"
		PEBBLE_TLSALPN01_PORT=0 CHALLTESTSRV_DNS_PORT=0 CHALLTESTSRV_MGMT_PORT=0)
	PEBBLE_STATE_DIR="$(mktemp -d)"
	vars="$(env PEBBLE_BIN_DIR="$PWD/pebble-bin" PEBBLE_STATE_DIR="$PEBBLE_STATE_DIR" "${ports[@]}" bash ./pebble-up.sh)" ||
		fail "pebble-up.sh failed"
	eval "$vars"
}

# Clients reach the service on a public address, not loopback (the MCP SDK
# applies its DNS-rebinding rule to loopback connections): the HTTPS phases
# give the container's private network one (on lo: no dummy module in a
# container) and resolve the test domain to it.
TEST_ADDR=192.0.2.10

step "sanity: PID 1 is systemd"
test "$(ps -p 1 -o comm=)" = systemd || fail "PID 1 is not systemd"

step "needs root: exit 1 with one line"
set +e
out="$(setpriv --reuid=65534 --regid=65534 --clear-groups ./servagent install --yes 2>&1)"; rc=$?
set -e
echo "$out"
[[ $rc -eq 1 && "$(printf '%s\n' "$out" | wc -l)" -eq 1 && "$out" == *root* ]] || fail "non-root install: rc=$rc"

step "install (hardened, no sudo)"
./servagent install --yes | tee install1.log
KEY="$(key_from install1.log)"
[[ ${#KEY} -ge 20 ]] || fail "no API key printed"
grep -q "claude mcp add --transport http servagent http://.*:$PORT/mcp --header \"Authorization: Bearer $KEY\"" install1.log || fail "no Claude Code command"
systemctl is-active -q servagent.service || fail "unit not active"
systemctl is-enabled -q servagent.service || fail "unit not enabled"
test "$(systemctl show -P User servagent.service)" = servagent || fail "unit User"
getent passwd servagent | grep -q ':/opt/servagent:/usr/sbin/nologin$' || fail "user home/shell: $(getent passwd servagent)"
test "$(stat -c '%a %U' /opt/servagent/.env)" = "600 servagent" || fail ".env mode/owner: $(stat -c '%a %U' /opt/servagent/.env)"
test "$(readlink /usr/local/bin/servagent)" = /opt/servagent/bin/servagent || fail symlink
test ! -e /etc/sudoers.d/servagent || fail "sudoers written without --full-access"
verify_err="$(systemd-analyze verify /etc/systemd/system/servagent.service 2>&1 >/dev/null)" || fail "systemd-analyze verify rc"
[[ -z "$verify_err" ]] || fail "systemd-analyze verify: $verify_err"
systemd-analyze security --no-pager servagent.service | tail -n1
# (no `tee /dev/stderr`: it would reopen and truncate the captured log)
health="$(curl -fsS "http://127.0.0.1:$PORT/healthz")" || fail "healthz unreachable"
echo "$health"
grep -q "\"version\":\"$VERSION\"" <<<"$health" || fail "healthz: $health"
res="$(mcp "$KEY" 'id -un; sudo -n true && echo SUDO_OK || echo SUDO_DENIED')"
echo "$res"
grep -q 'servagent' <<<"$res" || fail "tool call did not run as servagent"
grep -q 'SUDO_DENIED' <<<"$res" || fail "sudo worked from the hardened service"

! grep -q 'SUDO_OK' <<<"$res" || fail "sudo worked from the hardened service"

step "cgroups (hardened unit): a setsid grandchild dies at the timeout"
cgroup_kill_check 'setsid sleep 4242' 'sleep 4242'
# A wrong key is refused.
code="$(curl -s -o /dev/null -w '%{http_code}' -H 'Authorization: Bearer wrong' -H 'Content-Type: application/json' \
	-H 'Accept: application/json, text/event-stream' "$BASE/mcp" -d '{"jsonrpc":"2.0","id":1,"method":"ping"}')"
[[ $code == 401 ]] || fail "wrong key answered $code"
# Outside the service too: no rule for servagent.
! sudo -n -u servagent sudo -n true 2>/dev/null || fail "servagent can sudo without --full-access"

step "install again: idempotent, key kept and not printed"
./servagent install --yes | tee install2.log
! grep -q "$KEY" install2.log || fail "second install printed the key"
grep -q "^SERVAGENT_API_KEY=$KEY\$" /opt/servagent/.env || fail "second install changed the key"
grep -q 'API key unchanged' install2.log || fail "no 'unchanged' notice"
systemctl is-active -q servagent.service || fail "not active after re-install"

step "tls setup: HTTP install -> HTTPS on 443 with a certificate from Pebble"
pebble_up
DOMAIN=mcp.servagent.test
./servagent tls setup "$DOMAIN" --email ops@servagent.test --acme-directory "$ACME_DIRECTORY_URL" \
	--acme-ca-file "$ACME_CA_CERT" --acme-http-port "$PEBBLE_HTTP01_PORT" | tee tls.log
grep -q '^AmbientCapabilities=CAP_NET_BIND_SERVICE$' /etc/systemd/system/servagent.service || fail "unit cannot bind 443"
grep -q '^SERVAGENT_PORT=443$' /opt/servagent/.env || fail "port not 443"
test "$(stat -c '%a %U' /opt/servagent/state/certs/$DOMAIN/privkey.pem)" = "600 servagent" || fail "private key mode/owner"
ip addr replace "$TEST_ADDR/32" dev lo || fail "could not add a test address"
CURL_TLS=(--resolve "$DOMAIN:443:$TEST_ADDR" --cacert "$PEBBLE_ISSUER_ROOT")
BASE="https://$DOMAIN"
health="$(curl -fsS "${CURL_TLS[@]}" "$BASE/healthz")" || fail "HTTPS healthz (certificate must chain to Pebble's root)"
echo "$health"
grep -q "https://$DOMAIN/mcp" tls.log || fail "tls setup did not print the HTTPS endpoint"
res="$(mcp "$KEY" 'echo HTTPS_TOOL_OK')"
grep -q HTTPS_TOOL_OK <<<"$res" || { echo "$res"; fail "tool call over HTTPS"; }

step "install --full-access"
./servagent install --yes --full-access | tee install3.log
test "$(stat -c '%a %U' /etc/sudoers.d/servagent)" = "440 root" || fail "sudoers mode"
visudo -cf /etc/sudoers.d/servagent || fail "visudo -cf"
verify_err="$(systemd-analyze verify /etc/systemd/system/servagent.service 2>&1 >/dev/null)" || fail "verify rc (full)"
[[ -z "$verify_err" ]] || fail "systemd-analyze verify (full): $verify_err"
systemd-analyze security --no-pager servagent.service | tail -n1
res="$(mcp "$KEY" 'sudo -n true && echo SUDO_OK; sudo -n id -u')"
echo "$res"
grep -q 'SUDO_OK' <<<"$res" || fail "sudo -n true failed inside the full-access service"
sudo -n -u servagent sudo -n true || fail "sudo -n -u servagent sudo -n true"
sudo -l -U servagent | grep -q 'NOPASSWD: ALL' || fail "sudo -l"

step "cgroups (full-access unit): a setsid grandchild run as root by sudo dies at the timeout"
cgroup_kill_check 'sudo -n setsid sleep 4243' 'sleep 4243'

step "update: pinned release, up to date, broken release rolled back"
./releaseserver -dir ./releases -addr 127.0.0.1:8099 >releaseserver.log 2>&1 &
export SERVAGENT_UPDATE_URL=http://127.0.0.1:8099
for _ in $(seq 50); do curl -fsS "$SERVAGENT_UPDATE_URL/repos/servagent/servagent/releases" >/dev/null 2>&1 && break; sleep 0.1; done
servagent update --version v0.0.1 | tee update1.log
health="$(curl -fsS "${CURL_TLS[@]}" "$BASE/healthz")" || fail "healthz after update"
grep -q '"version":"v0.0.1"' <<<"$health" || fail "service does not run v0.0.1: $health"
cmp /opt/servagent/bin/servagent rel-good/servagent || fail "installed binary is not the release"
cmp /opt/servagent/bin/servagent.prev ./servagent || fail "servagent.prev is not the previous binary"
servagent update --check | tee update2.log
grep -q 'Update available: v0.0.1 -> v0.0.2' update2.log || fail "--check"
pid="$(systemctl show -P MainPID servagent.service)"
servagent update --version v0.0.1 | tee update3.log
grep -q 'up to date' update3.log || fail "up-to-date message"
test "$(systemctl show -P MainPID servagent.service)" = "$pid" || fail "up to date, yet the service restarted"
set +e
servagent update --health-timeout 5s >update4.log 2>&1; rc=$?
set -e
cat update4.log
[[ $rc -eq 1 ]] || fail "broken release: update exited $rc"
grep -q 'rolled back' update4.log || fail "no rollback message"
cmp /opt/servagent/bin/servagent rel-good/servagent || fail "previous binary not restored"
health="$(curl -fsS "${CURL_TLS[@]}" "$BASE/healthz")" || fail "healthz after rollback"
grep -q '"version":"v0.0.1"' <<<"$health" || fail "after rollback: $health"
kill %1 || true

step "uninstall -y --keep-certs"
./servagent uninstall -y --keep-certs | tee uninstall1.log
ls /var/backups/servagent/certs-*/certs/$DOMAIN/fullchain.pem /var/backups/servagent/certs-*/acme/ || fail "--keep-certs kept nothing"
grep -q "kept the ACME account and certificates in /var/backups/servagent/certs-" uninstall1.log || fail "--keep-certs did not say where"
! id servagent 2>/dev/null || fail "user left"
test ! -e /etc/systemd/system/servagent.service || fail "unit file left"
! systemctl is-active -q servagent.service || fail "service still active"
test ! -e /etc/sudoers.d/servagent || fail "sudoers left"
test ! -e /opt/servagent || fail "/opt/servagent left"
test ! -L /usr/local/bin/servagent || fail "symlink left"
! curl -fsS --max-time 2 "${CURL_TLS[@]}" "$BASE/healthz" 2>/dev/null || fail "still answering"

bash ./pebble-down.sh "$PEBBLE_STATE_DIR" >/dev/null || true

step "uninstall again: nothing left, exit 0"
./servagent uninstall -y | tee uninstall2.log
grep -q 'nothing to remove' uninstall2.log || fail "second uninstall output"

step "install DOMAIN: one command -> certificate by HTTP-01 on port 80, HTTPS on 443"
# Nothing is installed now. A fresh Pebble (new issuer root) validating
# HTTP-01 on port 80, so install runs with its default --acme-http-port; only
# if something in the container holds port 80 does it fall back to a random
# port (and says so).
if (exec 3<>/dev/tcp/127.0.0.1/80) 2>/dev/null; then
	echo "NOTE: port 80 is busy in the container; HTTP-01 on a random port (--acme-http-port)"
	pebble_up
else
	pebble_up 80
fi
http01_flag=()
[[ $PEBBLE_HTTP01_PORT == 80 ]] || http01_flag=(--acme-http-port "$PEBBLE_HTTP01_PORT")
DOMAIN=oneshot.servagent.test
ip addr replace "$TEST_ADDR/32" dev lo || fail "could not add a test address"
timeout 60 ./servagent install "$DOMAIN" --yes --acme-directory "$ACME_DIRECTORY_URL" \
	--acme-ca-file "$ACME_CA_CERT" "${http01_flag[@]}" | tee install4.log || fail "install $DOMAIN failed"
KEY="$(key_from install4.log)"
[[ ${#KEY} -ge 20 ]] || fail "install $DOMAIN printed no API key"
grep -q "obtaining a certificate for $DOMAIN (HTTP-01)" install4.log || fail "install did not obtain a certificate"
grep -q "^MCP endpoint: https://$DOMAIN/mcp\$" install4.log || fail "install did not print the HTTPS endpoint"
grep -qF "validate w/ HTTP: http://$DOMAIN:$PEBBLE_HTTP01_PORT/.well-known/acme-challenge/" "$PEBBLE_STATE_DIR/pebble.log" ||
	fail "Pebble did not validate HTTP-01 at $DOMAIN:$PEBBLE_HTTP01_PORT"
systemctl is-active -q servagent.service || fail "unit not active"
systemctl is-enabled -q servagent.service || fail "unit not enabled"
grep -q '^AmbientCapabilities=CAP_NET_BIND_SERVICE$' /etc/systemd/system/servagent.service || fail "unit cannot bind 443"
verify_err="$(systemd-analyze verify /etc/systemd/system/servagent.service 2>&1 >/dev/null)" || fail "verify rc (domain)"
[[ -z "$verify_err" ]] || fail "systemd-analyze verify (domain): $verify_err"
certdir=/opt/servagent/state/certs/$DOMAIN
for kv in SERVAGENT_PORT=443 "SERVAGENT_ACME_DOMAIN=$DOMAIN" "SERVAGENT_TLS_CERTFILE=$certdir/fullchain.pem" \
	"SERVAGENT_TLS_KEYFILE=$certdir/privkey.pem" "SERVAGENT_ACME_DIRECTORY=$ACME_DIRECTORY_URL" \
	"SERVAGENT_ACME_CA_FILE=/opt/servagent/state/acme-ca.pem" "SERVAGENT_API_KEY=$KEY"; do
	grep -qxF "$kv" /opt/servagent/.env || fail ".env lacks $kv: $(grep -v API_KEY /opt/servagent/.env)"
done
for f in /opt/servagent/.env "$certdir/privkey.pem" /opt/servagent/state/acme/account.key; do
	test "$(stat -c '%a %U' "$f")" = "600 servagent" || fail "$f mode/owner: $(stat -c '%a %U' "$f")"
done
CURL_TLS=(--resolve "$DOMAIN:443:$TEST_ADDR" --cacert "$PEBBLE_ISSUER_ROOT")
BASE="https://$DOMAIN"
health="$(curl -fsS --max-time 10 "${CURL_TLS[@]}" "$BASE/healthz")" ||
	fail "HTTPS healthz on $DOMAIN:443 (certificate must chain to this Pebble's root and name $DOMAIN)"
echo "$health"
grep -q "\"version\":\"$VERSION\"" <<<"$health" || fail "healthz: $health"
res="$(mcp "$KEY" 'id -un')"
echo "$res"
grep -q '"stdout":"servagent\\n"' <<<"$res" || fail "tool call over HTTPS did not run id -un as servagent"

step "uninstall -y after install DOMAIN: nothing left"
backups_before="$(ls -d /var/backups/servagent/certs-* 2>/dev/null | wc -l)"
./servagent uninstall -y | tee uninstall3.log
! id servagent 2>/dev/null || fail "user left"
! getent group servagent >/dev/null || fail "group left"
test ! -e /etc/systemd/system/servagent.service || fail "unit file left"
test "$(systemctl show -P LoadState servagent.service)" = not-found || fail "unit still loaded"
test ! -e /etc/sudoers.d/servagent || fail "sudoers left"
test ! -e /opt/servagent || fail "/opt/servagent left"
test ! -L /usr/local/bin/servagent || fail "symlink left"
test "$(ls -d /var/backups/servagent/certs-* 2>/dev/null | wc -l)" = "$backups_before" || fail "uninstall without --keep-certs kept certificates"
! (exec 3<>"/dev/tcp/$TEST_ADDR/443") 2>/dev/null || fail "something still listens on 443"
./servagent uninstall -y | tee uninstall4.log
grep -q 'nothing to remove' uninstall4.log || fail "uninstall after install DOMAIN left something to remove"
bash ./pebble-down.sh "$PEBBLE_STATE_DIR" >/dev/null || true

echo
echo "ALL SYSTEMD CHECKS PASSED in ${SECONDS}s"
