// Progress of a live change, shown in `pulumi up`'s output.

/**
 * Required when called, not imported: the dynamic provider receives the functions that use
 * this serialized, and an imported module object would be serialized along with them.
 */
export function logInfo(message: string): void {
    (require("@pulumi/pulumi") as typeof import("@pulumi/pulumi")).log.info(message);
}
