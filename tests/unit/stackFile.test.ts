// config/stackFile.ts: stack files read the way the Pulumi CLI reads them (the e2e test
// compares it with the CLI itself; here its values are pinned down without the CLI).
import { formatProblem, tryPlan } from "../../config";
import { rawConfigFromPulumi, rawConfigFromStackFileConfig } from "../../config/source";
import { ENCRYPTED_PLACEHOLDER, parseStackFile, StackFileError } from "../../config/stackFile";

const read = (yaml: string) => parseStackFile(yaml, "Pulumi.t.yaml", "zentoria");

function refusal(yaml: string): readonly string[] {
    try {
        read(yaml);
    } catch (error) {
        expect(error).toBeInstanceOf(StackFileError);
        return (error as StackFileError).lines;
    }
    throw new Error("the reader accepted the file");
}

describe("keys", () => {
    test("bare keys are the project's, the legacy form is read, other namespaces are kept apart", () => {
        const { config } = read("config:\n  prefix: a\n  zentoria:config:bindAddress: 127.0.0.1\n  docker:host: x\n");
        expect(config).toEqual({ "zentoria:prefix": "a", "zentoria:bindAddress": "127.0.0.1", "docker:host": "x" });
        const raw = rawConfigFromStackFileConfig(read("config:\n  prefix: a\n  docker:host: x\n"), "t");
        expect(raw.values).toEqual({ prefix: "a" });
    });

    test("a key the CLI cannot parse, or one given twice in two forms, is one line naming it", () => {
        expect(refusal("config:\n  zentoria:a:b: 1\n")).toEqual([expect.stringMatching(/^Pulumi\.t\.yaml:2: could not parse "zentoria:a:b" as a configuration key/)]);
        expect(refusal("config:\n  prefix: a\n  zentoria:prefix: b\n")).toEqual([
            'Pulumi.t.yaml:3: "zentoria:prefix" is the configuration key "zentoria:prefix" again (line 2, as prefix); give it once',
        ]);
        expect(refusal("config:\n  1: a\n")[0]).toMatch(/^Pulumi\.t\.yaml:2: could not parse 1 as a configuration key/);
    });
});

describe("values, as the CLI hands them to the program", () => {
    test("top-level scalars are text; the program parses JSON out of them", () => {
        const file = read('config:\n  zentoria:a: "5432"\n  zentoria:b: 017\n  zentoria:c: yes\n  zentoria:d:\n  zentoria:e: 2001-12-14\n');
        expect(file.config).toEqual({
            "zentoria:a": "5432",
            "zentoria:b": "15",
            "zentoria:c": "yes",
            "zentoria:d": "",
            "zentoria:e": "2001-12-14 00:00:00 +0000 UTC",
        });
        expect(rawConfigFromStackFileConfig(file, "t").values).toEqual({ a: 5432, b: 15, c: "yes", d: "", e: "2001-12-14 00:00:00 +0000 UTC" });
    });

    test("maps keep their strings, and yaml.v3's numbers", () => {
        const { config } = read('config:\n  zentoria:m:\n    q: "5432"\n    o: 017\n    u: 1_000\n    e: 08\n    h: 0x1F\n    z: -0.0\n    n: ~\n');
        expect(JSON.parse(config["zentoria:m"])).toEqual({ q: "5432", o: 15, u: 1000, e: 8, h: 31, z: 0, n: null });
    });

    test("anchors, merge keys: explicit keys win over merged ones", () => {
        const { config } = read("config:\n  base: &b\n    a: 1\n    b: 2\n  zentoria:m:\n    <<: *b\n    b: 3\n");
        expect(JSON.parse(config["zentoria:m"])).toEqual({ a: 1, b: 3 });
    });
});

describe("encrypted leaves", () => {
    const yaml = "config:\n  zentoria:credentials:\n    postgres:\n      zentoria_app:\n        secure: v1:abc\n    qdrantApiKey: plain-text-key-0001\n";

    test("are replaced by the placeholder and recorded one by one", () => {
        const file = read(yaml);
        expect(JSON.parse(file.config["zentoria:credentials"])).toEqual({ postgres: { zentoria_app: ENCRYPTED_PLACEHOLDER }, qdrantApiKey: "plain-text-key-0001" });
        expect(file.secretKeys).toEqual(["zentoria:credentials"]);
        expect(file.secretLeaves).toEqual(["zentoria:credentials.postgres.zentoria_app"]);
    });

    test("a plaintext credential beside an encrypted one is refused by its own key", () => {
        const errors = tryPlan(rawConfigFromStackFileConfig(read(yaml), "t")).problems.filter((problem) => problem.severity === "error");
        expect(errors.map(formatProblem)).toEqual([
            "zentoria:credentials.qdrantApiKey: must be stored encrypted: set it with `pulumi config set --secret --path 'zentoria:credentials.qdrantApiKey' ...`",
        ]);
    });

    test("the program, told only that the key holds a secret, takes the leaves from its stack file", () => {
        const allConfig = { "zentoria:credentials": JSON.stringify({ postgres: { zentoria_app: "Given-Password-42" }, qdrantApiKey: "plain-text-key-0001" }) };
        const withLeaves = rawConfigFromPulumi(allConfig, () => true, "t", { leaves: read(yaml).secretLeaves });
        expect([...withLeaves.secretLeaves]).toEqual(["credentials.postgres.zentoria_app"]);
        const without = rawConfigFromPulumi(allConfig, () => true, "t", { unknown: "no stack file" });
        const errors = tryPlan(without).problems.filter((problem) => problem.severity === "error");
        expect(errors.map((problem) => problem.key).sort()).toEqual(["credentials.postgres.zentoria_app", "credentials.qdrantApiKey"]);
        expect(errors[0].message).toMatch(/\(no stack file\)/);
    });
});

describe("YAML problems are file:line: message, never a stack trace", () => {
    test.each([
        ["an unclosed flow sequence", "config:\n  zentoria:x: [1, 2\n", /^Pulumi\.t\.yaml:\d+: /],
        ["a duplicate key", "config:\n  zentoria:x: 1\n  zentoria:x: 2\n", /^Pulumi\.t\.yaml:3: mapping key "zentoria:x" already defined at line 2$/],
        ["a tab", "config:\n\tzentoria:x: 1\n", /^Pulumi\.t\.yaml:2: /],
        ["an infinite number", "config:\n  zentoria:x: .inf\n", /^Pulumi\.t\.yaml:2: "zentoria:x": json: unsupported value: \+Inf/],
        ["a value its tag cannot take", "config:\n  zentoria:x: !!int abc\n", /^Pulumi\.t\.yaml:2: cannot decode !!str `abc` as a !!int$/],
        ["config as a list", "config:\n  - a\n", /^Pulumi\.t\.yaml:1: config must be a map/],
    ])("%s", (_name, yaml, line) => {
        const lines = refusal(yaml);
        expect(lines.length).toBeGreaterThan(0);
        expect(lines[0]).toMatch(line);
    });

    test("keys in messages are escaped", () => {
        expect(refusal('config:\n  "zentoria:a:\\u202e": 1\n')[0]).toContain('"zentoria:a:\\u202e"');
    });
});
