// The SQL equivalent of the PostgresSchema component: what the postgresql provider applies,
// as statements. The integration tests build real servers with it, and a unit test holds it
// and the component to the same roles, limits and grants.
import { DatabaseGrantPlan, StackPlan } from "../config/plan";
import { sqlIdentifier, sqlLiteral } from "./quote";

export const TABLE_WRITE_PRIVILEGES = ["SELECT", "INSERT", "UPDATE", "DELETE"] as const;
export const SEQUENCE_USE_PRIVILEGES = ["USAGE", "SELECT", "UPDATE"] as const;

export function tablePrivileges(access: DatabaseGrantPlan["access"]): readonly string[] {
    return access === "readonly" ? ["SELECT"] : TABLE_WRITE_PRIVILEGES;
}

export function sequencePrivileges(access: DatabaseGrantPlan["access"]): readonly string[] {
    return access === "readonly" ? ["SELECT"] : SEQUENCE_USE_PRIVILEGES;
}

/** Cluster-level statements, run as the superuser in the maintenance database. */
export function roleAndDatabaseStatements(plan: StackPlan, verifiers: Readonly<Record<string, string>>): string[] {
    const statements: string[] = [];
    for (const role of plan.roles.filter((candidate) => candidate.access !== "superuser")) {
        const verifier = verifiers[role.name];
        if (!verifier?.startsWith("SCRAM-SHA-256$")) {
            throw new Error(`role ${role.name} needs a SCRAM verifier`);
        }
        statements.push(
            `CREATE ROLE ${sqlIdentifier(role.name)} LOGIN CONNECTION LIMIT ${role.connectionLimit} PASSWORD ${sqlLiteral(verifier)}`,
            `ALTER ROLE ${sqlIdentifier(role.name)} SET statement_timeout = ${plan.timeouts.querySeconds * 1000}`,
        );
        if (role.access === "monitoring") {
            statements.push(`GRANT pg_monitor TO ${sqlIdentifier(role.name)}`);
        }
    }
    for (const database of plan.databases) {
        statements.push(
            `CREATE DATABASE ${sqlIdentifier(database.name)} OWNER ${sqlIdentifier(database.owner)} ENCODING 'UTF8' TEMPLATE template0`,
        );
    }
    statements.push(...revokePublicConnectStatements(plan.databases.map((database) => database.name)));
    for (const grant of plan.grants.filter((candidate) => candidate.access !== "owner")) {
        statements.push(`GRANT CONNECT ON DATABASE ${sqlIdentifier(grant.database)} TO ${sqlIdentifier(grant.role)}`);
    }
    return statements;
}

/** Only the grants the plan gives (and pg_hba.conf) decide who reaches an application database. */
export function revokePublicConnectStatements(databases: readonly string[]): string[] {
    return databases.map((database) => `REVOKE CONNECT ON DATABASE ${sqlIdentifier(database)} FROM PUBLIC`);
}

export interface RevokedGrant {
    role: string;
    database: string;
    /** The database's owner (default privileges were granted for it). */
    owner: string;
}

/** What undoes a grant inside its database: tables, sequences and default privileges. */
export function revokeGrantStatements(grant: RevokedGrant): string[] {
    const role = sqlIdentifier(grant.role);
    const owner = sqlIdentifier(grant.owner);
    return [
        `REVOKE ALL ON ALL TABLES IN SCHEMA public FROM ${role}`,
        `REVOKE ALL ON ALL SEQUENCES IN SCHEMA public FROM ${role}`,
        `ALTER DEFAULT PRIVILEGES FOR ROLE ${owner} IN SCHEMA public REVOKE ALL ON TABLES FROM ${role}`,
        `ALTER DEFAULT PRIVILEGES FOR ROLE ${owner} IN SCHEMA public REVOKE ALL ON SEQUENCES FROM ${role}`,
    ];
}

/** Before a role is dropped, in every database: what it owns goes to `newOwner`, its privileges go. */
export function disownStatements(role: string, newOwner: string): string[] {
    return [`REASSIGN OWNED BY ${sqlIdentifier(role)} TO ${sqlIdentifier(newOwner)}`, `DROP OWNED BY ${sqlIdentifier(role)}`];
}

/** Statements run inside one database (schema grants, default privileges, extensions). */
export function databaseStatements(plan: StackPlan, databaseName: string): string[] {
    const database = plan.databases.find((candidate) => candidate.name === databaseName);
    if (!database) {
        throw new Error(`unknown database ${databaseName}`);
    }
    const statements: string[] = [];
    if (database.vectorExtension) {
        statements.push("CREATE EXTENSION IF NOT EXISTS vector");
    }
    const owner = sqlIdentifier(database.owner);
    for (const grant of plan.grants.filter((candidate) => candidate.database === databaseName)) {
        if (grant.access === "owner" || grant.access === "connect") {
            continue;
        }
        const role = sqlIdentifier(grant.role);
        const tables = tablePrivileges(grant.access).join(", ");
        const sequences = sequencePrivileges(grant.access).join(", ");
        statements.push(
            `GRANT ${tables} ON ALL TABLES IN SCHEMA public TO ${role}`,
            `GRANT ${sequences} ON ALL SEQUENCES IN SCHEMA public TO ${role}`,
            `ALTER DEFAULT PRIVILEGES FOR ROLE ${owner} IN SCHEMA public GRANT ${tables} ON TABLES TO ${role}`,
            `ALTER DEFAULT PRIVILEGES FOR ROLE ${owner} IN SCHEMA public GRANT ${sequences} ON SEQUENCES TO ${role}`,
        );
    }
    return statements;
}
