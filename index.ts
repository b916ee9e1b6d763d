// Wiring and exports only: config -> plan -> components -> outputs.
import * as pulumi from "@pulumi/pulumi";
import { formatProblem } from "./config";
import { planFromStack } from "./config/pulumi";
import { DataTier } from "./components/dataTier";

// Stops with one line per problem, before any resource is registered.
const { plan, budget, warnings } = planFromStack();
for (const warning of warnings) {
    pulumi.log.warn(formatProblem(warning));
}

// The live-change resources drive the same engine as the docker provider.
const dockerHost = new pulumi.Config("docker").get("host");
const tier = new DataTier("zentoria", { plan, budget, dockerHost });

export const connectionStrings = tier.connectionStrings;
export const hostConnectionStrings = tier.hostConnectionStrings;
export const env = tier.envFiles;
export const summary = tier.summary;
/** The CA that signed the servers' certificates (tls.enabled), for clients' sslrootcert / CA file. Not secret. */
export const caCertificate = tier.tls?.caCertificate;
export const backups = tier.backups;
export const connectionBudget = { tables: tier.budgetTables, warnings: warnings.map(formatProblem) };
// Only with monitoring on: where Prometheus is, and every alert rule with its threshold (no credential).
export const monitoring = tier.monitoring
    ? {
          prometheusUrl: tier.monitoring.prometheusUrl,
          ...(tier.monitoring.alertmanagerUrl ? { alertmanagerUrl: tier.monitoring.alertmanagerUrl } : {}),
          rules: tier.monitoring.rules,
      }
    : undefined;
