#!/usr/bin/env bash
# End-to-end test of `servagent install` / `uninstall` under a real systemd:
# builds the binary, boots a throw-away systemd container over an overlay of
# this machine's root (scripts/testinfra/systemd-boot-run.sh) and runs
# test/systemd/in-container.sh inside it. Exit status: the test's.
# Skips (prints SKIP, exits 0) only when not root or systemd-nspawn is missing.
set -euo pipefail
cd "$(dirname "$0")/../.."

if [[ $EUID -ne 0 ]]; then
	echo "SKIP test/systemd: needs root (it boots a systemd container)"
	exit 0
fi
if ! command -v systemd-nspawn >/dev/null; then
	echo "SKIP test/systemd: systemd-nspawn missing (apt-get install -y --no-install-recommends systemd-container)"
	exit 0
fi
# sudo is part of what is tested (visudo, sudo -n from the service): its
# absence is a failure, not a skip.
command -v visudo >/dev/null || { echo "FAIL test/systemd: sudo/visudo missing (apt-get install -y --no-install-recommends sudo)"; exit 1; }

work="$(mktemp -d "${TMPDIR:-/tmp}/servagent-systemd-test.XXXXXX")"
trap 'rm -rf "$work"' EXIT
version="v0.0.0-systemdtest"
start=$SECONDS
CGO_ENABLED=0 go build -o "$work/servagent" \
	-ldflags "-X github.com/servagent/servagent/pkg/buildinfo.Version=$version" ./cmd/servagent
cp test/systemd/in-container.sh "$work/"
# Pebble (the ACME test CA) runs inside the container, which has no network:
# bring its binaries along, built once on the host by pebble-up.sh if needed.
pebble_bin="${PEBBLE_BIN_DIR:-${SERVAGENT_TESTINFRA_CACHE:-${XDG_CACHE_HOME:-${HOME:-/tmp}/.cache}/servagent-testinfra}/pebble-${PEBBLE_VERSION:-v2.10.1}/bin}"
if [[ ! -x "$pebble_bin/pebble" ]]; then
	PATH="$PATH:/usr/local/go/bin" PEBBLE_PORTS=auto PEBBLE_STATE_DIR="$work/pebble-build" bash scripts/testinfra/pebble-up.sh >/dev/null
	bash scripts/testinfra/pebble-down.sh "$work/pebble-build" >/dev/null
fi
mkdir -p "$work/pebble-bin"
cp "$pebble_bin/pebble" "$pebble_bin/pebble-challtestsrv" "$work/pebble-bin/"
cp scripts/testinfra/pebble-up.sh scripts/testinfra/pebble-down.sh "$work/"

# Releases for `servagent update`: v0.0.1 (good) and v0.0.2 (a binary that
# never becomes healthy), served in the container by test/update/releaseserver.
arch="$(go env GOARCH)"
mkdir -p "$work/rel-good" "$work/rel-broken" "$work/releases/v0.0.1" "$work/releases/v0.0.2"
CGO_ENABLED=0 go build -o "$work/rel-good/servagent" \
	-ldflags "-X github.com/servagent/servagent/pkg/buildinfo.Version=v0.0.1" ./cmd/servagent
printf '#!/bin/sh\necho broken release >&2\nexit 1\n' >"$work/rel-broken/servagent"
chmod 0755 "$work/rel-broken/servagent"
tar -C "$work/rel-good" -czf "$work/releases/v0.0.1/servagent_0.0.1_linux_$arch.tar.gz" servagent
tar -C "$work/rel-broken" -czf "$work/releases/v0.0.2/servagent_0.0.2_linux_$arch.tar.gz" servagent
for v in 0.0.1 0.0.2; do (cd "$work/releases/v$v" && sha256sum ./*.tar.gz | sed 's# \./# #' >checksums.txt); done
CGO_ENABLED=0 go build -o "$work/releaseserver" ./test/update/releaseserver
echo "test/systemd: built in $((SECONDS - start))s; booting the container"
set +e
SYSTEMD_BOOT_TIMEOUT="${SYSTEMD_BOOT_TIMEOUT:-180}" bash scripts/testinfra/systemd-boot-run.sh "$work" in-container.sh "$version"
rc=$?
set -e
if [[ $rc -eq 0 ]]; then
	echo "PASS test/systemd ($((SECONDS - start))s)"
else
	echo "FAIL test/systemd (rc=$rc, $((SECONDS - start))s)"
fi
exit $rc
