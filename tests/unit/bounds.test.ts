// What the config check refuses because a server, the kernel or Docker would: one case per
// kind of bound, each naming its key.
import { formatProblem, Problem, tryPlan } from "../../config";
import { availableMajors, majorFromImage, settingsTable } from "../../config/postgresSettings";
import { rawConfig } from "./support/config";

function problems(values: Record<string, unknown>): Problem[] {
    return tryPlan(rawConfig(values)).problems;
}

function errorAt(values: Record<string, unknown>, key: string): string {
    const found = problems(values).find((problem) => problem.severity === "error" && problem.key === key);
    if (!found) {
        throw new Error(`no error at ${key}: ${problems(values).map(formatProblem).join("\n")}`);
    }
    return found.message;
}

const accepted = (values: Record<string, unknown>) => problems(values).filter((problem) => problem.severity === "error").map(formatProblem);

describe("numbers beyond what the servers and the kernel take", () => {
    test.each([
        [{ pgbouncer: { maxClientConn: 2147483648 } }, "pgbouncer.maxClientConn", /less than or equal to 2147483647/],
        [{ services: { backend: { pools: { zentoria_main: { poolSize: 2 ** 31 } } } } }, "services.backend.pools.zentoria_main.poolSize", /2147483647/],
        [{ pgbouncer: { fileDescriptorLimit: 1048577 } }, "pgbouncer.fileDescriptorLimit", /fs.nr_open/],
        [{ redis: { maxclients: 1048545 } }, "redis.maxclients", /at most 1048544/],
        [{ redis: { databases: 65537 } }, "redis.databases", /allocates every database at start-up/],
        [{ timeouts: { querySeconds: 2147484 } }, "timeouts.querySeconds", /less than or equal to 2147483/],
        [{ redis: { tcpKeepaliveSeconds: 2147484 } }, "redis.tcpKeepaliveSeconds", /2147483/],
        [{ postgres: { port: 65536 } }, "postgres.port", /65535/],
        [{ postgres: { maxConnections: 262144 } }, "postgres.maxConnections", /outside PostgreSQL 15's range 1 .. 262143/],
        [{ postgres: { superuserReservedConnections: 300000 } }, "postgres.superuserReservedConnections", /range 0 .. 262143/],
        [{ pgbouncer: { maxClientConn: Number.NaN } }, "pgbouncer.maxClientConn", /number/],
    ])("%j", (values, key, message) => {
        expect(errorAt(values, key)).toMatch(message);
    });

    test("max_prepared_statements, even 0, on a PgBouncer that does not know it (found by the integration property test)", () => {
        expect(errorAt({ pgbouncer: { image: "zentoria-ci/pgbouncer:1.18.0", maxPreparedStatements: 0 } }, "pgbouncer.maxPreparedStatements")).toMatch(/refuses to start with it/);
    });

    test("max_connections derived from the role limits is held to PostgreSQL's maximum too", () => {
        expect(errorAt({ roles: { readonly: { connectionLimit: 262143 } } }, "postgres.maxConnections")).toMatch(/derived from the role limits as 262\d+, over PostgreSQL's maximum 262143/);
    });

    test("backend slots: max_connections with the workers and WAL senders", () => {
        expect(errorAt({ postgres: { maxConnections: 262100, settings: { max_worker_processes: 100 } } }, "postgres.maxConnections")).toMatch(
            /is 262214, over PostgreSQL's 262143 backend slots/,
        );
    });
});

describe("sizes, with each server's units", () => {
    test.each([
        [{ postgres: { sharedBuffers: "100kB" } }, "postgres.sharedBuffers", /gives shared_buffers outside PostgreSQL 15's range 16 .. 1073741823 8kB/],
        [{ postgres: { sharedBuffers: "128mb" } }, "postgres.sharedBuffers", /mb is not a unit shared_buffers takes \(units: TB, GB, MB, kB, B\)/],
        [{ postgres: { sharedBuffers: "lots" } }, "postgres.sharedBuffers", /lots is not a number/],
        [{ postgres: { settings: { work_mem: "32kB" } } }, "postgres.settings.work_mem", /outside the range PostgreSQL allows for work_mem: 64 .. 2147483647 \(in kB\)/],
        [{ postgres: { settings: { work_mem: "3TB" } } }, "postgres.settings.work_mem", /3TB exceeds PostgreSQL's integer range/],
        [{ postgres: { settings: { work_mem: "64XB" } } }, "postgres.settings.work_mem", /XB is not a unit work_mem takes/],
        [{ postgres: { settings: { vacuum_cost_delay: "200ms" } } }, "postgres.settings.vacuum_cost_delay", /0 .. 100 \(in ms\)/],
        [{ postgres: { settings: { temp_buffers: "017" } } }, "postgres.settings.temp_buffers", /leading zero, which PostgreSQL reads as octal/],
        // Found by the integration property test: strtod's ERANGE for a subnormal double.
        [{ postgres: { settings: { autovacuum_vacuum_cost_delay: -7e-323 } } }, "postgres.settings.autovacuum_vacuum_cost_delay", /out of the range of a double/],
        [{ postgres: { settings: { random_page_cost: "1e400" } } }, "postgres.settings.random_page_cost", /out of the range of a double/],
        [{ postgres: { settings: { commit_delay: "5ms" } } }, "postgres.settings.commit_delay", /ms is not a unit commit_delay takes \(units: none\)/],
        [{ redis: { maxmemory: "1tb" } }, "redis.maxmemory", /not a size Redis reads/],
        [{ redis: { maxmemory: "18446744073709551616" } }, "redis.maxmemory", /at most 2\^64-1 bytes/],
    ])("%j", (values, key, message) => {
        expect(errorAt(values, key)).toMatch(message);
    });

    test("sizes the servers read are accepted, rounded as the server rounds", () => {
        expect(
            accepted({
                postgres: { sharedBuffers: "1.5GB", settings: { work_mem: "64 MB", maintenance_work_mem: 65536, vacuum_cost_delay: "2000us" } },
                redis: { maxmemory: "256MB" },
            }),
        ).toEqual([]);
        expect(accepted({ redis: { maxmemory: "5k" } })).toEqual([]);
        expect(problems({ redis: { maxmemory: "1kb" } }).find((problem) => problem.key === "redis.maxmemory")?.severity).toBe("warning");
    });
});

describe("postgres.settings against PostgreSQL's own table", () => {
    test.each([
        ["include_dir", "conf.d", /would read settings the program has not checked/],
        ["config_file", "/tmp/x.conf", /its own postgresql.conf/],
        ["listen_addresses", "*", /rendered by the program/],
        ["statement_timeout", "1s", /sets it per role from timeouts.querySeconds/],
        ["idle_session_timeout", "1s", /PgBouncer and the provider keep/],
        ["ssl", true, /without TLS/],
        ["ssl_cert_file", "x.pem", /without TLS/],
        ["block_size", 8192, /context internal/],
        ["bogus", 1, /is not a PostgreSQL 15 setting/],
        ["wal_level", "archive", /not one of PostgreSQL 15's values for wal_level: minimal, replica, logical/],
        ["autovacuum", "maybe", /not a boolean/],
        ["work_mem", true, /a boolean is not a value for work_mem/],
        ["huge_pages", "on", /needs huge pages reserved on the Docker host/],
        ["pre_auth_delay", 19, /a delay on every login makes the healthcheck, PgBouncer and the provider time out/],
        ["post_auth_delay", "5min", /time out; only 0/],
        ["debug_discard_caches", 1, /0 .. 0/],
        ["shared_preload_libraries", "pg_stat_statements,timescaledb", /timescaledb not among/],
        ["local_preload_libraries", "auto_explain", /plugins directory/],
        ["log_destination", "eventlog", /eventlog not among/],
        ["log_directory", "/var/log/pg", /relative path inside the data directory/],
        ["timezone", "Europe/Berlin", /is rendered by the program: set postgres.timezone/],
        ["lc_messages", "C.UTF-8", /is rendered by the program: set postgres.locale/],
        ["default_transaction_read_only", true, /the program's provider creates roles/],
    ])("%s = %j", (name, value, message) => {
        expect(errorAt({ postgres: { settings: { [name]: value } } }, `postgres.settings.${name}`)).toMatch(message);
    });

    test("the locale and time zone the program renders: only what the images have", () => {
        expect(errorAt({ postgres: { timezone: "Mars/Olympus_Mons" } }, "postgres.timezone")).toMatch(/not a time zone/);
        expect(errorAt({ postgres: { locale: "de_DE.UTF-8" } }, "postgres.locale")).toMatch(/not a locale the images have/);
        expect(accepted({ postgres: { timezone: "Europe/Berlin", locale: "C.UTF-8" } })).toEqual([]);
    });

    test("a line break or NUL in any value is refused by the schema", () => {
        expect(errorAt({ postgres: { settings: { application_name: "a\nb" } } }, "postgres.settings.application_name")).toMatch(/one line without NUL/);
        expect(errorAt({ postgres: { settings: { "my.x": "a\0b" } } }, "postgres.settings.my.x")).toMatch(/one line without NUL/);
    });

    test("names postgresql.conf cannot hold are refused; an extension's dotted name is accepted", () => {
        expect(problems({ postgres: { settings: { "a.b.c": 1 } } }).some((problem) => problem.key.startsWith("postgres.settings") && problem.severity === "error")).toBe(true);
        expect(accepted({ postgres: { settings: { "pg_stat_statements.max": 10000, "zentoria.note": "x" }, image: "postgres:15.4-bookworm" } })).toEqual([]);
    });

    test("combinations PostgreSQL refuses at start-up", () => {
        // wal_level minimal is possible only without the backups (which archive WAL).
        const noBackups = { backups: { enabled: false } };
        expect(errorAt({ ...noBackups, postgres: { settings: { wal_level: "minimal" } } }, "postgres.settings.max_wal_senders")).toMatch(/must be 0 with wal_level "minimal"/);
        expect(errorAt({ ...noBackups, postgres: { settings: { wal_level: "minimal", max_wal_senders: 0, archive_mode: "on" } } }, "postgres.settings.archive_mode")).toMatch(/needs wal_level/);
        expect(errorAt({ postgres: { settings: { min_wal_size: "16MB" } } }, "postgres.settings.min_wal_size")).toMatch(/at least twice wal_segment_size: 32MB/);
        expect(errorAt({ postgres: { settings: { max_stack_depth: "8MB" } } }, "postgres.settings.max_stack_depth")).toMatch(/must not exceed 7680kB/);
        expect(accepted({ ...noBackups, postgres: { settings: { wal_level: "minimal", max_wal_senders: 0 } } })).toEqual([]);
    });

    test("PostgreSQL 17's own table for a 17 image: its settings, not 15's", () => {
        const image = { image: "zentoria-ci/postgres:17-trixie" };
        expect(errorAt({ postgres: { ...image, settings: { old_snapshot_threshold: "1h" } } }, "postgres.settings.old_snapshot_threshold")).toBe("is not a PostgreSQL 17 setting");
        expect(errorAt({ postgres: { ...image, settings: { transaction_timeout: "1min" } } }, "postgres.settings.transaction_timeout")).toMatch(/cut off the superuser's maintenance/);
        expect(errorAt({ backups: { enabled: false }, postgres: { ...image, settings: { wal_level: "minimal", max_wal_senders: 0, summarize_wal: true } } }, "postgres.settings.summarize_wal")).toMatch(
            /needs wal_level/,
        );
        expect(accepted({ postgres: { ...image, settings: { io_combine_limit: "256kB", scram_iterations: 8192 } } })).toEqual([]);
        expect(errorAt({ postgres: { settings: { io_combine_limit: "256kB" } } }, "postgres.settings.io_combine_limit")).toBe("is not a PostgreSQL 15 setting");
    });

    test("the table of the image's major version is used, or the key says which is missing", () => {
        expect(majorFromImage("pgvector/pgvector:0.8.1-pg15-bookworm")).toBe(15);
        expect(majorFromImage("zentoria-ci/postgres:17-trixie")).toBe(17);
        expect(majorFromImage("postgres:15.4")).toBe(15);
        expect(majorFromImage(`postgres@sha256:${"a".repeat(64)}`)).toBeUndefined();
        expect(errorAt({ postgres: { image: `postgres@sha256:${"a".repeat(64)}` } }, "postgres.majorVersion")).toMatch(/cannot tell the PostgreSQL major version/);
        expect(errorAt({ postgres: { image: "postgres:9.6" } }, "postgres.image")).toMatch(/PostgreSQL 9 has no settings table/);
        expect(accepted({ postgres: { image: `postgres@sha256:${"a".repeat(64)}`, majorVersion: 15 } })).toEqual([]);
        expect(availableMajors()).toContain(15);
        expect(settingsTable(15)?.settings.find((row) => row.name === "max_connections")?.max_val).toBe("262143");
    });
});

describe("names the servers and Docker reserve", () => {
    test.each([
        [{ roles: { pg_app: { access: "application", connectionLimit: 5, directConnections: 0 } } }, "roles.pg_app", /PostgreSQL reserves those role names/],
        [{ roles: { public: { access: "readonly", connectionLimit: 5, directConnections: 0 } } }, "roles.public", /a role name PostgreSQL reserves/],
        [{ databases: { template1: { owner: "zentoria_app", vectorExtension: false } } }, "databases.template1", /reserved by PostgreSQL or PgBouncer/],
        [{ services: { backend: { pools: { zentoria_main: { alias: "pgbouncer" } } } } }, "services.backend.pools.zentoria_main.alias", /PgBouncer's admin console/],
        [{ redis: { clients: { cache: { user: "default" } } } }, "redis.clients.cache.user", /Redis' built-in user/],
        [{ services: { operators: { role: "zentoria_app", driver: "libpq", sslmode: "disable", pools: {} } } }, "services.operators", /operators' .env file/],
        [{ redis: { hostname: "zentoria-postgres2" }, prefix: "zentoria", postgres: { hostname: "zentoria-redis" } }, "postgres.hostname", /container name of redis; Docker's DNS would answer it with both/],
        [{ redis: { image: "Redis:7.4" } }, "redis.image", /must be a Docker image reference/],
        [{ redis: { image: "redis" } }, "redis.image", /must be pinned/],
        [{ redis: { image: "redis:latest" } }, "redis.image", /latest/],
        [{ pgbouncer: { adminUser: "pg_admin" } }, "pgbouncer.adminUser", /reserves/],
    ])("%j", (values, key, message) => {
        expect(errorAt(values, key)).toMatch(message);
    });

    test("image references Docker takes: registries with ports, digests, tag and digest", () => {
        expect(accepted({ redis: { image: "localhost:5000/cache/redis:7.4" }, qdrant: { image: `qdrant/qdrant:v1.15.4@sha256:${"c".repeat(64)}` } })).toEqual([]);
    });

    test("the dev defaults: PgBouncer's zentoria-db is no container's name any more", () => {
        const plan = tryPlan(rawConfig({})).plan!;
        expect([plan.postgres.containerName, plan.pgbouncer.hostname]).toEqual(["zentoria-postgres", "zentoria-db"]);
    });
});

describe(".env files get each variable once", () => {
    test("a pool variable that the Redis block writes too", () => {
        expect(errorAt({ services: { backend: { pools: { zentoria_main: { env: "REDIS_HOST" } } } } }, "services.backend.pools.zentoria_main.env")).toBe(
            "would write REDIS_HOST twice into backend's .env (also from redis.clients.sessions.services)",
        );
    });

    test("two readonly URLs that meet: READONLY + ZENTORIA_MAIN and READONLY_ZENTORIA + MAIN", () => {
        const values = {
            roles: { readonly_zentoria: { access: "readonly", connectionLimit: 5, directConnections: 0 } },
            databases: { main: { owner: "zentoria_app", vectorExtension: false } },
        };
        expect(errorAt(values, "roles.readonly_zentoria")).toMatch(/would write READONLY_ZENTORIA_MAIN_URL twice into the operators' .env/);
    });
});

test("keys and values from the stack file are escaped in every message", () => {
    const lines = problems({ "bad\u001b[31mkey": 1, bindAddress: "evil\nline" }).map(formatProblem);
    expect(lines).toContain('zentoria:"bad\\u001b[31mkey": unknown key');
    for (const line of lines) {
        expect(line).toMatch(/^[\x20-\x7e]+$/);
    }
});
