// What the program uses from each provider, taken from the program itself: index.ts runs under
// Pulumi mocks with the committed stack files, and every registration the mock monitor receives
// is recorded with its type, whether it is a provider's (custom) resource, and the input
// properties it sets, nested ones included (`ports[].ip`, `healthcheck.tests`). The README's and
// .ci/toolchain/README.md's provider tables are rendered from it (tests/unit/providerUse.test.ts),
// and tests/toolchain/providerParity.test.ts checks it against the CI-built plugins' schemas.
import * as pulumi from "@pulumi/pulumi";
import { installMocks, plain, settle } from "./mocks";
import { pulumiConfigMap, stackConfigValues } from "./program";

/** The provider plugins the program needs (their npm SDKs are dependencies in package.json). */
export const PROVIDER_PACKAGES = ["docker", "postgresql", "random"] as const;
/** Resources of this package are served by the Node.js SDK itself (dynamic providers), no plugin. */
export const DYNAMIC_PACKAGE = "pulumi-nodejs";

export interface ResourceUse {
    /** The resource token, or `pulumi:providers:<package>` for a provider's configuration. */
    type: string;
    /** The package (provider) it belongs to. */
    provider: string;
    /** Input property paths the program sets: `name`, `healthcheck.tests`, `ports[].ip`. */
    inputs: Set<string>;
}

/** Resource token -> its use, for custom (provider) resources only; components are the program's own. */
export type ProviderUse = Map<string, ResourceUse>;

interface RegisterResourceRequest {
    getType(): string;
    getCustom(): boolean;
    getObject(): { toJavaScript(): Record<string, unknown> } | undefined;
}
interface MockMonitor {
    registerResource(request: RegisterResourceRequest, callback: (error: unknown, response?: unknown) => void): unknown;
    invoke?(request: { getTok(): string }, callback: (error: unknown, response?: unknown) => void): unknown;
}

/** `docker:index/container:Container` -> docker; `pulumi:providers:postgresql` -> postgresql. */
export function packageOf(type: string): string {
    const [pkg, module] = type.split(":");
    return pkg === "pulumi" && module === "providers" ? type.split(":")[2] : pkg;
}

/** The property paths a (plain) input value sets. */
export function inputPaths(value: Record<string, unknown>, prefix = ""): string[] {
    const paths: string[] = [];
    for (const [key, child] of Object.entries(value)) {
        const path = `${prefix}${key}`;
        paths.push(path);
        const items = Array.isArray(child) ? child : [child];
        for (const item of items) {
            if (item !== null && typeof item === "object" && !Array.isArray(item)) {
                paths.push(...inputPaths(item as Record<string, unknown>, `${path}${Array.isArray(child) ? "[]" : ""}.`));
            }
        }
    }
    return [...new Set(paths)];
}

function record(use: ProviderUse, type: string, inputs: Record<string, unknown>): void {
    const entry = use.get(type) ?? { type, provider: packageOf(type), inputs: new Set<string>() };
    for (const path of inputPaths(plain(inputs))) {
        entry.inputs.add(path);
    }
    use.set(type, entry);
}

/** Runs index.ts under mocks with a stack's config and adds what it registers to `use`. */
export async function collect(config: Record<string, unknown>, use: ProviderUse = new Map(), secretKeys: string[] = []): Promise<ProviderUse> {
    await installMocks("zentoria", "provider-use");
    const monitor = (pulumi.runtime as unknown as { getMonitor(): MockMonitor }).getMonitor();
    const register = monitor.registerResource.bind(monitor);
    monitor.registerResource = (request, callback) => {
        if (request.getCustom()) {
            record(use, request.getType(), request.getObject()?.toJavaScript() ?? {});
        }
        return register(request, callback);
    };
    if (monitor.invoke) {
        const invoke = monitor.invoke.bind(monitor);
        monitor.invoke = (request, callback) => {
            record(use, `invoke ${request.getTok()}`, {});
            return invoke(request, callback);
        };
    }
    pulumi.runtime.setAllConfig(pulumiConfigMap(config), secretKeys);
    jest.isolateModules(() => {
        require("../../../index");
    });
    await settle();
    return use;
}

/** The program's use over the committed stacks (dev, prod). */
export async function programProviderUse(): Promise<ProviderUse> {
    const use: ProviderUse = new Map();
    for (const stack of ["dev", "prod"]) {
        await collect(stackConfigValues(stack), use);
    }
    return use;
}

/** `healthcheck.tests`, `ports[].ip` grouped under their parents: `healthcheck{tests}`, `ports[]{ip}`. */
function describeInputs(inputs: Set<string>): string {
    const children = (parent: string) =>
        [...inputs].filter((path) => path.startsWith(`${parent}.`) && !path.slice(parent.length + 1).includes(".")).map((path) => path.slice(parent.length + 1));
    const render = (path: string): string => {
        const name = path.split(".").pop();
        const ofItems = children(`${path}[]`);
        if (ofItems.length > 0) {
            return `\`${name}[]\` (${ofItems.sort().map((child) => render(`${path}[].${child}`)).join(", ")})`;
        }
        const ofObject = children(path);
        if (ofObject.length > 0) {
            return `\`${name}\` (${ofObject.sort().map((child) => render(`${path}.${child}`)).join(", ")})`;
        }
        return `\`${name}\``;
    };
    return [...inputs]
        .filter((path) => !path.includes("."))
        .sort()
        .map(render)
        .join(", ");
}

const short = (type: string) => (type.startsWith("pulumi:providers:") ? "provider configuration" : `\`${type.split(":").pop()}\``);

/** The Markdown table of the program's provider use, as both READMEs carry it. */
export function renderProviderUse(use: ProviderUse): string {
    const rows = [...use.values()]
        .filter((entry) => !entry.type.startsWith("invoke "))
        .sort((a, b) => a.provider.localeCompare(b.provider) || (a.type.startsWith("pulumi:") ? -1 : b.type.startsWith("pulumi:") ? 1 : a.type.localeCompare(b.type)))
        .map((entry) => `| ${entry.provider} | ${short(entry.type)} | ${describeInputs(entry.inputs)} |`);
    const invokes = [...use.values()].filter((entry) => entry.type.startsWith("invoke ")).map((entry) => `\`${entry.type.slice(7)}\``);
    const dynamic = [...use.values()].filter((entry) => entry.provider === DYNAMIC_PACKAGE);
    return [
        "| provider | resource | inputs the program sets |",
        "| --- | --- | --- |",
        ...rows,
        "",
        `Functions (invokes): ${invokes.length > 0 ? invokes.join(", ") : "none"}. Dynamic resources (\`${DYNAMIC_PACKAGE}\`, served by the Node.js SDK, no plugin): ${dynamic.length > 0 ? dynamic.length : "none yet"}.`,
    ].join("\n");
}

export const PROVIDER_USE_BEGIN = "<!-- provider-use: generated from the program by tests/unit/providerUse.test.ts; do not edit by hand -->";
export const PROVIDER_USE_END = "<!-- provider-use end -->";

/** The table between the markers of a Markdown text, or undefined. */
export function providerUseBlock(markdown: string): string | undefined {
    const start = markdown.indexOf(PROVIDER_USE_BEGIN);
    const end = markdown.indexOf(PROVIDER_USE_END);
    return start < 0 || end < start ? undefined : markdown.slice(start + PROVIDER_USE_BEGIN.length, end).trim();
}
