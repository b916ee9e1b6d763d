// What every phase shares: options, servers, the observer, the pool targets and a scratch directory.
import * as fs from "fs";
import * as path from "path";
import type { BenchOptions } from "./options";
import type { Observer } from "./observe";
import type { Workload } from "./results";
import type { BenchServers } from "./servers";
import type { PoolTarget } from "./targets";

export interface Context {
    options: BenchOptions;
    servers: BenchServers;
    observer: Observer;
    targets: PoolTarget[];
    /** pgbench logs and scripts, removed at the end. */
    workDir: string;
    /** Databases with pgbench tables, and the workload each pool's share runs. */
    initialisedDatabases: string[];
    workloadByAlias: Record<string, Workload>;
    monitoringScript: string;
    log(line: string): void;
}

export function runDir(context: Context, id: string): string {
    const dir = path.join(context.workDir, id);
    fs.mkdirSync(dir, { recursive: true });
    return dir;
}

export function removeDir(context: Context, dir: string): void {
    if (!context.options.keep) {
        fs.rmSync(dir, { recursive: true, force: true });
    }
}

export const sleep = (ms: number) => new Promise((resolve) => setTimeout(resolve, ms));
