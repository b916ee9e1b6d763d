// What PostgreSQL itself says about its settings, per major version: generated from the
// server (`postgres --describe-config`), never written by hand.
import contexts15 from "./postgres-settings/15.contexts.json";
import contexts17 from "./postgres-settings/17.contexts.json";

const CONTEXTS: Readonly<Record<number, Readonly<Record<string, string>>>> = { 15: contexts15, 17: contexts17 };

/** Whether applying a new value of `name` needs a restart; unknown names count as needing one. */
export function needsRestart(majorVersion: number, name: string): boolean {
    const context = postgresSettingContext(majorVersion, name);
    return context === undefined || context === "postmaster";
}

/**
 * A setting's context (`postmaster` needs a restart; `sighup`, `superuser`, `user`, ... apply on
 * reload), or undefined when this major version does not know the name (extension settings).
 */
export function postgresSettingContext(majorVersion: number, name: string): string | undefined {
    return CONTEXTS[majorVersion]?.[name.toLowerCase()];
}
