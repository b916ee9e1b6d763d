// The CI-built provider plugins (.ci/toolchain.sh bridges docker, postgresql and random from the
// upstream Terraform providers; postgresql from upstream v1.7.1, older than the official build)
// must have every resource and every input the program uses, nested inputs included. What the
// program uses comes from the program (tests/unit/support/providerUse.ts: index.ts under mocks
// with the committed stacks); what the plugins have comes from the schemas the toolchain
// generated for them ($ZENTORIA_CACHE/toolchain/build/<name>/gen/schema.json). A program that
// starts using, say, postgresql.GrantRole or Role.idleInTransactionSessionTimeout (both missing
// from the CI's postgresql plugin) fails here, instead of in the middle of the e2e test.
//
// Runs after .ci/toolchain.sh (npm run test:toolchain in .ci/run).
import * as fs from "fs";
import * as os from "os";
import * as path from "path";
import { DYNAMIC_PACKAGE, programProviderUse, PROVIDER_PACKAGES, ProviderUse, ResourceUse } from "../unit/support/providerUse";

jest.setTimeout(180_000);

interface Property {
    $ref?: string;
    items?: Property;
    additionalProperties?: Property;
}
interface Schema {
    provider?: { inputProperties?: Record<string, Property> };
    resources?: Record<string, { inputProperties?: Record<string, Property> }>;
    functions?: Record<string, { inputs?: { properties?: Record<string, Property> } }>;
    types?: Record<string, { properties?: Record<string, Property> }>;
}

const BUILD = path.join(process.env.ZENTORIA_CACHE || path.join(os.homedir(), ".cache", "zentoria"), "toolchain", "build");

function loadSchemas(): Record<string, Schema> {
    return Object.fromEntries(
        PROVIDER_PACKAGES.map((name) => {
            const file = path.join(BUILD, name, "gen", "schema.json");
            if (!fs.existsSync(file)) {
                throw new Error(`${file} is missing: build the toolchain first (eval "$(bash .ci/toolchain.sh)")`);
            }
            return [name, JSON.parse(fs.readFileSync(file, "utf8")) as Schema];
        }),
    );
}

/** The object type a property holds (directly, as array items or map values), if any. */
function typeOf(schema: Schema, property: Property): Record<string, Property> | undefined {
    const ref = property.$ref ?? property.items?.$ref ?? property.additionalProperties?.$ref;
    return ref?.startsWith("#/types/") ? schema.types?.[ref.slice("#/types/".length)]?.properties : undefined;
}

function topLevel(schema: Schema, entry: ResourceUse): Record<string, Property> | undefined {
    if (entry.type.startsWith("pulumi:providers:")) {
        return schema.provider?.inputProperties ?? {};
    }
    if (entry.type.startsWith("invoke ")) {
        const fn = schema.functions?.[entry.type.slice("invoke ".length)];
        return fn ? (fn.inputs?.properties ?? {}) : undefined;
    }
    return schema.resources?.[entry.type]?.inputProperties;
}

/** What the program uses that the plugins' schemas lack, one line each. */
export function missingFromPlugins(use: ProviderUse, schemas: Record<string, Schema>): string[] {
    const missing: string[] = [];
    for (const entry of use.values()) {
        if (entry.provider === DYNAMIC_PACKAGE) {
            continue; // served by @pulumi/pulumi's dynamic provider inside the program: no plugin, no schema
        }
        const schema = schemas[entry.provider];
        if (!schema) {
            missing.push(`${entry.type}: the CI builds no plugin for provider ${entry.provider}`);
            continue;
        }
        const properties = topLevel(schema, entry);
        if (!properties) {
            missing.push(`${entry.type}: not in the CI-built ${entry.provider} plugin`);
            continue;
        }
        for (const inputPath of [...entry.inputs].sort()) {
            let scope: Record<string, Property> | undefined = properties;
            for (const segment of inputPath.split(".").map((part) => part.replace(/\[\]$/, ""))) {
                const property: Property | undefined = scope?.[segment];
                if (!property) {
                    missing.push(`${entry.type}: input ${inputPath} is not in the CI-built ${entry.provider} plugin`);
                    break;
                }
                // A map of plain values (logOpts, tmpfs) takes any key.
                if (property.additionalProperties && !property.additionalProperties.$ref) {
                    break;
                }
                scope = typeOf(schema, property);
            }
        }
    }
    return missing;
}

describe("the CI-built provider plugins have what the program uses", () => {
    let schemas: Record<string, Schema>;
    let use: ProviderUse;
    beforeAll(async () => {
        schemas = loadSchemas();
        use = await programProviderUse();
    });

    test("every resource and input of the dev and prod stacks", () => {
        expect(use.size).toBeGreaterThanOrEqual(12);
        expect(missingFromPlugins(use, schemas)).toEqual([]);
    });

    test("the check sees what the postgresql plugin (upstream v1.7.1) lacks", () => {
        const extra: ProviderUse = new Map([
            ["postgresql:index/role:Role", { type: "postgresql:index/role:Role", provider: "postgresql", inputs: new Set(["name", "idleInTransactionSessionTimeout"]) }],
            ["postgresql:index/grantRole:GrantRole", { type: "postgresql:index/grantRole:GrantRole", provider: "postgresql", inputs: new Set(["role", "grantRole"]) }],
            ["docker:index/container:Container", { type: "docker:index/container:Container", provider: "docker", inputs: new Set(["ports", "ports[].ip", "ports[].bogus"]) }],
            ["pulumi:providers:postgresql", { type: "pulumi:providers:postgresql", provider: "postgresql", inputs: new Set(["host", "scheme"]) }],
            ["pulumi-nodejs:dynamic:Resource", { type: "pulumi-nodejs:dynamic:Resource", provider: DYNAMIC_PACKAGE, inputs: new Set(["__provider"]) }],
            ["aws:s3/bucket:Bucket", { type: "aws:s3/bucket:Bucket", provider: "aws", inputs: new Set(["bucket"]) }],
        ]);
        expect(missingFromPlugins(extra, schemas)).toEqual([
            "postgresql:index/role:Role: input idleInTransactionSessionTimeout is not in the CI-built postgresql plugin",
            "postgresql:index/grantRole:GrantRole: not in the CI-built postgresql plugin",
            "docker:index/container:Container: input ports[].bogus is not in the CI-built docker plugin",
            "pulumi:providers:postgresql: input scheme is not in the CI-built postgresql plugin",
            "aws:s3/bucket:Bucket: the CI builds no plugin for provider aws",
        ]);
    });
});
