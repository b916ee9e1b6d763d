// Redis' INFO and CLIENT LIST as typed values (section 5.3). Pure.
import { REDIS_SYSTEM_USERS } from "../../config/validate";

/** INFO's `key:value` lines, every section together. */
export function parseInfo(text: string): Record<string, string> {
    const fields: Record<string, string> = {};
    for (const line of text.split(/\r?\n/)) {
        const colon = line.indexOf(":");
        if (colon > 0 && !line.startsWith("#")) {
            fields[line.slice(0, colon)] = line.slice(colon + 1).trim();
        }
    }
    return fields;
}

export interface RedisFigures {
    version: string;
    /** Changes when the server restarts: its counters start again from zero. */
    runId: string;
    uptimeSeconds: number;
    connectedClients: number;
    blockedClients: number;
    rejectedConnections: number;
    maxclients?: number;
    usedMemory: number;
    usedMemoryHuman: string;
    /** 0: no limit. */
    maxmemory: number;
    maxmemoryHuman: string;
}

export function redisFigures(info: Record<string, string>): RedisFigures {
    const number = (key: string) => Number(info[key] ?? 0);
    return {
        version: info.redis_version ?? "",
        runId: info.run_id ?? "",
        uptimeSeconds: number("uptime_in_seconds"),
        connectedClients: number("connected_clients"),
        blockedClients: number("blocked_clients"),
        rejectedConnections: number("rejected_connections"),
        maxclients: info.maxclients === undefined ? undefined : number("maxclients"),
        usedMemory: number("used_memory"),
        usedMemoryHuman: info.used_memory_human ?? "",
        maxmemory: number("maxmemory"),
        maxmemoryHuman: info.maxmemory_human ?? "",
    };
}

export interface RedisClient {
    id: number;
    addr: string;
    user: string;
    db: number;
    ageSeconds: number;
    idleSeconds: number;
    flags: string;
    /** The last command it ran. */
    cmd: string;
}

/** CLIENT LIST: one client per line, `key=value` fields separated by spaces. */
export function parseClientList(text: string): RedisClient[] {
    return text
        .split(/\r?\n/)
        .filter((line) => line.trim() !== "")
        .map((line) => {
            const fields: Record<string, string> = {};
            for (const pair of line.trim().split(" ")) {
                const equals = pair.indexOf("=");
                if (equals > 0) {
                    fields[pair.slice(0, equals)] = pair.slice(equals + 1);
                }
            }
            return {
                id: Number(fields.id),
                addr: fields.addr ?? "",
                user: fields.user ?? "",
                db: Number(fields.db ?? 0),
                ageSeconds: Number(fields.age ?? 0),
                idleSeconds: Number(fields.idle ?? 0),
                flags: fields.flags ?? "",
                cmd: fields.cmd ?? "",
            };
        });
}

/**
 * Clients redis-kill-clients closes: normal clients (CLIENT LIST TYPE normal: not replicas, not
 * pub/sub subscribers) of the services' users, idle for at least `minimumIdleSeconds`; never the
 * program's own users, never the connection doing the killing.
 */
export function killableRedisClients(clients: readonly RedisClient[], ownId: number, minimumIdleSeconds: number): RedisClient[] {
    // The program's own users: operators (admin), the monitor, the healthcheck.
    const protectedUsers: readonly string[] = REDIS_SYSTEM_USERS;
    return clients.filter((client) => client.id !== ownId && !protectedUsers.includes(client.user) && client.idleSeconds >= minimumIdleSeconds);
}
