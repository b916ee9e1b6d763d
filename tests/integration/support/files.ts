// The files the program hands to each server, rendered by the program's own renderers and
// wired the way components/*.ts wire them (which verifier goes where).
import * as fs from "fs";
import * as path from "path";
import { StackPlan } from "../../../config/plan";
import { ServerLayout } from "../../../render/layout";
import { pgbouncerUserlistEntries, renderPgbouncerIni, renderUserlist } from "../../../render/pgbouncer";
import { hbaRules, renderPgHbaConf, renderPgIdentConf, renderPostgresqlConf } from "../../../render/postgresql";
import { renderRedisAcl, renderRedisConf } from "../../../render/redis";
import { Secrets, TEST_NETWORK } from "./plan";

export type ServerName = "postgres" | "pgbouncer" | "redis";

export interface ServerFile {
    server: ServerName;
    path: string;
    content: string;
    /**
     * The Redis healthcheck's password file: the component uploads it next to redis.conf for
     * the healthcheck command (redis-cli). redis-server never reads it.
     */
    plaintextByDesign?: boolean;
}

export function postgresFiles(plan: StackPlan, layout: ServerLayout, secrets: Secrets): ServerFile[] {
    return [
        { server: "postgres", path: layout.postgres.configFile, content: renderPostgresqlConf(plan, layout) },
        { server: "postgres", path: layout.postgres.hbaFile, content: renderPgHbaConf(hbaRules(plan, TEST_NETWORK)) },
        { server: "postgres", path: layout.postgres.identFile, content: renderPgIdentConf(plan) },
        // components/dataTier.ts: the superuser's verifier, read by initdb (POSTGRES_PASSWORD_FILE).
        { server: "postgres", path: layout.postgres.superuserVerifierFile, content: secrets.verifiers[plan.postgres.superuser] },
    ];
}

export function pgbouncerFiles(plan: StackPlan, layout: ServerLayout, secrets: Secrets): ServerFile[] {
    const userlist = renderUserlist(pgbouncerUserlistEntries(plan, secrets.adminVerifier, secrets.verifiers));
    return [
        { server: "pgbouncer", path: layout.pgbouncer.configFile, content: renderPgbouncerIni(plan, layout) },
        { server: "pgbouncer", path: layout.pgbouncer.userlistFile, content: userlist },
    ];
}

export function redisFiles(plan: StackPlan, layout: ServerLayout, secrets: Secrets): ServerFile[] {
    return [
        { server: "redis", path: layout.redis.configFile, content: renderRedisConf(plan.redis, layout) },
        { server: "redis", path: layout.redis.aclFile, content: renderRedisAcl(plan.redis, secrets.redisHashes) },
        {
            server: "redis",
            path: layout.redis.healthcheckPasswordFile,
            content: secrets.credentials.redis.healthcheck,
            plaintextByDesign: true,
        },
    ];
}

/** Writes the files readable by the servers' user only. */
export function writeServerFiles(files: readonly ServerFile[], owner: { uid: number; gid: number } | undefined): void {
    for (const file of files) {
        fs.mkdirSync(path.dirname(file.path), { recursive: true });
        fs.writeFileSync(file.path, file.content, { mode: 0o600 });
        if (owner) {
            fs.chownSync(file.path, owner.uid, owner.gid);
        }
    }
}
