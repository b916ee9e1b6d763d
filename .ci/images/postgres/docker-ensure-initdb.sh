#!/usr/bin/env bash
# Zentoria CI stand-in for docker-library/postgres's docker-ensure-initdb.sh (own
# implementation of the same contract): initialise PGDATA exactly as docker-entrypoint.sh
# would (same variables, same init files), then exit 0 without starting the server; when
# PGDATA is already initialised, say so and exit 0. Its arguments are the server's
# ("postgres" first or not), used for the temporary server and password_encryption.
# Started as docker-enforce-initdb.sh (a link), an initialised PGDATA is an error (exit 1).
set -Eeo pipefail

# shellcheck source=docker-entrypoint.sh
source /usr/local/bin/docker-entrypoint.sh

if [ "$#" -eq 0 ] || [ "$1" != postgres ]; then
	set -- postgres "$@"
fi

pg_read_env
pg_prepare_dirs
if [ "$(id -u)" = 0 ]; then
	exec gosu postgres "${BASH_SOURCE[0]}" "$@"
fi

self="$(basename "$0")"
if [ -z "$PG_ALREADY_INITIALISED" ]; then
	pg_initialise "$@"
	printf '%s: PostgreSQL init process complete in %s\n' "$self" "$PGDATA"
	exit 0
fi
case "$self" in
	docker-ensure-initdb.sh)
		printf >&2 "%s: note: database already initialized in '%s'!\n" "$self" "$PGDATA"
		exit 0
		;;
	docker-enforce-initdb.sh)
		printf >&2 "%s: error: (unexpected) database found in '%s'!\n" "$self" "$PGDATA"
		exit 1
		;;
	*)
		printf >&2 '%s: error: unknown file name: %s\n' "$self" "$self"
		exit 99
		;;
esac
