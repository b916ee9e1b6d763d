// Three layers: unit (mocks, rendered files; `npm test`), integration (real PostgreSQL,
// PgBouncer and Redis processes; `npm run test:integration`), e2e (`pulumi up` on Docker;
// `npm run test:e2e`).
const common = {
    preset: "ts-jest",
    testEnvironment: "node",
    transform: { "^.+\\.ts$": ["ts-jest", {}] },
};

module.exports = {
    projects: [
        { ...common, displayName: "unit", testMatch: ["<rootDir>/tests/unit/**/*.test.ts"] },
        { ...common, displayName: "integration", testMatch: ["<rootDir>/tests/integration/**/*.test.ts"] },
        { ...common, displayName: "e2e", testMatch: ["<rootDir>/tests/e2e/**/*.test.ts"] },
    ],
};
