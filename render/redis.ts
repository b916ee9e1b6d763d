// redis.conf and users.acl from the plan. The ACL users live in an aclfile (not in `user`
// lines of redis.conf: Redis refuses both), so that ACL LOAD applies a change to a running
// server; passwords only as SHA-256 hashes.
import { RedisClientPlan, RedisPlan, RedisUserPlan } from "../config/plan";
import { renderedHeader } from "./header";
import { ServerLayout } from "./layout";
import { redisArg, redisWord, RenderError } from "./quote";
import { TlsFiles } from "./tls";

export type RedisSettingValue = string | number;

/**
 * Directives Redis refuses to change at run time ("can't set immutable config"): a change
 * restarts Redis. The integration tests check this list against a real server (CONFIG SET of
 * every rendered directive).
 */
export const REDIS_RESTART_ONLY = ["databases"] as const;

/** Directives the plan sets and CONFIG SET can change on a running server. */
export function redisLiveSettings(redis: RedisPlan): Record<string, RedisSettingValue> {
    return {
        appendfsync: "everysec",
        appendonly: redis.appendonly ? "yes" : "no",
        maxclients: redis.maxclients,
        maxmemory: redis.maxmemory,
        "maxmemory-policy": redis.maxmemoryPolicy,
        "tcp-keepalive": redis.tcpKeepaliveSeconds,
    };
}

export function redisRestartSettings(redis: RedisPlan): Record<string, RedisSettingValue> {
    return { databases: redis.databases };
}

/**
 * TLS (issue 11): the service port speaks TLS only (`port 0` closes the plain one); clients
 * authenticate with their ACL users, not certificates. A change restarts Redis.
 */
export function redisTlsDirectives(redis: RedisPlan, tls: TlsFiles | undefined): Record<string, RedisSettingValue> {
    if (!tls) {
        return {};
    }
    return {
        "tls-port": redis.port,
        "tls-cert-file": tls.certificateFile,
        "tls-key-file": tls.keyFile,
        "tls-ca-cert-file": tls.caFile,
        "tls-auth-clients": "no",
        "tls-protocols": "TLSv1.2 TLSv1.3",
    };
}

export function renderRedisConf(redis: RedisPlan, layout: ServerLayout, tls?: TlsFiles): string {
    const directives: Array<[string, ...RedisSettingValue[]]> = [
        ["bind", layout.listenAddress],
        ["port", tls ? 0 : redis.port],
        ...Object.entries(redisTlsDirectives(redis, tls)).map(([name, value]): [string, RedisSettingValue] => [name, value]),
        ["protected-mode", "yes"],
        ["dir", layout.redis.dataDirectory],
        ["aclfile", layout.redis.aclFile],
        ...Object.entries(redisRestartSettings(redis)).map(([name, value]): [string, RedisSettingValue] => [name, value]),
        ...Object.entries(redisLiveSettings(redis)).map(([name, value]): [string, RedisSettingValue] => [name, value]),
    ];
    const lines = directives.map(([name, ...args]) => `${name} ${args.map(redisArg).join(" ")}\n`);
    return renderedHeader("#", "redis.conf") + lines.join("");
}

/**
 * Rules of the program's own users. The monitor reads server state and no data; the
 * healthcheck may only PING; the backup user may only ask for a background save (README:
 * "Backups and restore").
 */
export const REDIS_SYSTEM_RULES: Readonly<Record<Exclude<RedisUserPlan["kind"], "service">, readonly string[]>> = {
    admin: ["~*", "&*", "+@all"],
    monitor: ["resetkeys", "resetchannels", "-@all", "+ping", "+info", "+client|list", "+slowlog|get", "+latency|latest", "+config|get", "+dbsize"],
    healthcheck: ["resetkeys", "resetchannels", "-@all", "+ping"],
    // The backup sidecar: a background save and the time of the last one, nothing else.
    backup: ["resetkeys", "resetchannels", "-@all", "+bgsave", "+lastsave"],
};

/** Commands by client access: what each purpose of section 3.2 needs, nothing that administers the server. */
export const REDIS_ACCESS_COMMANDS: Readonly<Record<RedisClientPlan["access"], readonly string[]>> = {
    // Data: every data command, no pub/sub, nothing @dangerous (KEYS, FLUSH*, CONFIG, DEBUG,
    // MONITOR, CLIENT KILL, ...); INFO stays for clients' ready checks (section 3.1).
    data: ["+@all", "-@dangerous", "-@pubsub", "+info"],
    // Job queues (Bull) also publish and subscribe to their events, on their own channels.
    queue: ["+@all", "-@dangerous", "+info"],
    // Publish and subscribe only: no key can be read or written.
    pubsub: ["-@all", "+@pubsub", "+@connection", "-@dangerous", "+info"],
};

/** One service user's rules: the union of what its clients need. */
export function serviceUserRules(redis: RedisPlan, user: string): string[] {
    const clients = redis.clients.filter((client) => client.user === user);
    if (clients.length === 0) {
        throw new RenderError("users.acl", `user ${user}`, "is used by no Redis client");
    }
    const keys = [...new Set(clients.flatMap((client) => client.keyPatterns))].sort();
    const channels = [...new Set(clients.flatMap((client) => client.channelPatterns))].sort();
    const accesses = [...new Set(clients.map((client) => client.access))].sort();
    const dataCommands = accesses.includes("data") || accesses.includes("queue");
    const commands = dataCommands ? [...REDIS_ACCESS_COMMANDS.data] : [...REDIS_ACCESS_COMMANDS.pubsub];
    // Publish/subscribe next to data commands: the data rules without their -@pubsub.
    if (dataCommands && (accesses.includes("pubsub") || accesses.includes("queue"))) {
        commands.splice(commands.indexOf("-@pubsub"), 1);
    }
    return ["resetkeys", "resetchannels", ...keys.map((pattern) => `~${pattern}`), ...channels.map((pattern) => `&${pattern}`), ...commands];
}

/**
 * What redis_exporter 1.69 sends beyond the monitor's rules, with its default flags: CLIENT
 * SETNAME (--set-client-name), LATENCY HISTOGRAM and SLOWLOG LEN (exporter/exporter.go
 * scrapeRedisHost, latency.go, slowlog.go); its AUTH, CONFIG GET, INFO, LATENCY LATEST and
 * SLOWLOG GET the monitor may run already. Only when monitoring is on: the integration test
 * holds this list to what a real exporter sends.
 */
export const REDIS_EXPORTER_COMMANDS = ["+client|setname", "+latency|histogram", "+slowlog|len"] as const;

export function redisUserRules(redis: RedisPlan, user: RedisUserPlan): readonly string[] {
    if (user.kind === "monitor" && redis.monitorExporter) {
        return [...REDIS_SYSTEM_RULES.monitor, ...REDIS_EXPORTER_COMMANDS];
    }
    return user.kind === "service" ? serviceUserRules(redis, user.name) : REDIS_SYSTEM_RULES[user.kind];
}

export function renderRedisAcl(redis: RedisPlan, passwordHashes: Readonly<Record<string, string>>): string {
    // No command runs without a login: the default user is switched off (ACL LOAD would
    // otherwise recreate it with full access).
    const lines = ["user default off resetkeys resetchannels -@all\n"];
    for (const user of redis.users) {
        const hash = passwordHashes[user.name];
        if (!hash || !/^#[0-9a-f]{64}$/.test(hash)) {
            throw new RenderError("users.acl", `user ${user.name}`, "needs a SHA-256 password hash");
        }
        // A second `user default` line would switch the built-in user back on.
        if (redisWord(user.name, "user name") === "default") {
            throw new RenderError("users.acl", "user default", "is Redis' built-in user, which stays off");
        }
        lines.push(`user ${["user", user.name, "reset", "on", hash, ...redisUserRules(redis, user)].slice(1).map(redisArg).join(" ")}\n`);
    }
    return lines.join("");
}
