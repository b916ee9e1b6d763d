// One test file's servers: the dev plan on free ports, rendered into a temporary directory,
// PostgreSQL initialised and given the program's roles and databases, PgBouncer and Redis
// started on the rendered files. PostgreSQL 15 and Redis are the host's Debian binaries;
// PgBouncer (1.24) runs from the zentoria-ci/pgbouncer stand-in image (./images.ts).
import { randomBytes } from "crypto";
import * as fs from "fs";
import * as os from "os";
import * as path from "path";
import { Client, ClientConfig } from "pg";
import { SCRAM_SALT_BYTES, scramSha256Verifier } from "../../../render/hashing";
import { Problem } from "../../../config";
import { StackPlan } from "../../../config/plan";
import { connectionStrings, ConnectionStrings, Endpoints } from "../../../render/connections";
import { ServerLayout } from "../../../render/layout";
import { databaseStatements, roleAndDatabaseStatements } from "../../../render/sql";
import { BINARIES, requireBinary } from "./binaries";
import { connectPg, redisClient } from "./clients";
import { pgbouncerFiles, postgresFiles, redisFiles, ServerFile, writeServerFiles } from "./files";
import { pgbouncerImage, startPgbouncerContainer } from "./images";
import { configPlan, devPlan, generateSecrets, LOOPBACK, Ports, randomPassword, Secrets, testEndpoints, testLayout } from "./plan";
import { freePorts } from "./ports";
import { OsUser, run, serverUser, ServerProcess, waitUntil } from "./processes";

export interface StackOptions {
    postgres?: boolean;
    pgbouncer?: boolean;
    redis?: boolean;
    /** Raw stack config to run instead of Pulumi.dev.yaml's (the test's free ports still win). */
    config?: Record<string, unknown>;
    /** An initialised data directory to copy instead of running initdb (its superuser must be the plan's). */
    postgresTemplate?: PostgresTemplate;
}

/** A data directory initdb made once, and its superuser's login, for stacks that start many servers. */
export interface PostgresTemplate {
    dataDir: string;
    superuser: string;
    password: string;
    verifier: string;
}

/**
 * PostgreSQL: SIGINT is its fast shutdown. PgBouncer (every container here): SIGINT is its safe
 * shutdown (SHUTDOWN WAIT_FOR_SERVERS), whereas SIGTERM waits for every client to leave since
 * 1.23. Redis: SIGTERM saves and exits.
 */
export function stopSignal(server: ServerProcess): NodeJS.Signals {
    if (server.container || server.name === "postgresql") {
        return "SIGINT";
    }
    return "SIGTERM";
}

function chownTree(target: string, owner: OsUser | undefined): void {
    if (!owner) {
        return;
    }
    fs.chownSync(target, owner.uid, owner.gid);
    if (fs.statSync(target).isDirectory()) {
        for (const entry of fs.readdirSync(target)) {
            chownTree(path.join(target, entry), owner);
        }
    }
}

/** The template's superuser login replaces the generated one: initdb stored its verifier already. */
function withTemplateSuperuser(secrets: Secrets, template: PostgresTemplate, plan: StackPlan): Secrets {
    if (template.superuser !== plan.postgres.superuser) {
        throw new Error(`the data directory template's superuser is ${template.superuser}, the plan's ${plan.postgres.superuser}`);
    }
    return {
        ...secrets,
        credentials: { ...secrets.credentials, postgres: { ...secrets.credentials.postgres, [template.superuser]: template.password } },
        verifiers: { ...secrets.verifiers, [template.superuser]: template.verifier },
    };
}

export class Stack {
    readonly dir: string;
    readonly logDir: string;
    readonly owner?: OsUser;
    readonly plan: StackPlan;
    readonly warnings: readonly Problem[];
    readonly layout: ServerLayout;
    readonly secrets: Secrets;
    readonly endpoints: Endpoints;
    /** Every file handed to a server, as written. */
    readonly files: ServerFile[] = [];
    readonly servers: ServerProcess[] = [];
    readonly postgresDataDir: string;

    private constructor(
        readonly ports: Ports,
        readonly options: StackOptions,
    ) {
        const { plan, warnings } = options.config ? configPlan(ports, options.config) : devPlan(ports);
        this.plan = plan;
        this.warnings = warnings;
        this.secrets = options.postgresTemplate ? withTemplateSuperuser(generateSecrets(plan), options.postgresTemplate, plan) : generateSecrets(plan);
        this.owner = process.getuid?.() === 0 ? serverUser() : undefined;
        this.dir = fs.mkdtempSync(path.join(os.tmpdir(), "zentoria-it-"));
        this.logDir = path.join(this.dir, "logs");
        fs.mkdirSync(this.logDir);
        this.layout = testLayout(this.dir);
        this.endpoints = testEndpoints(plan);
        this.postgresDataDir = path.join(this.dir, "postgres", "data");
    }

    /** Creates the stack object; `start` then boots the servers (stop works after a partial boot). */
    static async create(options: StackOptions): Promise<Stack> {
        const [postgres, pgbouncer, redis] = await freePorts(3);
        return new Stack({ postgres, pgbouncer, redis }, options);
    }

    get credentials() {
        return this.secrets.credentials;
    }

    /** The program's connection strings for this stack (connectionStrings with the test endpoints). */
    connectionStrings(): ConnectionStrings {
        return connectionStrings(this.plan, this.credentials, this.endpoints);
    }

    async start(): Promise<void> {
        const { options } = this;
        if (options.pgbouncer && !options.postgres) {
            throw new Error("PgBouncer needs PostgreSQL");
        }
        // Check every binary first: one error naming the missing package, before anything runs.
        if (options.postgres) {
            [BINARIES.initdb, BINARIES.postgres, BINARIES.psql].forEach(requireBinary);
        }
        if (options.pgbouncer) {
            // The image (and the engine) first: a missing image fails here with the command that builds it.
            pgbouncerImage();
        }
        if (options.redis) {
            requireBinary(BINARIES.redisServer);
        }
        if (this.owner) {
            requireBinary(BINARIES.setpriv);
        }
        chownTree(this.dir, this.owner);
        if (options.postgres) {
            await this.startPostgres();
        }
        if (options.pgbouncer) {
            await this.startPgbouncer("pgbouncer", this.plan, this.layout);
        }
        if (options.redis) {
            await this.startRedis();
        }
    }

    private addFiles(files: ServerFile[]): void {
        writeServerFiles(files, this.owner);
        this.files.push(...files);
    }

    private mkdirOwned(dir: string): void {
        fs.mkdirSync(dir, { recursive: true, mode: 0o700 });
        chownTree(dir, this.owner);
    }

    private logFile(name: string): string {
        return path.join(this.logDir, `${name}.log`);
    }

    superuserConfig(database = "postgres"): ClientConfig {
        const superuser = this.plan.postgres.superuser;
        return {
            host: LOOPBACK,
            port: this.plan.postgres.port,
            user: superuser,
            password: this.credentials.postgres[superuser],
            database,
            application_name: "integration-test-superuser",
        };
    }

    /** The superuser, straight to PostgreSQL over TCP with its SCRAM password. */
    superuser(database = "postgres"): Promise<Client> {
        return connectPg(this.superuserConfig(database));
    }

    /** PgBouncer's admin console as the plan's admin user. */
    adminConsoleConfig(port = this.plan.pgbouncer.port): ClientConfig {
        return {
            host: LOOPBACK,
            port,
            user: this.plan.pgbouncer.adminUser,
            password: this.credentials.pgbouncerAdmin,
            database: "pgbouncer",
        };
    }

    private async startPostgres(): Promise<void> {
        const { layout, plan } = this;
        this.mkdirOwned(path.join(this.dir, "postgres"));
        this.mkdirOwned(layout.postgres.socketDirectory);
        // Where archive_command puts the WAL (the backup volume in a container).
        for (const dir of ["", "postgres", "postgres/wal"]) {
            this.mkdirOwned(path.join(layout.backups.directory, dir));
        }
        this.addFiles(postgresFiles(plan, layout, this.secrets));
        if (this.options.postgresTemplate) {
            await this.copyTemplate(this.options.postgresTemplate.dataDir);
        } else {
            await this.initdb();
        }
        const server = ServerProcess.start(
            "postgresql",
            BINARIES.postgres.path,
            ["-D", this.postgresDataDir, "-c", `config_file=${layout.postgres.configFile}`],
            this.logFile("postgresql"),
        );
        this.servers.push(server);
        await waitUntil(server, "PostgreSQL", async () => {
            const client = await this.superuser();
            await client.end();
            return true;
        });
        await this.applySchema();
    }

    private async copyTemplate(dataDir: string): Promise<void> {
        const copy = await run("cp", ["-a", dataDir, this.postgresDataDir], { timeoutMs: 120_000 });
        if (copy.code !== 0) {
            throw new Error(`copying the data directory template failed:\n${copy.stderr}`);
        }
        chownTree(this.postgresDataDir, this.owner);
    }

    /** Like the image's entrypoint with POSTGRES_PASSWORD_FILE: the superuser gets the verifier. */
    private async initdb(): Promise<void> {
        const { layout, plan } = this;
        const initdb = await run(
            BINARIES.initdb.path,
            [
                `--pgdata=${this.postgresDataDir}`,
                `--username=${plan.postgres.superuser}`,
                `--pwfile=${layout.postgres.superuserVerifierFile}`,
                "--encoding=UTF8",
                "--locale=C",
                "--no-sync",
            ],
            { asServerUser: true, timeoutMs: 120_000 },
        );
        fs.writeFileSync(this.logFile("initdb"), initdb.stdout + initdb.stderr);
        if (initdb.code !== 0) {
            throw new Error(`initdb failed (${initdb.code}):\n${initdb.stdout}${initdb.stderr}`);
        }
    }

    /** Runs initdb once into `dir` for a superuser with a fresh password, for postgresTemplate. */
    static async postgresTemplate(dir: string, superuser: string): Promise<PostgresTemplate> {
        requireBinary(BINARIES.initdb);
        const password = randomPassword();
        const verifier = scramSha256Verifier(password, randomBytes(SCRAM_SALT_BYTES));
        const owner = process.getuid?.() === 0 ? serverUser() : undefined;
        fs.mkdirSync(dir, { recursive: true, mode: 0o700 });
        const pwfile = path.join(dir, "superuser-verifier");
        const dataDir = path.join(dir, "data");
        fs.writeFileSync(pwfile, verifier, { mode: 0o600 });
        chownTree(dir, owner);
        const initdb = await run(
            BINARIES.initdb.path,
            [`--pgdata=${dataDir}`, `--username=${superuser}`, `--pwfile=${pwfile}`, "--encoding=UTF8", "--locale=C", "--no-sync"],
            { asServerUser: true, timeoutMs: 120_000 },
        );
        if (initdb.code !== 0) {
            throw new Error(`initdb failed (${initdb.code}):\n${initdb.stdout}${initdb.stderr}`);
        }
        return { dataDir, superuser, password, verifier };
    }

    /** The program's roles, databases and grants, as the postgresql provider applies them. */
    private async applySchema(): Promise<void> {
        const admin = await this.superuser();
        try {
            for (const statement of roleAndDatabaseStatements(this.plan, this.secrets.verifiers)) {
                await admin.query(statement);
            }
        } finally {
            await admin.end();
        }
        for (const database of this.plan.databases) {
            const client = await this.superuser(database.name);
            try {
                for (const statement of databaseStatements(this.plan, database.name)) {
                    await client.query(statement);
                }
            } finally {
                await client.end();
            }
        }
    }

    /** A PgBouncer on `plan`'s rendering (the stack's own, or a variant for one check). */
    async startPgbouncer(name: string, plan: StackPlan, layout: ServerLayout): Promise<ServerProcess> {
        this.mkdirOwned(path.dirname(layout.pgbouncer.configFile));
        this.addFiles(pgbouncerFiles(plan, layout, this.secrets));
        const server = startPgbouncerContainer(name, layout.pgbouncer, this.logFile(name), {
            // The container's ulimit (components/pgbouncer.ts).
            nofile: plan.pgbouncer.fileDescriptorLimit,
            owner: this.owner,
        });
        this.servers.push(server);
        // A container start on a busy machine takes a while.
        await waitUntil(
            server,
            `PgBouncer ${name}`,
            async () => {
                const client = await connectPg(this.adminConsoleConfig(plan.pgbouncer.port));
                try {
                    await client.query("SHOW VERSION");
                } finally {
                    await client.end();
                }
                return true;
            },
            120_000,
        );
        return server;
    }

    private async startRedis(): Promise<void> {
        const { layout, plan } = this;
        this.mkdirOwned(path.join(this.dir, "redis"));
        this.mkdirOwned(layout.redis.dataDirectory);
        this.addFiles(redisFiles(plan, layout, this.secrets));
        // The rendered file alone: its port, dir and users; no command-line overrides.
        const server = ServerProcess.start("redis", requireBinary(BINARIES.redisServer), [layout.redis.configFile], this.logFile("redis"));
        this.servers.push(server);
        await waitUntil(server, "Redis", async () => {
            const client = redisClient({
                host: LOOPBACK,
                port: plan.redis.port,
                username: "healthcheck",
                password: this.credentials.redis.healthcheck,
            }, { enableReadyCheck: false });
            try {
                await client.connect();
                return (await client.ping()) === "PONG";
            } finally {
                client.disconnect();
            }
        });
    }

    server(name: string): ServerProcess {
        const found = this.servers.find((server) => server.name === name);
        if (!found) {
            throw new Error(`no server ${name}`);
        }
        return found;
    }

    logTails(lines = 30): string {
        return this.servers.map((server) => server.tail(lines)).join("\n");
    }

    /** Stops every server (PgBouncer first) and removes the directory unless asked to keep it. */
    async stop(keepDir: boolean): Promise<void> {
        const order = [...this.servers].reverse();
        for (const server of order) {
            await server.stop(stopSignal(server));
        }
        if (keepDir) {
            process.stderr.write(`integration test files and server logs kept in ${this.dir}\n`);
        } else {
            fs.rmSync(this.dir, { recursive: true, force: true });
        }
    }
}
