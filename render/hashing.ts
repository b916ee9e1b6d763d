// Password verifiers computed by the program, so that servers only ever receive hashes.
import { createHash, createHmac, pbkdf2Sync } from "crypto";

export const SCRAM_ITERATIONS = 4096;
export const SCRAM_SALT_BYTES = 16;

/**
 * PostgreSQL's SCRAM-SHA-256 verifier (RFC 5802/7677), as stored in pg_authid.rolpassword.
 * PostgreSQL stores a pre-hashed verifier as given, and PgBouncer can log in to the server
 * with it only when its userlist.txt holds the byte-identical string, so both come from here.
 * The password must be ASCII (SASLprep is then the identity; the config schema enforces it).
 */
export function scramSha256Verifier(password: string, salt: Buffer, iterations = SCRAM_ITERATIONS): string {
    if (!/^[\x20-\x7e]*$/.test(password)) {
        throw new Error("SCRAM verifiers are computed for printable ASCII passwords only");
    }
    const saltedPassword = pbkdf2Sync(Buffer.from(password, "utf8"), salt, iterations, 32, "sha256");
    const clientKey = createHmac("sha256", saltedPassword).update("Client Key").digest();
    const storedKey = createHash("sha256").update(clientKey).digest();
    const serverKey = createHmac("sha256", saltedPassword).update("Server Key").digest();
    return `SCRAM-SHA-256$${iterations}:${salt.toString("base64")}$${storedKey.toString("base64")}:${serverKey.toString("base64")}`;
}

/** Redis ACL password hash: `#` followed by the SHA-256 of the password in hex. */
export function redisPasswordHash(password: string): string {
    return `#${createHash("sha256").update(password, "utf8").digest("hex")}`;
}
