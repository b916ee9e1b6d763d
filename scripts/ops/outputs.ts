// The deployed stack's outputs, as the operator commands need them: the host-side connection
// strings (hostConnectionStrings, secret) and the summary (pools, roles, section 5's levels).
// Read with `pulumi stack output --json --show-secrets`, on the same state backend as
// `npm run deploy`: PULUMI_BACKEND_URL, or file://$HOME/.zentoria/state ($ZENTORIA_STATE_DIR).
import { spawn } from "child_process";
import * as fs from "fs";
import * as os from "os";
import * as path from "path";
import { z } from "zod";
import type { BackupsInfo } from "../../components/backups";
import { statsUrlVariable, redisUserUrlVariable } from "../../config/envNames";
import { roleAccessSchema, thresholdsSchema } from "../../config/schema";
import { onPath, pinnedCliVersion } from "../deploy";
import { StackUnreachable } from "./errors";

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

/** The state backend `npm run deploy` uses (scripts/deploy.ts): PULUMI_BACKEND_URL, else the local file backend. */
export function stateBackend(env: NodeJS.ProcessEnv): string {
    if (env.PULUMI_BACKEND_URL) {
        return env.PULUMI_BACKEND_URL;
    }
    return `file://${env.ZENTORIA_STATE_DIR || path.join(env.HOME || os.homedir(), ".zentoria", "state")}`;
}

/** The Pulumi CLI on PATH, or the one `npm run deploy` installed; status never installs one. */
export function pulumiCli(projectDir: string, env: NodeJS.ProcessEnv): string {
    const found = onPath("pulumi", env);
    if (found) {
        return found;
    }
    const home = env.PULUMI_HOME || path.join(env.HOME || os.homedir(), ".pulumi");
    const installed = path.join(home, "versions", pinnedCliVersion(projectDir), "bin", "pulumi");
    if (fs.existsSync(installed)) {
        return installed;
    }
    throw new StackUnreachable("no Pulumi CLI: put `pulumi` on PATH, or run `npm run deploy` once (it installs the pinned version)");
}

function runCli(command: string, args: string[], cwd: string, env: NodeJS.ProcessEnv): Promise<{ code: number; stdout: string; stderr: string }> {
    return new Promise((resolve, reject) => {
        // stdin ignored: the CLI must not stop to ask for the passphrase; it says which variable to set instead.
        const child = spawn(command, args, { cwd, env, stdio: ["ignore", "pipe", "pipe"] });
        let stdout = "";
        let stderr = "";
        child.stdout.on("data", (chunk) => (stdout += chunk));
        child.stderr.on("data", (chunk) => (stderr += chunk));
        child.on("error", reject);
        child.on("close", (code) => resolve({ code: code ?? 1, stdout, stderr }));
    });
}

/** Reads and checks the stack's outputs with the Pulumi CLI; one StackUnreachable line for whatever fails. */
export async function readStackOutputs(stack: string, projectDir: string, env: NodeJS.ProcessEnv): Promise<StackOutputs> {
    const backend = stateBackend(env);
    const cliEnv = { ...env, PULUMI_BACKEND_URL: backend, PULUMI_SKIP_UPDATE_CHECK: env.PULUMI_SKIP_UPDATE_CHECK ?? "true" };
    const result = await runCli(pulumiCli(projectDir, env), ["stack", "output", "--json", "--show-secrets", "--stack", stack], projectDir, cliEnv);
    if (result.code !== 0) {
        const reason = result.stderr
            .split("\n")
            .map((line) => line.replace(/^error:\s*/, "").trim())
            .find((line) => line !== "");
        throw new StackUnreachable(`could not read stack ${stack}'s outputs from ${backend}: ${reason ?? `pulumi exited with ${result.code}`}`);
    }
    let json: unknown;
    try {
        json = JSON.parse(result.stdout);
    } catch {
        throw new StackUnreachable(`could not read stack ${stack}'s outputs: pulumi printed no JSON`);
    }
    return parseStackOutputs(stack, json);
}
