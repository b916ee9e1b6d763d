// Pulumi mocks that record every resource the program registers, with deterministic outputs
// for the random provider so rendered files are stable.
import * as pulumi from "@pulumi/pulumi";
import { createHash } from "crypto";
import { issueAll, TlsInputs } from "../../../components/tls";

export interface RecordedResource {
    type: string;
    name: string;
    inputs: Record<string, any>;
    provider?: string;
}

export const recorded: RecordedResource[] = [];

/** A stable fake secret per resource name: letters and digits, like RandomPassword's. */
export function fakePassword(name: string): string {
    return `example${createHash("sha256").update(`password:${name}`).digest("hex").slice(0, 25)}`;
}

export function fakeSaltBase64(name: string): string {
    return createHash("sha256").update(`salt:${name}`).digest().subarray(0, 16).toString("base64");
}

export const MOCK_SUBNET = "172.30.0.0/16";
export const MOCK_GATEWAY = "172.30.0.1";
export const MOCK_CONTAINER_ADDRESS = "172.30.0.10";

const SECRET_SIG = "4dabf18193072939515e22adb298388d";
const SECRET_VALUE = "1b47061264138c4ac30d75fd1eb44270";

/** Whether a recorded input value was sent as a secret. */
export function isSecretValue(value: unknown): boolean {
    return value !== null && typeof value === "object" && (value as Record<string, unknown>)[SECRET_SIG] === SECRET_VALUE;
}

/** Inputs as plain values: secret wrappers removed (see isSecretValue to ask about them). */
export function plain(value: any): any {
    if (isSecretValue(value)) {
        return plain(value.value);
    }
    if (Array.isArray(value)) {
        return value.map(plain);
    }
    if (value !== null && typeof value === "object") {
        return Object.fromEntries(Object.entries(value).map(([key, child]) => [key, plain(child)]));
    }
    return value;
}

export async function installMocks(project = "zentoria", stack = "dev", preview = false): Promise<void> {
    recorded.length = 0;
    await pulumi.runtime.setMocks(
        {
            newResource(args: pulumi.runtime.MockResourceArgs) {
                recorded.push({ type: args.type, name: args.name, inputs: args.inputs, provider: args.provider });
                const state: Record<string, any> = plain(args.inputs);
                switch (args.type) {
                    case "random:index/randomPassword:RandomPassword":
                        state.result = fakePassword(args.name);
                        break;
                    case "random:index/randomBytes:RandomBytes":
                        state.base64 = fakeSaltBase64(args.name);
                        break;
                    case "docker:index/network:Network":
                        // What Docker assigns a new bridge network.
                        state.ipamConfigs = [{ subnet: MOCK_SUBNET, gateway: MOCK_GATEWAY }];
                        break;
                    case "pulumi-nodejs:dynamic:Resource":
                        // The TLS resource (components/tls.ts) issues real certificates under mocks too.
                        if (args.inputs.caName !== undefined && args.inputs.requests !== undefined) {
                            Object.assign(state, issueAll(state as TlsInputs));
                        }
                        break;
                    case "docker:index/container:Container":
                        // What Docker reports of a container's networks (components/dataTier.ts reads it).
                        state.networkDatas = (args.inputs.networksAdvanced ?? []).map((network: { name: string }) => ({ networkName: network.name, ipAddress: MOCK_CONTAINER_ADDRESS }));
                        break;
                    case "docker:index/remoteImage:RemoteImage":
                        state.imageId = `sha256:${createHash("sha256").update(args.inputs.name).digest("hex")}`;
                        break;
                }
                return { id: `${args.name}-id`, state };
            },
            call(args: pulumi.runtime.MockCallArgs) {
                return args.inputs;
            },
        },
        project,
        stack,
        preview,
    );
}

export function outputValue<T>(output: pulumi.Output<T>): Promise<T> {
    return new Promise((resolve) => output.apply((value) => resolve(value)));
}

/**
 * Lets the mock monitor receive every registration the program made: waits until no new
 * resource has arrived for a while (dynamic resources serialize their provider first, which
 * takes longer on a busy machine).
 */
export async function settle(quietMs = 300, timeoutMs = 60_000): Promise<void> {
    const deadline = Date.now() + timeoutMs;
    let count = -1;
    while (Date.now() < deadline && count !== recorded.length) {
        count = recorded.length;
        await new Promise((resolve) => setTimeout(resolve, quietMs));
    }
}

export function ofType(type: string): RecordedResource[] {
    return recorded.filter((resource) => resource.type === type);
}

export function named(type: string, name: string): RecordedResource {
    const found = recorded.find((resource) => resource.type === type && resource.name === name);
    if (!found) {
        throw new Error(`no ${type} named ${name}; have: ${ofType(type).map((r) => r.name).join(", ")}`);
    }
    return found;
}

export const DYNAMIC = "pulumi-nodejs:dynamic:Resource";

/** A ServerConfig's inputs, secrets unwrapped (name: e.g. zentoria-postgres-config). */
export function serverConfig(name: string): Record<string, any> {
    return plain(named(DYNAMIC, name).inputs);
}

/** The files a ServerConfig writes onto its config volume, by file name. */
export function configFiles(name: string): Record<string, string> {
    return Object.fromEntries((serverConfig(name).files as Array<{ name: string; content: string }>).map((file) => [file.name, file.content]));
}
