// How a changed configuration reaches each running server, least disruptive first:
//   PgBouncer   RELOAD (clients keep their connections);
//   PostgreSQL  pg_reload_conf(); a setting the server marks pending_restart, or one the plan
//               classifies as restart-only, restarts the same container behind PgBouncer's
//               PAUSE/RESUME, so pooled clients wait instead of failing;
//   Redis       CONFIG SET per changed directive and ACL LOAD for users; a restart only for
//               what Redis refuses to change at run time;
//   Qdrant      a restart of the same container (Qdrant has no reload).
// The files on the config volume are written first in every case: they are the file of record
// that a later restart (of the container, of Docker, of the host) brings up again.
import { sqlIdentifier, sqlLiteral } from "../../render/quote";
import { containerHealth, containerState, dockerChecked, waitFor } from "./dockerCli";
import {
    PgbouncerConsoleAccess,
    pgbouncerCommand,
    pgbouncerLogin,
    PostgresSocketAccess,
    postgresReady,
    postgresSql,
    RedisAdminAccess,
    redisCommand,
} from "./consoles";

export type SettingValue = string | number | boolean;
export type Settings = Record<string, SettingValue>;

export interface ChangeContext {
    dockerHost?: string;
    container: string;
    oldLive: Settings;
    newLive: Settings;
    oldRestart: Settings;
    newRestart: Settings;
    /** Files whose content changed, by name. */
    changedFiles: readonly string[];
    log: (message: string) => void;
}

export function changedKeys(before: Settings, after: Settings): string[] {
    const keys = new Set([...Object.keys(before), ...Object.keys(after)]);
    return [...keys].filter((key) => JSON.stringify(before[key]) !== JSON.stringify(after[key])).sort();
}

export async function restartContainer(container: string, stopSeconds: number, healthTimeoutMs: number, dockerHost?: string): Promise<void> {
    await dockerChecked(`restarting ${container}`, ["restart", "--time", String(stopSeconds), container], {
        dockerHost,
        timeoutMs: (stopSeconds + 60) * 1000,
    });
    await waitFor(`${container} healthy after restart`, async () => (await containerHealth(container, dockerHost)) === "healthy", healthTimeoutMs);
}

// ---------------------------------------------------------------- PgBouncer

/**
 * RELOAD through the admin console (which reports what it could not apply); when the admin's
 * own password is what changed, the console refuses the new one until the reload, so SIGHUP
 * (PgBouncer's reload signal) does it, and the console must then accept the new password.
 */
async function reloadPgbouncer(admin: PgbouncerConsoleAccess, dockerHost?: string): Promise<void> {
    try {
        await pgbouncerCommand(admin, "RELOAD", dockerHost);
        return;
    } catch (error) {
        if (!/authentication failed/i.test((error as Error).message)) {
            throw error;
        }
    }
    await dockerChecked(`reloading ${admin.container}`, ["kill", "--signal", "HUP", admin.container], { dockerHost, timeoutMs: 30_000 });
    await waitFor(`${admin.container} accepting the new admin password`, async () => (await pgbouncerCommand(admin, "SHOW VERSION", dockerHost), true), 30_000);
}

export interface RotatedLogin {
    role: string;
    /** The role's new SCRAM verifier, as in userlist.txt. */
    verifier: string;
    password: string;
    /** A PgBouncer database (alias) the role may log in to. */
    database: string;
}

export interface PgbouncerAccess {
    console: PgbouncerConsoleAccess;
    /** Where a rotated role's new verifier goes first. */
    postgres: PostgresSocketAccess;
    /** Every pooled role's login, to apply rotations (only changed ones are used). */
    logins: Record<string, RotatedLogin>;
}

/**
 * A rotated role's new verifier goes to PostgreSQL and PgBouncer in one step, and a login
 * through PgBouncer with the new password follows at once: PgBouncer opens server connections
 * with the SCRAM keys of the last client that logged in, so until then a new server connection
 * would still present the old password's keys.
 */
export async function applyPgbouncer(context: ChangeContext, access: PgbouncerAccess, rotated: readonly string[]): Promise<void> {
    if (rotated.length > 0) {
        // PostgreSQL must get the new verifier whatever PgBouncer's state (the Role resource
        // leaves pooled roles' passwords to this step); if it cannot, the update fails and the
        // next `pulumi up` tries again.
        if ((await containerState(access.postgres.container, context.dockerHost)) !== "running") {
            throw new Error(`${access.postgres.container} is not running: start it and run pulumi up again to apply the new password of ${rotated.join(", ")}`);
        }
        for (const role of rotated) {
            const login = access.logins[role];
            await postgresSql(access.postgres, `ALTER ROLE ${sqlIdentifier(role)} PASSWORD ${sqlLiteral(login.verifier)}`, "postgres", context.dockerHost);
        }
    }
    if ((await containerState(context.container, context.dockerHost)) !== "running") {
        context.log(`${context.container} is not running: the new files are read when it starts`);
        return;
    }
    await reloadPgbouncer(access.console, context.dockerHost);
    // TLS to PostgreSQL changed (issue 11): server connections opened under the old settings are
    // closed as they are released, so none stays plain until server_lifetime ends it.
    if (changedKeys(context.oldLive, context.newLive).some((key) => key.startsWith("server_tls_"))) {
        await pgbouncerCommand(access.console, "RECONNECT", context.dockerHost);
        context.log(`${context.container}: RECONNECT (TLS to PostgreSQL changed)`);
    }
    for (const role of rotated) {
        const login = access.logins[role];
        await pgbouncerLogin(access.console, role, login.password, login.database, context.dockerHost);
    }
    context.log(`${context.container}: RELOAD${rotated.length ? `, new credentials for ${rotated.join(", ")}` : ""}`);
}

// ---------------------------------------------------------------- PostgreSQL

export interface PostgresAccess {
    socket: PostgresSocketAccess;
    /** PgBouncer's console, to PAUSE the pools around a restart; absent before PgBouncer exists. */
    pgbouncer?: PgbouncerConsoleAccess;
    stopSeconds: number;
}

async function reloadPostgres(access: PostgresSocketAccess, dockerHost?: string): Promise<void> {
    const before = (await postgresSql(access, "SELECT pg_conf_load_time()", "postgres", dockerHost)).trim();
    await postgresSql(access, "SELECT pg_reload_conf()", "postgres", dockerHost);
    // pg_reload_conf() only signals the postmaster; wait until it has read the files.
    await waitFor(
        "PostgreSQL re-reading its configuration",
        async () => (await postgresSql(access, "SELECT pg_conf_load_time()", "postgres", dockerHost)).trim() !== before,
        30_000,
    );
    // A setting waiting for a restart is reported as an error too ("could not be applied"); it is not one.
    const errors = (
        await postgresSql(
            access,
            "SELECT f.name || ': ' || f.error FROM pg_file_settings f WHERE f.error IS NOT NULL " +
                "AND NOT EXISTS (SELECT 1 FROM pg_settings s WHERE s.name = f.name AND s.pending_restart)",
            "postgres",
            dockerHost,
        )
    ).trim();
    if (errors) {
        throw new Error(`PostgreSQL refused the new configuration: ${errors.split("\n").join("; ")}`);
    }
}

export async function pendingRestart(access: PostgresSocketAccess, dockerHost?: string): Promise<string[]> {
    const rows = await postgresSql(access, "SELECT name FROM pg_settings WHERE pending_restart ORDER BY name", "postgres", dockerHost);
    return rows.split("\n").filter((row) => row.length > 0);
}

async function pgbouncerRunning(access: PgbouncerConsoleAccess | undefined, dockerHost?: string): Promise<PgbouncerConsoleAccess | undefined> {
    return access && (await containerState(access.container, dockerHost)) === "running" ? access : undefined;
}

/** Restarts PostgreSQL's container (same container) with PgBouncer's pools paused meanwhile. */
export async function restartPostgresBehindPause(access: PostgresAccess, container: string, log: (message: string) => void, dockerHost?: string): Promise<void> {
    const pgbouncer = await pgbouncerRunning(access.pgbouncer, dockerHost);
    if (pgbouncer) {
        // PAUSE returns once every running transaction has finished and the servers are released.
        await pgbouncerCommand(pgbouncer, "PAUSE", dockerHost, 180_000);
        log(`${pgbouncer.container}: PAUSE`);
    }
    try {
        await dockerChecked(`restarting ${container}`, ["restart", "--time", String(access.stopSeconds), container], {
            dockerHost,
            timeoutMs: (access.stopSeconds + 60) * 1000,
        });
        await waitFor(`${container} accepting connections after restart`, () => postgresReady(access.socket, dockerHost), 180_000);
    } finally {
        if (pgbouncer) {
            await pgbouncerCommand(pgbouncer, "RESUME", dockerHost);
            log(`${pgbouncer.container}: RESUME`);
        }
    }
    const stillPending = await pendingRestart(access.socket, dockerHost);
    if (stillPending.length > 0) {
        throw new Error(`PostgreSQL restarted but still reports pending_restart for ${stillPending.join(", ")}`);
    }
}

export async function applyPostgres(context: ChangeContext, access: PostgresAccess): Promise<void> {
    if ((await containerState(context.container, context.dockerHost)) !== "running") {
        context.log(`${context.container} is not running: the new files are read when it starts`);
        return;
    }
    await reloadPostgres(access.socket, context.dockerHost);
    const planned = changedKeys(context.oldRestart, context.newRestart);
    const pending = await pendingRestart(access.socket, context.dockerHost);
    if (planned.length === 0 && pending.length === 0) {
        context.log(`${context.container}: reloaded (${changedKeys(context.oldLive, context.newLive).join(", ") || "access rules"})`);
        return;
    }
    context.log(`${context.container}: restart for ${[...new Set([...planned, ...pending])].join(", ")}`);
    await restartPostgresBehindPause(access, context.container, context.log, context.dockerHost);
}

// ---------------------------------------------------------------- Redis

export interface RedisAccess {
    admin: RedisAdminAccess;
    stopSeconds: number;
    /** File name of the ACL file on the config volume. */
    aclFile: string;
}

function redisValue(value: SettingValue): string {
    if (typeof value === "boolean") {
        return value ? "yes" : "no";
    }
    return String(value);
}

export async function applyRedis(context: ChangeContext, access: RedisAccess): Promise<void> {
    if ((await containerState(context.container, context.dockerHost)) !== "running") {
        context.log(`${context.container} is not running: the new files are read when it starts`);
        return;
    }
    if (changedKeys(context.oldRestart, context.newRestart).length > 0) {
        context.log(`${context.container}: restart for ${changedKeys(context.oldRestart, context.newRestart).join(", ")}`);
        await restartContainer(context.container, access.stopSeconds, 120_000, context.dockerHost);
        return;
    }
    // Directive names only; other entries (the ACL summary) are there for the preview.
    for (const key of changedKeys(context.oldLive, context.newLive).filter((name) => /^[a-z][a-z0-9-]*$/.test(name))) {
        if (context.newLive[key] === undefined) {
            continue;
        }
        await redisCommand(access.admin, ["CONFIG", "SET", key, redisValue(context.newLive[key])], context.dockerHost);
        context.log(`${context.container}: CONFIG SET ${key}`);
    }
    if (context.changedFiles.includes(access.aclFile)) {
        await redisCommand(access.admin, ["ACL", "LOAD"], context.dockerHost);
        context.log(`${context.container}: ACL LOAD`);
    }
}

// ---------------------------------------------------------------- Qdrant

export async function applyQdrant(context: ChangeContext, stopSeconds: number): Promise<void> {
    if ((await containerState(context.container, context.dockerHost)) !== "running") {
        context.log(`${context.container} is not running: the new files are read when it starts`);
        return;
    }
    context.log(`${context.container}: restart (Qdrant reads its configuration only at start)`);
    await restartContainer(context.container, stopSeconds, 180_000, context.dockerHost);
}

// ---------------------------------------------------------------- Prometheus and the exporters

export interface PrometheusAccess {
    /** Port Prometheus listens on inside its container. */
    port: number;
    /** How long a reload may take to show: Prometheus reports it through its own next scrape. */
    timeoutMs: number;
}

/** An instant query through the image's promtool, inside the container (no port has to be reachable from here). */
async function prometheusQuery(container: string, access: PrometheusAccess, expr: string, dockerHost?: string): Promise<unknown> {
    const output = await dockerChecked(
        `querying Prometheus in ${container}`,
        ["exec", container, "promtool", "query", "instant", "-o", "json", `http://127.0.0.1:${access.port}`, expr],
        { dockerHost, timeoutMs: 30_000 },
    );
    return JSON.parse(output);
}

/**
 * Prometheus re-reads prometheus.yml and its rule files on SIGHUP. Whether the reload worked
 * shows in its own metrics (it scrapes itself), compared with its own clock: a success after the
 * signal, or a failed reload, which keeps the old configuration running and fails the update.
 */
export async function applyPrometheus(context: ChangeContext, access: PrometheusAccess): Promise<void> {
    if ((await containerState(context.container, context.dockerHost)) !== "running") {
        context.log(`${context.container} is not running: the new files are read when it starts`);
        return;
    }
    const [signalled] = (await prometheusQuery(context.container, access, "time()", context.dockerHost)) as [number, string];
    await dockerChecked(`reloading ${context.container}`, ["kill", "--signal", "HUP", context.container], { dockerHost: context.dockerHost, timeoutMs: 30_000 });
    const since = (expr: string) => `${expr} > ${signalled}`;
    let failed = false;
    await waitFor(
        `${context.container} reloading its configuration`,
        async () => {
            const failures = (await prometheusQuery(context.container, access, since("timestamp(prometheus_config_last_reload_successful == 0)"), context.dockerHost)) as unknown[];
            if (failures.length > 0) {
                failed = true;
                return true;
            }
            const successes = (await prometheusQuery(context.container, access, since("prometheus_config_last_reload_success_timestamp_seconds"), context.dockerHost)) as unknown[];
            return successes.length > 0;
        },
        access.timeoutMs,
    );
    if (failed) {
        throw new Error(`${context.container} refused the new configuration (it keeps running the old one); its log says why: docker logs ${context.container}`);
    }
    context.log(`${context.container}: reloaded (${context.changedFiles.join(", ") || "configuration"})`);
}

/** Exporters, the error counter and Alertmanager read their files at start: a change restarts the same container. */
export async function applyByRestart(context: ChangeContext, stopSeconds: number): Promise<void> {
    if ((await containerState(context.container, context.dockerHost)) !== "running") {
        context.log(`${context.container} is not running: the new files are read when it starts`);
        return;
    }
    context.log(`${context.container}: restart (it reads ${context.changedFiles.join(", ") || "its files"} at start)`);
    await restartContainer(context.container, stopSeconds, 120_000, context.dockerHost);
}
