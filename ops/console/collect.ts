// `npm run status`'s look at the running stack: PgBouncer's console as the stats user, PostgreSQL
// as the monitoring role, Redis as the monitor user, Qdrant with the read-only key, PgBouncer's
// log through the Docker CLI. Each server is sampled on its own: one that does not answer is
// reported unreachable and the others are still shown.
import { execFile } from "child_process";
import { sectionFiveLevels } from "../../config/verdicts";
import type { BackupsInfo } from "../../components/backups";
import { backupStatus, serviceBackupViews, ServiceStatus } from "../backups";
import { consoleRows, endpointOf, withPostgres, withRedis } from "./connect";
import { firstLine } from "../errors";
import { LastLook } from "./lastLook";
import { StackOutputs } from "./outputs";
import { parsePoolerErrors, parsePools, parseStats, StatsRow } from "./pgbouncer";
import {
    APPLICATIONS_SQL,
    applicationRows,
    countRows,
    DATABASES_SQL,
    LONG_QUERIES_SQL,
    longQueries,
    ROLES_SQL,
    SERVER_SQL,
    serverFigures,
} from "./postgres";
import { parseInfo, RedisFigures, redisFigures } from "./redis";
import {
    BackupsStatus,
    backupsStatus,
    nothingReached,
    overallVerdict,
    PgbouncerSample,
    pgbouncerStatus,
    postgresStatus,
    qdrantStatus,
    redisStatus,
    Report,
    Unreachable,
    unreachable,
} from "./report";

export interface CollectOptions {
    /** Seconds between the two SHOW STATS samples the wait per transaction is computed from. */
    sampleSeconds: number;
    /** The previous look at this stack (persisted, or the previous --watch round). */
    previous?: LastLook;
    env: NodeJS.ProcessEnv;
}

const nowSeconds = () => Date.now() / 1000;
const sleep = (seconds: number) => new Promise((resolve) => setTimeout(resolve, seconds * 1000));

/** `docker logs` of the PgBouncer container since `since`, with Docker's timestamps. */
function dockerLogs(container: string, since: number, env: NodeJS.ProcessEnv): Promise<string> {
    return new Promise((resolve, reject) => {
        execFile(
            "docker",
            ["logs", "--timestamps", "--since", since.toFixed(3), container],
            { env, timeout: 30_000, maxBuffer: 64 * 1024 * 1024 },
            (error, stdout, stderr) => (error ? reject(new Error(firstLine(stderr || error.message))) : resolve(`${stdout}\n${stderr}`)),
        );
    });
}

async function poolerErrors(container: string, since: number, env: NodeJS.ProcessEnv): Promise<PgbouncerSample["errors"]> {
    try {
        const log = await dockerLogs(container, since, env);
        const now = nowSeconds();
        return { since, now, list: parsePoolerErrors(log).filter((error) => error.at >= since) };
    } catch (error) {
        return { unavailable: `PgBouncer's log through the Docker CLI: ${firstLine(error)}` };
    }
}

async function showStats(url: string): Promise<StatsRow[]> {
    return withPostgres(url, "PgBouncer's console", async (client) => parseStats(await consoleRows(client, "SHOW STATS")));
}

async function redisInfo(url: string): Promise<RedisFigures> {
    return withRedis(url, "Redis", async (client) => redisFigures(parseInfo(await client.info("everything"))));
}

async function qdrantGet(url: string, key: string, path: string): Promise<any> {
    const response = await fetch(`${url.replace(/\/$/, "")}${path}`, { headers: { "api-key": key }, signal: AbortSignal.timeout(10_000) });
    if (!response.ok) {
        throw new Error(`GET ${path}: HTTP ${response.status} ${(await response.text()).slice(0, 200)}`);
    }
    return response.json();
}

/**
 * Qdrant's version (GET /, which needs no key) and collections (GET /collections, with the
 * read-only key: proves the key works). Its HTTP API reports no connection figures.
 */
export async function qdrantLook(url: string, readOnlyApiKey: string): Promise<{ version: string; collections: string[] }> {
    const [root, collections] = await Promise.all([qdrantGet(url, readOnlyApiKey, "/"), qdrantGet(url, readOnlyApiKey, "/collections")]);
    return {
        version: String(root?.version ?? ""),
        collections: ((collections?.result?.collections ?? []) as Array<{ name: string }>).map((collection) => String(collection.name)).sort(),
    };
}

/** Two settled results side by side, failures kept as errors. */
async function settle<T>(promise: Promise<T>): Promise<{ value: T } | { error: string }> {
    try {
        return { value: await promise };
    } catch (error) {
        return { error: firstLine(error) };
    }
}

export interface Look {
    report: Report;
    /** What the next look compares with. */
    look: LastLook;
    /** No server answered. */
    nothingReached: boolean;
}

export async function collectReport(outputs: StackOutputs, options: CollectOptions): Promise<Look> {
    const { summary, targets } = outputs;
    const levels = sectionFiveLevels(summary.thresholds, summary.redis);
    const start = nowSeconds();
    // The first of the two samples: SHOW STATS, and Redis' counters for a first look.
    const [statsBefore, redisBefore] = await Promise.all([settle(showStats(targets.pgbouncerStats)), settle(redisInfo(targets.redisMonitor))]);
    await sleep(options.sampleSeconds);

    const pgbouncer = settle(
        withPostgres(targets.pgbouncerStats, "PgBouncer's console", async (client) => ({
            version: String((await consoleRows(client, "SHOW VERSION"))[0]?.version ?? ""),
            pools: parsePools(await consoleRows(client, "SHOW POOLS")),
            stats: parseStats(await consoleRows(client, "SHOW STATS")),
        })),
    );
    const postgres = settle(
        withPostgres(targets.postgresMonitoring, "PostgreSQL", async (client) => ({
            server: serverFigures((await client.query(SERVER_SQL)).rows[0]),
            databases: countRows((await client.query(DATABASES_SQL)).rows),
            roles: countRows((await client.query(ROLES_SQL)).rows),
            applications: applicationRows((await client.query(APPLICATIONS_SQL)).rows),
            longQueries: longQueries((await client.query(LONG_QUERIES_SQL, [summary.thresholds.longQuerySeconds])).rows),
        })),
    );
    const redis = settle(redisInfo(targets.redisMonitor));
    const qdrant = targets.qdrant ? settle(qdrantLook(targets.qdrant.url, targets.qdrant.readOnlyApiKey)) : undefined;
    const errors = poolerErrors(summary.pgbouncer.container, options.previous?.at ?? nowSeconds() - 60, options.env);
    const backups = outputs.backups ? settle(backupStatus(outputs.backups)) : undefined;
    const [pgbouncerResult, postgresResult, redisResult, qdrantResult, errorsResult, backupsResult] = await Promise.all([pgbouncer, postgres, redis, qdrant, errors, backups]);
    const now = nowSeconds();

    const pgbouncerEndpoint = endpointOf(targets.pgbouncerStats);
    const postgresEndpoint = endpointOf(targets.postgresMonitoring);
    const redisEndpoint = endpointOf(targets.redisMonitor);
    const body: Omit<Report, "verdict"> = {
        stack: outputs.stack,
        at: new Date(now * 1000).toISOString(),
        pgbouncer:
            "value" in pgbouncerResult
                ? pgbouncerStatus(
                      {
                          endpoint: pgbouncerEndpoint,
                          version: pgbouncerResult.value.version,
                          pools: pgbouncerResult.value.pools,
                          statsBefore: "value" in statsBefore ? statsBefore.value : [],
                          statsAfter: pgbouncerResult.value.stats,
                          errors: errorsResult,
                      },
                      summary,
                      levels,
                  )
                : unreachable(pgbouncerEndpoint, pgbouncerResult.error),
        postgres: "value" in postgresResult ? postgresStatus({ endpoint: postgresEndpoint, ...postgresResult.value }, summary, levels) : unreachable(postgresEndpoint, postgresResult.error),
        redis: "value" in redisResult ? redisStatus({ endpoint: redisEndpoint, figures: redisResult.value, previous: redisBaseline(options.previous, redisResult.value, "value" in redisBefore ? redisBefore.value : undefined, start), now }, levels) : unreachable(redisEndpoint, redisResult.error),
        qdrant:
            targets.qdrant && qdrantResult
                ? "value" in qdrantResult
                    ? qdrantStatus(endpointOf(targets.qdrant.url), qdrantResult.value.version, qdrantResult.value.collections)
                    : unreachable(endpointOf(targets.qdrant.url), qdrantResult.error)
                : undefined,
        backups: outputs.backups && backupsResult ? backupsSection(outputs.backups, backupsResult) : undefined,
    };
    const report: Report = { ...body, verdict: overallVerdict(body) };
    const look: LastLook = {
        at: now,
        redis: "value" in redisResult ? { runId: redisResult.value.runId, rejectedConnections: redisResult.value.rejectedConnections } : options.previous?.redis,
    };
    return { report, look, nothingReached: nothingReached(body) };
}

export function backupsSection(info: BackupsInfo, result: { value: Record<string, ServiceStatus> } | { error: string }): BackupsStatus | Unreachable {
    const store = info.store ?? "";
    return "value" in result ? backupsStatus(store, info.intervalHours, serviceBackupViews(result.value, info)) : unreachable(store, result.error);
}

/**
 * What Redis' rejected_connections is counted from: the last look when it saw the same server
 * run, else this look's first sample; a server that restarted since counts from its start.
 */
function redisBaseline(previous: LastLook | undefined, current: RedisFigures, before: RedisFigures | undefined, start: number): { rejectedConnections: number; at: number } {
    if (previous?.redis && previous.redis.runId === current.runId) {
        return { rejectedConnections: previous.redis.rejectedConnections, at: previous.at };
    }
    if (before && before.runId === current.runId) {
        return { rejectedConnections: before.rejectedConnections, at: start };
    }
    return { rejectedConnections: 0, at: nowSeconds() - current.uptimeSeconds };
}
