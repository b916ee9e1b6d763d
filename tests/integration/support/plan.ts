// The dev stack's plan as the program builds it, with the test's ports, and the secrets the
// program would generate: 32 letters and digits per password, 16-byte salts, verifiers and
// hashes from the program's own functions.
import { randomBytes, randomInt } from "crypto";
import * as fs from "fs";
import * as path from "path";
import { loadPlan, PlanResult, RawStackConfig, rawConfigFromStackFile } from "../../../config";
import { leafPaths } from "../../../config/source";
import { mergeOverDefaults } from "../../../config/validate";
import { StackPlan } from "../../../config/plan";
import { Credentials, Endpoints } from "../../../render/connections";
import { redisPasswordHash, SCRAM_SALT_BYTES, scramSha256Verifier } from "../../../render/hashing";
import { ServerLayout } from "../../../render/layout";
import { PGVECTOR_CONTROL_FILE } from "./binaries";

export const REPO_ROOT = path.resolve(__dirname, "../../..");
export const LOOPBACK = "127.0.0.1";

export interface Ports {
    postgres: number;
    pgbouncer: number;
    redis: number;
}

/** Raw overrides: only the ports, so the plan renders them (no command-line overrides). */
export function portOverrides(ports: Ports): Record<string, unknown> {
    return { postgres: { port: ports.postgres }, pgbouncer: { port: ports.pgbouncer }, redis: { port: ports.redis } };
}

/**
 * Debian's postgresql-15 has no pgvector, so CREATE EXTENSION vector cannot run here; the plan
 * then leaves it out exactly as it does for an image without pgvector (postgres.pgvector false).
 */
export function environmentOverrides(): Record<string, unknown> {
    return fs.existsSync(PGVECTOR_CONTROL_FILE) ? {} : { postgres: { pgvector: false } };
}

/** Pulumi.dev.yaml read like `npm run plan` reads it, with `overrides` merged into the raw values. */
export function devRawConfig(...overrides: Array<Record<string, unknown>>): RawStackConfig {
    const raw = rawConfigFromStackFile(path.join(REPO_ROOT, "Pulumi.dev.yaml"));
    const values = overrides.reduce<unknown>((merged, override) => mergeOverDefaults(merged, override), raw.values);
    return { ...raw, source: `${raw.source} (integration test overrides)`, values: values as Record<string, unknown> };
}

/** The dev plan on the test's ports; `extra` are further raw overrides for one check. */
export function devPlan(ports: Ports, extra: Record<string, unknown> = {}): PlanResult {
    return loadPlan(devRawConfig(portOverrides(ports), environmentOverrides(), extra));
}

/**
 * `config` (a stack's raw config, instead of Pulumi.dev.yaml's) on the test's ports and this
 * machine's servers: a config the harness cannot run as given is refused here, by loadPlan.
 */
export function configPlan(ports: Ports, config: Record<string, unknown>): PlanResult {
    const values = [portOverrides(ports), environmentOverrides()].reduce<unknown>((merged, override) => mergeOverDefaults(merged, override), config);
    // Credentials in a test's config stand for ones given with `pulumi config set --secret`.
    const secretLeaves = config.credentials === undefined ? [] : leafPaths(config.credentials, "credentials");
    return loadPlan({
        source: "integration test config",
        values: values as Record<string, unknown>,
        secretKeys: new Set(secretLeaves.length > 0 ? ["credentials"] : []),
        secretLeaves: new Set(secretLeaves),
    });
}

/** Every server file under `dir`, PostgreSQL and PgBouncer reached on the loopback address. */
export function testLayout(dir: string, pgbouncerDir = path.join(dir, "pgbouncer")): ServerLayout {
    return {
        listenAddress: LOOPBACK,
        postgresHost: LOOPBACK,
        postgres: {
            configDirectory: path.join(dir, "postgres"),
            configFile: path.join(dir, "postgres", "postgresql.conf"),
            hbaFile: path.join(dir, "postgres", "pg_hba.conf"),
            identFile: path.join(dir, "postgres", "pg_ident.conf"),
            superuserVerifierFile: path.join(dir, "postgres", "superuser-verifier"),
            socketDirectory: path.join(dir, "postgres", "run"),
        },
        pgbouncer: {
            configDirectory: pgbouncerDir,
            configFile: path.join(pgbouncerDir, "pgbouncer.ini"),
            userlistFile: path.join(pgbouncerDir, "userlist.txt"),
        },
        redis: {
            configDirectory: path.join(dir, "redis"),
            configFile: path.join(dir, "redis", "redis.conf"),
            aclFile: path.join(dir, "redis", "users.acl"),
            dataDirectory: path.join(dir, "redis", "data"),
            healthcheckPasswordFile: path.join(dir, "redis", "healthcheck.pass"),
        },
        qdrant: {
            configDirectory: path.join(dir, "qdrant"),
            configFile: path.join(dir, "qdrant", "config.yaml"),
            storageDirectory: path.join(dir, "qdrant", "storage"),
            snapshotsDirectory: path.join(dir, "qdrant", "snapshots"),
        },
        backups: { directory: path.join(dir, "backups") },
    };
}

/**
 * The servers run on the loopback interface: every client comes from 127.0.0.1, which plays the
 * Docker network's gateway (the host side, where the superuser may log in from) as well.
 */
export const TEST_NETWORK = { subnet: "127.0.0.0/8", gateway: LOOPBACK } as const;

/** The test's stand-in for publishedEndpoints(plan): the loopback address and the test ports. */
export function testEndpoints(plan: StackPlan): Endpoints {
    return {
        postgres: { host: LOOPBACK, port: plan.postgres.port },
        pgbouncer: { host: LOOPBACK, port: plan.pgbouncer.port },
        redis: { host: LOOPBACK, port: plan.redis.port },
        qdrant: { host: LOOPBACK, httpPort: plan.qdrant.httpPort, grpcPort: plan.qdrant.grpcPort },
    };
}

const ALPHANUMERIC = "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789";

/** Like RandomPassword { length: 32, special: false }. */
export function randomPassword(length = 32): string {
    return Array.from({ length }, () => ALPHANUMERIC[randomInt(ALPHANUMERIC.length)]).join("");
}

export interface Secrets {
    credentials: Credentials;
    /** SCRAM verifier per PostgreSQL role. */
    verifiers: Record<string, string>;
    /** SCRAM verifier of PgBouncer's admin user. */
    adminVerifier: string;
    /** `#<sha256>` per Redis user. */
    redisHashes: Record<string, string>;
}

export function generateSecrets(plan: StackPlan): Secrets {
    const verifier = (password: string) => scramSha256Verifier(password, randomBytes(SCRAM_SALT_BYTES));
    const postgres: Record<string, string> = {};
    const verifiers: Record<string, string> = {};
    for (const role of plan.roles) {
        postgres[role.name] = randomPassword();
        verifiers[role.name] = verifier(postgres[role.name]);
    }
    const pgbouncerAdmin = randomPassword();
    const redis: Record<string, string> = {};
    const redisHashes: Record<string, string> = {};
    for (const user of plan.redis.users) {
        redis[user.name] = randomPassword();
        redisHashes[user.name] = redisPasswordHash(redis[user.name]);
    }
    return {
        credentials: { postgres, pgbouncerAdmin, redis, qdrantApiKey: randomPassword(), qdrantReadOnlyApiKey: randomPassword() },
        verifiers,
        adminVerifier: verifier(pgbouncerAdmin),
        redisHashes,
    };
}

/** Every plaintext secret, labelled, for the "never in a server's files" check. */
export function plaintextSecrets(secrets: Secrets): Array<[string, string]> {
    const { credentials } = secrets;
    return [
        ...Object.entries(credentials.postgres).map(([role, password]): [string, string] => [`PostgreSQL role ${role}`, password]),
        [`PgBouncer admin`, credentials.pgbouncerAdmin],
        ...Object.entries(credentials.redis).map(([user, password]): [string, string] => [`Redis user ${user}`, password]),
    ];
}

/** The dev plan on its default ports: what the tests enumerate (pools, roles) when Jest collects them. */
export function planForTestNames(): StackPlan {
    return devPlan({ postgres: 5432, pgbouncer: 6432, redis: 6379 }).plan;
}
