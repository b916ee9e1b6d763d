// A deployed stack as the operations commands see it: its outputs (through the Pulumi CLI, with
// the same state backend `npm run deploy` uses) and, when a container is gone, the CLI runs that
// bring it back. Nothing here reaches into the program's components.
import * as fs from "fs";
import * as path from "path";
import type { BackupsInfo } from "../components/backups";
import { OpsError, StackUnreachable } from "./errors";
import { Cli, CliError, CliResult, pinnedCliVersion, resolveCli, runCli, stateBackend } from "./pulumiCli";

export const REPO_ROOT = path.resolve(__dirname, "..");

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

/**
 * The stack's outputs as `pulumi stack output --json` prints them (secrets only when asked: the
 * CLI then needs the stack's passphrase); one StackUnreachable line for whatever fails.
 */
export async function readOutputJson(stack: string, projectDir: string, env: NodeJS.ProcessEnv, cli: Cli, withSecrets: boolean): Promise<unknown> {
    const result = await runCli(cli, ["stack", "output", "--json", ...(withSecrets ? ["--show-secrets"] : []), "--stack", stack], projectDir, env);
    if (result.code !== 0) {
        const reason = result.stderr
            .split("\n")
            .map((line) => line.replace(/^error:\s*/, "").trim())
            .find((line) => line !== "");
        throw new StackUnreachable(`could not read stack ${stack}'s outputs from ${stateBackend(env)}: ${reason ?? `pulumi exited with ${result.code}`}`);
    }
    try {
        return JSON.parse(result.stdout);
    } catch {
        throw new StackUnreachable(`could not read stack ${stack}'s outputs: pulumi printed no JSON`);
    }
}

/** The CLI for the commands that may change the stack: the one on PATH, or the pinned one (installed if absent). */
async function accessCli(access: StackAccess): Promise<Cli> {
    try {
        return await resolveCli(pinnedCliVersion(access.projectDir), access.env, access.log, "restore");
    } catch (error) {
        throw error instanceof CliError ? new OpsError(error.message) : error;
    }
}

async function pulumi(access: StackAccess, args: string[], passthrough = false): Promise<CliResult> {
    return runCli(await accessCli(access), args, access.projectDir, access.env, passthrough);
}

/** The stack's outputs as backup and restore need them; secrets only when asked. */
export async function readDeployedStack(access: StackAccess, withSecrets: boolean): Promise<DeployedStack> {
    if (!fs.existsSync(path.join(access.projectDir, "Pulumi.yaml"))) {
        throw new OpsError(`${access.projectDir} has no Pulumi.yaml (give the project directory with --project-dir)`);
    }
    const outputs = (await readOutputJson(access.stack, access.projectDir, access.env, await accessCli(access), withSecrets)) as Record<string, any>;
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
    const exported = await pulumi(access, ["stack", "export", "--stack", access.stack]);
    if (exported.code !== 0) {
        throw new OpsError(`pulumi stack export failed: ${exported.stderr.trim()}`);
    }
    const state = JSON.parse(exported.stdout) as { deployment?: { resources?: Array<{ urn: string; type: string; outputs?: Record<string, unknown> }> } };
    const container = (state.deployment?.resources ?? []).find((resource) => resource.type === "docker:index/container:Container" && resource.outputs?.name === containerName);
    if (!container) {
        throw new OpsError(`stack ${access.stack} has no container ${containerName} in its state`);
    }
    access.log(`pulumi refresh --target ${container.urn}`);
    const refreshed = await pulumi(access, ["refresh", "--stack", access.stack, "--yes", "--skip-preview", "--target", container.urn], true);
    if (refreshed.code !== 0) {
        throw new OpsError(`pulumi refresh of ${containerName} failed (exit ${refreshed.code})`);
    }
    access.log("pulumi up (creates the container again on the restored volume)");
    const up = await pulumi(access, ["up", "--stack", access.stack, "--yes", "--skip-preview"], true);
    if (up.code !== 0) {
        throw new OpsError(`pulumi up failed (exit ${up.code})`);
    }
}
