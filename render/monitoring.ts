// The monitoring part's files besides Prometheus' own (render/prometheus.ts): where everything
// lives in the containers, each exporter's credentials as a file it reads (never an environment
// variable or a flag), postgres_exporter's query for section 5.2's long-running queries, and the
// counter of PgBouncer's pool errors, which no exporter has.
import * as YAML from "yaml";
import { StackPlan } from "../config/plan";
import { renderedHeader } from "./header";
import { pgpassField, RenderError, secretFileLine } from "./quote";

export const MONITORING_LAYOUT = {
    prometheus: {
        configDirectory: "/etc/zentoria-prometheus",
        configFile: "/etc/zentoria-prometheus/prometheus.yml",
        rulesFile: "/etc/zentoria-prometheus/rules.yml",
        /** Qdrant's read-only API key, sent as a bearer token when Prometheus scrapes Qdrant's /metrics. */
        qdrantKeyFile: "/etc/zentoria-prometheus/qdrant-read-only-key",
        /** The images' own data directory (VOLUME /prometheus, owned by nobody). */
        dataDirectory: "/prometheus",
    },
    alertmanager: {
        configDirectory: "/etc/zentoria-alertmanager",
        configFile: "/etc/zentoria-alertmanager/alertmanager.yml",
        dataDirectory: "/alertmanager",
    },
    /** Each exporter's config volume is mounted here in its own container. */
    exporterDirectory: "/etc/zentoria-exporter",
    pgbouncerLog: {
        /** Exists in PgBouncer's images, owned by its user: a new volume mounted here takes that owner. */
        directory: "/var/log/pgbouncer",
        file: "/var/log/pgbouncer/pgbouncer.log",
    },
    pgbouncerErrors: {
        configDirectory: "/etc/zentoria-pgbouncer-errors",
        script: "/etc/zentoria-pgbouncer-errors/pgbouncer-errors.pl",
    },
    /** The backup store, read-only in the counter's container: it also serves the sidecar's gauges. */
    backupStore: {
        directory: "/var/lib/zentoria-backups",
        metricsFile: "/var/lib/zentoria-backups/status/metrics.prom",
    },
} as const;

/**
 * Users the images run as, by number: the upstream images (busybox, alpine) and the CI
 * stand-ins (Debian) name the group of 65534 differently (nobody, nogroup), and
 * redis_exporter's 59000 has no name at all.
 */
export const MONITORING_OWNERS = {
    /** prom/prometheus, prom/alertmanager and the prometheus-community exporters: USER nobody. */
    nobody: "65534:65534",
    /** oliver006/redis_exporter: USER 59000:59000. */
    redisExporter: "59000:59000",
    root: "0:0",
} as const;

/** The counter truncates PgBouncer's log file once it has read past this many bytes. */
export const PGBOUNCER_LOG_MAX_BYTES = 8 * 1024 * 1024;

/** A file for a config volume (components/live/volumeFiles.ts VolumeFile, without its dependency). */
export interface VolumeFileSpec {
    name: string;
    content: string;
    mode: string;
    owner: string;
}

const file = (path: string) => path.slice(path.lastIndexOf("/") + 1);
const exporterFile = (name: string) => `${MONITORING_LAYOUT.exporterDirectory}/${name}`;

// ---------------------------------------------------------------- pgbouncer_exporter

export const PGBOUNCER_EXPORTER_PGPASS = "pgpass";

/**
 * pgbouncer_exporter takes a libpq connection string only (flag or environment variable); its
 * driver, lib/pq 1.10.9, reads the password from the file PGPASSFILE names (conn.go
 * handlePgpass; the file must not be readable by group or others). The string carries no password.
 */
export function pgbouncerExporterSettings(plan: StackPlan): { command: string[]; envs: string[] } {
    const { pgbouncer, monitoring } = plan;
    const url = `postgres://${monitoring.role}@${pgbouncer.hostname}:${pgbouncer.port}/pgbouncer?sslmode=disable&application_name=pgbouncer_exporter`;
    return {
        command: [`--pgBouncer.connectionString=${url}`, `--web.listen-address=:${monitoring.pgbouncerExporter.port}`],
        envs: [`PGPASSFILE=${exporterFile(PGBOUNCER_EXPORTER_PGPASS)}`],
    };
}

export function pgbouncerExporterFiles(plan: StackPlan, password: string): VolumeFileSpec[] {
    const { pgbouncer, monitoring } = plan;
    const line = [pgbouncer.hostname, String(pgbouncer.port), "pgbouncer", monitoring.role, password].map(pgpassField).join(":");
    return [{ name: PGBOUNCER_EXPORTER_PGPASS, content: `${line}\n`, mode: "0600", owner: MONITORING_OWNERS.nobody }];
}

// ---------------------------------------------------------------- postgres_exporter

export const POSTGRES_EXPORTER_PASSWORD = "password";
export const POSTGRES_EXPORTER_QUERIES = "queries.yml";

/**
 * Section 5.2's long-running queries: its own condition (state other than idle, running since
 * query_start), as the age of the oldest such query per database, role and state. The exporter's
 * own session is left out. The threshold lives in the alert rule, not here.
 */
export const LONG_QUERY_SQL =
    "SELECT coalesce(datname, '') AS datname, coalesce(usename, '') AS usename, state, " +
    "count(*) AS count, max(extract(epoch FROM now() - query_start))::float AS max_age_seconds " +
    "FROM pg_stat_activity " +
    "WHERE state <> 'idle' AND backend_type = 'client backend' AND query_start IS NOT NULL AND pid <> pg_backend_pid() " +
    "GROUP BY datname, usename, state";

/** The metric postgres_exporter makes of LONG_QUERY_SQL: <query name>_<column>. */
export const LONG_QUERY_METRIC = "zentoria_pg_queries_max_age_seconds";

/** postgres_exporter's user queries (--extend.query-path), as YAML. */
export function postgresExporterQueries(): string {
    const label = (description: string) => ({ usage: "LABEL", description });
    const gauge = (description: string) => ({ usage: "GAUGE", description });
    const document = {
        zentoria_pg_queries: {
            query: LONG_QUERY_SQL,
            master: true,
            metrics: [
                { datname: label("Database") },
                { usename: label("Role") },
                { state: label("pg_stat_activity.state (never idle)") },
                { count: gauge("Client sessions in this state whose query has started") },
                { max_age_seconds: gauge("Seconds since the oldest of them started its query (section 5.2: now() - query_start)") },
            ],
        },
    };
    return yamlDocument("queries.yml", document);
}

/**
 * postgres_exporter reads its data source from DATA_SOURCE_URI, DATA_SOURCE_USER and, for the
 * password, the file DATA_SOURCE_PASS_FILE names (cmd/postgres_exporter/datasource.go
 * getDataSources: "reading secrets from files wins over secrets in environment variables").
 * It connects to PostgreSQL directly: section 5.2's views are cluster-wide, and the numbers must
 * come through when PgBouncer is the thing in trouble.
 */
export function postgresExporterSettings(plan: StackPlan): { command: string[]; envs: string[] } {
    const { postgres, monitoring } = plan;
    return {
        command: [`--extend.query-path=${exporterFile(POSTGRES_EXPORTER_QUERIES)}`, `--web.listen-address=:${monitoring.postgresExporter.port}`],
        envs: [
            `DATA_SOURCE_URI=${postgres.hostname}:${postgres.port}/postgres?sslmode=disable&application_name=postgres_exporter`,
            `DATA_SOURCE_USER=${monitoring.role}`,
            `DATA_SOURCE_PASS_FILE=${exporterFile(POSTGRES_EXPORTER_PASSWORD)}`,
        ],
    };
}

export function postgresExporterFiles(password: string): VolumeFileSpec[] {
    return [
        { name: POSTGRES_EXPORTER_PASSWORD, content: secretFileLine(password, POSTGRES_EXPORTER_PASSWORD), mode: "0600", owner: MONITORING_OWNERS.nobody },
        { name: POSTGRES_EXPORTER_QUERIES, content: postgresExporterQueries(), mode: "0644", owner: MONITORING_OWNERS.nobody },
    ];
}

// ---------------------------------------------------------------- redis_exporter

export const REDIS_EXPORTER_PASSWORDS = "passwords.json";

/** The Redis URL redis_exporter scrapes, and the key its password file looks it up by. */
function redisExporterUri(plan: StackPlan, withUser: boolean): string {
    const { redis, monitoring } = plan;
    return `redis://${withUser ? `${monitoring.redisUser}@` : ""}${redis.hostname}:${redis.port}`;
}

/**
 * redis_exporter's --redis.password-file is a JSON map from URI to password; with --redis.user
 * it looks the address up with the user in it (exporter/redis.go lookupPasswordInPasswordMap).
 */
export function redisExporterSettings(plan: StackPlan): { command: string[]; envs: string[] } {
    const { monitoring } = plan;
    return {
        command: [
            `--redis.addr=${redisExporterUri(plan, false)}`,
            `--redis.user=${monitoring.redisUser}`,
            `--redis.password-file=${exporterFile(REDIS_EXPORTER_PASSWORDS)}`,
            `--web.listen-address=:${monitoring.redisExporter.port}`,
        ],
        envs: [],
    };
}

export function redisExporterFiles(plan: StackPlan, password: string): VolumeFileSpec[] {
    const passwords = { [redisExporterUri(plan, true)]: password };
    return [{ name: REDIS_EXPORTER_PASSWORDS, content: `${JSON.stringify(passwords)}\n`, mode: "0600", owner: MONITORING_OWNERS.redisExporter }];
}

// ---------------------------------------------------------------- PgBouncer's pool errors

/**
 * PgBouncer keeps no error counter (SHOW STATS, POOLS, LISTS have none), but it logs every error
 * it sends a client, before closing it or failing its query, as "pooler error: <message>"
 * (src/proto.c send_pooler_error, log_pooler_errors on by default): refused logins, no such
 * database or user, max_client_conn and max_db/user_connections reached, query_wait_timeout,
 * client_login_timeout, a server it cannot log in to, a paused or disabled database. With
 * monitoring on PgBouncer also writes its log to a file on a volume this counter shares.
 *
 * The counter (perl, from PgBouncer's own image) follows that file from where it was when the
 * counter started, counts those lines (in total, and by the database the line names), and serves
 * the counts to Prometheus. It keeps the file small: once it has read past
 * PGBOUNCER_LOG_MAX_BYTES it truncates it (PgBouncer appends, so it carries on at the new end).
 * What it can miss: lines written while it was not running, and a line written in the instant
 * between its last read and the truncation.
 */
export function pgbouncerErrorsScript(): string {
    return `#!/usr/bin/perl
# pgbouncer-errors.pl: rendered by the Zentoria Pulumi program from the stack plan; edits are overwritten.
# Counts PgBouncer's "pooler error" log lines and serves them to Prometheus.
# Usage: perl pgbouncer-errors.pl <log file> <port> <truncate above bytes> [<metrics file to serve too>]
use strict;
use warnings;
use IO::Select;
use IO::Socket::INET;

my ($log_path, $port, $max_bytes, $extra_path) = @ARGV;
die "usage: $0 <log file> <port> <max bytes>\\n" unless defined $max_bytes;
$| = 1;
$SIG{PIPE} = 'IGNORE';
$SIG{TERM} = sub { exit 0 };

my $total = 0;
my %by_database;
my $readable = 0;
my ($log, $position);
my $started = 0;

# Database names come from clients: only a plain name becomes a label value, and only so many.
sub label_of {
    my ($name) = @_;
    return 'other' unless defined $name && $name =~ /^[A-Za-z0-9_.()-]{1,63}$/;
    return $name if exists $by_database{$name} || keys(%by_database) < 100;
    return 'other';
}

sub count_line {
    my ($line) = @_;
    return unless $line =~ / pooler error: /;
    $total++;
    my ($database) = $line =~ m{ [CS]-0x[0-9a-f]+: ([^/ ]+)/[^ ]* pooler error: };
    $by_database{label_of($database)}++;
}

sub follow {
    if (!$log) {
        # No file at the first look: everything PgBouncer writes into it from now on is new.
        open($log, '<', $log_path) or do { $readable = 0; $started = 1; return };
        # The first time from the end: what was logged before the counter ran is not counted.
        seek($log, 0, $started ? 0 : 2);
        $position = tell($log);
        $started = 1;
    }
    my $size = -s $log_path;
    if (!defined $size) {
        close($log);
        undef $log;
        $readable = 0;
        return;
    }
    $readable = 1;
    if ($size < $position) {
        seek($log, 0, 0);
        $position = 0;
    }
    seek($log, $position, 0);
    while (defined(my $line = <$log>)) {
        # A line PgBouncer is still writing is read again next time.
        last unless $line =~ /\\n\\z/;
        $position = tell($log);
        count_line($line);
    }
    if ($position > $max_bytes && (-s $log_path) == $position) {
        if (open(my $writer, '+<', $log_path)) {
            truncate($writer, 0);
            close($writer);
            $position = 0;
        }
    }
}

sub metrics {
    my @lines = (
        '# HELP pgbouncer_pooler_errors_total Errors PgBouncer sent to clients ("pooler error" lines in its log) since this counter started.',
        '# TYPE pgbouncer_pooler_errors_total counter',
        "pgbouncer_pooler_errors_total $total",
        '# HELP pgbouncer_pooler_errors_by_database_total The same, by the database the client asked for ((nodb) before one was known).',
        '# TYPE pgbouncer_pooler_errors_by_database_total counter',
        (map { "pgbouncer_pooler_errors_by_database_total{database=\\"$_\\"} $by_database{$_}" } sort keys %by_database),
        '# HELP pgbouncer_pooler_errors_log_readable Whether PgBouncer\\'s log file could be read at the last look.',
        '# TYPE pgbouncer_pooler_errors_log_readable gauge',
        "pgbouncer_pooler_errors_log_readable $readable",
    );
    return join("\\n", @lines) . "\\n" . extra_metrics();
}

# The backup sidecar's gauges (a file it replaces whole), served as they are: a textfile collector.
sub extra_metrics {
    return '' unless defined $extra_path;
    my $text = '';
    if (open(my $extra, '<', $extra_path)) {
        local $/;
        $text = <$extra> // '';
        close($extra);
    }
    $text .= "\\n" if length($text) && $text !~ /\\n\\z/;
    my $readable = length($text) ? 1 : 0;
    return $text . "# HELP zentoria_backup_metrics_readable Whether the backup sidecar's metrics file could be read (absent before its first run).\\n"
        . "# TYPE zentoria_backup_metrics_readable gauge\\nzentoria_backup_metrics_readable $readable\\n";
}

sub answer {
    my ($client) = @_;
    my $request = '';
    my $waiting = IO::Select->new($client);
    while ($request !~ /\\r?\\n\\r?\\n/ && length($request) < 8192 && $waiting->can_read(2)) {
        my $read = sysread($client, my $chunk, 4096);
        last unless $read;
        $request .= $chunk;
    }
    my ($path) = $request =~ m{^GET (\\S+) HTTP/};
    my ($status, $type, $body) = !defined $path ? ('400 Bad Request', 'text/plain', "bad request\\n")
        : $path eq '/metrics' ? ('200 OK', 'text/plain; version=0.0.4', metrics())
        : $path eq '/' ? ('200 OK', 'text/plain', "pgbouncer-errors: counts PgBouncer's pooler errors; see /metrics\\n")
        : ('404 Not Found', 'text/plain', "not found\\n");
    print $client "HTTP/1.0 $status\\r\\nContent-Type: $type\\r\\nContent-Length: " . length($body) . "\\r\\nConnection: close\\r\\n\\r\\n$body";
    close($client);
}

my $server = IO::Socket::INET->new(LocalAddr => '0.0.0.0', LocalPort => $port, Listen => 16, ReuseAddr => 1, Proto => 'tcp')
    or die "pgbouncer-errors: cannot listen on port $port: $!\\n";
my $listening = IO::Select->new($server);
print "pgbouncer-errors: counting pooler errors in $log_path, serving on port $port\\n";
my $next_look = 0;
while (1) {
    if (time >= $next_look) {
        follow();
        $next_look = time + 1;
    }
    if ($listening->can_read(1)) {
        my $client = $server->accept or next;
        follow();
        answer($client);
    }
}
`;
}

export function pgbouncerErrorsSettings(plan: StackPlan): { entrypoints: string[]; command: string[] } {
    return {
        entrypoints: ["perl"],
        command: [
            MONITORING_LAYOUT.pgbouncerErrors.script,
            MONITORING_LAYOUT.pgbouncerLog.file,
            String(plan.monitoring.pgbouncerErrors.port),
            String(PGBOUNCER_LOG_MAX_BYTES),
            ...(plan.backups.enabled ? [MONITORING_LAYOUT.backupStore.metricsFile] : []),
        ],
    };
}

export function pgbouncerErrorsFiles(): VolumeFileSpec[] {
    return [{ name: file(MONITORING_LAYOUT.pgbouncerErrors.script), content: pgbouncerErrorsScript(), mode: "0644", owner: MONITORING_OWNERS.root }];
}

// ---------------------------------------------------------------- shared

/**
 * A container healthcheck that asks an HTTP server on 127.0.0.1 for `path`: with wget where the
 * image has it (the upstream images are busybox or alpine), else with perl (PgBouncer's Debian
 * image, and the CI stand-ins, which are Debian without wget).
 */
export function httpProbe(port: number, path = "/"): string[] {
    if (!Number.isInteger(port) || port < 1 || port > 65535 || !/^\/[A-Za-z0-9/_.-]*$/.test(path)) {
        throw new RenderError("healthcheck", "probe", "needs a port and a plain path", `${port} ${path}`);
    }
    const perl =
        `perl -MIO::Socket::INET -e '$s = IO::Socket::INET->new(PeerAddr => "127.0.0.1:${port}", Timeout => 3) or exit 1; ` +
        `print $s "GET ${path} HTTP/1.0\\r\\n\\r\\n"; exit((<$s> // "") =~ m{^HTTP/1\\.[01] 200} ? 0 : 1)'`;
    return ["CMD-SHELL", `if command -v wget >/dev/null; then wget -q -O /dev/null http://127.0.0.1:${port}${path}; else ${perl}; fi`];
}

export function yamlDocument(name: string, document: unknown): string {
    return renderedHeader("#", name) + YAML.stringify(document, { lineWidth: 0 });
}
