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
    projects: [
        { ...common, displayName: "unit", testMatch: ["<rootDir>/tests/unit/**/*.test.ts"] },
        { ...common, displayName: "policy", testMatch: ["<rootDir>/tests/policy/**/*.test.ts"] },
        { ...common, displayName: "integration", testMatch: ["<rootDir>/tests/integration/**/*.test.ts"] },
        { ...common, displayName: "e2e", testMatch: ["<rootDir>/tests/e2e/**/*.test.ts"] },
        { ...common, displayName: "toolchain", testMatch: ["<rootDir>/tests/toolchain/**/*.test.ts"] },
    ],
};
