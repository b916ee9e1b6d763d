// Every quoting and escaping rule of the rendered files, in one place. A value that cannot be
// written safely (a newline in a single-line format, say) is refused instead of mangled.

function singleLine(value: string, where: string): string {
    if (/[\r\n\0]/.test(value)) {
        throw new Error(`${where}: value must not contain line breaks or NUL: ${JSON.stringify(value)}`);
    }
    return value;
}

/** postgresql.conf: strings in single quotes, ' doubled and \ escaped; numbers bare; on/off. */
export function postgresConfValue(value: string | number | boolean): string {
    if (typeof value === "boolean") {
        return value ? "on" : "off";
    }
    if (typeof value === "number") {
        return String(value);
    }
    return `'${singleLine(value, "postgresql.conf").replace(/\\/g, "\\\\").replace(/'/g, "''")}'`;
}

/** pgbouncer.ini: the rest of the line is the value; nothing to escape but line breaks. */
export function pgbouncerValue(value: string | number): string {
    return singleLine(String(value), "pgbouncer.ini");
}

/** A value inside a [databases] connection string: quoted when it has spaces or quotes. */
export function pgbouncerConnstrValue(value: string | number): string {
    const text = singleLine(String(value), "pgbouncer.ini [databases]");
    return /^[A-Za-z0-9_.\-/]+$/.test(text) ? text : `'${text.replace(/'/g, "''")}'`;
}

/** userlist.txt: both fields in double quotes, a " inside written "". */
export function userlistField(value: string): string {
    return `"${singleLine(value, "userlist.txt").replace(/"/g, '""')}"`;
}

/** redis.conf arguments: bare when safe, else double-quoted with \ and " escaped. */
export function redisArg(value: string | number): string {
    const text = singleLine(String(value), "redis.conf");
    if (/^[A-Za-z0-9_.:#~&*@+\-|/=%^]+$/.test(text)) {
        return text;
    }
    return `"${text.replace(/\\/g, "\\\\").replace(/"/g, '\\"')}"`;
}

/**
 * .env files are read by shells (`set -a; . file`), dotenv (Node, Python), Docker Compose and
 * systemd. They agree on a bare value without shell metacharacters, and on a single-quoted one
 * taken literally; a value with `'` or `\` has no form they all read the same, so it is refused.
 * Credentials are restricted by the config schema and URLs are percent-encoded, so none occurs.
 */
export function envValue(name: string, value: string | number): string {
    const text = singleLine(String(value), `.env ${name}`);
    if (/^[A-Za-z0-9_./:@%+=,-]*$/.test(text)) {
        return text;
    }
    if (/['\\]/.test(text)) {
        throw new Error(`.env ${name}: value has a quote or backslash that .env readers disagree on`);
    }
    return `'${text}'`;
}

/** A SQL identifier, double-quoted. */
export function sqlIdentifier(name: string): string {
    return `"${singleLine(name, "SQL identifier").replace(/"/g, '""')}"`;
}

/** A SQL string literal. */
export function sqlLiteral(value: string): string {
    return `'${value.replace(/'/g, "''")}'`;
}

/** Percent-encodes a user name or password for the userinfo part of a URL. */
export function urlUserinfo(value: string): string {
    return encodeURIComponent(value);
}
