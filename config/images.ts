// What an image reference says about the server in it.

/**
 * The major version in a PostgreSQL image tag: `pgvector/pgvector:0.8.1-pg15-bookworm`,
 * `postgres:17-trixie`, `postgres:16.4`. Undefined for digests and other tags.
 */
export function postgresMajorFromImage(image: string): number | undefined {
    const tag = /:([^:@/]+)$/.exec(image)?.[1];
    if (!tag) {
        return undefined;
    }
    const match = /(?:^|-)pg(\d{2})(?:-|$)/.exec(tag) ?? /^(\d{2})(?:[.-]|$)/.exec(tag);
    return match ? Number(match[1]) : undefined;
}
