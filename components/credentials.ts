// Every password and key of the stack: given as a config secret or generated, and the
// verifiers computed from them. Plaintext stays inside Pulumi secrets.
import * as pulumi from "@pulumi/pulumi";
import * as random from "@pulumi/random";
import { StackPlan } from "../config/plan";
import { Credentials } from "../render/connections";
import { redisPasswordHash, SCRAM_SALT_BYTES, scramSha256Verifier } from "../render/hashing";

export interface ScramLogin {
    password: pulumi.Output<string>;
    /** SCRAM-SHA-256 verifier from the password and a salt kept in state. */
    verifier: pulumi.Output<string>;
}

export interface RedisLogin {
    password: pulumi.Output<string>;
    /** `#<sha256>` for redis.conf. */
    hash: pulumi.Output<string>;
}

/** Keepers only once a rotation was asked for, so that existing stacks keep their passwords. */
function rotationKeepers(rotation: number): { keepers?: Record<string, string> } {
    return rotation > 0 ? { keepers: { rotation: String(rotation) } } : {};
}

export class StackCredentials extends pulumi.ComponentResource {
    readonly postgres: Readonly<Record<string, ScramLogin>>;
    readonly pgbouncerAdmin: ScramLogin;
    readonly redis: Readonly<Record<string, RedisLogin>>;
    readonly qdrantApiKey: pulumi.Output<string>;
    readonly qdrantReadOnlyApiKey: pulumi.Output<string>;

    constructor(name: string, args: { plan: StackPlan }, opts?: pulumi.ComponentResourceOptions) {
        super("zentoria:index:Credentials", name, {}, opts);
        const plan = args.plan;
        const provided = plan.providedCredentials;

        const postgres: Record<string, ScramLogin> = {};
        for (const role of plan.roles) {
            postgres[role.name] = this.scramLogin(`pg-${role.name}`, provided.postgres?.[role.name], role.rotation);
        }
        this.postgres = postgres;
        this.pgbouncerAdmin = this.scramLogin(`pgbouncer-${plan.pgbouncer.adminUser}`, provided.pgbouncerAdmin);

        const redis: Record<string, RedisLogin> = {};
        for (const user of plan.redis.users) {
            const password = this.password(`redis-${user.name}`, provided.redis?.[user.name]);
            redis[user.name] = { password, hash: pulumi.secret(password.apply(redisPasswordHash)) };
        }
        this.redis = redis;

        this.qdrantApiKey = this.password("qdrant-api-key", provided.qdrantApiKey);
        this.qdrantReadOnlyApiKey = this.password("qdrant-read-only-api-key", provided.qdrantReadOnlyApiKey);

        this.registerOutputs({});
    }

    /** `rotation` above 0 replaces the generated password (a new one for every new value). */
    private password(name: string, providedValue: string | undefined, rotation = 0): pulumi.Output<string> {
        if (providedValue !== undefined) {
            return pulumi.secret(providedValue);
        }
        // Letters and digits only: safe in URLs, .env files and every config format unescaped.
        const generated = new random.RandomPassword(`${name}-password`, { length: 32, special: false, ...rotationKeepers(rotation) }, { parent: this });
        return pulumi.secret(generated.result);
    }

    private scramLogin(name: string, providedValue: string | undefined, rotation = 0): ScramLogin {
        const password = this.password(name, providedValue, rotation);
        const salt = new random.RandomBytes(`${name}-scram-salt`, { length: SCRAM_SALT_BYTES, ...rotationKeepers(rotation) }, { parent: this });
        const verifier = pulumi
            .all([password, salt.base64])
            .apply(([plaintext, saltBase64]) => scramSha256Verifier(plaintext, Buffer.from(saltBase64, "base64")));
        return { password, verifier: pulumi.secret(verifier) };
    }

    /** All plaintext credentials, for connection strings (a secret Output). */
    plaintext(): pulumi.Output<Credentials> {
        const record = (logins: Readonly<Record<string, { password: pulumi.Output<string> }>>) =>
            pulumi.all(Object.fromEntries(Object.entries(logins).map(([name, login]) => [name, login.password])));
        return pulumi.secret(
            pulumi.all([record(this.postgres), this.pgbouncerAdmin.password, record(this.redis), this.qdrantApiKey, this.qdrantReadOnlyApiKey]).apply(
                ([postgres, pgbouncerAdmin, redis, qdrantApiKey, qdrantReadOnlyApiKey]) => ({
                    postgres,
                    pgbouncerAdmin,
                    redis,
                    qdrantApiKey,
                    qdrantReadOnlyApiKey,
                }),
            ),
        );
    }
}
