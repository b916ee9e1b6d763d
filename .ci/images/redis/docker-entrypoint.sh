#!/bin/sh
# Zentoria CI stand-in for the official redis image entrypoint (own, short
# implementation): "redis-server ..." started as root chowns the working dir
# (/data) to redis and re-execs itself as redis.
set -eu

# "docker run image --port 1234" / "docker run image /path/redis.conf"
if [ "$#" -gt 0 ] && { [ "${1#-}" != "$1" ] || [ "${1%.conf}" != "$1" ]; }; then
	set -- redis-server "$@"
fi

if [ "$#" -gt 0 ] && [ "$1" = 'redis-server' ] && [ "$(id -u)" = '0' ]; then
	find . \! -user redis -exec chown redis '{}' +
	exec setpriv --reuid=redis --regid=redis --init-groups "$0" "$@"
fi

# like the official image: private files unless the caller chose a umask
if [ "$(umask)" = '0022' ]; then
	umask 0077
fi

exec "$@"
