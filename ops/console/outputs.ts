// The deployed stack's outputs, as the operator commands need them: the host-side connection
// strings (hostConnectionStrings, secret) and the summary (pools, roles, section 5's levels).
// Read with `pulumi stack output --json --show-secrets`, on the same state backend as
// `npm run deploy`: PULUMI_BACKEND_URL, or file://$HOME/.zentoria/state ($ZENTORIA_STATE_DIR).
import { z } from "zod";
import type { BackupsInfo } from "../../components/backups";
import { statsUrlVariable, redisUserUrlVariable } from "../../config/envNames";
import { roleAccessSchema, thresholdsSchema } from "../../config/schema";
import { StackUnreachable } from "../errors";
import { Cli, CliError, installedCli } from "../pulumiCli";
import { readOutputJson } from "../stack";

const poolSchema = z.object({
    /** The PgBouncer database (alias) clients connect to. */
    database: z.string(),
    service: z.string(),
    role: z.string(),
    serverDatabase: z.string(),
    poolSize: z.number(),
    maxClientConnections: z.number(),
});

const summarySchema = z.object({
    pgbouncer: z.object({ container: z.string(), maxClientConn: z.number(), pools: z.array(poolSchema) }),
    postgres: z.object({ container: z.string(), maxConnections: z.number() }),
    redis: z.object({ container: z.string(), maxclients: z.number(), warningClients: z.number(), criticalClients: z.number() }),
    qdrant: z.object({ container: z.string().optional() }),
    roles: z.array(z.object({ name: z.string(), access: roleAccessSchema, connectionLimit: z.number() })),
    thresholds: thresholdsSchema,
});

const hostStringsSchema = z.object({
    operators: z.object({ env: z.record(z.union([z.string(), z.number()])), monitoring: z.record(z.string()) }),
});

// The `backups` output (components/backups.ts BackupsInfo): what status needs to read the store is
// checked, the rest kept as it is. Absent in stacks deployed before backups existed.
const backupsSchema = z
    .object({
        enabled: z.boolean(),
        store: z.string().optional(),
        image: z.string(),
        intervalHours: z.number(),
        services: z.array(z.string()).optional(),
        dockerHost: z.string().optional(),
    })
    .passthrough();

const outputsSchema = z.object({ summary: summarySchema, hostConnectionStrings: hostStringsSchema, backups: backupsSchema.optional() });

export type StackSummary = z.infer<typeof summarySchema>;
export type PoolSummary = z.infer<typeof poolSchema>;

/** Where and as whom the commands connect: every URL host-side, every credential from the outputs. */
export interface OperatorTargets {
    /** PgBouncer's console as the monitoring role (stats_users): SHOW only. */
    pgbouncerStats: string;
    /** PgBouncer's console as its admin user: PAUSE, RESUME, RELOAD, KILL_CLIENT. */
    pgbouncerAdmin: string;
    /** PostgreSQL as the monitoring role (pg_monitor: reads every session). */
    postgresMonitoring: string;
    /** PostgreSQL as the superuser (pg_terminate_backend of any role). */
    postgresSuperuser: string;
    redisMonitor: string;
    redisAdmin: string;
    /** Qdrant's URL and read-only key, when the stack runs Qdrant. */
    qdrant?: { url: string; readOnlyApiKey: string };
}

export interface StackOutputs {
    stack: string;
    summary: StackSummary;
    targets: OperatorTargets;
    /** Where the stack's backups are, when it has them on. */
    backups?: BackupsInfo;
}

/** The monitoring role the commands look with: the first role of access `monitoring`. */
export function monitoringRole(summary: StackSummary): string | undefined {
    return summary.roles.find((role) => role.access === "monitoring")?.name;
}

function required(env: Record<string, string | number>, name: string): string {
    const value = env[name];
    if (typeof value !== "string" || value === "") {
        throw new StackUnreachable(`the stack's outputs have no hostConnectionStrings.operators.env.${name}`);
    }
    return value;
}

/** The outputs as `pulumi stack output --json --show-secrets` prints them, checked and reduced to what the commands use. */
export function parseStackOutputs(stack: string, json: unknown): StackOutputs {
    if (json === null || typeof json !== "object" || Object.keys(json).length === 0) {
        throw new StackUnreachable(`stack ${stack} has no outputs: it is not deployed (npm run deploy -- ${stack})`);
    }
    const parsed = outputsSchema.safeParse(json);
    if (!parsed.success) {
        const issue = parsed.error.issues[0];
        throw new StackUnreachable(
            `stack ${stack}'s outputs lack ${issue.path.join(".") || "what the operator commands read"} (${issue.message}): they predate npm run status; run npm run deploy -- ${stack} once`,
        );
    }
    const { summary, hostConnectionStrings, backups } = parsed.data;
    const env = hostConnectionStrings.operators.env;
    const monitor = monitoringRole(summary);
    if (!monitor || !hostConnectionStrings.operators.monitoring[monitor]) {
        throw new StackUnreachable(`stack ${stack} has no monitoring role (roles.<name>.access: monitoring): status and emergency look with it`);
    }
    const qdrantUrl = env.QDRANT_URL;
    return {
        stack,
        summary,
        targets: {
            pgbouncerStats: required(env, statsUrlVariable(monitor)),
            pgbouncerAdmin: required(env, "PGBOUNCER_ADMIN_URL"),
            postgresMonitoring: hostConnectionStrings.operators.monitoring[monitor],
            postgresSuperuser: required(env, "POSTGRES_SUPERUSER_URL"),
            redisMonitor: required(env, redisUserUrlVariable("monitor")),
            redisAdmin: required(env, redisUserUrlVariable("admin")),
            qdrant: typeof qdrantUrl === "string" ? { url: qdrantUrl, readOnlyApiKey: required(env, "QDRANT_READ_ONLY_API_KEY") } : undefined,
        },
        ...(backups?.enabled && backups.store ? { backups: backups as unknown as BackupsInfo } : {}),
    };
}

/** Reads and checks the stack's outputs with the Pulumi CLI; one StackUnreachable line for whatever fails. */
export async function readStackOutputs(stack: string, projectDir: string, env: NodeJS.ProcessEnv): Promise<StackOutputs> {
    let cli: Cli;
    try {
        cli = installedCli(projectDir, env);
    } catch (error) {
        throw error instanceof CliError ? new StackUnreachable(error.message) : error;
    }
    return parseStackOutputs(stack, await readOutputJson(stack, projectDir, env, cli, true));
}
