#!/usr/bin/env bash
# Zentoria CI stand-in for docker-library/postgres's docker-entrypoint.sh: our own, short
# implementation of the same contract (read from that image's source; ../README.md lists
# what differs). For "postgres ..." (or "-c ...", which means "postgres -c ..."):
#   - POSTGRES_PASSWORD, POSTGRES_USER (default postgres), POSTGRES_DB (default: the user)
#     and POSTGRES_INITDB_ARGS are taken from the variable or from the file named by
#     <VAR>_FILE (not both) and EXPORTED; the _FILE variable is unset. Nothing unsets
#     POSTGRES_PASSWORD later: like the official image, the server inherits it.
#   - as root: create PGDATA (0700) and /var/run/postgresql, chown to postgres what is not
#     already postgres', then run this script again as postgres (gosu);
#   - PGDATA without PG_VERSION: initdb (superuser password from POSTGRES_PASSWORD, which may
#     be a SCRAM verifier), append "host all all all <method>" to PGDATA's pg_hba.conf
#     (POSTGRES_HOST_AUTH_METHOD, else the server's password_encryption under the command's
#     own arguments), start a socket-only temporary server with those arguments, create
#     POSTGRES_DB, run /docker-entrypoint-initdb.d/*.sh|*.sql|*.sql.gz|*.sql.xz|*.sql.zst
#     (psql as POSTGRES_USER over the socket), stop it;
#   - exec the command.
# docker-ensure-initdb.sh sources this file for the initialisation alone.
set -Eeo pipefail

# <VAR> from <VAR> or <VAR>_FILE, exported; <VAR>_FILE unset.
pg_env_from_file() { # VAR [default]
	local name="$1" file_var="$1_FILE" value="${2:-}"
	if [ -n "${!name:-}" ] && [ -n "${!file_var:-}" ]; then
		printf >&2 'error: %s and %s are both set (use one)\n' "$name" "$file_var"
		exit 1
	fi
	if [ -n "${!name:-}" ]; then
		value="${!name}"
	elif [ -n "${!file_var:-}" ]; then
		value="$(< "${!file_var}")"
	fi
	export "$name=$value"
	unset "$file_var"
}

# The variables above, and whether PGDATA already holds a cluster.
pg_read_env() {
	pg_env_from_file POSTGRES_PASSWORD
	pg_env_from_file POSTGRES_USER postgres
	pg_env_from_file POSTGRES_DB "$POSTGRES_USER"
	pg_env_from_file POSTGRES_INITDB_ARGS
	: "${POSTGRES_HOST_AUTH_METHOD:=}"
	PG_ALREADY_INITIALISED=''
	if [ -s "$PGDATA/PG_VERSION" ]; then
		PG_ALREADY_INITIALISED=yes
	fi
}

pg_prepare_dirs() {
	local root=''
	[ "$(id -u)" = 0 ] && root=yes
	mkdir -p "$PGDATA"
	chmod 0700 "$PGDATA" || :
	mkdir -p /var/run/postgresql || :
	chmod 3775 /var/run/postgresql || :
	if [ -n "${POSTGRES_INITDB_WALDIR:-}" ]; then
		mkdir -p "$POSTGRES_INITDB_WALDIR"
		[ -z "$root" ] || find "$POSTGRES_INITDB_WALDIR" \! -user postgres -exec chown postgres '{}' +
		chmod 0700 "$POSTGRES_INITDB_WALDIR"
	fi
	if [ -n "$root" ]; then
		find "$PGDATA" /var/run/postgresql \! -user postgres -exec chown postgres '{}' +
	fi
}

pg_require_password() {
	if [ -z "$POSTGRES_PASSWORD" ] && [ "$POSTGRES_HOST_AUTH_METHOD" != trust ]; then
		printf >&2 '%s\n' \
			'Error: Database is uninitialized and superuser password is not specified.' \
			'       Set POSTGRES_PASSWORD (or POSTGRES_PASSWORD_FILE), or POSTGRES_HOST_AUTH_METHOD=trust.'
		exit 1
	fi
	if [ "$POSTGRES_HOST_AUTH_METHOD" = trust ]; then
		printf >&2 'WARNING: POSTGRES_HOST_AUTH_METHOD=trust lets anyone reach the database without a password.\n'
	fi
}

pg_initdb() {
	# initdb wants the current uid in the passwd database; fake it for arbitrary --user values.
	local wrapper uid gid
	uid="$(id -u)"
	gid="$(id -g)"
	if ! getent passwd "$uid" > /dev/null; then
		for wrapper in /usr/lib/*/libnss_wrapper.so /usr/lib/libnss_wrapper.so; do
			[ -s "$wrapper" ] || continue
			NSS_WRAPPER_PASSWD="$(mktemp)"
			NSS_WRAPPER_GROUP="$(mktemp)"
			printf 'postgres:x:%s:%s:PostgreSQL:%s:/bin/false\n' "$uid" "$gid" "$PGDATA" > "$NSS_WRAPPER_PASSWD"
			printf 'postgres:x:%s:\n' "$gid" > "$NSS_WRAPPER_GROUP"
			export LD_PRELOAD="$wrapper" NSS_WRAPPER_PASSWD NSS_WRAPPER_GROUP
			break
		done
	fi
	local -a args=()
	if [ -n "$POSTGRES_INITDB_ARGS" ]; then
		# shell words, quotes honoured, as the official image reads them
		eval "args=( $POSTGRES_INITDB_ARGS )"
	fi
	if [ -n "${POSTGRES_INITDB_WALDIR:-}" ]; then
		args=(--waldir "$POSTGRES_INITDB_WALDIR" "${args[@]}")
	fi
	# initdb refuses an empty password file, hence the newline.
	initdb --username="$POSTGRES_USER" --pwfile=<(printf '%s\n' "$POSTGRES_PASSWORD") "${args[@]}"
	if [ -n "${NSS_WRAPPER_PASSWD:-}" ]; then
		rm -f "$NSS_WRAPPER_PASSWD" "$NSS_WRAPPER_GROUP"
		unset LD_PRELOAD NSS_WRAPPER_PASSWD NSS_WRAPPER_GROUP
	fi
}

pg_append_host_rule() { # postgres [server args]
	[ "${1:-}" != postgres ] || shift
	local encryption
	encryption="$(postgres -C password_encryption "$@")"
	: "${POSTGRES_HOST_AUTH_METHOD:=$encryption}"
	printf '\nhost all all all %s\n' "$POSTGRES_HOST_AUTH_METHOD" >> "$PGDATA/pg_hba.conf"
}

# psql as POSTGRES_USER over the Unix socket, into POSTGRES_DB unless it is empty.
pg_sql() {
	local -a command=(psql -v ON_ERROR_STOP=1 --username "$POSTGRES_USER" --no-password --no-psqlrc)
	[ -z "$POSTGRES_DB" ] || command+=(--dbname "$POSTGRES_DB")
	PGHOST='' PGHOSTADDR='' "${command[@]}" "$@"
}

pg_temp_server_start() { # postgres [server args]
	[ "${1:-}" != postgres ] || shift
	local options
	options="$(printf '%q ' "$@" -c "listen_addresses=" -p "${PGPORT:-5432}")"
	NOTIFY_SOCKET='' PGUSER="${PGUSER:-$POSTGRES_USER}" pg_ctl -D "$PGDATA" -o "$options" -w start
}

pg_temp_server_stop() {
	PGUSER="${PGUSER:-postgres}" pg_ctl -D "$PGDATA" -m fast -w stop
}

pg_create_database() {
	local found
	found="$(POSTGRES_DB='' pg_sql --dbname postgres --set db="$POSTGRES_DB" --tuples-only <<< "SELECT 1 FROM pg_database WHERE datname = :'db';")"
	if [ -z "$found" ]; then
		POSTGRES_DB='' pg_sql --dbname postgres --set db="$POSTGRES_DB" <<< 'CREATE DATABASE :"db";'
	fi
}

pg_run_init_files() { # files...
	local file
	for file in "$@"; do
		[ -e "$file" ] || continue
		case "$file" in
			*.sh)
				if [ -x "$file" ]; then
					printf '%s: running %s\n' "$0" "$file"
					"$file"
				else
					printf '%s: sourcing %s\n' "$0" "$file"
					# shellcheck disable=SC1090
					. "$file"
				fi
				;;
			*.sql) printf '%s: running %s\n' "$0" "$file"; pg_sql -f "$file" ;;
			*.sql.gz) printf '%s: running %s\n' "$0" "$file"; gunzip -c "$file" | pg_sql ;;
			*.sql.xz) printf '%s: running %s\n' "$0" "$file"; xzcat "$file" | pg_sql ;;
			*.sql.zst) printf '%s: running %s\n' "$0" "$file"; zstd -dc "$file" | pg_sql ;;
			*) printf '%s: ignoring %s\n' "$0" "$file" ;;
		esac
	done
}

# Initialises an empty PGDATA (as postgres); "$@" is the server command line.
pg_initialise() {
	pg_require_password
	ls /docker-entrypoint-initdb.d/ > /dev/null
	pg_initdb
	pg_append_host_rule "$@"
	# psql needs it if local logins ask for a password (POSTGRES_INITDB_ARGS --auth-local=...)
	export PGPASSWORD="${PGPASSWORD:-$POSTGRES_PASSWORD}"
	pg_temp_server_start "$@"
	pg_create_database
	pg_run_init_files /docker-entrypoint-initdb.d/*
	pg_temp_server_stop
	unset PGPASSWORD
}

# Arguments that make postgres print something and exit.
pg_wants_help() {
	local arg
	for arg; do
		case "$arg" in
			'-?' | --help | --describe-config | -V | --version) return 0 ;;
		esac
	done
	return 1
}

pg_entrypoint() {
	if [ "${1:0:1}" = '-' ]; then
		set -- postgres "$@"
	fi
	if [ "${1:-}" = postgres ] && ! pg_wants_help "$@"; then
		pg_read_env
		pg_prepare_dirs
		if [ "$(id -u)" = 0 ]; then
			exec gosu postgres "${BASH_SOURCE[0]}" "$@"
		fi
		if [ -z "$PG_ALREADY_INITIALISED" ]; then
			pg_initialise "$@"
			printf '\nPostgreSQL init process complete; ready for start up.\n\n'
		else
			printf '\nPostgreSQL Database directory appears to contain a database; Skipping initialization\n\n'
		fi
	fi
	exec "$@"
}

# Run, unless sourced (docker-ensure-initdb.sh).
if [ "${BASH_SOURCE[0]}" = "$0" ]; then
	pg_entrypoint "$@"
fi
