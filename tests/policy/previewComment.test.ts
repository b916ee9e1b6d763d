// policy/preview-comment.js over outputs captured from `pulumi preview --policy-pack policy
// --non-interactive --color never` with CLI 3.248 (fixtures/preview-output; resource names changed).
import * as fs from "fs";
import * as path from "path";

interface Operation {
    type: string;
    name: string;
    op: string;
    diff: string;
}
const { render, operations } = require("../../policy/preview-comment.js") as {
    render(input: { stack: string; exitCode: number; output: string; fullOutputElsewhere?: boolean }): string;
    operations(lines: string[]): Operation[];
};

const sample = (name: string) => fs.readFileSync(path.join(__dirname, "fixtures/preview-output", name), "utf8");

describe("preview-comment", () => {
    test("a pgbouncer.ini change: one replacement of the PgBouncer container, listed first", () => {
        const comment = render({ stack: "dev", exitCode: 0, output: sample("replace-pgbouncer.txt") });
        const lines = comment.split("\n");
        expect(lines.slice(0, 7)).toEqual([
            "<!-- zentoria-preview:dev -->",
            "### Pulumi preview of `dev`: ✅ preview succeeded",
            "",
            "**⚠️ Replacements (1)** — deleted and created again (containers: stopped first, so the service is down meanwhile)",
            "",
            "- `docker:index:Container` **zentoria-pgbouncer** replace — changed: `~uploads`",
            "",
        ]);
        expect(comment).toContain("**Resources:** +-1 to replace · 3 unchanged");
        expect(comment).toContain("**Policy violations:** none.");
        expect(comment).not.toContain("CAUTION");
        expect(comment).toContain("<details><summary>Full preview output</summary>");
    });

    test("after a successful preview the full output is left to pulumi/actions' own comment", () => {
        const comment = render({ stack: "dev", exitCode: 0, output: sample("replace-pgbouncer.txt"), fullOutputElsewhere: true });
        expect(comment).toContain("**Resources:** +-1 to replace · 3 unchanged");
        expect(comment).not.toContain("<details>");
        expect(comment.trim().split("\n").pop()).toBe("The full preview output is in the comment `preview` on zentoria/dev (pulumi/actions).");
    });

    test("a replaced or deleted data volume gets a caution", () => {
        const output = sample("replace-pgbouncer.txt").replace(
            " +- docker:index:Container zentoria-pgbouncer replace [diff: ~uploads]",
            " +- docker:index:Container zentoria-pgbouncer replace [diff: ~uploads]\n -  docker:index:Volume zentoria-postgres-data delete ",
        );
        const comment = render({ stack: "dev", exitCode: 0, output });
        expect(comment).toContain("> [!CAUTION]\n> A data volume is replaced or deleted: `zentoria-postgres-data`. Its data is lost unless the volume is retained.");
        expect(comment).toContain("- 🛑 `docker:index:Volume` **zentoria-postgres-data** delete");
    });

    test("policy violations: a table with their levels, the preview marked as blocked", () => {
        const comment = render({ stack: "fixture", exitCode: 1, output: sample("violations.txt") });
        expect(comment.split("\n")[1]).toBe("### Pulumi preview of `fixture`: ❌ blocked by 7 mandatory policy violation(s)");
        const rows = comment.split("\n").filter((line) => /^\| (❌|⚠️)/.test(line));
        expect(rows.map((row) => row.split(" | ").slice(0, 2).join(" | "))).toEqual([
            "| ❌ mandatory | `data-volume-retained`",
            "| ❌ mandatory | `image-pinned`",
            "| ❌ mandatory | `no-credential-in-env`",
            "| ❌ mandatory | `no-generated-secret-in-env`",
            "| ❌ mandatory | `no-plaintext-credential-output`",
            "| ❌ mandatory | `no-public-port`",
            "| ❌ mandatory | `role-connection-limit`",
            "| ⚠️ advisory | `container-healthcheck`",
            "| ⚠️ advisory | `container-restart-policy`",
        ]);
        expect(rows[5]).toBe(
            "| ❌ mandatory | `no-public-port` | docker:index/container:Container: fixture-redis | fixture-redis publishes container port 6379/tcp as host port 16399 on address 0.0.0.0; publish on 127.0.0.1, or set zentoria:bindAddress with zentoria:allowPublicBind: true in the stack config (the program then labels the container zentoria.public-bind=<address>). |",
        );
    });

    test("a replacement's three lines (delete original, replace, create replacement) are one replacement", () => {
        const lines = [
            " -- docker:index:Container zentoria-postgres delete original ",
            " +- docker:index:Container zentoria-postgres replace [diff: ~uploads]",
            " ++ docker:index:Container zentoria-postgres create replacement [diff: ~uploads]",
            " ~  docker:index:Network zentoria-network update [diff: ~labels]",
            "    - 1 to delete",
        ];
        expect(operations(lines)).toEqual([
            { type: "docker:index:Container", name: "zentoria-postgres", op: "replace", diff: "~uploads" },
            { type: "docker:index:Network", name: "zentoria-network", op: "update", diff: "~labels" },
        ]);
    });
});
