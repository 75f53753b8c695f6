#!/bin/sh
# servagent remote installer.
#
#   curl -sSfL https://raw.githubusercontent.com/servagent/servagent/main/install.sh | sudo sh     # on a terminal: offers the setup wizard
#   curl -sSfL https://raw.githubusercontent.com/servagent/servagent/main/install.sh | sudo sh -s -- --full-access mcp.example.com
#   curl -sSfL https://raw.githubusercontent.com/servagent/servagent/main/install.sh | sudo sh -s -- --version v1.2.3
#
# Downloads the release archive for this machine (Linux amd64 or arm64) and
# checksums.txt from GitHub releases, verifies the SHA-256, then runs
# `servagent install` with every other argument (see `servagent install --help`).
#
# Environment (mirrors and tests):
#   SERVAGENT_UPDATE_URL    GitHub API base           (default https://api.github.com)
#   SERVAGENT_DOWNLOAD_URL  release download base     (default https://github.com/servagent/servagent/releases/download)
#   SERVAGENT_UNAME_S, SERVAGENT_UNAME_M   override `uname -s` / `uname -m`
set -eu

REPO="servagent/servagent"

say() { printf 'servagent-install: %s\n' "$*" >&2; }
die() { say "error: $*"; exit 1; }

fetch() { # URL FILE
	if command -v curl >/dev/null 2>&1; then
		curl -fsSL --retry 2 -o "$2" "$1" || die "download failed: $1"
	elif command -v wget >/dev/null 2>&1; then
		wget -q -O "$2" "$1" || die "download failed: $1"
	else
		die "curl or wget is required"
	fi
}

sha256() { # FILE -> hex digest
	if command -v sha256sum >/dev/null 2>&1; then
		sha256sum "$1" | cut -d' ' -f1
	elif command -v shasum >/dev/null 2>&1; then
		shasum -a 256 "$1" | cut -d' ' -f1
	elif command -v openssl >/dev/null 2>&1; then
		openssl dgst -sha256 "$1" | sed 's/.*= *//'
	else
		die "sha256sum, shasum or openssl is required to verify the download"
	fi
}

# The whole script is a function called on the last line, so a download cut
# short by the network runs nothing.
main() {
	api="${SERVAGENT_UPDATE_URL:-https://api.github.com}"
	dl="${SERVAGENT_DOWNLOAD_URL:-https://github.com/$REPO/releases/download}"

	# Take --version out; everything else goes to `servagent install`.
	version=""
	n=$#
	while [ "$n" -gt 0 ]; do
		a="$1"; shift; n=$((n - 1))
		case "$a" in
		--version)
			[ "$n" -gt 0 ] || die "--version needs a value, e.g. --version v1.2.3"
			version="$1"; shift; n=$((n - 1)) ;;
		--version=*) version="${a#--version=}" ;;
		*) set -- "$@" "$a" ;;
		esac
	done

	os="${SERVAGENT_UNAME_S:-$(uname -s)}"
	[ "$os" = "Linux" ] || die "unsupported operating system: $os (servagent runs on Linux)"
	machine="${SERVAGENT_UNAME_M:-$(uname -m)}"
	case "$machine" in
	x86_64 | amd64) arch=amd64 ;;
	aarch64 | arm64) arch=arm64 ;;
	*) die "unsupported architecture: $machine (releases exist for amd64 and arm64)" ;;
	esac

	tmp="$(mktemp -d 2>/dev/null || mktemp -d -t servagent)"
	trap 'rm -rf "$tmp"' EXIT
	trap 'exit 130' INT TERM

	if [ -z "$version" ]; then
		fetch "$api/repos/$REPO/releases/latest" "$tmp/latest.json"
		version="$(sed -n 's/.*"tag_name"[[:space:]]*:[[:space:]]*"\([^"]*\)".*/\1/p' "$tmp/latest.json" | head -n 1)"
		[ -n "$version" ] || die "could not find the latest release at $api/repos/$REPO/releases/latest"
	fi
	case "$version" in v*) ;; *) version="v$version" ;; esac
	archive="servagent_${version#v}_linux_${arch}.tar.gz"

	say "downloading servagent $version for linux/$arch"
	fetch "$dl/$version/$archive" "$tmp/$archive"
	fetch "$dl/$version/checksums.txt" "$tmp/checksums.txt"
	want="$(awk -v f="$archive" '$2 == f || $2 == "*" f { print $1; exit }' "$tmp/checksums.txt")"
	[ -n "$want" ] || die "checksums.txt of $version has no entry for $archive"
	got="$(sha256 "$tmp/$archive")"
	[ "$got" = "$want" ] || die "checksum mismatch for $archive: expected $want, got $got (nothing was installed)"
	say "checksum OK"

	tar -xzf "$tmp/$archive" -C "$tmp" servagent || die "could not unpack $archive"
	chmod 0755 "$tmp/servagent"

	# stdin of `curl | sh` is this script: give install the terminal (for the
	# setup wizard it offers without arguments, or its sudo question) or
	# nothing, never the rest of the pipe.
	if (exec </dev/tty) 2>/dev/null; then
		"$tmp/servagent" install "$@" </dev/tty
	else
		"$tmp/servagent" install "$@" </dev/null
	fi
}

main "$@"
