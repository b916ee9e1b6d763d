// npm run backup -- <stack> [--status] [--project-dir <dir>]
//
// Without --status: a backup run now (base backup, Redis RDB, Qdrant snapshot), in the stack's
// backup sidecar, with its progress and failures printed; exit status 0 when every service was
// backed up, 1 when one failed. With --status: the last run and the last successful backup of
// each service (time, size, outcome), and exit status 1 when a last run failed or the last
// success is older than twice the interval. README: "Backups and restore".
import * as path from "path";
import { spawn } from "child_process";
import type { BackupsInfo } from "../components/backups";
import { BackupStoreError, backupStatus, serviceBackupViews } from "../ops/backups";
import { OpsError } from "../ops/errors";
import { readDeployedStack, REPO_ROOT } from "../ops/stack";
import { SIDECAR_FILES, SIDECAR_LAYOUT } from "../render/backup";
import { textTable } from "../render/budgetTables";

const USAGE = "usage: npm run backup -- <stack> [--status] [--project-dir <dir>]";

/** A run in the sidecar, its output passed through; resolves to its exit status. */
function runNow(info: BackupsInfo): Promise<number> {
    const env = { ...process.env, ...(info.dockerHost ? { DOCKER_HOST: info.dockerHost } : {}) };
    const args = ["exec", info.sidecar!, "bash", `${SIDECAR_LAYOUT.configDirectory}/${SIDECAR_FILES.backup}`, "manual"];
    return new Promise((resolve, reject) => {
        const child = spawn("docker", args, { env, stdio: ["ignore", "inherit", "inherit"] });
        child.on("error", reject);
        child.on("close", (code) => resolve(code ?? 1));
    });
}

async function printStatus(info: BackupsInfo, log: (line: string) => void): Promise<number> {
    const views = serviceBackupViews(await backupStatus(info), info);
    if (views.every((view) => view.health === "none")) {
        log(`no backup has run yet (the sidecar's first run starts a minute after it does; \`npm run backup -- <stack>\` runs one now)`);
        return 1;
    }
    const rows = views.map((view) => [
        view.service,
        view.health,
        view.lastSuccess?.finishedAt ?? "-",
        view.lastSuccess ? String(view.lastSuccess.bytes) : "-",
        view.lastSuccess ? String(view.lastSuccess.seconds) : "-",
        view.lastRun ? `${view.lastRun.outcome} ${view.lastRun.finishedAt}${view.lastRun.outcome === "failed" ? `: ${view.lastRun.message}` : ""}` : "-",
    ]);
    log(textTable(["service", "health", "last success", "bytes", "seconds", "last run"], rows).trimEnd());
    log(`store: ${info.store}; a backup every ${info.intervalHours} h, ${info.keepBaseBackups} kept`);
    return views.some((view) => view.health !== "ok") ? 1 : 0;
}

async function main(argv: readonly string[], log: (line: string) => void): Promise<number> {
    const args = [...argv];
    let projectDir = REPO_ROOT;
    const at = args.indexOf("--project-dir");
    if (at >= 0) {
        projectDir = path.resolve(args[at + 1] ?? ".");
        args.splice(at, 2);
    }
    const statusOnly = args.includes("--status");
    const rest = args.filter((arg) => arg !== "--status");
    if (rest.length !== 1 || rest[0].startsWith("-")) {
        log(USAGE);
        return 2;
    }
    try {
        const stack = await readDeployedStack({ stack: rest[0], projectDir, env: process.env, log: (line) => log(`backup: ${line}`) }, false);
        if (!stack.backups.enabled || !stack.backups.sidecar) {
            log(`backup: stack ${rest[0]} has backups off (backups.enabled is false)`);
            return 1;
        }
        if (statusOnly) {
            return await printStatus(stack.backups, log);
        }
        const code = await runNow(stack.backups);
        log(code === 0 ? "backup: every service backed up and verified" : `backup: FAILED (exit ${code}); see the lines above and \`npm run backup -- ${rest[0]} --status\``);
        return code === 0 ? 0 : 1;
    } catch (error) {
        if (error instanceof OpsError || error instanceof BackupStoreError) {
            log(`backup: FAILED: ${error.message}`);
            return 1;
        }
        throw error;
    }
}

if (require.main === module) {
    main(process.argv.slice(2), (line) => process.stdout.write(`${line}\n`)).then(
        (code) => process.exit(code),
        (error) => {
            process.stderr.write(`backup: FAILED: ${(error as Error).stack ?? error}\n`);
            process.exit(1);
        },
    );
}
