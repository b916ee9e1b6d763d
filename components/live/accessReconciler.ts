// Taking a role or a grant out of the plan takes its access away on the next `pulumi up`.
//
// The roles and grants themselves are postgresql provider resources that, with the data kept
// on destroy, are also kept when Pulumi deletes them (retainOnDelete): a destroyed stack's
// volume stays usable (README: "Recovering after destroy"). Pulumi cannot tell a destroy from a
// removal, so this resource does what a removal needs, only on update (never on delete):
// revoke a removed grant, and for a removed role: no more logins, its sessions ended, what it
// owns reassigned to the superuser in every database (so data stays), its privileges dropped,
// the role dropped. It also takes CONNECT away from PUBLIC on the application databases, so
// that only the grants the plan gives (and pg_hba.conf) decide who reaches a database.
import * as pulumi from "@pulumi/pulumi";
import { logInfo } from "./log";
import { sqlIdentifier, sqlLiteral } from "../../render/quote";
import { disownStatements, revokeGrantStatements, revokePublicConnectStatements } from "../../render/sql";
import { PostgresSocketAccess, postgresSql } from "./consoles";

export interface GrantState {
    role: string;
    database: string;
    access: string;
    /** The database's owner (default privileges are granted for it). */
    owner: string;
}

export interface AccessState {
    dockerHost?: string;
    socket: PostgresSocketAccess;
    /** Login roles the plan manages (not the superuser). */
    roles: string[];
    grants: GrantState[];
    /** Application databases. */
    databases: string[];
    /** Whether the provider keeps roles and grants when their resources go (then this drops them). */
    retainObjects: boolean;
}

const grantKey = (grant: GrantState) => `${grant.database}/${grant.role}/${grant.access}`;

export function removedGrants(olds: readonly GrantState[] = [], news: readonly GrantState[]): GrantState[] {
    const kept = new Set(news.map(grantKey));
    return olds.filter((grant) => grant.access !== "owner" && !kept.has(grantKey(grant)));
}

export function removedRoles(olds: readonly string[] = [], news: readonly string[]): string[] {
    return olds.filter((role) => !news.includes(role));
}

async function roleExists(socket: PostgresSocketAccess, role: string, dockerHost?: string): Promise<boolean> {
    const found = await postgresSql(socket, `SELECT 1 FROM pg_roles WHERE rolname = ${sqlLiteral(role)}`, "postgres", dockerHost);
    return found.trim() === "1";
}

async function connectableDatabases(socket: PostgresSocketAccess, dockerHost?: string): Promise<string[]> {
    const rows = await postgresSql(socket, "SELECT datname FROM pg_database WHERE datallowconn ORDER BY datname", "postgres", dockerHost);
    return rows.split("\n").filter((row) => row.length > 0);
}

async function revokeGrant(state: AccessState, grant: GrantState, log: (message: string) => void): Promise<void> {
    if (!(await roleExists(state.socket, grant.role, state.dockerHost))) {
        return;
    }
    const databases = await connectableDatabases(state.socket, state.dockerHost);
    if (databases.includes(grant.database)) {
        await postgresSql(state.socket, revokeGrantStatements(grant).join(";\n") + ";", grant.database, state.dockerHost);
        await postgresSql(state.socket, `REVOKE CONNECT ON DATABASE ${sqlIdentifier(grant.database)} FROM ${sqlIdentifier(grant.role)}`, "postgres", state.dockerHost);
    }
    log(`revoked ${grant.access} on ${grant.database} from ${grant.role}`);
}

async function removeRole(state: AccessState, role: string, log: (message: string) => void): Promise<void> {
    if (!(await roleExists(state.socket, role, state.dockerHost))) {
        return;
    }
    const quoted = sqlIdentifier(role);
    await postgresSql(
        state.socket,
        `ALTER ROLE ${quoted} NOLOGIN;\nSELECT count(pg_terminate_backend(pid)) FROM pg_stat_activity WHERE usename = ${sqlLiteral(role)};`,
        "postgres",
        state.dockerHost,
    );
    for (const database of await connectableDatabases(state.socket, state.dockerHost)) {
        await postgresSql(state.socket, disownStatements(role, state.socket.superuser).join(";\n") + ";", database, state.dockerHost);
    }
    if (state.retainObjects) {
        // Otherwise the provider drops the role itself when its resource goes.
        await postgresSql(state.socket, `DROP ROLE IF EXISTS ${quoted}`, "postgres", state.dockerHost);
    }
    log(`removed role ${role}: logins refused, sessions ended, what it owned now owned by ${state.socket.superuser}`);
}

async function closePublicConnect(state: AccessState): Promise<void> {
    const existing = await connectableDatabases(state.socket, state.dockerHost);
    const statements = revokePublicConnectStatements(state.databases.filter((database) => existing.includes(database)));
    if (statements.length > 0) {
        await postgresSql(state.socket, statements.join(";\n") + ";", "postgres", state.dockerHost);
    }
}

const accessProvider: pulumi.dynamic.ResourceProvider = {
    async diff(_id: string, olds: AccessState, news: AccessState): Promise<pulumi.dynamic.DiffResult> {
        const changes =
            JSON.stringify(olds.roles) !== JSON.stringify(news.roles) ||
            JSON.stringify(olds.grants) !== JSON.stringify(news.grants) ||
            JSON.stringify(olds.databases) !== JSON.stringify(news.databases) ||
            olds.retainObjects !== news.retainObjects;
        return { changes };
    },

    async create(inputs: AccessState): Promise<pulumi.dynamic.CreateResult> {
        await closePublicConnect(inputs);
        return { id: "access", outs: { ...inputs } };
    },

    async update(_id: string, olds: AccessState, news: AccessState): Promise<pulumi.dynamic.UpdateResult> {
        const log = (message: string) => logInfo(message);
        for (const grant of removedGrants(olds.grants, news.grants)) {
            await revokeGrant(news, grant, log);
        }
        for (const role of removedRoles(olds.roles, news.roles)) {
            await removeRole(news, role, log);
        }
        await closePublicConnect(news);
        return { outs: { ...news } };
    },

    // A destroy keeps roles and grants with the data (see above).
    async delete(): Promise<void> {},
};

export class PostgresAccess extends pulumi.dynamic.Resource {
    constructor(name: string, args: AccessState, opts?: pulumi.CustomResourceOptions) {
        super(accessProvider, name, args, opts);
    }
}
