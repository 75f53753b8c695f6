#!/bin/sh
# servagent package: before removal (deb: remove|upgrade|...; rpm: 0 = erase, 1 = upgrade).
set -e
case "$1" in
remove | purge | 0) ;;
*) exit 0 ;;
esac
if [ -e /opt/servagent/.servagent-install.json ]; then
	echo "servagent: the service installed by 'servagent install' stays (it runs its own copy in /opt/servagent)."
	echo "servagent: to remove it too, run: sudo servagent uninstall"
fi
exit 0
