// Defence in depth: each renderer, called directly with a plan the config check would have
// refused, refuses a value it cannot write safely instead of writing it.
import { loadPlan } from "../../config";
import { StackPlan } from "../../config/plan";
import { connectionStrings, networkEndpoints, renderEnvFile } from "../../render/connections";
import { CONTAINER_LAYOUT, ServerLayout } from "../../render/layout";
import { pgbouncerUserlistEntries, renderPgbouncerIni, renderUserlist } from "../../render/pgbouncer";
import { hbaRules, renderPgHbaConf, renderPostgresqlConf } from "../../render/postgresql";
import { renderQdrantConfig } from "../../render/qdrant";
import { RenderError } from "../../render/quote";
import { renderRedisAcl, renderRedisConf } from "../../render/redis";
import { planCredentials, renderEverything } from "../support/render";
import { rawConfig } from "./support/config";

const valid = loadPlan(rawConfig());

/** A writable copy of the valid plan, changed by `edit`: what a bypassed check could hand over. */
function hostile(edit: (plan: any) => void): StackPlan {
    const copy = JSON.parse(JSON.stringify(valid.plan));
    edit(copy);
    return copy as StackPlan;
}

const VERIFIER = "SCRAM-SHA-256$4096:c2FsdA==$c3RvcmVk:c2VydmVy";
const HASH = `#${"0".repeat(64)}`;
const hashes = (plan: StackPlan) => Object.fromEntries(plan.redis.users.map((user) => [user.name, HASH]));

test("the valid plan renders everything", () => {
    expect(Object.keys(renderEverything(valid.plan, valid.budget))).toContain("pgbouncer.ini");
});

describe("pgbouncer.ini", () => {
    test.each([
        ["a line break in an alias", (plan: any) => (plan.pools[0].alias = "x\n[pgbouncer]\nauth_type = trust")],
        ["a comment start in an alias", (plan: any) => (plan.pools[0].alias = "x;y")],
        ["'=' in an alias, where the key ends", (plan: any) => (plan.pools[0].alias = "x=y")],
        ["the * fallback database", (plan: any) => (plan.pools[0].alias = "*")],
        ["a '#' in a database name", (plan: any) => (plan.pools[0].database = "db#1")],
        ["a line break in a host", (plan: any) => (plan.postgres.hostname = "h\nauth_type = trust")],
        ["a list separator in a list item", (plan: any) => (plan.pgbouncer.ignoreStartupParameters = ["extra_float_digits,options"])],
        ["a space in the admin user", (plan: any) => (plan.pgbouncer.adminUser = "admin root")],
        ["'=' in a stats user", (plan: any) => (plan.pgbouncer.statsUsers = ["a=b"])],
        ["a bad key in [users]", (plan: any) => (plan.pgbouncer.users[0].role = "a b")],
        ["a non-finite number", (plan: any) => (plan.pgbouncer.maxClientConn = Number.POSITIVE_INFINITY)],
    ])("%s", (_name, edit) => {
        expect(() => renderPgbouncerIni(hostile(edit), CONTAINER_LAYOUT)).toThrow(RenderError);
    });

    test("a space or quote in a connection-string value is quoted, not refused", () => {
        const text = renderPgbouncerIni(hostile((plan) => (plan.pools[0].database = "it's db")), CONTAINER_LAYOUT);
        expect(text).toContain("dbname='it''s db'");
    });

    test("a path with a comment start in the layout is refused too", () => {
        const layout: ServerLayout = { ...CONTAINER_LAYOUT, pgbouncer: { ...CONTAINER_LAYOUT.pgbouncer, userlistFile: "/etc/x;y" } };
        expect(() => renderPgbouncerIni(valid.plan, layout)).toThrow(/auth_file: ';' and '#' can start a comment/);
    });
});

describe("userlist.txt", () => {
    test("a line break in a user, a verifier that is not SCRAM, a user twice", () => {
        expect(() => renderUserlist([{ user: "a\nb", verifier: VERIFIER }])).toThrow(RenderError);
        expect(() => renderUserlist([{ user: "a", verifier: "md5abc" }])).toThrow(/SCRAM-SHA-256 verifier/);
        expect(() => renderUserlist([{ user: "a", verifier: `${VERIFIER}\n"b" "c"` }])).toThrow(RenderError);
        expect(() => renderUserlist([{ user: "a", verifier: VERIFIER }, { user: "a", verifier: VERIFIER }])).toThrow(/twice/);
    });

    test('a " in a user is doubled', () => {
        expect(renderUserlist([{ user: 'a"b', verifier: VERIFIER }])).toBe(`"a""b" "${VERIFIER}"\n`);
    });

    test("every pooled user needs a verifier", () => {
        expect(() => pgbouncerUserlistEntries(valid.plan, VERIFIER, {})).toThrow(/no verifier/);
    });
});

describe("postgresql.conf", () => {
    test.each([
        ["a line break in a value", (plan: any) => (plan.postgres.extraSettings = [["application_name", "x\nlisten_addresses = '*'"]])],
        ["a NUL in a value", (plan: any) => (plan.postgres.extraSettings = [["application_name", "x\0"]])],
        ["a name the lexer cannot read", (plan: any) => (plan.postgres.extraSettings = [["work mem", "4MB"]])],
        ["a name with two dots", (plan: any) => (plan.postgres.extraSettings = [["a.b.c", 1]])],
        ["an include directive", (plan: any) => (plan.postgres.extraSettings = [["include_dir", "conf.d"]])],
        ["the program's own setting again", (plan: any) => (plan.postgres.extraSettings = [["port", 1]])],
        ["a non-finite number", (plan: any) => (plan.postgres.extraSettings = [["random_page_cost", Number.NaN]])],
        ["a line break in the program's own value", (plan: any) => (plan.postgres.sharedBuffers = "128MB'\nfsync = 'off")],
    ])("%s", (_name, edit) => {
        expect(() => renderPostgresqlConf(hostile(edit), CONTAINER_LAYOUT)).toThrow(RenderError);
    });

    test("numbers the config-file lexer cannot read bare are quoted (found by the integration property test)", () => {
        const text = renderPostgresqlConf(
            hostile((plan) => (plan.postgres.extraSettings = [["autovacuum_vacuum_cost_delay", -7e-323], ["random_page_cost", 1.5], ["work_mem", 4096], ["x.big", 1e21]])),
            CONTAINER_LAYOUT,
        );
        expect(text).toContain("autovacuum_vacuum_cost_delay = '-7e-323'\n");
        expect(text).toContain("random_page_cost = 1.5\n");
        expect(text).toContain("work_mem = 4096\n");
        expect(text).toContain("x.big = '1e+21'\n");
    });

    test("quotes and backslashes are escaped, not refused", () => {
        const text = renderPostgresqlConf(hostile((plan) => (plan.postgres.extraSettings = [["application_name", "it's \\ x"]])), CONTAINER_LAYOUT);
        expect(text).toContain("application_name = 'it''s \\\\ x'\n");
    });

    test("pg_hba.conf refuses a name, address or comment it cannot write as one field", () => {
        const network = { subnet: "172.30.0.0/16", gateway: "172.30.0.1" };
        expect(() => renderPgHbaConf(hbaRules(hostile((plan) => (plan.grants[1].role = "app all")), network))).toThrow(RenderError);
        expect(() => renderPgHbaConf(hbaRules(hostile((plan) => (plan.grants[0].database = "db\nhost all all 0.0.0.0/0 trust")), network))).toThrow(RenderError);
        expect(() => renderPgHbaConf(hbaRules(valid.plan, { ...network, subnet: "0.0.0.0/0 trust" }))).toThrow(RenderError);
        expect(() => renderPgHbaConf([{ type: "host", databases: ["all"], users: ["all"], address: "0.0.0.0/0", method: "reject", comment: "a\nhost all all 0.0.0.0/0 trust" }])).toThrow(RenderError);
        expect(renderPgHbaConf(hbaRules(valid.plan, network))).toMatch(/host  all  all  0\.0\.0\.0\/0  reject\n# everything else\nhost  all  all  ::\/0  reject\n$/);
    });
});

describe("redis.conf and users.acl", () => {
    test.each([
        ["a second default user", (plan: any) => plan.redis.users.push({ name: "default", kind: "admin" })],
        ["a space in a user name", (plan: any) => (plan.redis.users[0].name = "a b")],
    ])("users.acl: %s", (_name, edit) => {
        const plan = hostile(edit);
        expect(() => renderRedisAcl(plan.redis, { ...hashes(valid.plan), ...hashes(plan) })).toThrow(RenderError);
    });

    test("redis.conf: a line break in maxmemory", () => {
        const plan = hostile((plan: any) => (plan.redis.maxmemory = "1gb\nuser default on nopass ~* +@all"));
        expect(() => renderRedisConf(plan.redis, CONTAINER_LAYOUT)).toThrow(RenderError);
    });

    test("a password hash that is not SHA-256 hex", () => {
        expect(() => renderRedisAcl(valid.plan.redis, { ...hashes(valid.plan), admin: "nopass" })).toThrow(/SHA-256/);
    });

    test("quotes and control characters in an argument are escaped inside double quotes", () => {
        const layout: ServerLayout = { ...CONTAINER_LAYOUT, redis: { ...CONTAINER_LAYOUT.redis, dataDirectory: '/data "x"\u0007' } };
        expect(renderRedisConf(valid.plan.redis, layout)).toContain('dir "/data \\"x\\"\\x07"\n');
    });
});

describe("Qdrant's production.yaml", () => {
    test("keys that cannot travel in an HTTP header, ports that are not ports", () => {
        const keys = { apiKey: "key-0123456789", readOnlyApiKey: "ro-0123456789" };
        expect(() => renderQdrantConfig(valid.plan.qdrant, CONTAINER_LAYOUT, { ...keys, apiKey: "with space" })).toThrow(RenderError);
        expect(() => renderQdrantConfig(valid.plan.qdrant, CONTAINER_LAYOUT, { ...keys, readOnlyApiKey: "line\nbreak" })).toThrow(RenderError);
        expect(() => renderQdrantConfig(hostile((plan) => (plan.qdrant.httpPort = 0)).qdrant, CONTAINER_LAYOUT, keys)).toThrow(/not a TCP port/);
    });
});

describe(".env files", () => {
    test("a value with spaces or shell metacharacters is single-quoted, which every reader takes literally", () => {
        expect(renderEnvFile([["A", "x y"], ["B", "postgresql://h/db?a=1&b=2"], ["C", "plain-value_1.2:3@x/y"]])).toBe(
            "A='x y'\nB='postgresql://h/db?a=1&b=2'\nC=plain-value_1.2:3@x/y\n",
        );
    });

    test.each([
        ["a quote", [["A", "x'y"]]],
        ["a double quote", [["A", 'x"y']]],
        ["a '$'", [["A", "x$y"]]],
        ["an escape character", [["A", "x\u001by"]]],
        ["a line break", [["A", "x\nB=y"]]],
        ["a name that is not a variable name", [["A-B", "x"]]],
        ["a name twice", [["A", "x"], ["A", "y"]]],
    ])("%s", (_name, env) => {
        expect(() => renderEnvFile(env as Array<[string, string]>)).toThrow(RenderError);
    });

    test("credentials are percent-encoded inside URLs, so a URL is always a safe value", () => {
        const credentials = { ...planCredentials(valid.plan), postgres: { ...planCredentials(valid.plan).postgres, zentoria_app: "p@ss:w/rd#$ x" } };
        const strings = connectionStrings(valid.plan, credentials, networkEndpoints(valid.plan));
        expect(strings.postgres.backend.zentoria_main.pooled).toContain("zentoria_app:p%40ss%3Aw%2Frd%23%24%20x@");
    });
});
