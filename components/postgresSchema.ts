// Databases, roles and grants inside PostgreSQL (section 2.5), through the postgresql
// provider. Nothing here knows Docker: it needs an address and the superuser's password.
import * as pulumi from "@pulumi/pulumi";
import * as postgresql from "@pulumi/postgresql";
import { DatabaseGrantPlan, PROVIDER_CONNECTIONS_PER_DATABASE, RolePlan, StackPlan } from "../config/plan";
import { sequencePrivileges, tablePrivileges } from "../render/sql";
import { ScramLogin } from "./credentials";
import { PostgresAccess } from "./live/accessReconciler";
import { PostgresSocketAccess } from "./live/consoles";

export interface PostgresSchemaArgs {
    plan: StackPlan;
    host: pulumi.Input<string>;
    port: number;
    superuserPassword: pulumi.Output<string>;
    logins: Readonly<Record<string, ScramLogin>>;
    /** The server must be up (healthy) before the provider's one and only connection attempt. */
    serverReady: pulumi.Resource[];
    /** PostgreSQL's socket inside its container, where access is taken away (see PostgresAccess). */
    socket: PostgresSocketAccess;
    dockerHost?: string;
}

export class PostgresSchema extends pulumi.ComponentResource {
    readonly provider: postgresql.Provider;
    readonly roles: Readonly<Record<string, postgresql.Role>>;
    readonly databases: Readonly<Record<string, postgresql.Database>>;
    /** Takes away what the plan no longer grants (see components/live/accessReconciler.ts). */
    readonly access: PostgresAccess;
    private readonly namePrefix: string;
    private readonly retainObjects: boolean;

    constructor(name: string, args: PostgresSchemaArgs, opts?: pulumi.ComponentResourceOptions) {
        super("zentoria:index:PostgresSchema", name, {}, opts);
        const { plan } = args;
        this.namePrefix = name;
        this.retainObjects = plan.postgres.retainDataOnDestroy;

        this.provider = new postgresql.Provider(
            `${name}-provider`,
            {
                host: args.host,
                port: args.port,
                username: plan.postgres.superuser,
                password: args.superuserPassword,
                database: "postgres",
                superuser: true,
                // lib/pq reads an empty sslmode as "require" (pitfall 13). With TLS (issue 11) the
                // published port may require it; lib/pq's "require" encrypts without a CA file.
                sslmode: plan.tls.enabled ? "require" : "disable",
                connectTimeout: plan.timeouts.connectSeconds * 3,
                // Counted in the connection budget as the superuser's (config/plan.ts).
                maxConnections: PROVIDER_CONNECTIONS_PER_DATABASE,
            },
            { parent: this, dependsOn: args.serverReady },
        );

        const roles: Record<string, postgresql.Role> = {};
        for (const role of plan.roles.filter((candidate) => candidate.access !== "superuser")) {
            roles[role.name] = this.role(role, args.logins[role.name], plan);
        }
        this.roles = roles;

        const databases: Record<string, postgresql.Database> = {};
        for (const database of plan.databases) {
            databases[database.name] = new postgresql.Database(
                `${name}-db-${database.name}`,
                { name: database.name, owner: roles[database.owner].name, encoding: "UTF8", template: "template0" },
                this.childOptions(),
            );
            if (database.vectorExtension) {
                // Dropped with its database: DROP EXTENSION first would fail on every table with a vector column.
                new postgresql.Extension(`${name}-db-${database.name}-vector`, { name: "vector", database: databases[database.name].name }, this.childOptions({ deletedWith: databases[database.name] }));
            }
        }
        this.databases = databases;

        const grants = plan.grants.flatMap((grant) => this.grant(name, grant, plan));
        this.access = new PostgresAccess(
            `${name}-access`,
            {
                dockerHost: args.dockerHost,
                socket: args.socket,
                roles: Object.keys(roles).sort(),
                grants: plan.grants.map((grant) => ({
                    role: grant.role,
                    database: grant.database,
                    access: grant.access,
                    owner: plan.databases.find((database) => database.name === grant.database)?.owner ?? plan.postgres.superuser,
                })),
                databases: plan.databases.map((database) => database.name),
                retainObjects: this.retainObjects,
            },
            { parent: this, dependsOn: [...Object.values(roles), ...Object.values(databases), ...grants] },
        );
        this.registerOutputs({});
    }

    private childOptions(extra: pulumi.CustomResourceOptions = {}): pulumi.CustomResourceOptions {
        // With the data kept on destroy, the databases, roles and grants must stay too: the
        // provider would otherwise DROP DATABASE before the volume is left behind.
        return { parent: this, provider: this.provider, retainOnDelete: this.retainObjects, ...extra };
    }

    private role(role: RolePlan, login: ScramLogin, plan: StackPlan): postgresql.Role {
        return new postgresql.Role(
            `${this.namePrefix}-role-${role.name}`,
            {
                name: role.name,
                login: true,
                // A SCRAM verifier: PostgreSQL stores it as is, and PgBouncer's userlist has the same bytes.
                password: login.verifier,
                connectionLimit: role.connectionLimit,
                // Section 6.1's query timeout, per role so that the superuser's maintenance is not cut off.
                statementTimeout: plan.timeouts.querySeconds * 1000,
                roles: role.access === "monitoring" ? ["pg_monitor"] : [],
            },
            // A pooled role's new verifier reaches PostgreSQL and PgBouncer together (PgBouncerConfig).
            this.childOptions(role.pooled ? { ignoreChanges: ["password"] } : {}),
        );
    }

    private grant(name: string, grant: DatabaseGrantPlan, plan: StackPlan): pulumi.Resource[] {
        if (grant.access === "owner") {
            return [];
        }
        const database = this.databases[grant.database].name;
        const role = this.roles[grant.role].name;
        const prefix = `${name}-${grant.database}-${grant.role}`;
        // Grants can show perpetual diffs and are lost by create-before-delete (pitfall 18).
        const options = this.childOptions({ deleteBeforeReplace: true });
        const connect = new postgresql.Grant(`${prefix}-connect`, { database, role, objectType: "database", privileges: ["CONNECT"] }, options);
        if (grant.access === "connect") {
            return [connect];
        }
        const ownerName = plan.databases.find((database) => database.name === grant.database)?.owner;
        if (!ownerName) {
            throw new Error(`database ${grant.database} has no owner in the plan`);
        }
        const owner = this.roles[ownerName].name;
        // USAGE on schema public needs no grant: PostgreSQL 15 still gives it to PUBLIC.
        const tables = [...tablePrivileges(grant.access)];
        const sequences = [...sequencePrivileges(grant.access)];
        return [
            connect,
            new postgresql.Grant(`${prefix}-tables`, { database, role, schema: "public", objectType: "table", privileges: tables }, options),
            new postgresql.Grant(`${prefix}-sequences`, { database, role, schema: "public", objectType: "sequence", privileges: sequences }, options),
            // Tables the owner creates later (migrations) are covered too.
            new postgresql.DefaultPrivileges(`${prefix}-default-tables`, { database, role, owner, schema: "public", objectType: "table", privileges: tables }, options),
            new postgresql.DefaultPrivileges(
                `${prefix}-default-sequences`,
                { database, role, owner, schema: "public", objectType: "sequence", privileges: sequences },
                options,
            ),
        ];
    }
}
