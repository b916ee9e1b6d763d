// Five layers: unit (mocks, rendered files; `npm test`), policy (the policy pack's rules, the
// program under mocks against them, the CI workflow; `npm run test:policy`), integration (real
// PostgreSQL, PgBouncer and Redis processes; `npm run test:integration`), e2e (`pulumi up` on
// Docker; `npm run test:e2e`), toolchain (the CI-built provider plugins against the program's
// use of them, after .ci/toolchain.sh; `npm run test:toolchain`).
const common = {
    preset: "ts-jest",
    testEnvironment: "node",
    transform: { "^.+\\.ts$": ["ts-jest", {}] },
};

module.exports = {
    // The whole program under mocks takes seconds on a busy 2-core machine: jest's default 5 s
    // fails there. Tests that start servers or run Pulumi set their own, longer, timeouts.
    testTimeout: 120_000,
    projects: [
        { ...common, displayName: "unit", testMatch: ["<rootDir>/tests/unit/**/*.test.ts"] },
        { ...common, displayName: "policy", testMatch: ["<rootDir>/tests/policy/**/*.test.ts"] },
        { ...common, displayName: "integration", testMatch: ["<rootDir>/tests/integration/**/*.test.ts"] },
        { ...common, displayName: "e2e", testMatch: ["<rootDir>/tests/e2e/**/*.test.ts"] },
        { ...common, displayName: "toolchain", testMatch: ["<rootDir>/tests/toolchain/**/*.test.ts"] },
    ],
};
