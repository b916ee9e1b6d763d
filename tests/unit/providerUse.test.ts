// README.md and .ci/toolchain/README.md say exactly which resources and inputs the program uses
// from each provider: the table between their provider-use markers must be what the program
// registers under mocks (support/providerUse.ts). When the program starts using another resource
// or input, this fails with the new table to paste into both; tests/toolchain/providerParity.test.ts
// then says whether the CI-built plugins have it.
import * as fs from "fs";
import * as path from "path";
import { REPO_ROOT } from "./support/config";
import { inputPaths, packageOf, programProviderUse, PROVIDER_PACKAGES, PROVIDER_USE_BEGIN, PROVIDER_USE_END, providerUseBlock, renderProviderUse } from "./support/providerUse";

jest.setTimeout(180_000);

test("input paths name nested objects and arrays of objects", () => {
    expect(inputPaths({ name: "x", envs: ["A=1"], healthcheck: { tests: ["CMD"] }, ports: [{ ip: "127.0.0.1" }, { internal: 1 }] })).toEqual([
        "name",
        "envs",
        "healthcheck",
        "healthcheck.tests",
        "ports",
        "ports[].ip",
        "ports[].internal",
    ]);
    expect([packageOf("docker:index/container:Container"), packageOf("pulumi:providers:postgresql"), packageOf("pulumi-nodejs:dynamic:Resource")]).toEqual([
        "docker",
        "postgresql",
        "pulumi-nodejs",
    ]);
});

test.each(["README.md", ".ci/toolchain/README.md"])("%s lists exactly the provider resources and inputs the program uses", async (file) => {
    const use = await programProviderUse();
    expect([...new Set([...use.values()].map((entry) => entry.provider))].sort()).toEqual([...PROVIDER_PACKAGES]);
    const expected = renderProviderUse(use);
    const block = providerUseBlock(fs.readFileSync(path.join(REPO_ROOT, file), "utf8"));
    if (block !== expected) {
        throw new Error(`${file}: the table between\n${PROVIDER_USE_BEGIN}\nand\n${PROVIDER_USE_END}\nmust be:\n\n${expected}\n`);
    }
});
