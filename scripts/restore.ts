// npm run restore -- <stack> [--time <timestamp> | --latest] [--services postgres,redis]
//                            [--into <stack>] [--dry-run] [--keep-previous] [--recovery-timeout <s>]
//                            [--project-dir <dir>]
//
// Restores PostgreSQL to a point in time (or the latest), and Redis to its newest RDB copy before
// it with --services postgres,redis, from <stack>'s backup store, into <stack> itself or (--into)
// another deployed stack for inspection. Reads the stacks' outputs with the Pulumi CLI (the state
// backend and passphrase `npm run deploy` uses) and drives Docker with its CLI (DOCKER_HOST and
// remote engines work). --dry-run says what it would do and changes nothing. README: "Backups
// and restore". Exit status: 0 restored (or planned), 1 failed, 2 wrong arguments.
import * as path from "path";
import { BackupStoreError } from "../ops/backups";
import { restore, RESTORE_SERVICES, RestoreError, RestoreService } from "../ops/restore";
import { OpsError } from "../ops/errors";
import { readDeployedStack, recreateContainer, REPO_ROOT, StackAccess } from "../ops/stack";
import { RenderError } from "../render/quote";

export interface RestoreArguments {
    stack: string;
    into?: string;
    targetTime?: string;
    services: RestoreService[];
    dryRun: boolean;
    keepPrevious: boolean;
    recoveryTimeoutSeconds: number;
    projectDir: string;
}

export const USAGE =
    "usage: npm run restore -- <stack> (--time <ISO time with zone, e.g. 2026-12-03T18:05:00Z> | --latest) " +
    "[--services postgres[,redis]] [--into <stack>] [--dry-run] [--keep-previous] [--recovery-timeout <seconds>] [--project-dir <dir>]";

/** The command line, or a one-line problem. */
export function parseArguments(argv: readonly string[]): RestoreArguments | { problem: string } {
    const parsed: Partial<RestoreArguments> & { latest?: boolean } = { services: ["postgres"], dryRun: false, keepPrevious: false, recoveryTimeoutSeconds: 3600, projectDir: REPO_ROOT };
    const args = [...argv];
    while (args.length > 0) {
        const arg = args.shift()!;
        const value = () => {
            const next = args.shift();
            if (next === undefined || next.startsWith("--")) {
                throw new Error(`${arg} needs a value`);
            }
            return next;
        };
        try {
            switch (arg) {
                case "--time":
                    parsed.targetTime = value();
                    break;
                case "--latest":
                    parsed.latest = true;
                    break;
                case "--into":
                    parsed.into = value();
                    break;
                case "--services": {
                    const services = value().split(",");
                    const unknown = services.filter((service) => !RESTORE_SERVICES.includes(service as RestoreService));
                    if (unknown.length > 0) {
                        return { problem: `--services: ${unknown.join(", ")} cannot be restored by this command (postgres, redis; Qdrant: see README "Backups and restore")` };
                    }
                    parsed.services = [...new Set(services)] as RestoreService[];
                    break;
                }
                case "--dry-run":
                    parsed.dryRun = true;
                    break;
                case "--keep-previous":
                    parsed.keepPrevious = true;
                    break;
                case "--recovery-timeout": {
                    const seconds = Number(value());
                    if (!Number.isInteger(seconds) || seconds <= 0) {
                        return { problem: "--recovery-timeout must be a positive number of seconds" };
                    }
                    parsed.recoveryTimeoutSeconds = seconds;
                    break;
                }
                case "--project-dir":
                    parsed.projectDir = path.resolve(value());
                    break;
                default:
                    if (arg.startsWith("-") || parsed.stack !== undefined) {
                        return { problem: `unexpected argument ${JSON.stringify(arg)}` };
                    }
                    parsed.stack = arg;
            }
        } catch (error) {
            return { problem: (error as Error).message };
        }
    }
    if (!parsed.stack) {
        return { problem: "which stack? (the first argument)" };
    }
    if ((parsed.targetTime === undefined) === !parsed.latest) {
        return { problem: "give exactly one of --time <timestamp> and --latest" };
    }
    if (parsed.targetTime !== undefined && (!/(Z|[+-]\d{2}(:?\d{2})?)$/.test(parsed.targetTime) || Number.isNaN(Date.parse(parsed.targetTime)))) {
        return { problem: `--time ${JSON.stringify(parsed.targetTime)}: an ISO 8601 time with a zone, e.g. 2026-12-03T18:05:00Z` };
    }
    if (parsed.into === parsed.stack) {
        return { problem: "--into names the stack itself; leave it out to restore in place" };
    }
    const { latest: _latest, ...result } = parsed;
    return result as RestoreArguments;
}

async function main(argv: readonly string[], env: NodeJS.ProcessEnv, log: (line: string) => void): Promise<number> {
    const args = parseArguments(argv);
    if ("problem" in args) {
        log(`restore: ${args.problem}\n${USAGE}`);
        return 2;
    }
    const access = (stack: string): StackAccess => ({ stack, projectDir: args.projectDir, env, log: (line) => log(`restore: ${line}`) });
    try {
        // PgBouncer's console password (PAUSE/RESUME) is a secret output: read only for a real run.
        const source = await readDeployedStack(access(args.stack), !args.dryRun && !args.into);
        const target = args.into ? await readDeployedStack(access(args.into), !args.dryRun) : source;
        const started = Date.now();
        const report = await restore({
            source,
            target,
            targetTime: args.targetTime,
            services: args.services,
            dryRun: args.dryRun,
            keepPrevious: args.keepPrevious,
            recoveryTimeoutMs: args.recoveryTimeoutSeconds * 1000,
            recreateContainer: (container) => recreateContainer(access(target.name), container),
            log,
        });
        if (!args.dryRun) {
            log(`restore ${report.plan.restoreId}: done in ${((Date.now() - started) / 1000).toFixed(1)} s`);
        }
        return 0;
    } catch (error) {
        if (error instanceof RestoreError || error instanceof OpsError || error instanceof BackupStoreError || error instanceof RenderError) {
            log(`restore: FAILED: ${error.message}`);
            return 1;
        }
        throw error;
    }
}

if (require.main === module) {
    main(process.argv.slice(2), process.env, (line) => process.stdout.write(`${line}\n`)).then(
        (code) => process.exit(code),
        (error) => {
            process.stderr.write(`restore: FAILED: ${(error as Error).stack ?? error}\n`);
            process.exit(1);
        },
    );
}
