// BENCHMARKS.md's "Changes under load" table, generated from the results file the end-to-end
// test writes (tests/e2e/sections/liveChanges.ts, ZENTORIA_CHANGES_RESULTS):
//   npx ts-node --transpile-only bench/changes.ts bench/results/changes-under-load-<date>.json
// rewrites the part of BENCHMARKS.md between the CHANGES markers.
import * as fs from "fs";
import * as path from "path";

const REPO_ROOT = path.resolve(__dirname, "..");
const BENCHMARKS_MD = path.join(REPO_ROOT, "BENCHMARKS.md");
const BEGIN = "<!-- CHANGES: bench/changes.ts from the results file named below; do not edit by hand -->";
const END = "<!-- END CHANGES -->";

interface LoadFigures {
    clients: number;
    transactions: number;
    failures: number;
    disconnects: number;
    longestStallMs: number;
}

export interface ChangesResults {
    coldUpSeconds: number;
    /** A `pulumi up` that changes nothing, before the load starts and under it (absent in older results). */
    noopUpIdleSeconds?: number;
    noopUpLoadedSeconds?: number;
    clients: number;
    redisClients: number;
    changes: Array<{ change: string; action: string; upSeconds: number; postgres: LoadFigures; redis?: LoadFigures }>;
}

/** The target: a change the servers apply live takes at most a third of a cold deploy. */
export const TARGET_SHARE_OF_COLD = 1 / 3;

const seconds = (value: number) => value.toFixed(1);

export function renderChanges(results: ChangesResults, source: string): string {
    const rows = results.changes.map((entry) => {
        const live = entry.action !== "replace";
        const share = entry.upSeconds / results.coldUpSeconds;
        const redis = entry.redis ? `${entry.redis.failures} / ${entry.redis.disconnects}` : "-";
        const beyondNoop = results.noopUpLoadedSeconds === undefined ? [] : [seconds(entry.upSeconds - results.noopUpLoadedSeconds)];
        return [
            entry.change,
            entry.action,
            seconds(entry.upSeconds),
            ...beyondNoop,
            `${Math.round(share * 100)} %${live ? (share <= TARGET_SHARE_OF_COLD ? " (met)" : " (**missed**)") : ""}`,
            String(entry.postgres.longestStallMs),
            String(entry.postgres.failures),
            String(entry.postgres.disconnects),
            redis,
            String(entry.postgres.transactions),
        ];
    });
    const beyondNoop = results.noopUpLoadedSeconds === undefined ? [] : ["beyond a no-op up under the load (s)"];
    const header = ["change", "applied by", "`pulumi up` (s)", ...beyondNoop, "of a cold deploy", "longest stall (ms)", "failed transactions", "disconnects", "Redis failures / disconnects", "transactions during the up"];
    const table = [header, header.map(() => "---"), ...rows].map((row) => `| ${row.join(" | ")} |`).join("\n");
    return [
        `Results file: \`${source}\`. ${results.clients} clients through PgBouncer (TPC-B-like transactions, each client counting`,
        `its failures and disconnects), ${results.redisClients} Redis clients; a cold deploy of the same stack took ${seconds(results.coldUpSeconds)} s.`,
        "Target: a change the servers apply without replacing a container takes at most a third of a cold deploy.",
        ...(results.noopUpIdleSeconds !== undefined && results.noopUpLoadedSeconds !== undefined
            ? [
                  `A \`pulumi up\` that changes nothing took ${seconds(results.noopUpIdleSeconds)} s before the load started (${Math.round((100 * results.noopUpIdleSeconds) / results.coldUpSeconds)} % of the cold deploy)`,
                  `and ${seconds(results.noopUpLoadedSeconds)} s under it (${Math.round((100 * results.noopUpLoadedSeconds) / results.coldUpSeconds)} %): the column "beyond a no-op up" is what the change itself cost.`,
              ]
            : []),
        "",
        table,
    ].join("\n");
}

export function updateChangesSection(resultsFile: string, file = BENCHMARKS_MD): void {
    const results = JSON.parse(fs.readFileSync(resultsFile, "utf8")) as ChangesResults;
    const source = path.relative(REPO_ROOT, path.resolve(resultsFile));
    const current = fs.readFileSync(file, "utf8");
    const begin = current.indexOf(BEGIN);
    const end = current.indexOf(END);
    if (begin < 0 || end < begin) {
        throw new Error(`${file} has no changes section (the markers ${BEGIN} and ${END})`);
    }
    fs.writeFileSync(file, `${current.slice(0, begin)}${BEGIN}\n\n${renderChanges(results, source)}\n\n${END}${current.slice(end + END.length)}`);
}

if (require.main === module) {
    const file = process.argv[2];
    if (!file) {
        process.stderr.write("usage: npx ts-node --transpile-only bench/changes.ts <changes-under-load results file>\n");
        process.exit(2);
    }
    updateChangesSection(file);
}
