// Tests of the policy pack (tests/policy/), run from the repository root with the root's jest:
//   npx jest -c policy/jest.config.js        (or `npm test` in policy/)
// They import policy/*.ts, which resolve @pulumi/policy from policy/node_modules: run
// `npm ci --prefix policy` first.
const path = require("path");

module.exports = {
    rootDir: path.resolve(__dirname, ".."),
    preset: "ts-jest",
    testEnvironment: "node",
    transform: { "^.+\\.ts$": ["ts-jest", {}] },
    testMatch: ["<rootDir>/tests/policy/**/*.test.ts"],
};
