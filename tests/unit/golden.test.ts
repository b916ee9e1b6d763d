// Golden files: every file the dev stack hands to a server, and every .env it exports, exactly.
// Credentials come from the mocks (deterministic fake values). UPDATE_GOLDEN=1 rewrites them.
import * as fs from "fs";
import * as path from "path";
import { configFiles, outputValue, recorded } from "./support/mocks";
import { REPO_ROOT } from "./support/config";
import { runProgram, stackConfigValues } from "./support/program";

const GOLDEN_DIR = path.join(REPO_ROOT, "tests/golden/dev");

function checkGolden(file: string, actual: string): void {
    const goldenPath = path.join(GOLDEN_DIR, file);
    if (process.env.UPDATE_GOLDEN === "1") {
        fs.mkdirSync(path.dirname(goldenPath), { recursive: true });
        fs.writeFileSync(goldenPath, actual);
    }
    expect(actual).toBe(fs.readFileSync(goldenPath, "utf8"));
}

describe("dev stack: rendered files", () => {
    let outputs: Record<string, any>;
    let snapshot: typeof recorded;

    beforeAll(async () => {
        jest.spyOn(console, "warn").mockImplementation(() => undefined);
        outputs = await runProgram(stackConfigValues("dev"));
        snapshot = [...recorded];
    }, 60_000);

    afterEach(() => {
        recorded.splice(0, recorded.length, ...snapshot);
    });

    test.each([
        ["zentoria-postgres-config", "postgresql.conf", "postgresql.conf"],
        ["zentoria-postgres-config", "pg_hba.conf", "pg_hba.conf"],
        ["zentoria-postgres-config", "pg_ident.conf", "pg_ident.conf"],
        ["zentoria-postgres-config", "superuser-verifier", "superuser-verifier"],
        ["zentoria-pgbouncer-config", "pgbouncer.ini", "pgbouncer.ini"],
        ["zentoria-pgbouncer-config", "userlist.txt", "userlist.txt"],
        ["zentoria-redis-config", "redis.conf", "redis.conf"],
        ["zentoria-redis-config", "users.acl", "users.acl"],
        ["zentoria-qdrant-config", "config.yaml", "qdrant-config.yaml"],
        ["zentoria-backup-store-files", "backup.sh", "backup/backup.sh"],
        ["zentoria-backup-store-files", "scheduler.sh", "backup/scheduler.sh"],
        ["zentoria-backup-store-files", "schedule", "backup/schedule"],
        ["zentoria-backup-store-files", "pgpass", "backup/pgpass"],
    ])("%s %s", (serverConfig, file, golden) => {
        checkGolden(golden, configFiles(serverConfig)[file]);
    });

    test("each service's .env and the operators'", async () => {
        const env = (await outputValue(outputs.env as any)) as Record<string, string>;
        expect(Object.keys(env).sort()).toEqual(["ai_orchestrator", "backend", "monitoring", "n8n", "operators"]);
        for (const [name, text] of Object.entries(env)) {
            checkGolden(`env/${name}.env`, text as string);
        }
    });

    test("the host-side strings of operators and n8n (hostConnectionStrings.operators, .n8n)", async () => {
        const strings = (await outputValue(outputs.hostConnectionStrings as any)) as Record<string, unknown>;
        checkGolden("host-operators.json", `${JSON.stringify({ operators: strings.operators, n8n: strings.n8n }, null, 2)}\n`);
    });

    test("the budget tables", () => {
        const tables = outputs.connectionBudget.tables as Record<string, string>;
        checkGolden("budget.txt", Object.entries(tables).map(([name, table]) => `## ${name}\n${table}`).join("\n"));
    });
});
