// What a config change does to a running stack, read off the program itself: it runs under
// mocks before and after the change, and the registrations that differ say which resources
// change and how (a container's inputs: replaced; a ServerConfig's `restart` settings: restart;
// its `live` settings or files: reload).
import { DYNAMIC, plain, recorded } from "./mocks";
import { runProgram } from "./program";

export interface ConfigChange {
    /** What a user changes, as the README's table names it. */
    name: string;
    /** The keys involved. */
    keys: string;
    values: Record<string, unknown>;
    /** Keys given as secrets (credentials). */
    secretKeys?: string[];
}

export interface ChangeEffect {
    /** Containers whose inputs change: Docker replaces them. */
    replaced: string[];
    /** Servers restarted in their own container (ServerConfig `restart` settings changed). */
    restarted: string[];
    /** Servers that apply the change while running (ServerConfig `live` settings or files changed). */
    reloaded: string[];
    /** Other resources whose inputs change (roles, passwords), by type and name. */
    updated: string[];
}

type Registrations = Map<string, { type: string; inputs: Record<string, unknown> }>;

async function registrations(values: Record<string, unknown>, secretKeys: string[] = []): Promise<Registrations> {
    await runProgram(values, secretKeys);
    return new Map(recorded.map((resource) => [`${resource.type}::${resource.name}`, { type: resource.type, inputs: plain(resource.inputs) }]));
}

const SERVER_OF_CONFIG: Record<string, string> = {
    "zentoria-postgres-config": "postgres",
    "zentoria-pgbouncer-config": "pgbouncer",
    "zentoria-redis-config": "redis",
    "zentoria-qdrant-config": "qdrant",
};

function differs(a: unknown, b: unknown): boolean {
    return JSON.stringify(a) !== JSON.stringify(b);
}

/** The inputs that matter: a dynamic resource's diff ignores its own code and its writer's image. */
function compared(registration: { type: string; inputs: Record<string, unknown> }): Record<string, unknown> {
    if (registration.type !== DYNAMIC) {
        return registration.inputs;
    }
    return Object.fromEntries(Object.entries(registration.inputs).filter(([key]) => key !== "__provider" && key !== "image"));
}

let baseline: { values: string; registrations: Registrations } | undefined;

/** The effect of going from `base` to `base` merged with `change.values`. */
export async function effectOf(base: Record<string, unknown>, change: ConfigChange): Promise<ChangeEffect> {
    if (baseline?.values !== JSON.stringify(base)) {
        baseline = { values: JSON.stringify(base), registrations: await registrations(base) };
    }
    const before = baseline.registrations;
    const after = await registrations({ ...base, ...change.values }, change.secretKeys);
    const effect: ChangeEffect = { replaced: [], restarted: [], reloaded: [], updated: [] };
    for (const [key, now] of after) {
        const then = before.get(key);
        const name = key.split("::")[1];
        if (!then) {
            effect.updated.push(`+ ${now.type.split(":").pop()} ${name}`);
            continue;
        }
        const inputsNow = compared(now);
        const inputsThen = compared(then);
        if (!differs(inputsThen, inputsNow)) {
            continue;
        }
        if (now.type === "docker:index/container:Container") {
            effect.replaced.push(name);
        } else if (now.type === DYNAMIC && SERVER_OF_CONFIG[name]) {
            if (differs(inputsThen.restart, inputsNow.restart)) {
                effect.restarted.push(SERVER_OF_CONFIG[name]);
            } else {
                effect.reloaded.push(SERVER_OF_CONFIG[name]);
            }
        } else if (now.type !== "docker:index/remoteImage:RemoteImage") {
            effect.updated.push(`${now.type.split(/[:/]/).pop()} ${name}`);
        }
    }
    for (const list of Object.values(effect)) {
        list.sort();
    }
    return effect;
}

/** How the program applies the change, in the README's words. */
export function describeEffect(effect: ChangeEffect): string {
    const parts: string[] = [];
    if (effect.replaced.length > 0) {
        parts.push(`replaces ${effect.replaced.map((name) => `\`${name}\``).join(", ")}`);
    }
    for (const server of effect.restarted) {
        parts.push(server === "postgres" ? "restarts PostgreSQL behind PgBouncer's PAUSE" : `restarts ${server === "redis" ? "Redis" : "Qdrant"} (same container)`);
    }
    for (const server of effect.reloaded.filter((name) => !effect.restarted.includes(name))) {
        parts.push({ pgbouncer: "PgBouncer RELOAD", postgres: "PostgreSQL reload", redis: "Redis CONFIG SET / ACL LOAD", qdrant: "Qdrant restart" }[server] ?? server);
    }
    const others = effect.updated.filter((entry) => !/^(RandomPassword|RandomBytes) /.test(entry));
    if (effect.updated.some((entry) => /^RandomPassword /.test(entry))) {
        parts.push("a new password");
    }
    if (others.length > 0) {
        parts.push(`updates ${others.map((entry) => `\`${entry.split(" ")[1]}\``).join(", ")}`);
    }
    return parts.length > 0 ? parts.join("; ") : "nothing on the servers (client settings in `.env` only)";
}
