// redis.conf from the plan. ACL users live here (not in an aclfile: Redis refuses both), with
// SHA-256 password hashes only.
import { RedisPlan, RedisUserKind } from "../config/plan";
import { renderedHeader } from "./header";
import { ServerLayout } from "./layout";
import { redisArg, redisWord, RenderError } from "./quote";

/**
 * What each kind of user may run. ACLs cannot confine a user to a logical database (SELECT
 * is all or nothing, redis#8099): the databases of section 3.2 keep data apart by habit, the
 * users keep services from administering the server.
 */
export const REDIS_ACL_RULES: Readonly<Record<RedisUserKind, readonly string[]>> = {
    admin: ["~*", "&*", "+@all"],
    // Sections 5.3 (INFO, CLIENT LIST) and the latency/slowlog views; no data access.
    monitor: ["resetchannels", "-@all", "+ping", "+info", "+client|list", "+slowlog|get", "+latency|latest", "+config|get", "+dbsize"],
    healthcheck: ["resetchannels", "-@all", "+ping"],
    // Everything an application needs, nothing that administers the server; INFO stays for
    // clients' ready checks (ioredis enableReadyCheck, section 3.1).
    service: ["~*", "&*", "+@all", "-@dangerous", "+info"],
};

export function renderRedisConf(redis: RedisPlan, layout: ServerLayout, passwordHashes: Readonly<Record<string, string>>): string {
    const directives: Array<[string, ...(string | number)[]]> = [
        ["bind", layout.listenAddress],
        ["port", redis.port],
        ["protected-mode", "yes"],
        ["dir", layout.redis.dataDirectory],
        ["databases", redis.databases],
        ["maxclients", redis.maxclients],
        ["tcp-keepalive", redis.tcpKeepaliveSeconds],
        ["appendonly", redis.appendonly ? "yes" : "no"],
        ["appendfsync", "everysec"],
        ["maxmemory", redis.maxmemory],
        ["maxmemory-policy", redis.maxmemoryPolicy],
        // No command runs without a login: the default user is switched off.
        ["user", "default", "reset"],
    ];
    for (const user of redis.users) {
        const hash = passwordHashes[user.name];
        if (!hash || !/^#[0-9a-f]{64}$/.test(hash)) {
            throw new RenderError("redis.conf", `user ${user.name}`, "needs a SHA-256 password hash");
        }
        // A second `user default` line would switch the built-in user back on.
        if (redisWord(user.name, "user name") === "default") {
            throw new RenderError("redis.conf", "user default", "is Redis' built-in user, which stays off");
        }
        directives.push(["user", user.name, "reset", "on", hash, ...REDIS_ACL_RULES[user.kind]]);
    }
    const lines = directives.map(([name, ...args]) => `${name} ${args.map(redisArg).join(" ")}\n`);
    return renderedHeader("#", "redis.conf") + lines.join("");
}
