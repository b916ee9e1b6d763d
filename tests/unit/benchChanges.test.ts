// bench/changes.ts: BENCHMARKS.md's "Changes under load" table from the e2e test's results file.
import { ChangesResults, renderChanges } from "../../bench/changes";

const load = (transactions: number, failures = 0, disconnects = 0) => ({ clients: 100, transactions, failures, disconnects, longestStallMs: 250 });

const results: ChangesResults = {
    coldUpSeconds: 40,
    noopUpIdleSeconds: 7,
    noopUpLoadedSeconds: 12,
    clients: 100,
    redisClients: 20,
    changes: [
        { change: "pool size", action: "reload", upSeconds: 13, postgres: load(900), redis: load(50) },
        { change: "work_mem", action: "reload", upSeconds: 14, postgres: load(800) },
        { change: "PgBouncer image", action: "replace", upSeconds: 30, postgres: load(500, 40, 100) },
    ],
};

test("each change against the cold deploy's third, and what it cost beyond a no-op up under the same load", () => {
    const text = renderChanges(results, "bench/results/x.json");
    const rows = text.split("\n").filter((line) => line.startsWith("| ") && !line.startsWith("| ---"));
    expect(rows[0]).toBe(
        "| change | applied by | `pulumi up` (s) | beyond a no-op up under the load (s) | of a cold deploy | longest stall (ms) | failed transactions | disconnects | Redis failures / disconnects | transactions during the up |",
    );
    expect(rows[1]).toBe("| pool size | reload | 13.0 | 1.0 | 33 % (met) | 250 | 0 | 0 | 0 / 0 | 900 |");
    expect(rows[2]).toBe("| work_mem | reload | 14.0 | 2.0 | 35 % (**missed**) | 250 | 0 | 0 | - | 800 |");
    // A replacement has no target: clients reconnect.
    expect(rows[3]).toBe("| PgBouncer image | replace | 30.0 | 18.0 | 75 % | 250 | 40 | 100 | - | 500 |");
    expect(text).toContain("took 7.0 s before the load started (18 % of the cold deploy)\nand 12.0 s under it (30 %)");
});

test("results from before the no-op references: the table without that column", () => {
    const { noopUpIdleSeconds: _idle, noopUpLoadedSeconds: _loaded, ...older } = results;
    const text = renderChanges(older, "bench/results/old.json");
    expect(text).not.toContain("no-op");
    expect(text).toContain("| pool size | reload | 13.0 | 33 % (met) |");
});
