#!/usr/bin/env bash
# Zentoria CI stand-in for the official postgres image entrypoint (own, short
# implementation of the behaviour the Pulumi program relies on):
#   - started as root: fix ownership of PGDATA (and its parent) and of the
#     socket dir, then re-exec this script as user postgres;
#   - empty PGDATA: initdb with the password from POSTGRES_PASSWORD_FILE /
#     POSTGRES_PASSWORD (a SCRAM verifier is stored as is), start a temporary
#     socket-only server with the command's own "-c ..." arguments, create
#     POSTGRES_DB, run /docker-entrypoint-initdb.d/*.sql|*.sql.gz|*.sh, stop it;
#   - exec the command.
set -Eeuo pipefail

log() { printf '%s [entrypoint] %s\n' "$(date -u '+%Y-%m-%d %H:%M:%S UTC')" "$*" >&2; }
die() { log "error: $*"; exit 1; }

# "docker run image -c foo=bar" means "postgres -c foo=bar".
if [ "$#" -gt 0 ] && [ "${1:0:1}" = '-' ]; then
	set -- postgres "$@"
fi

if [ "$#" -eq 0 ] || [ "$1" != 'postgres' ]; then
	exec "$@"
fi

: "${PGDATA:?PGDATA must be set}"

# Like the official image, read the password file before dropping privileges
# (so a root-only file works) and hand the value on in the environment.
if [ -n "${POSTGRES_PASSWORD_FILE:-}" ]; then
	[ -z "${POSTGRES_PASSWORD:-}" ] || die 'both POSTGRES_PASSWORD and POSTGRES_PASSWORD_FILE are set'
	[ -r "$POSTGRES_PASSWORD_FILE" ] || die "cannot read POSTGRES_PASSWORD_FILE=$POSTGRES_PASSWORD_FILE"
	POSTGRES_PASSWORD="$(cat "$POSTGRES_PASSWORD_FILE")"
	export POSTGRES_PASSWORD
	unset POSTGRES_PASSWORD_FILE
fi

if [ "$(id -u)" = '0' ]; then
	parent="$(dirname "$PGDATA")"
	mkdir -p "$PGDATA"
	chown postgres:postgres "$parent"
	find "$PGDATA" \! -user postgres -exec chown postgres:postgres '{}' +
	chmod 0700 "$PGDATA"
	mkdir -p /var/run/postgresql
	chown postgres:postgres /var/run/postgresql
	chmod 3777 /var/run/postgresql
	exec setpriv --reuid=postgres --regid=postgres --init-groups "${BASH_SOURCE[0]}" "$@"
fi

mkdir -p "$PGDATA" 2>/dev/null || true
chmod 0700 "$PGDATA" 2>/dev/null || true

if [ ! -s "$PGDATA/PG_VERSION" ]; then
	POSTGRES_USER="${POSTGRES_USER:-postgres}"
	POSTGRES_DB="${POSTGRES_DB:-$POSTGRES_USER}"

	POSTGRES_PASSWORD="${POSTGRES_PASSWORD:-}"
	if [ -z "$POSTGRES_PASSWORD" ] && [ "${POSTGRES_HOST_AUTH_METHOD:-}" != 'trust' ]; then
		die 'database is uninitialized and no superuser password is set (POSTGRES_PASSWORD or POSTGRES_PASSWORD_FILE)'
	fi

	log "initializing database cluster in $PGDATA (superuser $POSTGRES_USER)"
	if [ -n "$POSTGRES_PASSWORD" ]; then
		# initdb takes the first line of the file as the password; a
		# "SCRAM-SHA-256$..." verifier is stored unchanged by the server.
		eval 'initdb --username="$POSTGRES_USER" --pwfile=<(printf "%s\n" "$POSTGRES_PASSWORD") '"${POSTGRES_INITDB_ARGS:-}"
	else
		eval 'initdb --username="$POSTGRES_USER" '"${POSTGRES_INITDB_ARGS:-}"
	fi

	# Like the official image: the PGDATA pg_hba.conf (used only when the
	# command names no other hba_file) accepts password logins from anywhere.
	printf '\nhost all all all %s\n' "${POSTGRES_HOST_AUTH_METHOD:-scram-sha-256}" >> "$PGDATA/pg_hba.conf"

	# Temporary server: same arguments as the command (config_file, hba_file,
	# ...), Unix socket only.
	shift
	opts=''
	if [ "$#" -gt 0 ]; then opts="$(printf '%q ' "$@")"; fi
	pg_ctl -D "$PGDATA" -w -t 120 start \
		-o "$opts -c listen_addresses='' -p ${PGPORT:-5432}"

	psql_base=(psql -v ON_ERROR_STOP=1 --no-psqlrc --no-password --username "$POSTGRES_USER" -p "${PGPORT:-5432}")
	if [ "$POSTGRES_DB" != 'postgres' ]; then
		log "creating database $POSTGRES_DB"
		"${psql_base[@]}" --dbname postgres --set db="$POSTGRES_DB" <<-'EOSQL'
			CREATE DATABASE :"db";
		EOSQL
	fi

	shopt -s nullglob
	for f in /docker-entrypoint-initdb.d/*; do
		case "$f" in
			*.sh)
				if [ -x "$f" ]; then
					log "running $f"; "$f"
				else
					log "sourcing $f"
					# shellcheck disable=SC1090
					. "$f"
				fi
				;;
			*.sql)    log "running $f"; "${psql_base[@]}" --dbname "$POSTGRES_DB" -f "$f" ;;
			*.sql.gz) log "running $f"; gunzip -c "$f" | "${psql_base[@]}" --dbname "$POSTGRES_DB" ;;
			*)        log "ignoring $f" ;;
		esac
	done
	shopt -u nullglob

	pg_ctl -D "$PGDATA" -m fast -w -t 120 stop
	set -- postgres "$@"
	log 'init process complete; starting the server'
else
	log "PostgreSQL data directory $PGDATA already initialized; skipping initdb"
fi

unset POSTGRES_PASSWORD
exec "$@"
