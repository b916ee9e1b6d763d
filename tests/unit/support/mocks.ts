// Pulumi mocks that record every resource the program registers, with deterministic outputs
// for the random provider so rendered files are stable.
import * as pulumi from "@pulumi/pulumi";
import { createHash } from "crypto";

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

/** Lets the mock monitor receive every registration the program made. */
export function settle(): Promise<void> {
    return new Promise((resolve) => setTimeout(resolve, 50));
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
