// The committed settings tables (config/postgres-settings/<major>.json) are what the servers
// say: each is generated again from the server it names (Debian's binaries, or a Docker
// image) and must be the same, setting for setting. A new PostgreSQL package or image that
// changes a range, a unit or an enum fails here until `npm run pg-settings` is run again.
import { execFileSync } from "child_process";
import * as fs from "fs";
import { availableMajors, settingsFile, settingsTable } from "../../config/postgresSettings";
import { collectSettings, formatTable, SettingsSource, sourceOf } from "../../scripts/pg-settings";

function requireSource(source: SettingsSource): void {
    if (source.kind === "bin" && !fs.existsSync(`${source.dir}/initdb`)) {
        throw new Error(`${source.dir}/initdb is missing: install the Debian package postgresql-<major> (the table was generated from it)`);
    }
    if (source.kind === "image") {
        try {
            execFileSync("docker", ["image", "inspect", source.image], { stdio: "ignore" });
        } catch {
            throw new Error(`the image ${source.image} is not on the Docker engine: build it (bash .ci/images/build.sh) to check this table`);
        }
    }
}

test("there is a table for the default image's PostgreSQL 15", () => {
    expect(availableMajors()).toContain(15);
});

describe.each(availableMajors())("PostgreSQL %i", (major) => {
    const committed = settingsTable(major)!;

    test("the committed file is the generator's own formatting of it", () => {
        expect(fs.readFileSync(settingsFile(major), "utf8")).toBe(formatTable(committed));
    });

    test(
        `generated again from ${committed.generatedFrom}: the same settings, types, units, ranges, enum values and contexts`,
        () => {
            const source = sourceOf(committed.generatedFrom);
            requireSource(source);
            const fresh = collectSettings(source);
            expect(fresh.major).toBe(major);
            expect(fresh.settings.map((row) => row.name)).toEqual(committed.settings.map((row) => row.name));
            expect(fresh.settings).toEqual(committed.settings);
        },
        300_000,
    );
});
