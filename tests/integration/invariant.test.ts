// The config check's invariant on real servers: a seeded sample of the configs it accepts
// (tests/support/configs.ts draws them from the schema and PostgreSQL's settings table) is
// rendered, and PostgreSQL, PgBouncer and Redis are started on the rendered files, asked to
// answer, and stopped. PostgreSQL starts from a copy of one initialised data directory, so the
// sample does not pay for initdb each time.
//
// ZENTORIA_PROPERTY_SEED reproduces a run (every test name carries the seed);
// ZENTORIA_PROPERTY_SAMPLES sets the sample size (30).
import { execFileSync } from "child_process";
import * as fs from "fs";
import * as os from "os";
import * as path from "path";
import fc from "fast-check";
import { Client } from "pg";
import { tryPlan } from "../../config";
import { leafPaths } from "../../config/source";
import { mergeOverDefaults } from "../../config/validate";
import { Overrides, validLookingConfig } from "../support/configs";
import { connectPg } from "./support/clients";
import { pgbouncerVersion } from "./support/images";
import { configPlan } from "./support/plan";
import { PostgresTemplate, Stack } from "./support/stack";

const SEED = Number(process.env.ZENTORIA_PROPERTY_SEED ?? Date.now() % 2 ** 31);
const SAMPLES = Number(process.env.ZENTORIA_PROPERTY_SAMPLES ?? 30);

/**
 * What this machine runs, as the config says it: PostgreSQL 15 and the PgBouncer version of
 * the harness, so that version-dependent checks (max_prepared_statements needs 1.21) judge
 * the servers that actually start.
 */
function machineOverrides(): Overrides {
    const version = /PgBouncer (\d+\.\d+\.\d+)/.exec(pgbouncerVersion())?.[1];
    if (!version) {
        throw new Error(`cannot tell the harness's PgBouncer version: ${pgbouncerVersion()}`);
    }
    return { postgres: { image: "zentoria-ci/postgres:15-bookworm" }, pgbouncer: { image: `zentoria-ci/pgbouncer:${version}` } };
}

function acceptedAsIs(config: Overrides): boolean {
    const secret = config.credentials === undefined ? [] : ["credentials"];
    const raw = { source: "sample", values: config, secretKeys: new Set(secret), secretLeaves: new Set(secret.flatMap((key) => leafPaths(config[key], key))) };
    return !tryPlan(raw).problems.some((problem) => problem.severity === "error");
}

/**
 * The descriptors a container may get on this machine. A root Docker daemon with its usual
 * capabilities raises a container's limit up to fs.nr_open, the bound the check enforces; the
 * daemon here runs without CAP_SYS_RESOURCE and cannot go past its own hard limit, which is
 * this process's (measured: --ulimit nofile above 20000 fails with "error setting rlimit").
 */
const HARD_NOFILE = Number(execFileSync("sh", ["-c", "ulimit -Hn"], { encoding: "utf8" }).trim());

function acceptedOnThisMachine(config: Overrides): boolean {
    try {
        const { plan } = configPlan({ postgres: 20001, pgbouncer: 20002, redis: 20003 }, config);
        return plan.pgbouncer.fileDescriptorLimit <= HARD_NOFILE;
    } catch {
        return false;
    }
}

/** The first SAMPLES configs of the seeded stream that the check accepts, as given and with the test's ports. */
function sample(): { configs: Overrides[]; drawn: number } {
    const overrides = machineOverrides();
    const configs: Overrides[] = [];
    let drawn = 0;
    for (const draw of fc.sample(validLookingConfig(), { seed: SEED, numRuns: SAMPLES * 40 })) {
        drawn++;
        const config = mergeOverDefaults(draw, overrides) as Overrides;
        if (acceptedAsIs(config) && acceptedOnThisMachine(config)) {
            configs.push(config);
            if (configs.length === SAMPLES) {
                break;
            }
        }
    }
    return { configs, drawn };
}

const { configs, drawn } = sample();
const templates = new Map<string, Promise<PostgresTemplate>>();
let templateRoot: string;
const started = Date.now();

beforeAll(() => {
    templateRoot = fs.mkdtempSync(path.join(os.tmpdir(), "zentoria-template-"));
    // The servers' OS user reaches the templates below it.
    fs.chmodSync(templateRoot, 0o755);
    process.stderr.write(`invariant: seed ${SEED}, ${configs.length} accepted configs of ${drawn} drawn\n`);
});

afterAll(() => {
    fs.rmSync(templateRoot, { recursive: true, force: true });
    process.stderr.write(`invariant: ${configs.length} configs started and stopped in ${Math.round((Date.now() - started) / 1000)} s (seed ${SEED})\n`);
});

function templateFor(superuser: string): Promise<PostgresTemplate> {
    if (!templates.has(superuser)) {
        templates.set(superuser, Stack.postgresTemplate(path.join(templateRoot, superuser), superuser));
    }
    return templates.get(superuser)!;
}

test(`the seeded stream holds ${SAMPLES} accepted configs (seed ${SEED})`, () => {
    expect(configs.length).toBe(SAMPLES);
});

test.each(configs.map((config, index) => [index, config] as const))(`seed ${SEED}, accepted config %i starts PostgreSQL, PgBouncer and Redis`, async (_index, config) => {
    const superuser = configPlan({ postgres: 20001, pgbouncer: 20002, redis: 20003 }, config).plan.postgres.superuser;
    const stack = await Stack.create({ postgres: true, pgbouncer: true, redis: true, config, postgresTemplate: await templateFor(superuser) });
    let failed = true;
    try {
        await stack.start();
        await expectAnswers(stack);
        failed = false;
    } catch (error) {
        const message = error instanceof Error ? error.message : String(error);
        throw new Error(
            `seed ${SEED} (rerun with ZENTORIA_PROPERTY_SEED=${SEED}): config ${JSON.stringify(config)}\n${message}\n\nServer logs:\n${stack.logTails(20)}`,
        );
    } finally {
        await stack.stop(failed);
    }
}, 240_000);

/** PostgreSQL took the rendered settings, and PgBouncer reaches it for a pool's role. */
async function expectAnswers(stack: Stack): Promise<void> {
    const admin = await stack.superuser();
    try {
        const { rows } = await admin.query<{ max: string }>("SELECT current_setting('max_connections') AS max");
        expect(Number(rows[0].max)).toBe(stack.plan.postgres.maxConnections);
    } finally {
        await admin.end();
    }
    const pool = stack.plan.pools[0];
    if (pool) {
        const client: Client = await connectPg({
            host: "127.0.0.1",
            port: stack.plan.pgbouncer.port,
            user: pool.role,
            password: stack.credentials.postgres[pool.role],
            database: pool.alias,
        });
        try {
            const { rows } = await client.query<{ database: string }>("SELECT current_database() AS database");
            expect(rows[0].database).toBe(pool.database);
        } finally {
            await client.end();
        }
    }
}
