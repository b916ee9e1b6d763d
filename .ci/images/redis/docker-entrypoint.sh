#!/bin/sh
# Zentoria CI stand-in for docker-library/redis's docker-entrypoint.sh (own script, same
# behaviour): "-x ..." or "file.conf ..." means "redis-server ..."; redis-server started as
# root chowns what in the working directory (/data) is not redis' and runs again as redis
# (gosu); a default umask of 0022 becomes 0077; then exec.
set -e

case "${1:-}" in
	-* | *.conf) set -- redis-server "$@" ;;
esac

if [ "${1:-}" = redis-server ] && [ "$(id -u)" = 0 ]; then
	find . \! -user redis -exec chown redis '{}' +
	exec gosu redis "$0" "$@"
fi

if [ "$(umask)" = 0022 ]; then
	umask 0077
fi

exec "$@"
