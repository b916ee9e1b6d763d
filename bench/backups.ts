// npm run bench:backups -- [--scale N] [--clients N] [--load-seconds N] [--report <results file>]
//
// Backup and restore figures on a real stack on Docker (the e2e harness: `pulumi up` with the
// stand-in images, under the e2e lock): the bench's data set (`pgbench -i` at the bench's scale in
// each application database, as their owners), then
//   - a base backup (`npm run backup`): its time and size, verified;
//   - the WAL archive's lag under the TPC-B-like load of tests/e2e/support/load.ts through
//     PgBouncer: for a marker committed every few seconds, the time until the archive holds the
//     segment with its commit (pg_stat_archiver);
//   - a restore to the latest point (`npm run restore --latest`): its time, and that the marker
//     rows are all back.
// Writes bench/results/backups-<time>.json and regenerates BENCHMARKS.md's "Backups and restore"
// section from it (--report <file> only regenerates). Needs what `npm run test:e2e` needs.
import { spawn, spawnSync } from "child_process";
import * as fs from "fs";
import * as os from "os";
import * as path from "path";
import { randomBytes } from "crypto";
import { LocalWorkspace } from "@pulumi/pulumi/automation";
import { Client } from "pg";
import { Deployment, removeDockerObjects } from "../tests/e2e/support/deployment";
import { createBankSchema, PostgresLoad } from "../tests/e2e/support/load";
import { ciImages, docker, freePort } from "../tests/e2e/support/project";
import { PGBENCH } from "./lib/machine";
import { BENCHMARKS_MD, REPO_ROOT } from "./report";

const BEGIN = "<!-- GENERATED: bench/backups.ts from the results file named below; do not edit by hand -->";
const END = "<!-- END GENERATED backups -->";

export interface BackupBenchResults {
    startedAt: string;
    command: string;
    machine: { cpus: number; memoryGiB: number; loadAverageAtStart: number[]; docker: string; postgres: string; images: Record<string, string> };
    options: { scale: number; databases: string[]; clients: number; loadSeconds: number; archiveTimeoutSeconds: number };
    dataSet: { databaseBytes: number; loadSeconds: number };
    baseBackup: { wallSeconds: number; backupSeconds: number; bytes: number; name: string };
    archiveLag: {
        samples: number[];
        medianSeconds: number;
        p95Seconds: number;
        maxSeconds: number;
        transactions: number;
        transactionsPerSecond: number;
        walBytesPerSecond: number;
        failures: number;
    };
    restore: { wallSeconds: number; postgresSeconds: number; markersBack: number; markersWritten: number };
}

interface Options {
    scale: number;
    clients: number;
    loadSeconds: number;
    report?: string;
}

function parseOptions(argv: string[]): Options {
    const options: Options = { scale: 50, clients: 20, loadSeconds: 120 };
    for (let i = 0; i < argv.length; i++) {
        const value = () => {
            const next = argv[++i];
            if (next === undefined) {
                throw new Error(`${argv[i - 1]} needs a value`);
            }
            return next;
        };
        switch (argv[i]) {
            case "--scale":
                options.scale = Number(value());
                break;
            case "--clients":
                options.clients = Number(value());
                break;
            case "--load-seconds":
                options.loadSeconds = Number(value());
                break;
            case "--report":
                options.report = value();
                break;
            default:
                throw new Error(`unknown option ${argv[i]}; usage: npm run bench:backups -- [--scale N] [--clients N] [--load-seconds N] [--report <file>]`);
        }
    }
    return options;
}

const log = (line: string) => process.stderr.write(`bench:backups: ${line}\n`);
const sleep = (ms: number) => new Promise((resolve) => setTimeout(resolve, ms));
const quantile = (sorted: number[], q: number) => sorted[Math.min(sorted.length - 1, Math.floor(q * sorted.length))];

function npmRun(deployment: Deployment, script: "backup" | "restore", args: string[]): Promise<{ code: number; output: string; seconds: number }> {
    const env = { ...process.env, ...(deployment.stack.workspace as LocalWorkspace).envVars };
    const started = Date.now();
    return new Promise((resolve, reject) => {
        const child = spawn("npx", ["ts-node", "--transpile-only", path.join("scripts", `${script}.ts`), "e2e", "--project-dir", deployment.project, ...args], {
            cwd: REPO_ROOT,
            env,
            stdio: ["ignore", "pipe", "pipe"],
        });
        let output = "";
        child.stdout.on("data", (chunk) => (output += chunk));
        child.stderr.on("data", (chunk) => (output += chunk));
        child.on("error", reject);
        child.on("close", (code) => resolve({ code: code ?? 1, output, seconds: (Date.now() - started) / 1000 }));
    });
}

/** The servers run without TLS; node-postgres reads sslmode=prefer as require. */
const plain = (url: string) => url.replace(/sslmode=prefer/, "sslmode=disable");

async function query(url: string, sql: string, params: unknown[] = []): Promise<any[]> {
    const client = new Client({ connectionString: plain(url) });
    await client.connect();
    try {
        return (await client.query(sql, params)).rows;
    } finally {
        await client.end();
    }
}

function pgbenchInit(url: string, scale: number): void {
    const parsed = new URL(url);
    const result = spawnSync(PGBENCH, ["-i", "-q", "-s", String(scale), "-h", parsed.hostname, "-p", parsed.port, "-U", decodeURIComponent(parsed.username), parsed.pathname.slice(1)], {
        env: { ...process.env, PGPASSWORD: decodeURIComponent(parsed.password) },
        encoding: "utf8",
        timeout: 60 * 60 * 1000,
    });
    if (result.status !== 0) {
        throw new Error(`pgbench -i failed: ${result.stderr}`);
    }
}

/**
 * Commits a marker every few seconds through the direct URL while the load runs, and times how
 * long until pg_stat_archiver reports the segment holding the commit as archived.
 */
async function measureArchiveLag(directUrl: string, durationMs: number): Promise<{ samples: number[]; markers: number }> {
    const samples: number[] = [];
    const pending: Array<{ segment: string; committedAt: number }> = [];
    const writer = new Client({ connectionString: plain(directUrl) });
    const reader = new Client({ connectionString: plain(directUrl) });
    await writer.connect();
    await reader.connect();
    let markers = 0;
    try {
        await writer.query("CREATE TABLE IF NOT EXISTS bench_markers (id serial PRIMARY KEY, at timestamptz NOT NULL DEFAULT clock_timestamp())");
        const deadline = Date.now() + durationMs;
        let nextMarker = 0;
        while (Date.now() < deadline || pending.length > 0) {
            if (Date.now() < deadline && Date.now() >= nextMarker) {
                await writer.query("INSERT INTO bench_markers DEFAULT VALUES");
                const committedAt = Date.now();
                const [{ segment }] = (await writer.query("SELECT pg_walfile_name(pg_current_wal_lsn()) AS segment")).rows;
                pending.push({ segment, committedAt });
                markers++;
                nextMarker = Date.now() + 3000;
            }
            const [{ archived }] = (await reader.query("SELECT coalesce(last_archived_wal, '') AS archived FROM pg_stat_archiver")).rows;
            const now = Date.now();
            while (pending.length > 0 && archived >= pending[0].segment) {
                samples.push((now - pending.shift()!.committedAt) / 1000);
            }
            if (Date.now() > deadline + 15 * 60 * 1000) {
                throw new Error(`segments still not archived 15 minutes after the load: ${pending.map((entry) => entry.segment).join(", ")}`);
            }
            await sleep(200);
        }
    } finally {
        await writer.end();
        await reader.end();
    }
    return { samples, markers };
}

async function run(options: Options): Promise<BackupBenchResults> {
    const images = ciImages();
    const prefix = `zentoria-bench-bk-${randomBytes(3).toString("hex")}`;
    removeDockerObjects(prefix);
    const deployment = await Deployment.create(prefix, {
        "zentoria:bindAddress": "127.0.0.1",
        "zentoria:postgres": { image: images.postgres15, pgvector: false, hostPort: await freePort() },
        "zentoria:pgbouncer": { image: images.pgbouncer, hostPort: await freePort() },
        "zentoria:redis": { image: images.redis, hostPort: await freePort() },
        "zentoria:qdrant": { enabled: false },
    });
    const startedAt = new Date().toISOString();
    const loadAverageAtStart = os.loadavg().map((value) => Math.round(value * 100) / 100);
    try {
        log(`pulumi up (${prefix})`);
        await deployment.up();
        const strings = await deployment.hostStrings();
        const owners: Record<string, string> = {
            zentoria_main: strings.postgres.backend.zentoria_main.direct,
            zentoria_vectors: strings.postgres.backend.zentoria_vectors.direct,
            n8n: strings.postgres.n8n.n8n.direct,
        };
        const dataStarted = Date.now();
        for (const [database, url] of Object.entries(owners)) {
            log(`pgbench -i -s ${options.scale} in ${database}`);
            pgbenchInit(url, options.scale);
        }
        const dataSeconds = (Date.now() - dataStarted) / 1000;
        // Each owner sizes its own database: the application roles may not connect to the others.
        let databaseBytes = 0;
        for (const url of Object.values(owners)) {
            databaseBytes += Number((await query(url, "SELECT pg_database_size(current_database())::bigint AS bytes"))[0].bytes);
        }

        log("npm run backup");
        const backup = await npmRun(deployment, "backup", []);
        if (backup.code !== 0) {
            throw new Error(`npm run backup failed:\n${backup.output}`);
        }
        const status = JSON.parse(docker("run", "--rm", "-v", `${prefix}-backups:/b:ro`, "--entrypoint", "cat", images.postgres15, "/b/status/postgres.success.json"));

        log(`archive lag under ${options.clients} clients of TPC-B-like load for ${options.loadSeconds} s`);
        await createBankSchema(plain(strings.postgres.backend.zentoria_main.direct));
        const [{ lsn: lsnBefore }] = await query(strings.postgres.backend.zentoria_main.direct, "SELECT pg_current_wal_lsn()::text AS lsn");
        const load = await PostgresLoad.start(plain(strings.postgres.backend.zentoria_main.pooled), options.clients);
        const loadStarted = Date.now();
        let lag: { samples: number[]; markers: number };
        let report;
        try {
            lag = await measureArchiveLag(strings.postgres.backend.zentoria_main.direct, options.loadSeconds * 1000);
        } finally {
            report = await load.stop();
        }
        const loadSeconds = (Date.now() - loadStarted) / 1000;
        const [{ bytes: walBytes }] = await query(strings.postgres.backend.zentoria_main.direct, "SELECT pg_wal_lsn_diff(pg_current_wal_lsn(), $1::pg_lsn)::bigint AS bytes", [lsnBefore]);
        const sorted = [...lag.samples].sort((a, b) => a - b);

        log("npm run restore --latest");
        const restore = await npmRun(deployment, "restore", ["--latest"]);
        if (restore.code !== 0) {
            throw new Error(`npm run restore failed:\n${restore.output}`);
        }
        const restoredIn = /postgres: restored in ([\d.]+) s/.exec(restore.output);
        if (!restoredIn) {
            throw new Error(`npm run restore did not say how long PostgreSQL's restore took:\n${restore.output}`);
        }
        const postgresSeconds = Number(restoredIn[1]);
        const after = await deployment.hostStrings();
        const [{ count: markersBack }] = await query(after.postgres.backend.zentoria_main.direct, "SELECT count(*)::int AS count FROM bench_markers");

        return {
            startedAt,
            command: `npm run bench:backups -- --scale ${options.scale} --clients ${options.clients} --load-seconds ${options.loadSeconds}`,
            machine: {
                cpus: os.cpus().length,
                memoryGiB: Math.round(os.totalmem() / 1024 ** 3),
                loadAverageAtStart,
                docker: docker("version", "--format", "{{.Server.Version}}"),
                postgres: (await query(strings.postgres.backend.zentoria_main.direct, "SHOW server_version"))[0].server_version,
                images: { postgres: images.postgres15, pgbouncer: images.pgbouncer, redis: images.redis },
            },
            options: { scale: options.scale, databases: Object.keys(owners), clients: options.clients, loadSeconds: options.loadSeconds, archiveTimeoutSeconds: 300 },
            dataSet: { databaseBytes, loadSeconds: dataSeconds },
            // The status file's `seconds` is rounded to whole seconds; its timestamps have milliseconds.
            baseBackup: { wallSeconds: backup.seconds, backupSeconds: (Date.parse(status.finishedAt) - Date.parse(status.startedAt)) / 1000, bytes: status.bytes, name: status.name },
            archiveLag: {
                samples: lag.samples,
                medianSeconds: quantile(sorted, 0.5),
                p95Seconds: quantile(sorted, 0.95),
                maxSeconds: sorted[sorted.length - 1],
                transactions: report.transactions,
                transactionsPerSecond: report.transactions / loadSeconds,
                walBytesPerSecond: Number(walBytes) / loadSeconds,
                failures: report.failures,
            },
            restore: { wallSeconds: restore.seconds, postgresSeconds, markersBack, markersWritten: lag.markers },
        };
    } finally {
        // destroyAndClean removes the volumes a destroy retains (data and backups) by their prefix.
        await deployment.destroyAndClean();
        removeDockerObjects(prefix);
    }
}

const mb = (bytes: number) => `${(bytes / 1024 ** 2).toFixed(0)} MB`;
const kb = (bytes: number) => `${(bytes / 1024).toFixed(0)} kB`;
/** PostgreSQL's default (and this stack's) WAL segment size. */
const WAL_SEGMENT_BYTES = 16 * 1024 ** 2;
const s1 = (value: number) => value.toFixed(1);

export function backupsSection(results: BackupBenchResults, file: string): string {
    const { baseBackup, archiveLag, restore, dataSet, options, machine } = results;
    const lines = [
        BEGIN,
        "",
        `Results file: \`${file}\` (${results.startedAt}). Reproduce: \`${results.command}\`.`,
        "",
        "| figure | value |",
        "| --- | --- |",
        `| data set | \`pgbench -i -s ${options.scale}\` in ${options.databases.map((name) => `\`${name}\``).join(", ")}: ${mb(dataSet.databaseBytes)} in these databases |`,
        `| base backup (\`npm run backup\`: pg_basebackup, then pg_verifybackup) | ${s1(baseBackup.backupSeconds)} s in the sidecar (${s1(baseBackup.wallSeconds)} s for the whole command, Redis' copy and \`ts-node\` included); ${mb(baseBackup.bytes)} |`,
        `| WAL archive lag under load (commit to archived segment) | median ${s1(archiveLag.medianSeconds)} s, p95 ${s1(archiveLag.p95Seconds)} s, max ${s1(archiveLag.maxSeconds)} s over ${archiveLag.samples.length} markers |`,
        `| the load meanwhile | ${options.clients} clients through PgBouncer, TPC-B-like (tests/e2e/support/load.ts), ${archiveLag.transactionsPerSecond.toFixed(0)} transactions/s, ${kb(archiveLag.walBytesPerSecond)} of WAL per second (a 16 MB segment filled every ${(WAL_SEGMENT_BYTES / archiveLag.walBytesPerSecond).toFixed(0)} s: a commit waits for its segment to fill, so the lag runs from about 0 to that), ${archiveLag.failures} failed |`,
        `| restore to the latest point (\`npm run restore --latest\`) | ${s1(restore.postgresSeconds)} s for PostgreSQL (pause, stop, copy, replay, promote, verify, resume); ${s1(restore.wallSeconds)} s for the whole command; ${restore.markersBack} of ${restore.markersWritten} markers back |`,
        "",
        `Machine: ${machine.cpus} cores, ${machine.memoryGiB} GiB, load average ${machine.loadAverageAtStart.join(" / ")} at the start (shared with other work); Docker ${machine.docker}; PostgreSQL ${machine.postgres} (${machine.images.postgres}); \`archive_timeout\` ${options.archiveTimeoutSeconds} s.`,
        "",
        END,
    ];
    return lines.join("\n");
}

export function writeSection(results: BackupBenchResults, file: string): void {
    const markdown = fs.readFileSync(BENCHMARKS_MD, "utf8");
    const section = backupsSection(results, path.relative(REPO_ROOT, file));
    const start = markdown.indexOf(BEGIN);
    const end = markdown.indexOf(END);
    if (start < 0 || end < start) {
        throw new Error(`${BENCHMARKS_MD} has no "${BEGIN}" ... "${END}" block`);
    }
    fs.writeFileSync(BENCHMARKS_MD, markdown.slice(0, start) + section + markdown.slice(end + END.length));
}

async function main(): Promise<void> {
    const options = parseOptions(process.argv.slice(2));
    if (options.report) {
        writeSection(JSON.parse(fs.readFileSync(options.report, "utf8")), path.resolve(options.report));
        return;
    }
    const results = await run(options);
    const file = path.join(REPO_ROOT, "bench", "results", `backups-${results.startedAt.replace(/[-:]/g, "").replace(/\.\d+Z$/, "Z")}.json`);
    fs.writeFileSync(file, JSON.stringify(results, null, 2) + "\n");
    writeSection(results, file);
    log(`wrote ${path.relative(REPO_ROOT, file)} and BENCHMARKS.md`);
}

if (require.main === module) {
    main().catch((error) => {
        process.stderr.write(`bench:backups: ${(error as Error).stack ?? error}\n`);
        process.exit(1);
    });
}
