// The README's configuration reference and deviation table cover every key the schema has.
import * as fs from "fs";
import * as path from "path";
import { ZodObject, ZodRawShape } from "zod";
import { DEVIATIONS } from "../../config/defaults";
import { credentialsSchema, monitoringSchema, thresholdsSchema, poolSchema, redisClientSchema, roleSchema, serviceSchema, databaseSchema, stackConfigSchema } from "../../config/schema";
import { REPO_ROOT } from "./support/config";

const readme = fs.readFileSync(path.join(REPO_ROOT, "README.md"), "utf8");

const keysOf = (schema: ZodObject<ZodRawShape>) => Object.keys(schema.shape);

test("every config key is in the configuration reference", () => {
    const documented = (key: string) => readme.includes(`\`${key}\``);
    const expected: string[] = [];
    for (const section of ["postgres", "pgbouncer", "redis", "qdrant", "timeouts", "containers", "tls", "backups"] as const) {
        for (const key of keysOf(stackConfigSchema.shape[section] as unknown as ZodObject<ZodRawShape>)) {
            if (!(section === "redis" && key === "clients") && !(section === "qdrant" && key === "operations")) {
                expected.push(`${section}.${key}`);
            }
        }
    }
    expected.push("prefix", "bindAddress", "allowPublicBind");
    // monitoring: every key, nested ones by their path.
    for (const [key, schema] of Object.entries(monitoringSchema.shape)) {
        const nested = schema instanceof ZodObject && key !== "thresholds" ? keysOf(schema as ZodObject<ZodRawShape>) : [];
        expected.push(...(nested.length > 0 ? nested.map((child) => `monitoring.${key}.${child}`) : key === "thresholds" ? [] : [`monitoring.${key}`]));
    }
    expected.push(...keysOf(thresholdsSchema).map((key) => `monitoring.thresholds.${key}`));
    expected.push(...keysOf(roleSchema).map((key) => `roles.<name>.${key}`));
    expected.push(...keysOf(databaseSchema).map((key) => `databases.<name>.${key}`));
    expected.push(...keysOf(serviceSchema).filter((key) => key !== "pools").map((key) => `services.<name>.${key}`));
    expected.push(...keysOf(poolSchema).map((key) => `services.<name>.pools.<database>.${key}`));
    expected.push(...keysOf(redisClientSchema).map((key) => `redis.clients.<name>.${key}`));
    expected.push(...keysOf(credentialsSchema).map((key) => `credentials.${key}${["postgres", "redis"].includes(key) ? (key === "postgres" ? ".<role>" : ".<user>") : ""}`));
    expect(expected.filter((key) => !documented(key))).toEqual([]);
    expect(expected.length).toBeGreaterThan(60);
});

test("every deviation from the spec is explained in the README", () => {
    for (const deviation of DEVIATIONS) {
        expect(readme).toContain(`| \`${deviation.key}\` |`);
    }
});
