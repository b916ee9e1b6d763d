// Jest wiring: a file's servers start before its tests and stop after them, failed or not;
// a failing test shows the tail of every server's log.
import { Stack, StackOptions } from "./stack";

export { Stack } from "./stack";
export type { StackOptions } from "./stack";

export interface StackHandle {
    /** The running stack; throws when beforeAll failed. */
    readonly stack: Stack;
    /** A test that, when it fails, shows the tail of every server's log. */
    test(name: string, body: (stack: Stack) => Promise<void>, timeoutMs?: number): void;
}

function withLogs(error: unknown, stack: Stack | undefined): unknown {
    if (stack && error instanceof Error) {
        error.message = `${error.message}\n\nServer logs (${stack.dir}):\n${stack.logTails()}`;
    }
    return error;
}

/** Starts the servers before the file's tests and stops them after, even when something failed. */
export function useStack(options: StackOptions): StackHandle {
    let stack: Stack | undefined;
    let failed = false;
    beforeAll(async () => {
        stack = await Stack.create(options);
        try {
            await stack.start();
        } catch (error) {
            failed = true;
            throw withLogs(error, stack);
        }
    }, 180_000);
    afterAll(async () => {
        await stack?.stop(failed);
    }, 120_000);
    const handle: StackHandle = {
        get stack(): Stack {
            if (!stack) {
                throw new Error("the servers did not start (see the beforeAll error)");
            }
            return stack;
        },
        test(name, body, timeoutMs = 120_000) {
            test(
                name,
                async () => {
                    try {
                        await body(handle.stack);
                    } catch (error) {
                        failed = true;
                        throw withLogs(error, stack);
                    }
                },
                timeoutMs,
            );
        },
    };
    return handle;
}
