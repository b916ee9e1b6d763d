// Every quoting and escaping rule of the rendered files, in one place. A value that cannot be
// written safely (a newline in a single-line format, say) is refused instead of mangled, even
// when the config check was bypassed: the renderers do not trust the plan.

/** A value a renderer refuses: which file, which entry, and the value (escaped). */
export class RenderError extends Error {
    constructor(file: string, entry: string, problem: string, value?: unknown) {
        super(`${file}: ${entry}: ${problem}${value === undefined ? "" : `: ${JSON.stringify(String(value))}`}`);
        this.name = "RenderError";
    }
}

function singleLine(value: string, file: string, entry: string): string {
    if (/[\r\n\0]/.test(value)) {
        throw new RenderError(file, entry, "value must not contain line breaks or NUL", value);
    }
    return value;
}

function finite(value: number, file: string, entry: string): number {
    if (!Number.isFinite(value)) {
        throw new RenderError(file, entry, "not a finite number", value);
    }
    return value;
}

// ---------------------------------------------------------------- postgresql.conf

/** guc-file.l: ID {LETTER}{LETTER_OR_DIGIT}* and QUALIFIED_ID {ID}"."{ID}. */
const POSTGRES_SETTING_NAME = /^[A-Za-z_][A-Za-z0-9_]*(\.[A-Za-z_][A-Za-z0-9_]*)?$/;

export function postgresConfName(name: string): string {
    if (!POSTGRES_SETTING_NAME.test(name)) {
        throw new RenderError("postgresql.conf", "setting name", "not a name postgresql.conf can hold", name);
    }
    return name;
}

/**
 * postgresql.conf: strings in single quotes, ' doubled and \ escaped; on/off; numbers bare
 * when guc-file.l reads them as one number. Its REAL needs a decimal point before an
 * exponent, so 1e+21 or -7e-323 (how JavaScript prints them) would be a syntax error bare:
 * those go in quotes, which the server parses with the same number rules (found by the
 * integration property test).
 */
export function postgresConfValue(value: string | number | boolean, name = "value"): string {
    if (typeof value === "boolean") {
        return value ? "on" : "off";
    }
    const text = typeof value === "number" ? String(finite(value, "postgresql.conf", name)) : singleLine(value, "postgresql.conf", name);
    if (typeof value === "number" && /^-?\d+(\.\d+)?$/.test(text)) {
        return text;
    }
    return `'${text.replace(/\\/g, "\\\\").replace(/'/g, "''")}'`;
}

// ---------------------------------------------------------------- pgbouncer.ini, userlist.txt

/**
 * libusual's ini parser (usual/cfparser.c, as PgBouncer uses it) reads `key = value` lines:
 * a key is [A-Za-z0-9_.*-], a line starting with ';' or '#' is a comment, the value is the rest
 * of the line with the spaces around it dropped. A value is written only when it reads back
 * as itself, with no ';' or '#' that some reader could take for a comment.
 */
const PGBOUNCER_KEY = /^[A-Za-z0-9_.*-]+$/;

export function pgbouncerKey(key: string, section: string): string {
    if (!PGBOUNCER_KEY.test(key) || key === "*") {
        throw new RenderError("pgbouncer.ini", `[${section}]`, "not a key the ini parser reads back", key);
    }
    return key;
}

/** pgbouncer.ini: the rest of the line is the value. */
export function pgbouncerValue(value: string | number, key = "value"): string {
    const text = typeof value === "number" ? String(finite(value, "pgbouncer.ini", key)) : singleLine(value, "pgbouncer.ini", key);
    if (/[;#]/.test(text)) {
        throw new RenderError("pgbouncer.ini", key, "';' and '#' can start a comment", text);
    }
    if (text !== text.trim()) {
        throw new RenderError("pgbouncer.ini", key, "the parser drops spaces around a value", text);
    }
    return text;
}

/** A comma-separated list setting (admin_users, stats_users, ignore_startup_parameters). */
export function pgbouncerList(items: readonly string[], key: string): string {
    for (const item of items) {
        if (item === "" || /[,\s"'=]/.test(item)) {
            throw new RenderError("pgbouncer.ini", key, "a list item must be non-empty without ',', spaces, quotes or '='", item);
        }
    }
    return pgbouncerValue(items.join(","), key);
}

/**
 * A value inside a [databases] or [users] connection string (PgBouncer loader.c
 * cstr_get_value): bare when it is a plain word, else in single quotes with ' doubled.
 */
export function pgbouncerConnstrValue(value: string | number, key = "value"): string {
    const text = typeof value === "number" ? String(finite(value, "pgbouncer.ini [databases]", key)) : singleLine(value, "pgbouncer.ini [databases]", key);
    if (/[;#]/.test(text)) {
        throw new RenderError("pgbouncer.ini [databases]", key, "';' and '#' can start a comment", text);
    }
    return /^[A-Za-z0-9_.\-/]+$/.test(text) ? text : `'${text.replace(/'/g, "''")}'`;
}

/** userlist.txt: both fields in double quotes, a " inside written "". */
export function userlistField(value: string): string {
    return `"${singleLine(value, "userlist.txt", "field").replace(/"/g, '""')}"`;
}

// ---------------------------------------------------------------- redis.conf

/**
 * redis.conf arguments (sds.c sdssplitargs): bare when safe, else double-quoted with \ and "
 * escaped. Control characters other than the line breaks (refused) are written as \xhh.
 */
export function redisArg(value: string | number): string {
    const text = typeof value === "number" ? String(finite(value, "redis.conf", "argument")) : singleLine(value, "redis.conf", "argument");
    if (/^[A-Za-z0-9_.:#~&*@+\-|/=%^]+$/.test(text)) {
        return text;
    }
    const escaped = text
        .replace(/\\/g, "\\\\")
        .replace(/"/g, '\\"')
        .replace(/[\x00-\x1f\x7f]/g, (character) => `\\x${character.charCodeAt(0).toString(16).padStart(2, "0")}`);
    return `"${escaped}"`;
}

/** A redis.conf directive or ACL user name: one bare word, or redis.conf reads something else. */
export function redisWord(value: string, what: string): string {
    if (!/^[A-Za-z0-9_.:-]+$/.test(value)) {
        throw new RenderError("redis.conf", what, "must be one word of letters, digits, '_', '.', ':' or '-'", value);
    }
    return value;
}

// ---------------------------------------------------------------- Qdrant, .env

/** An API key for Qdrant's config: it travels in an HTTP header, so printable ASCII only. */
export function qdrantKey(value: string, what: string): string {
    if (!/^[\x21-\x7e]+$/.test(value)) {
        throw new RenderError("production.yaml", what, "must be printable ASCII without spaces (it is sent as an HTTP header)");
    }
    return value;
}

const ENV_NAME = /^[A-Za-z_][A-Za-z0-9_]*$/;

/**
/**
 * .env files are read by shells (`set -a; . file`), dotenv (Node, Python), Docker Compose and
 * systemd. They agree on a bare value without shell metacharacters, and on a single-quoted one
 * taken literally; a value with a quote, a backslash, `$`, `` ` `` or a control character has no
 * form they all read the same, so it is refused. Credentials are restricted by the config
 * schema and URLs are percent-encoded, so none occurs. (`docker run --env-file` takes quotes
 * literally: give it only values without metacharacters.)
 */
export function envValue(name: string, value: string | number): string {
    if (!ENV_NAME.test(name)) {
        throw new RenderError(".env", "variable name", "not a variable name", name);
    }
    const text = typeof value === "number" ? String(finite(value, ".env", name)) : singleLine(value, ".env", name);
    if (/^[A-Za-z0-9_./:@%+=,-]*$/.test(text)) {
        return text;
    }
    if (/["'`$\\\x00-\x1f\x7f]/.test(text)) {
        throw new RenderError(".env", name, "value has a character that .env readers disagree on");
    }
    return `'${text}'`;
}

// ---------------------------------------------------------------- SQL, URLs

/** A SQL identifier, double-quoted. */
export function sqlIdentifier(name: string): string {
    return `"${singleLine(name, "SQL", "identifier").replace(/"/g, '""')}"`;
}

/** A SQL string literal (standard_conforming_strings: only ' needs doubling). */
export function sqlLiteral(value: string): string {
    if (value.includes("\0")) {
        throw new RenderError("SQL", "literal", "NUL cannot be sent");
    }
    return `'${value.replace(/'/g, "''")}'`;
}

/** Percent-encodes a user name or password for the userinfo part of a URL. */
export function urlUserinfo(value: string): string {
    return encodeURIComponent(value);
}

// ---------------------------------------------------------------- Prometheus, exporters

/**
 * A label value inside a PromQL selector or a rule's labels: the plan's names (aliases, roles)
 * are identifiers, and only those are written, so no PromQL or YAML escaping can be wrong.
 */
export function promLabelValue(value: string, what: string): string {
    if (!/^[A-Za-z0-9_.:-]+$/.test(value)) {
        throw new RenderError("rules.yml", what, "label values are written only when made of letters, digits, '_', '.', ':' or '-'", value);
    }
    return value;
}

/** A secret file read whole (trimmed by its reader): one line, no surrounding white space. Refused without showing it. */
export function secretFileLine(value: string, file: string): string {
    if (/[\r\n\0]/.test(value) || value !== value.trim() || value === "") {
        throw new RenderError(file, "secret", "must be one non-empty line without surrounding white space");
    }
    return `${value}\n`;
}

// ---------------------------------------------------------------- shell, .pgpass

/** A word for a bash script: bare when it holds no shell syntax, else single-quoted. */
export function shellWord(value: string | number, what: string): string {
    const text = typeof value === "number" ? String(finite(value, "shell script", what)) : singleLine(value, "shell script", what);
    if (/^[A-Za-z0-9_./:@%+=,-]+$/.test(text)) {
        return text;
    }
    return `'${text.replace(/'/g, `'\\''`)}'`;
}

/**
 * A field of a libpq password file: '\' and ':' escaped with '\' (libpq fe-connect.c
 * passwordFromFile); one line. Refused without showing it (it may be a password).
 */
export function pgpassField(value: string): string {
    if (/[\r\n\0]/.test(value)) {
        throw new RenderError("pgpass", "field", "must be one line");
    }
    return value.replace(/[\\:]/g, (character) => `\\${character}`);
}
