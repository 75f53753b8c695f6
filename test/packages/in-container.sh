#!/bin/bash
# Runs as root inside a booted throw-away systemd (see run.sh), next to
# servagent.deb: install the package, set the service up through the wizard
# (accessible mode, answers from a pipe), reconfigure it, then remove both.
set -euo pipefail
VERSION="$1"
BASE="http://127.0.0.1:8765"
step() { printf '\n=== %s (t=%ss)\n' "$*" "$SECONDS"; }
fail() { { echo "FAIL: $*"; journalctl -u servagent.service -n 40 --no-pager -o cat || true; } >&2; exit 1; }
key_from() { grep -A1 '^API key (shown only now' "$1" | tail -n1 | tr -d ' '; }

# call KEY COMMAND: MCP initialize, then execute_command; prints the result.
call() {
	local key="$1" cmd="$2" h sid
	h="$(mktemp)"
	local c=(-sS --max-time 20 -H "Authorization: Bearer $key" -H 'Content-Type: application/json'
		-H 'Accept: application/json, text/event-stream')
	curl "${c[@]}" -D "$h" -o /dev/null "$BASE/mcp" \
		-d '{"jsonrpc":"2.0","id":1,"method":"initialize","params":{"protocolVersion":"2025-06-18","capabilities":{},"clientInfo":{"name":"packages-test","version":"1"}}}'
	grep -q '^HTTP/[0-9.]* 200' "$h" || { cat "$h" >&2; fail "MCP initialize refused"; }
	sid="$(grep -i '^mcp-session-id:' "$h" | awk '{print $2}' | tr -d '\r')"
	c+=(-H "Mcp-Session-Id: $sid" -H 'MCP-Protocol-Version: 2025-06-18')
	curl "${c[@]}" -o /dev/null "$BASE/mcp" -d '{"jsonrpc":"2.0","method":"notifications/initialized"}'
	curl "${c[@]}" "$BASE/mcp" \
		-d "{\"jsonrpc\":\"2.0\",\"id\":2,\"method\":\"tools/call\",\"params\":{\"name\":\"execute_command\",\"arguments\":{\"command\":\"$cmd\"}}}"
	rm -f "$h"
}

step "dpkg -i: post-install message"
dpkg -i ./servagent.deb | tee dpkg-install.log
grep -q 'sudo servagent setup' dpkg-install.log || fail "post-install message does not say sudo servagent setup"
test "$(dpkg-query -W -f '${Status}' servagent)" = "install ok installed" || fail "package not installed"
test "$(command -v servagent)" = /usr/bin/servagent || fail "servagent is not /usr/bin/servagent: $(command -v servagent)"

step "version, man page, completions"
servagent version | tee version.log
grep -q "$VERSION" version.log || fail "servagent version does not say $VERSION"
test "$(man -w servagent)" = /usr/share/man/man1/servagent.1 || fail "man -w servagent: $(man -w servagent 2>&1)"
man -w servagent-setup >/dev/null || fail "man -w servagent-setup"
# _completion_loader returns 124 ("retry") whether it found a file or not;
# a file found defines cobra's __start_servagent instead of _minimal.
comp="$(bash -c '. /usr/share/bash-completion/bash_completion; _completion_loader servagent; complete -p servagent')"
echo "$comp"
[[ $comp == *"-F __start_servagent servagent"* ]] || fail "bash-completion does not load servagent's completion: $comp"
test -f /usr/share/zsh/vendor-completions/_servagent || fail "zsh completion missing"
test -f /usr/share/fish/vendor_completions.d/servagent.fish || fail "fish completion missing"
test -f /usr/share/doc/servagent/README.md -a -f /usr/share/doc/servagent/LICENSE || fail "docs missing"

step "setup without a terminal: one line, exit 2, the install flags"
set +e
out="$(servagent setup </dev/null 2>&1)"; rc=$?
set -e
echo "$out"
[[ $rc -eq 2 && "$(wc -l <<<"$out")" -eq 1 && $out == *"servagent install"* ]] || fail "setup without a terminal: rc=$rc"

step "setup (accessible, from a pipe): first install through the wizard"
# IP mode (default), address, port (default), no sudo, default tools,
# skill webserver, apply.
printf '\n127.0.0.1\n\nn\n0\n1\n0\ny\n' | ACCESSIBLE=1 servagent setup >setup1.log 2>setup1.prompts || { cat setup1.prompts setup1.log; fail "setup failed"; }
cat setup1.log
KEY="$(key_from setup1.log)"
[[ ${#KEY} -ge 20 ]] || fail "setup printed no API key"
grep -q "claude mcp add --transport http servagent http://127.0.0.1:8765/mcp" setup1.log || fail "no Claude Code command"
grep -q '"mcpServers"' setup1.log || fail "no mcpServers JSON"
systemctl is-active -q servagent.service || fail "service not active"
grep -qx 'SERVAGENT_TOOLS=execute_command,upload_file' /opt/servagent/.env || fail ".env tools: $(grep TOOLS /opt/servagent/.env)"
grep -qx "SERVAGENT_API_KEY=$KEY" /opt/servagent/.env || fail "the printed key is not the stored one"
test -f /opt/servagent/skills/webserver/SKILL.md || fail "skill webserver not added"
test ! -e /etc/sudoers.d/servagent || fail "sudoers written without full access"
res="$(call "$KEY" 'id -un')"
echo "$res"
grep -q '"stdout":"servagent\\n"' <<<"$res" || fail "tool call with the printed key"
code="$(curl -s -o /dev/null -w '%{http_code}' -H 'Authorization: Bearer wrong' -H 'Content-Type: application/json' \
	-H 'Accept: application/json, text/event-stream' "$BASE/mcp" -d '{"jsonrpc":"2.0","id":1,"method":"ping"}')"
[[ $code == 401 ]] || fail "a wrong key answered $code"

step "setup on the installed server: current values, changes, applied"
echo '# kept by setup' >>/opt/servagent/.env
printf '\n127.0.0.1\n\ny\n0\n0\ny\n' | ACCESSIBLE=1 servagent setup >setup2.log 2>setup2.prompts || { cat setup2.prompts setup2.log; fail "setup (reconfigure) failed"; }
cat setup2.prompts | grep -i 'sudo' | head -n 2
grep -q 'full sudo access: no -> yes' setup2.prompts || fail "summary did not show the change"
grep -q 'API key unchanged' setup2.log || fail "reconfigure did not keep the key"
! grep -q "$KEY" setup2.log || fail "reconfigure printed the key again"
grep -qx '# kept by setup' /opt/servagent/.env || fail "setup dropped an unknown line of .env"
visudo -cf /etc/sudoers.d/servagent || fail "sudoers"
res="$(call "$KEY" 'sudo -n true && echo SUDO_OK')"
grep -q SUDO_OK <<<"$res" || { echo "$res"; fail "full access not applied"; }

step "update refuses: the binary comes from a package"
set +e
servagent update --version v0.0.1 >update.log 2>&1; rc=$?
set -e
cat update.log
[[ $rc -eq 1 ]] || fail "update exited $rc"
grep -q 'apt-get install --only-upgrade servagent' update.log || fail "update did not give the apt command"

step "package reinstalled: the service follows the packaged binary"
dpkg -i ./servagent.deb | tee dpkg-reinstall.log
grep -q 'upgrading the installed service' dpkg-reinstall.log || fail "postinst did not upgrade the service"
systemctl is-active -q servagent.service || fail "service not active after the package upgrade"
grep -qx "SERVAGENT_API_KEY=$KEY" /opt/servagent/.env || fail "package upgrade changed the key"

step "dpkg -r: the service stays, and the message says servagent uninstall"
dpkg -r servagent | tee dpkg-remove.log
grep -q 'sudo servagent uninstall' dpkg-remove.log || fail "removal did not mention servagent uninstall"
test ! -e /usr/bin/servagent || fail "/usr/bin/servagent left"
test ! -e /usr/share/man/man1/servagent.1 || fail "man page left"
systemctl is-active -q servagent.service || fail "removing the package stopped the service"

step "servagent uninstall, then nothing is left"
servagent uninstall -y | tee uninstall.log
! id servagent 2>/dev/null || fail "user left"
test ! -e /opt/servagent || fail "/opt/servagent left"
test ! -e /etc/systemd/system/servagent.service || fail "unit left"
test ! -e /etc/sudoers.d/servagent || fail "sudoers left"
test ! -L /usr/local/bin/servagent || fail "symlink left"
! dpkg-query -W -f '${Status}' servagent 2>/dev/null | grep -q 'ok installed' || fail "package still installed"
leftover="$(find /usr/share/doc/servagent /usr/share/bash-completion/completions/servagent /usr/share/zsh/vendor-completions/_servagent \
	/usr/share/fish/vendor_completions.d/servagent.fish 2>/dev/null || true)"
[[ -z $leftover ]] || fail "package files left: $leftover"

echo
echo "ALL PACKAGE CHECKS PASSED in ${SECONDS}s"
