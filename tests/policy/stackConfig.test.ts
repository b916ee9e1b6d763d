// How the pack reads the stack's config from what the CLI hands it (PULUMI_CONFIG, PULUMI_STACK).
import { DEFAULT_SETTINGS, stackSettings } from "../../policy/stackConfig";

const env = (config: Record<string, string>, stack = "dev") => ({ PULUMI_CONFIG: JSON.stringify(config), PULUMI_STACK: stack });

describe("stackSettings", () => {
    test("a stack without those keys gets the defaults", () => {
        const settings = stackSettings(env({ "zentoria:prefix": "zentoria", "zentoria:bindAddress": "127.0.0.1" }));
        expect(settings).toEqual({ ...DEFAULT_SETTINGS, stack: "dev" });
        expect(DEFAULT_SETTINGS).toMatchObject({ allowPublicBind: false, retainData: { postgres: true, redis: true, qdrant: true } });
    });

    test("reads booleans as the CLI passes them (text), objects as JSON text, and the old namespace:config:key form", () => {
        const settings = stackSettings(
            env({
                "zentoria:allowPublicBind": "true",
                "zentoria:redis": JSON.stringify({ maxmemory: "1gb", retainDataOnDestroy: false }),
                "zentoria:config:qdrant": JSON.stringify({ retainDataOnDestroy: "false" }),
                "other:allowPublicBind": "false",
            }),
        );
        expect(settings.allowPublicBind).toBe(true);
        expect(settings.retainData).toEqual({ postgres: true, redis: false, qdrant: false });
    });

    test("collects configured credentials by path (the CLI decrypts them for the pack)", () => {
        const settings = stackSettings(env({ "zentoria:credentials": JSON.stringify({ postgres: { zentoria_app: "app-password-1234" }, qdrantApiKey: "qdrant-key-123456" }) }));
        expect([...settings.credentials]).toEqual([
            ["zentoria:credentials.postgres.zentoria_app", "app-password-1234"],
            ["zentoria:credentials.qdrantApiKey", "qdrant-key-123456"],
        ]);
    });

    test("refuses a value that is not a boolean", () => {
        expect(() => stackSettings(env({ "zentoria:allowPublicBind": "yes" }))).toThrow('stack config zentoria:allowPublicBind must be true or false, not "yes"');
    });

    test("without PULUMI_STACK the pack has no stack context", () => {
        expect(stackSettings({}).stack).toBeUndefined();
        expect(stackSettings({}).allowPublicBind).toBe(false);
    });
});
