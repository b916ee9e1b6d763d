#!/bin/sh
# Zentoria CI stand-in for cloudnative-pg/pgbouncer-containers' entrypoint.sh (own script,
# same behaviour): run PgBouncer on /etc/pgbouncer/pgbouncer.ini as a child of this shell.
# Arguments are ignored; the shell stays PID 1 and does not pass signals on, so `docker stop`
# waits for its timeout and then kills both. Programs that need PgBouncer's own signal
# handling run the binary as the entrypoint (`--entrypoint pgbouncer`).
/usr/bin/pgbouncer /etc/pgbouncer/pgbouncer.ini
