#!/bin/bash
# scheduler.sh: rendered by the Zentoria Pulumi program from the stack plan; edits are overwritten.
set -uo pipefail
CONF=/etc/zentoria-backup
STATUS=/backups/status
HEARTBEAT=/tmp/zentoria-backup-heartbeat
child=

log() { printf '%s zentoria-backup: %s\n' "$(date -u +%Y-%m-%dT%H:%M:%SZ)" "$*" >&2; }
stop() {
    if [ -n "$child" ]; then kill -TERM "$child" 2>/dev/null; wait "$child"; fi
    exit 0
}
trap stop TERM INT
# sleep in the background, so that a signal is handled at once
pause() { sleep "$1" & wait $!; }

touch "$HEARTBEAT"
log "scheduler started; schedule: $(cat "$CONF/schedule")"
pause 60
while :; do
    touch "$HEARTBEAT"
    read -r interval retry < "$CONF/schedule" || { log "cannot read $CONF/schedule"; interval=86400; retry=3600; }
    last=0
    outcome=none
    if [ -r "$STATUS/last-run" ]; then read -r last outcome < "$STATUS/last-run" || last=0; fi
    due=$interval
    [ "$outcome" = failed ] && due=$retry
    if [ $(( $(date -u +%s) - last )) -ge "$due" ]; then
        bash "$CONF/backup.sh" scheduled &
        child=$!
        while kill -0 "$child" 2>/dev/null; do touch "$HEARTBEAT"; pause 10; done
        wait "$child"
        child=
    fi
    pause 30
done
