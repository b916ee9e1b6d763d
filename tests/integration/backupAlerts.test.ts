// The backups' alert rules (render/backupAlerts.ts) through Prometheus' own promtool, from the
// zentoria-ci/prometheus stand-in image: the file loads, and each alert fires on the series it
// is for and stays quiet otherwise.
import { execFileSync } from "child_process";
import * as fs from "fs";
import * as os from "os";
import * as path from "path";
import * as YAML from "yaml";
import { backupAlertRules, renderBackupAlertRules } from "../../render/backupAlerts";
import { devPlan } from "./support/plan";

jest.setTimeout(5 * 60 * 1000);

const REPO_ROOT = path.resolve(__dirname, "../..");

function prometheusImage(): string {
    const tags = execFileSync("bash", [path.join(REPO_ROOT, ".ci/images/build.sh"), "--print-tags", "prometheus"], { encoding: "utf8" }).trim().split("\n");
    const image = tags.find((tag) => tag.startsWith("zentoria-ci/prometheus:"));
    if (!image) {
        throw new Error(`no zentoria-ci/prometheus image among ${tags.join(", ")}: run \`bash .ci/images/build.sh\``);
    }
    return image;
}

function promtool(dir: string, args: string[]): string {
    return execFileSync("docker", ["run", "--rm", "--network", "none", "-v", `${dir}:/rules:ro`, "--entrypoint", "promtool", prometheusImage(), ...args], { encoding: "utf8" });
}

test("the backup alert rules load, and fire on a failed run, an overdue backup and a failing archive", () => {
    const dir = fs.mkdtempSync(path.join(os.tmpdir(), "zentoria-alerts-"));
    // The image runs promtool as its own user: the files must be readable by others.
    fs.chmodSync(dir, 0o755);
    try {
        const plan = devPlan({ postgres: 5432, pgbouncer: 6432, redis: 6379 }).plan;
        fs.writeFileSync(path.join(dir, "backups.yml"), renderBackupAlertRules(plan));
        // promtool compares annotations too: each alert's, with its service filled in.
        const summary = (alert: string, service = "") =>
            backupAlertRules(plan).rules.find((rule) => rule.alert === alert)!.annotations.summary.replace("{{ $labels.service }}", service);
        expect(promtool(dir, ["check", "rules", "/rules/backups.yml"])).toMatch(/SUCCESS: 3 rules found/);
        const tests = {
            rule_files: ["backups.yml"],
            evaluation_interval: "1m",
            tests: [
                {
                    interval: "1m",
                    input_series: [
                        // postgres fails at 2m and succeeds again at 4m; redis never fails.
                        { series: 'zentoria_backup_last_run_success{service="postgres"}', values: "1 1 0 0 1 1" },
                        { series: 'zentoria_backup_last_run_success{service="redis"}', values: "1 1 1 1 1 1" },
                        // redis' last success at t=0, never again: overdue once time() is more than two
                        // intervals (48 h = 2880 m) past it, firing after 10 minutes of that.
                        { series: 'zentoria_backup_last_success_timestamp_seconds{service="redis"}', values: "0+0x3000" },
                        // postgres succeeds every minute: never overdue.
                        { series: 'zentoria_backup_last_success_timestamp_seconds{service="postgres"}', values: "0+60x3000" },
                        // One failed archive attempt at 3m, none after: the alert clears once it leaves the 15m window.
                        { series: "pg_stat_archiver_failed_count", values: "0 0 0 1+0x30" },
                    ],
                    alert_rule_test: [
                        { eval_time: "1m", alertname: "ZentoriaBackupFailed", exp_alerts: [] },
                        { eval_time: "3m", alertname: "ZentoriaBackupFailed", exp_alerts: [{ exp_labels: { severity: "critical", service: "postgres" }, exp_annotations: { summary: summary("ZentoriaBackupFailed", "postgres") } }] },
                        { eval_time: "5m", alertname: "ZentoriaBackupFailed", exp_alerts: [] },
                        { eval_time: "2m", alertname: "ZentoriaWalArchiveFailing", exp_alerts: [] },
                        { eval_time: "4m", alertname: "ZentoriaWalArchiveFailing", exp_alerts: [{ exp_labels: { severity: "warning" }, exp_annotations: { summary: summary("ZentoriaWalArchiveFailing") } }] },
                        { eval_time: "25m", alertname: "ZentoriaWalArchiveFailing", exp_alerts: [] },
                        { eval_time: "2875m", alertname: "ZentoriaBackupOverdue", exp_alerts: [] },
                        // Overdue since 2881m but not yet for 10 minutes: pending, not firing.
                        { eval_time: "2885m", alertname: "ZentoriaBackupOverdue", exp_alerts: [] },
                        { eval_time: "2895m", alertname: "ZentoriaBackupOverdue", exp_alerts: [{ exp_labels: { severity: "critical", service: "redis" }, exp_annotations: { summary: summary("ZentoriaBackupOverdue", "redis") } }] },
                    ],
                },
            ],
        };
        fs.writeFileSync(path.join(dir, "tests.yml"), YAML.stringify(tests));
        expect(promtool(dir, ["test", "rules", "/rules/tests.yml"])).toMatch(/SUCCESS/);
    } finally {
        fs.rmSync(dir, { recursive: true, force: true });
    }
});
