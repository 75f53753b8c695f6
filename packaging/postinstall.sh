#!/bin/sh
# servagent package: after install or upgrade (deb: configure [OLD]; rpm: 1 or 2).
set -e
case "$1" in
abort-*) exit 0 ;;
esac
if [ -e /opt/servagent/.servagent-install.json ]; then
	# An installed service runs its own copy in /opt/servagent: upgrade it
	# too (key, .env and access are kept), but never fail the package for it.
	echo "servagent: upgrading the installed service to the packaged binary"
	/usr/bin/servagent install --yes </dev/null || echo "servagent: the service was not upgraded; run: sudo servagent install" >&2
else
	echo "servagent is installed as /usr/bin/servagent. To set it up as a service, run:"
	echo "  sudo servagent setup"
fi
exit 0
