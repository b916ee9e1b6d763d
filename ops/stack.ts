// A deployed stack as the operations commands see it: its outputs (through the Pulumi CLI, with
// the same state backend `npm run deploy` uses) and, when a container is gone, the CLI runs that
// bring it back. Nothing here reaches into the program's components.
import { spawn } from "child_process";
import * as fs from "fs";
import * as os from "os";
import * as path from "path";
import type { BackupsInfo } from "../components/backups";
import { pinnedCliVersion, resolveCli } from "../scripts/deploy";

export const REPO_ROOT = path.resolve(__dirname, "..");

export class OpsError extends Error {}

export interface StackAccess {
    stack: string;
    /** The Pulumi project directory (Pulumi.yaml). */
    projectDir: string;
    env: NodeJS.ProcessEnv;
    log(line: string): void;
}

export interface DeployedStack {
    name: string;
    backups: BackupsInfo;
    /** PgBouncer's admin password, from the secret connection strings (PAUSE and RESUME). */
    pgbouncerAdminPassword?: string;
}

interface CliResult {
    code: number;
    stdout: string;
    stderr: string;
}

/** The environment `npm run deploy` gives the CLI: its default state backend, no update check. */
export function pulumiEnv(env: NodeJS.ProcessEnv): NodeJS.ProcessEnv {
    const result: NodeJS.ProcessEnv = { ...env, PULUMI_SKIP_UPDATE_CHECK: env.PULUMI_SKIP_UPDATE_CHECK ?? "true" };
    if (!result.PULUMI_BACKEND_URL) {
        const stateDir = env.ZENTORIA_STATE_DIR || path.join(env.HOME || os.homedir(), ".zentoria", "state");
        result.PULUMI_BACKEND_URL = `file://${stateDir}`;
    }
    return result;
}

async function pulumiCli(access: StackAccess, args: string[], passthrough = false): Promise<CliResult> {
    const env = pulumiEnv(access.env);
    const cli = await resolveCli(pinnedCliVersion(REPO_ROOT), { projectDir: access.projectDir, env, log: access.log }, "restore");
    env.PATH = [path.dirname(cli.command), env.PATH].filter(Boolean).join(path.delimiter);
    return new Promise((resolve, reject) => {
        const child = spawn(cli.command, args, { cwd: access.projectDir, env, stdio: ["ignore", passthrough ? "inherit" : "pipe", passthrough ? "inherit" : "pipe"] });
        let stdout = "";
        let stderr = "";
        child.stdout?.on("data", (chunk) => (stdout += chunk));
        child.stderr?.on("data", (chunk) => (stderr += chunk));
        child.on("error", reject);
        child.on("close", (code) => resolve({ code: code ?? 1, stdout, stderr }));
    });
}

/** The stack's outputs; secrets only when asked (the CLI then needs the stack's passphrase). */
export async function readDeployedStack(access: StackAccess, withSecrets: boolean): Promise<DeployedStack> {
    if (!fs.existsSync(path.join(access.projectDir, "Pulumi.yaml"))) {
        throw new OpsError(`${access.projectDir} has no Pulumi.yaml (give the project directory with --project-dir)`);
    }
    const result = await pulumiCli(access, ["stack", "output", "--stack", access.stack, "--json", ...(withSecrets ? ["--show-secrets"] : [])]);
    if (result.code !== 0) {
        throw new OpsError(`cannot read the outputs of stack ${access.stack}: ${result.stderr.trim().split("\n").pop() ?? `pulumi exited ${result.code}`}`);
    }
    const outputs = JSON.parse(result.stdout) as Record<string, any>;
    const backups = outputs.backups as BackupsInfo | undefined;
    if (!backups?.postgres) {
        throw new OpsError(`stack ${access.stack} has no \`backups\` output: deploy it with this version of the program first (npm run deploy -- ${access.stack})`);
    }
    let pgbouncerAdminPassword: string | undefined;
    if (withSecrets && typeof outputs.connectionStrings?.pgbouncerAdmin === "string") {
        pgbouncerAdminPassword = decodeURIComponent(new URL(outputs.connectionStrings.pgbouncerAdmin).password);
    }
    return { name: access.stack, backups, pgbouncerAdminPassword };
}

/**
 * Brings back a container that is gone (its volume restored already): the stack forgets the
 * container (a refresh of it alone, so nothing else is read from servers that are down), then
 * `pulumi up` creates it again exactly as the program declares it.
 */
export async function recreateContainer(access: StackAccess, containerName: string): Promise<void> {
    const exported = await pulumiCli(access, ["stack", "export", "--stack", access.stack]);
    if (exported.code !== 0) {
        throw new OpsError(`pulumi stack export failed: ${exported.stderr.trim()}`);
    }
    const state = JSON.parse(exported.stdout) as { deployment?: { resources?: Array<{ urn: string; type: string; outputs?: Record<string, unknown> }> } };
    const container = (state.deployment?.resources ?? []).find((resource) => resource.type === "docker:index/container:Container" && resource.outputs?.name === containerName);
    if (!container) {
        throw new OpsError(`stack ${access.stack} has no container ${containerName} in its state`);
    }
    access.log(`pulumi refresh --target ${container.urn}`);
    const refreshed = await pulumiCli(access, ["refresh", "--stack", access.stack, "--yes", "--skip-preview", "--target", container.urn], true);
    if (refreshed.code !== 0) {
        throw new OpsError(`pulumi refresh of ${containerName} failed (exit ${refreshed.code})`);
    }
    access.log("pulumi up (creates the container again on the restored volume)");
    const up = await pulumiCli(access, ["up", "--stack", access.stack, "--yes", "--skip-preview"], true);
    if (up.code !== 0) {
        throw new OpsError(`pulumi up failed (exit ${up.code})`);
    }
}
