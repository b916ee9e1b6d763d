// The live-change resources' decisions, without Docker: what counts as a change, a rotation,
// a removed grant or role, a refused major-version change, and how files travel to the writer.
import { changedKeys } from "../../components/live/apply";
import { removedGrants, removedRoles } from "../../components/live/accessReconciler";
import { majorVersionChange } from "../../components/live/dataDirectory";
import { changedFiles, rotatedRoles, ServerAccess } from "../../components/live/serverConfig";
import { checkVolumeFile, writerInput } from "../../components/live/volumeFiles";

const file = (name: string, content: string) => ({ name, content, mode: "0600", owner: "postgres:postgres" });

function pgbouncerAccess(verifiers: Record<string, string>): ServerAccess {
    return {
        kind: "pgbouncer",
        pgbouncer: {
            console: { container: "c", port: 6432, adminUser: "pgbouncer", adminPassword: "x" },
            postgres: { container: "p", superuser: "postgres", socketDirectory: "/var/run/postgresql", port: 5432 },
            logins: Object.fromEntries(Object.entries(verifiers).map(([role, verifier]) => [role, { role, verifier, password: "pw", database: role }])),
        },
    };
}

test("changed settings: added, removed and changed keys, in order", () => {
    expect(changedKeys({ a: 1, b: "x", c: true }, { a: 1, b: "y", d: 2 })).toEqual(["b", "c", "d"]);
    expect(changedKeys({ a: 1 }, { a: 1 })).toEqual([]);
});

test("changed files: by name, content or mode", () => {
    expect(changedFiles([file("a", "1"), file("b", "2")], [file("a", "1"), file("b", "3"), file("c", "4")])).toEqual(["b", "c"]);
    expect(changedFiles(undefined, [file("a", "1")])).toEqual(["a"]);
});

test("a rotation is a role whose verifier changed; a new role is not one", () => {
    const before = pgbouncerAccess({ app: "SCRAM-SHA-256$1", n8n: "SCRAM-SHA-256$2" });
    const after = pgbouncerAccess({ app: "SCRAM-SHA-256$9", n8n: "SCRAM-SHA-256$2", added: "SCRAM-SHA-256$3" });
    expect(rotatedRoles(before, after)).toEqual(["app"]);
    expect(rotatedRoles(undefined, after)).toEqual([]);
    expect(rotatedRoles({ kind: "qdrant", stopSeconds: 1 }, after)).toEqual([]);
});

test("removed grants and roles: what the old plan had and the new one has not; owners are never revoked", () => {
    const grant = (role: string, database: string, access: string) => ({ role, database, access, owner: "app" });
    expect(removedGrants([grant("ro", "main", "readonly"), grant("app", "main", "owner"), grant("n8n", "main", "readwrite")], [grant("n8n", "main", "readwrite")])).toEqual([
        grant("ro", "main", "readonly"),
    ]);
    expect(removedRoles(["app", "ro", "old"], ["app", "ro"])).toEqual(["old"]);
    expect(removedRoles(undefined, ["app"])).toEqual([]);
});

test("a PostgreSQL major-version change is refused with what to do instead", () => {
    expect(majorVersionChange({ majorVersion: 15 }, { majorVersion: 15 })).toBeUndefined();
    expect(majorVersionChange({}, { majorVersion: 17 })).toBeUndefined();
    expect(majorVersionChange({ majorVersion: 15 }, { majorVersion: 17 })).toMatch(/^PostgreSQL 15 -> 17: a data directory cannot change major version in place/);
});

test("files reach the writer as one header line and one base64 line each; unsafe names, modes and owners are refused", () => {
    const input = writerInput([file("pg_hba.conf", "line 1\nline 2\n'quoted' $x\n")]);
    const [header, data, rest] = input.split("\n");
    expect(header).toBe("pg_hba.conf 0600 postgres:postgres");
    expect(Buffer.from(data, "base64").toString("utf8")).toBe("line 1\nline 2\n'quoted' $x\n");
    expect(rest).toBe("");
    expect(() => checkVolumeFile(file("../etc/passwd", "x"))).toThrow(/unsafe file name/);
    expect(() => checkVolumeFile(file("a b", "x"))).toThrow(/unsafe file name/);
    expect(() => checkVolumeFile({ ...file("a", "x"), mode: "777; rm -rf /" })).toThrow(/mode/);
    expect(() => checkVolumeFile({ ...file("a", "x"), owner: "root; id" })).toThrow(/owner/);
});
