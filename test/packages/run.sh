#!/usr/bin/env bash
# Release packages end to end: `goreleaser check`, `goreleaser release
# --snapshot --clean` on a copy of the working tree (so the repository is not
# touched), the archive and checksum names that `servagent update` and
# install.sh read, the .rpm's file list (rpm -qpl), then the .deb installed
# with dpkg -i in a throw-away systemd container (test/packages/in-container.sh).
# Needs root, systemd-nspawn, goreleaser v2 (go install
# github.com/goreleaser/goreleaser/v2@v2.15.1), rpm, dpkg. Skips (exit 0) only
# when not root or systemd-nspawn is missing, like test/systemd.
# DIST=dir reuses a dist/ from an earlier snapshot instead of building.
set -euo pipefail
cd "$(dirname "$0")/../.."
fail() { echo "FAIL test/packages: $*" >&2; exit 1; }

if [[ $EUID -ne 0 ]]; then echo "SKIP test/packages: needs root (it boots a systemd container)"; exit 0; fi
if ! command -v systemd-nspawn >/dev/null; then
	echo "SKIP test/packages: systemd-nspawn missing (apt-get install -y --no-install-recommends systemd-container)"; exit 0
fi
PATH="$PATH:$(go env GOPATH)/bin"
command -v goreleaser >/dev/null || fail "goreleaser missing: go install github.com/goreleaser/goreleaser/v2@v2.15.1"
command -v rpm >/dev/null || fail "rpm missing: apt-get install -y --no-install-recommends rpm"
command -v dpkg-deb >/dev/null || fail "dpkg-deb missing"

start=$SECONDS
work="$(mktemp -d "${TMPDIR:-/tmp}/servagent-packages-test.XXXXXX")"
trap 'rm -rf "$work"' EXIT

dist="${DIST:-}"
if [[ -z $dist ]]; then
	# A copy of the tracked and new files, committed in a private repository:
	# goreleaser's hooks regenerate man pages and completions in place.
	mkdir -p "$work/src"
	git ls-files -co --exclude-standard -z | tar --null -cf - -T - | tar -xf - -C "$work/src"
	(cd "$work/src" && git init -q && git add -A &&
		git -c user.name=test -c user.email=test@invalid commit -qm snapshot) || fail "could not prepare the source copy"
	(cd "$work/src" && goreleaser check) || fail "goreleaser check"
	(cd "$work/src" && goreleaser release --snapshot --clean) >"$work/goreleaser.log" 2>&1 ||
		{ tail -n 40 "$work/goreleaser.log"; fail "goreleaser release --snapshot --clean"; }
	grep -E 'took|succeeded' "$work/goreleaser.log" | tail -n 6
	dist="$work/src/dist"
fi
echo "test/packages: snapshot built in $((SECONDS - start))s"

arch="$(go env GOARCH)"
deb="$(ls "$dist"/servagent_*_linux_"$arch".deb)"
rpmf="$(ls "$dist"/servagent_*_linux_"$arch".rpm)"
tgz="$(ls "$dist"/servagent_*_linux_"$arch".tar.gz)"
version="$(basename "$tgz" | sed -E 's/^servagent_(.*)_linux_.*$/\1/')"

# The names `servagent update` and install.sh compute.
[[ -f "$dist/checksums.txt" ]] || fail "no checksums.txt"
for a in amd64 arm64; do
	f="servagent_${version}_linux_$a.tar.gz"
	[[ -f "$dist/$f" ]] || fail "missing $f"
	grep -q "  $f\$" "$dist/checksums.txt" || fail "checksums.txt has no line for $f"
done
(cd "$dist" && grep '\.tar\.gz$' checksums.txt | sha256sum -c --quiet) || fail "checksums.txt does not match the archives"
tar -tzf "$tgz" | grep -qx servagent || fail "$tgz has no servagent at its top"

# The .rpm: file list and scripts, read with Debian's rpm.
want_files="/usr/bin/servagent
/usr/share/bash-completion/completions/servagent
/usr/share/doc/servagent/LICENSE
/usr/share/doc/servagent/README.md
/usr/share/fish/vendor_completions.d/servagent.fish
/usr/share/man/man1/servagent.1
/usr/share/man/man1/servagent-setup.1
/usr/share/zsh/site-functions/_servagent"
got_files="$(rpm -qpl "$rpmf")"
while read -r f; do grep -qx "$f" <<<"$got_files" || fail "rpm lacks $f: $got_files"; done <<<"$want_files"
n_man="$(grep -c '^/usr/share/man/man1/servagent.*\.1$' <<<"$got_files")"
[[ $n_man -eq $(ls man/*.1 | wc -l) ]] || fail "rpm has $n_man man pages, man/ has $(ls man/*.1 | wc -l)"
rpm -qp --scripts "$rpmf" | grep -q 'sudo servagent setup' || fail "rpm post-install does not mention sudo servagent setup"
rpm -qp --scripts "$rpmf" | grep -q 'sudo servagent uninstall' || fail "rpm pre-remove does not mention sudo servagent uninstall"
echo "rpm: $(wc -l <<<"$got_files") files, scripts OK"

cp "$deb" "$work/servagent.deb"
cp test/packages/in-container.sh "$work/"
set +e
SYSTEMD_BOOT_TIMEOUT="${SYSTEMD_BOOT_TIMEOUT:-240}" bash scripts/testinfra/systemd-boot-run.sh "$work" in-container.sh "v$version"
rc=$?
set -e
if [[ $rc -eq 0 ]]; then echo "PASS test/packages ($((SECONDS - start))s)"; else echo "FAIL test/packages (rc=$rc, $((SECONDS - start))s)"; fi
exit $rc
