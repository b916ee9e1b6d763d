// The last look at a stack, kept between runs of `npm run status` so that counters (PgBouncer's
// pool errors, Redis' rejected connections) are reported "since the last look", as cron would
// want. Nothing secret: times and counters. Kept in $ZENTORIA_STATUS_DIR, by default
// ~/.zentoria/status, one file per stack and state backend.
import { createHash } from "crypto";
import * as fs from "fs";
import * as os from "os";
import * as path from "path";

export interface LastLook {
    /** Seconds since the epoch. */
    at: number;
    redis?: { runId: string; rejectedConnections: number };
}

export function lastLookFile(stack: string, backend: string, env: NodeJS.ProcessEnv): string {
    const dir = env.ZENTORIA_STATUS_DIR || path.join(env.HOME || os.homedir(), ".zentoria", "status");
    // Stacks of one name on different backends are different stacks.
    const backendHash = createHash("sha256").update(backend).digest("hex").slice(0, 12);
    return path.join(dir, `${stack.replace(/[^A-Za-z0-9_.-]/g, "_")}-${backendHash}.json`);
}

export function readLastLook(file: string): LastLook | undefined {
    try {
        const look = JSON.parse(fs.readFileSync(file, "utf8"));
        return typeof look?.at === "number" ? (look as LastLook) : undefined;
    } catch {
        return undefined;
    }
}

/** Best effort: a look that cannot be kept only makes the next one count from its own sample. */
export function writeLastLook(file: string, look: LastLook): void {
    try {
        fs.mkdirSync(path.dirname(file), { recursive: true, mode: 0o700 });
        fs.writeFileSync(`${file}.tmp`, JSON.stringify(look));
        fs.renameSync(`${file}.tmp`, file);
    } catch {
        // not kept
    }
}
