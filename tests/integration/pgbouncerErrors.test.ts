// The pool-error counter (render/monitoring.ts pgbouncerErrorsScript) as its container runs it:
// perl from PgBouncer's image (the zentoria-ci/pgbouncer stand-in), the log file on a directory
// it shares, Prometheus' text format on its port. Fed PgBouncer's own log lines: it counts the
// "pooler error" lines written while it runs, in total and by database, and nothing else; it
// keeps the file small without losing a line it has not read.
import * as fs from "fs";
import * as os from "os";
import * as path from "path";
import { MONITORING_LAYOUT, pgbouncerErrorsScript, pgbouncerErrorsSettings } from "../../render/monitoring";
import { loadPlan } from "../../config";
import { ciImage } from "./support/ciImages";
import { sampleValue } from "./support/exporters";
import { freePorts } from "./support/ports";
import { dockerSync } from "./support/processes";
import { devRawConfig } from "./support/plan";

// Lines as PgBouncer 1.24 writes them (src/proto.c send_pooler_error, logged at WARNING).
const line = (database: string, message: string) => `2026-12-03 18:57:33.739 UTC [1] WARNING C-0x5579d2c4c590: ${database}/n8n_app@10.0.0.5:43630 pooler error: ${message}\n`;
const noise = "2026-12-03 18:57:33.739 UTC [1] LOG C-0x5579d2c4c590: zentoria_main/zentoria_app@10.0.0.5:43630 login attempt: db=zentoria_main user=zentoria_app tls=no\n";
const TRUNCATE_ABOVE = 4096;

describe("the pool-error counter", () => {
    let dir: string;
    let logFile: string;
    let container: string;
    let port: number;

    const metrics = async () => (await fetch(`http://127.0.0.1:${port}/metrics`)).text();
    /** The counts once the counter has looked at the file again (it looks every second, and on every scrape). */
    const counts = async () => {
        const text = await metrics();
        return {
            total: sampleValue(text, "pgbouncer_pooler_errors_total"),
            readable: sampleValue(text, "pgbouncer_pooler_errors_log_readable"),
            byDatabase: Object.fromEntries(
                text
                    .split("\n")
                    .filter((entry) => entry.startsWith("pgbouncer_pooler_errors_by_database_total{"))
                    .map((entry) => [/database="([^"]*)"/.exec(entry)![1], Number(entry.split(" ")[1])]),
            ),
        };
    };

    beforeAll(async () => {
        dir = fs.mkdtempSync(path.join(os.tmpdir(), "zentoria-it-pgbouncer-errors-"));
        fs.mkdirSync(path.join(dir, "script"));
        fs.mkdirSync(path.join(dir, "log"));
        fs.writeFileSync(path.join(dir, "script", "pgbouncer-errors.pl"), pgbouncerErrorsScript());
        fs.chmodSync(dir, 0o755);
        fs.chmodSync(path.join(dir, "script"), 0o755);
        fs.chmodSync(path.join(dir, "log"), 0o777);
        logFile = path.join(dir, "log", "pgbouncer.log");
        // Before the counter starts: not counted.
        fs.writeFileSync(logFile, line("zentoria_main", "query_wait_timeout").repeat(2));
        fs.chmodSync(logFile, 0o666);
        [port] = await freePorts(1);
        const settings = pgbouncerErrorsSettings(loadPlan(devRawConfig({ monitoring: { enabled: true } })).plan);
        const command = [...settings.command];
        command[2] = String(port);
        command[3] = String(TRUNCATE_ABOVE);
        container = `zentoria-it-${process.pid}-pgbouncer-errors`;
        const result = dockerSync([
            "run",
            "-d",
            "--name",
            container,
            "--network",
            "host",
            "--read-only",
            "--volume",
            `${path.join(dir, "script")}:${MONITORING_LAYOUT.pgbouncerErrors.configDirectory}:ro`,
            "--volume",
            `${path.join(dir, "log")}:${MONITORING_LAYOUT.pgbouncerLog.directory}`,
            "--entrypoint",
            settings.entrypoints[0],
            ciImage("pgbouncer"),
            ...command,
        ]);
        expect(result).toEqual({ ok: true, output: expect.any(String) });
        const deadline = Date.now() + 60_000;
        for (;;) {
            try {
                await metrics();
                break;
            } catch (error) {
                if (Date.now() > deadline) {
                    throw new Error(`the counter does not answer: ${dockerSync(["logs", container]).output}`);
                }
                await new Promise((resolve) => setTimeout(resolve, 250));
            }
        }
    }, 120_000);

    afterAll(() => {
        if (container) {
            dockerSync(["rm", "-f", container]);
        }
        fs.rmSync(dir, { recursive: true, force: true });
    });

    test("it starts at zero: what was logged before it ran is not counted", async () => {
        expect(await counts()).toEqual({ total: 0, readable: 1, byDatabase: {} });
    });

    test("it counts pooler errors, by database, and nothing else PgBouncer logs", async () => {
        fs.appendFileSync(logFile, line("zentoria_main_n8n", "no more connections allowed (max_client_conn)") + noise + line("(nodb)", "password authentication failed") + noise);
        expect(await counts()).toEqual({ total: 2, readable: 1, byDatabase: { zentoria_main_n8n: 1, "(nodb)": 1 } });
    });

    test("a line PgBouncer is still writing is counted once it is complete", async () => {
        const whole = line("n8n", "query_wait_timeout");
        fs.appendFileSync(logFile, whole.slice(0, 60));
        expect((await counts()).total).toBe(2);
        fs.appendFileSync(logFile, whole.slice(60));
        expect((await counts()).byDatabase).toEqual({ zentoria_main_n8n: 1, "(nodb)": 1, n8n: 1 });
    });

    test("a database name a client made up becomes 'other', never a label value it chose", async () => {
        fs.appendFileSync(logFile, line('bad"}name', "no such database: bad") + line(`${"x".repeat(70)}`, "no such database"));
        const text = await metrics();
        expect(text).not.toContain('bad"');
        expect((await counts()).byDatabase.other).toBe(2);
    });

    test("it truncates the file once it has read past its limit, and counts on from there", async () => {
        const before = (await counts()).total!;
        fs.appendFileSync(logFile, noise.repeat(Math.ceil(TRUNCATE_ABOVE / noise.length) + 1) + line("zentoria_main", "server login has been failing"));
        expect((await counts()).total).toBe(before + 1);
        expect(fs.statSync(logFile).size).toBe(0);
        fs.appendFileSync(logFile, line("zentoria_main", "query_wait_timeout"));
        expect((await counts()).total).toBe(before + 2);
    });

    test("a log that is gone is reported, and one that comes back is read from its start", async () => {
        const before = (await counts()).total!;
        fs.rmSync(logFile);
        expect((await counts()).readable).toBe(0);
        fs.writeFileSync(logFile, line("zentoria_main", "query_wait_timeout"));
        fs.chmodSync(logFile, 0o666);
        expect(await counts()).toMatchObject({ total: before + 1, readable: 1 });
    });
});
