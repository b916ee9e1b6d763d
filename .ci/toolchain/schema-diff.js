#!/usr/bin/env node
// Compares a bridged provider's generated Pulumi schema with the TypeScript
// declarations of the official npm SDK that the program uses.
//
//   node schema-diff.js <schema.json> <node_modules/@pulumi/NAME> [required tokens...]
//
// For every resource of the npm SDK it checks that the token exists in the
// schema and that the input property names (the <Resource>Args interface) are
// the same; it does the same for the provider config (ProviderArgs) and for
// functions. It prints one line per difference. Exit code 1 if a "required"
// resource/function token (given as extra args) is missing from the schema.
"use strict";
const fs = require("fs");
const path = require("path");

const [schemaPath, sdkDir, ...required] = process.argv.slice(2);
if (!schemaPath || !sdkDir) {
  console.error("usage: schema-diff.js <schema.json> <sdk dir> [required tokens...]");
  process.exit(2);
}
const schema = JSON.parse(fs.readFileSync(schemaPath, "utf8"));

// Property names of `export interface <name> { ... }` in a .d.ts file.
function interfaceProps(file, name) {
  if (!fs.existsSync(file)) return null;
  const text = fs.readFileSync(file, "utf8");
  const start = text.indexOf(`export interface ${name} {`);
  if (start < 0) return null;
  const end = text.indexOf("\n}", start);
  const props = new Set();
  for (const line of text.slice(start, end).split("\n")) {
    const m = /^    (?:readonly )?([A-Za-z_$][\w$]*)\??:/.exec(line);
    if (m) props.add(m[1]);
  }
  return props;
}

// token -> module file, from `pulumi.runtime.registerResourceModule` users:
// each resource .js declares `static __pulumiType = '<token>'`, each function
// calls invoke("<token>").
const resources = new Map();
const functions = new Map();
for (const f of fs.readdirSync(sdkDir)) {
  if (!f.endsWith(".js")) continue;
  const js = fs.readFileSync(path.join(sdkDir, f), "utf8");
  const base = f.slice(0, -3);
  let m = /__pulumiType = ['"]([^'"]+)['"]/.exec(js);
  if (m && base !== "provider") resources.set(m[1], base);
  m = /\.invoke(?:Output)?\(["']([^"']+)["']/.exec(js);
  if (m) functions.set(m[1], base);
}

const problems = [];
let fatal = false;
const isRequired = (tok) => required.includes(tok);
function compare(kind, tok, sdkProps, schemaProps) {
  const missing = [...sdkProps].filter((p) => !schemaProps.has(p));
  const extra = [...schemaProps].filter((p) => !sdkProps.has(p));
  if (missing.length) {
    problems.push(`${kind} ${tok}: SDK inputs unknown to our schema: ${missing.join(", ")}`);
  }
  if (extra.length) problems.push(`${kind} ${tok}: schema-only inputs (SDK cannot set them): ${extra.join(", ")}`);
}

const cap = (s) => s[0].toUpperCase() + s.slice(1);
let checked = 0;
for (const [tok, base] of resources) {
  const spec = (schema.resources || {})[tok];
  const sdkProps = interfaceProps(path.join(sdkDir, base + ".d.ts"), cap(base) + "Args");
  if (!spec) {
    problems.push(`resource ${tok}: missing from our schema`);
    if (isRequired(tok)) fatal = true;
    continue;
  }
  checked++;
  if (sdkProps) compare("resource", tok, sdkProps, new Set(Object.keys(spec.inputProperties || {})));
}
for (const [tok, base] of functions) {
  const spec = (schema.functions || {})[tok];
  if (!spec) {
    problems.push(`function ${tok}: missing from our schema`);
    if (isRequired(tok)) fatal = true;
    continue;
  }
  checked++;
  const sdkProps = interfaceProps(path.join(sdkDir, base + ".d.ts"), cap(base) + "Args");
  if (sdkProps) compare("function", tok, sdkProps, new Set(Object.keys((spec.inputs || {}).properties || {})));
}
const provProps = interfaceProps(path.join(sdkDir, "provider.d.ts"), "ProviderArgs");
if (provProps) {
  const cfg = new Set(Object.keys(((schema.provider || {}).inputProperties) || {}));
  compare("provider", "provider", provProps, cfg);
}
// Nested input types: types/input.d.ts declares one interface per object type,
// named like the last part of the schema type token.
const inputDts = path.join(sdkDir, "types", "input.d.ts");
if (fs.existsSync(inputDts)) {
  const text = fs.readFileSync(inputDts, "utf8");
  const byName = new Map();
  for (const tok of Object.keys(schema.types || {})) byName.set(tok.split(":").pop(), tok);
  let typesChecked = 0;
  for (const m of text.matchAll(/^( *)export interface (\w+) \{$/gm)) {
    const [, indent, name] = m;
    const tok = byName.get(name);
    if (!tok) continue; // function-argument shapes etc.
    const end = text.indexOf("\n" + indent + "}", m.index);
    const propRe = new RegExp("^" + indent + "    (?:readonly )?([A-Za-z_$][\\w$]*)\\??:");
    const props = new Set();
    for (const line of text.slice(m.index, end).split("\n")) {
      const pm = propRe.exec(line);
      if (pm) props.add(pm[1]);
    }
    typesChecked++;
    compare("type", tok, props, new Set(Object.keys(schema.types[tok].properties || {})));
  }
  console.log(`  ${path.basename(sdkDir)}: ${typesChecked} nested input types compared`);
}
for (const t of required) {
  if (t !== "provider" && !resources.has(t) && !functions.has(t)) {
    problems.push(`required token ${t} is not in the npm SDK`);
    fatal = true;
  }
}
for (const p of problems) console.log("  " + p);
console.log(`  ${path.basename(sdkDir)}: ${checked} SDK resources/functions found in our schema, ${problems.length} differences`);
process.exit(fatal ? 1 : 0);
