// Issue 11, names: no container name or network alias may answer for two containers on the
// stack's network (Docker's DNS answers both and shuffles them), for any prefix; the plan
// refuses it naming the key, and `npm run plan` says so.
import { spawnSync } from "child_process";
import * as fs from "fs";
import * as os from "os";
import * as path from "path";
import fc from "fast-check";
import { tryPlan } from "../../config";
import { containerNames } from "../../config/bounds";
import { StackPlan } from "../../config/plan";
import { rawConfig, REPO_ROOT } from "./support/config";

const SERVERS = ["postgres", "pgbouncer", "redis", "qdrant"] as const;
type Server = (typeof SERVERS)[number];

/** Every DNS name on the stack network (container names and aliases) and the containers it answers for. */
function namesOnNetwork(plan: StackPlan): Map<string, Set<string>> {
    const names = new Map<string, Set<string>>();
    const add = (name: string, container: string) => names.set(name, (names.get(name) ?? new Set<string>()).add(container));
    for (const server of SERVERS) {
        if (server === "qdrant" && !plan.qdrant.enabled) {
            continue;
        }
        const { containerName, hostname } = plan[server];
        add(containerName, containerName);
        add(hostname, containerName);
    }
    return names;
}

function errorsAt(values: Record<string, unknown>): Array<[string, string]> {
    return tryPlan(rawConfig(values))
        .problems.filter((problem) => problem.severity === "error")
        .map((problem) => [problem.key, problem.message]);
}

describe("a host name that is another server's container name", () => {
    const pairs = SERVERS.flatMap((server) => SERVERS.filter((other) => other !== server).map((other) => [server, other] as const));

    test.each(pairs)("%s.hostname = the %s container's name: refused, naming the key (default and another prefix)", (server: Server, other: Server) => {
        for (const prefix of ["zentoria", "acme-prod"]) {
            const container = containerNames(prefix)[other];
            const errors = errorsAt({ prefix, [server]: { hostname: container } });
            expect(errors).toContainEqual([`${server}.hostname`, `${container} is the container name of ${other}; Docker's DNS would answer it with both`]);
        }
    });

    test("two servers with one host name: refused, naming the second key", () => {
        expect(errorsAt({ redis: { hostname: "zentoria-db" } })).toContainEqual(["redis.hostname", "host name zentoria-db is already used by pgbouncer.hostname"]);
    });

    test("a server's host name may be its own container name", () => {
        expect(errorsAt({ pgbouncer: { hostname: "zentoria-pgbouncer" } })).toEqual([]);
    });

    test("every accepted plan: each name on the network answers for exactly one container (drawn host names and prefixes)", () => {
        const label = fc.constantFrom("zentoria-db", "zentoria-postgres", "zentoria-pgbouncer", "zentoria-redis", "zentoria-embeddings", "db", "cache", "x-postgres", "x-redis");
        fc.assert(
            fc.property(fc.constantFrom("zentoria", "x"), fc.tuple(label, label, label, label), fc.boolean(), (prefix, hostnames, qdrant) => {
                const values: Record<string, unknown> = { prefix, qdrant: { enabled: qdrant, hostname: hostnames[3] } };
                SERVERS.slice(0, 3).forEach((server, index) => (values[server] = { hostname: hostnames[index] }));
                const attempt = tryPlan(rawConfig(values));
                if (!attempt.plan || attempt.problems.some((problem) => problem.severity === "error")) {
                    return;
                }
                for (const [name, containers] of namesOnNetwork(attempt.plan)) {
                    expect([name, [...containers]]).toEqual([name, [expect.any(String)]]);
                }
            }),
            { numRuns: 300 },
        );
    }, 120_000);
});

test("npm run plan: the clash fails with one line naming the key, exit 1", () => {
    const dir = fs.mkdtempSync(path.join(os.tmpdir(), "zentoria-names-"));
    const file = path.join(dir, "Pulumi.names.yaml");
    fs.writeFileSync(file, ["config:", "  zentoria:pgbouncer:", "    hostname: zentoria-postgres", ""].join("\n"));
    const result = spawnSync(process.execPath, [require.resolve("ts-node/dist/bin.js"), "--transpile-only", "scripts/plan.ts", file], { cwd: REPO_ROOT, encoding: "utf8" });
    expect(result.status).toBe(1);
    expect(result.stderr).toContain("error: zentoria:pgbouncer.hostname: zentoria-postgres is the container name of postgres; Docker's DNS would answer it with both");
}, 60_000);
