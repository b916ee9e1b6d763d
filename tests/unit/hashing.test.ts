import { createHash } from "crypto";
import { redisPasswordHash, scramSha256Verifier } from "../../render/hashing";

describe("SCRAM-SHA-256 verifier", () => {
    test("matches the known vector (password datalake, salt h1pp0p4rty2020, 4096 iterations)", () => {
        expect(scramSha256Verifier("datalake", Buffer.from("h1pp0p4rty2020"), 4096)).toBe(
            "SCRAM-SHA-256$4096:aDFwcDBwNHJ0eTIwMjA=$xHkOo65LX9eBB8a6v+axqvs3+aMBTH0sCT7w/Nxzh5M=:PXuFoeJNuAGSeExskYSqkwUyiUJu8LPC9DgwDWQ9ARQ=",
        );
    });

    test("depends on the salt, so two roles with one password differ", () => {
        const a = scramSha256Verifier("same-password-123", Buffer.alloc(16, 1));
        const b = scramSha256Verifier("same-password-123", Buffer.alloc(16, 2));
        expect(a).not.toBe(b);
        expect(a.startsWith("SCRAM-SHA-256$4096:")).toBe(true);
    });

    test("refuses non-ASCII passwords, for which SASLprep would change the bytes", () => {
        expect(() => scramSha256Verifier("pässwörd-long-enough", Buffer.alloc(16))).toThrow(/ASCII/);
    });
});

test("Redis ACL hash is # and the SHA-256 hex of the password", () => {
    const expected = createHash("sha256").update("secret-value").digest("hex");
    expect(redisPasswordHash("secret-value")).toBe(`#${expected}`);
    expect(redisPasswordHash("secret-value")).toMatch(/^#[0-9a-f]{64}$/);
});
