// Every file and output the program renders for a plan, wired the way components/*.ts wire
// the renderers (which verifier, hash or key goes where), with credentials the way
// components/credentials.ts makes them: the given ones, else 32 letters and digits.
import { createHash } from "crypto";
import { ConnectionBudget } from "../../config/budget";
import { StackPlan } from "../../config/plan";
import { budgetTables } from "../../render/budgetTables";
import { connectionStrings, Credentials, envFiles, networkEndpoints, publishedEndpoints } from "../../render/connections";
import { redisPasswordHash, scramSha256Verifier } from "../../render/hashing";
import { CONTAINER_LAYOUT, ServerLayout } from "../../render/layout";
import { pgbouncerUserlistEntries, renderPgbouncerIni, renderUserlist } from "../../render/pgbouncer";
import { hbaRules, renderPgHbaConf, renderPgIdentConf, renderPostgresqlConf } from "../../render/postgresql";
import { renderQdrantConfig } from "../../render/qdrant";
import { renderRedisAcl, renderRedisConf } from "../../render/redis";
import { databaseStatements, roleAndDatabaseStatements } from "../../render/sql";

/** Like RandomPassword { length: 32, special: false }, but the same for the same name. */
function generated(name: string): string {
    return createHash("sha256").update(name).digest("base64").replace(/[^A-Za-z0-9]/g, "").slice(0, 32).padEnd(32, "x");
}

export function planCredentials(plan: StackPlan): Credentials {
    const given = plan.providedCredentials;
    return {
        postgres: Object.fromEntries(plan.roles.map((role) => [role.name, given.postgres?.[role.name] ?? generated(`pg-${role.name}`)])),
        pgbouncerAdmin: given.pgbouncerAdmin ?? generated("pgbouncer-admin"),
        redis: Object.fromEntries(plan.redis.users.map((user) => [user.name, given.redis?.[user.name] ?? generated(`redis-${user.name}`)])),
        qdrantApiKey: given.qdrantApiKey ?? generated("qdrant-api-key"),
        qdrantReadOnlyApiKey: given.qdrantReadOnlyApiKey ?? generated("qdrant-read-only-api-key"),
    };
}

/** A network as Docker assigns one (the subnet and gateway pg_hba.conf names). */
export const EXAMPLE_NETWORK = { subnet: "172.30.0.0/16", gateway: "172.30.0.1" } as const;

/** One iteration keeps thousands of generated plans fast; the format is the same. */
const verifier = (password: string) => scramSha256Verifier(password, Buffer.alloc(16, 7), 1);

export function renderEverything(plan: StackPlan, budget: ConnectionBudget, layout: ServerLayout = CONTAINER_LAYOUT): Record<string, string> {
    const credentials = planCredentials(plan);
    const verifiers = Object.fromEntries(Object.entries(credentials.postgres).map(([role, password]) => [role, verifier(password)]));
    const hashes = Object.fromEntries(Object.entries(credentials.redis).map(([user, password]) => [user, redisPasswordHash(password)]));
    const files: Record<string, string> = {
        "postgresql.conf": renderPostgresqlConf(plan, layout),
        "pg_hba.conf": renderPgHbaConf(hbaRules(plan, EXAMPLE_NETWORK)),
        "pg_ident.conf": renderPgIdentConf(plan),
        "pgbouncer.ini": renderPgbouncerIni(plan, layout),
        "userlist.txt": renderUserlist(pgbouncerUserlistEntries(plan, verifier(credentials.pgbouncerAdmin), verifiers)),
        "redis.conf": renderRedisConf(plan.redis, layout),
        "users.acl": renderRedisAcl(plan.redis, hashes),
        "schema.sql": [
            ...roleAndDatabaseStatements(plan, verifiers),
            ...plan.databases.flatMap((database) => databaseStatements(plan, database.name)),
        ].join(";\n"),
        connectionStrings: JSON.stringify([connectionStrings(plan, credentials, networkEndpoints(plan)), connectionStrings(plan, credentials, publishedEndpoints(plan))]),
        budget: Object.values(budgetTables(budget)).join("\n"),
    };
    if (plan.qdrant.enabled) {
        files["production.yaml"] = renderQdrantConfig(plan.qdrant, layout, { apiKey: credentials.qdrantApiKey, readOnlyApiKey: credentials.qdrantReadOnlyApiKey });
    }
    for (const [name, text] of Object.entries(envFiles(plan, credentials, networkEndpoints(plan)))) {
        files[`env/${name}.env`] = text;
    }
    return files;
}
