#!/usr/bin/env node
// Turns the text output of `pulumi preview --policy-pack policy --non-interactive` into the
// pull-request comment described in README.md ("Reviewing a change"): what will be replaced or deleted first
// (with data volumes called out), the change counts, the policy violations by level, then the full
// output folded away.
//
//   node policy/preview-comment.js --stack dev --exit-code 0 preview-dev.txt > comment-dev.md
//   node policy/preview-comment.js --stack dev --exit-code 0 --full-output-elsewhere preview-dev.txt
//
// Why it exists beside pulumi/actions' own comment (comment-on-pr), which holds the raw output:
// that action posts nothing when the preview fails (a program error, a mandatory policy
// violation), which is when a reviewer needs a comment most; and a reviewer looks for
// replacements, deleted data volumes and policy violations first, which the raw output buries.
// With --full-output-elsewhere (the preview succeeded and the action's comment has the output)
// the full output is left out and pointed to.
//
// The first line of the comment is a marker (<!-- zentoria-preview:<stack> -->) that the workflow
// uses to update its previous comment instead of adding one per push.
const fs = require("fs");

const MAX_FULL_OUTPUT = 45000; // GitHub comments hold 65536 characters.
// A planned step: " +- docker:index:Container zentoria-pgbouncer replace [diff: ~uploads]". The
// marker says what happens; a replacement shows as ++ (create replacement), +- and -- (delete original).
const RESOURCE_LINE = /^\s?(\+-|\+\+|--|-\+|\+|-|~|>|=)\s+(\S+:\S+)\s+(\S+)\s*(.*)$/;
const KIND = { "+": "create", "~": "update", "-": "delete", "+-": "replace", "++": "replace", "--": "replace", "-+": "replace", ">": "read", "=": "import" };
const RANK = ["read", "import", "create", "update", "delete", "replace"];
const VIOLATION_LINE = /^\s*- \[(mandatory|advisory|remediate|disabled)\]\s+(\S+)\s+\((.+)\)\s*$/;

function parseArgs(argv) {
    const args = { stack: "?", exitCode: undefined, file: undefined, fullOutputElsewhere: false };
    for (let i = 0; i < argv.length; i++) {
        if (argv[i] === "--stack") args.stack = argv[++i];
        else if (argv[i] === "--exit-code") args.exitCode = Number(argv[++i]);
        else if (argv[i] === "--full-output-elsewhere") args.fullOutputElsewhere = true;
        else args.file = argv[i];
    }
    if (!args.file || args.exitCode === undefined || Number.isNaN(args.exitCode)) {
        throw new Error("usage: preview-comment.js --stack NAME --exit-code N [--full-output-elsewhere] PREVIEW_OUTPUT_FILE");
    }
    return args;
}

/** The lines of the block that starts with `title` (e.g. "Policies:") up to the next top-level heading. */
function block(lines, title) {
    const start = lines.findIndex((line) => line.trim() === title && !/^\s/.test(line));
    if (start < 0) return [];
    const end = lines.findIndex((line, index) => index > start && /^\S/.test(line));
    return lines.slice(start + 1, end < 0 ? undefined : end).filter((line) => line.trim() !== "");
}

/** The planned operation of each resource (the output repeats lines; a replacement has three). */
function operations(lines) {
    const byResource = new Map();
    for (const line of lines) {
        const match = RESOURCE_LINE.exec(line);
        if (!match) continue;
        const [, marker, type, name, rest] = match;
        const key = `${type} ${name}`;
        const previous = byResource.get(key);
        const op = KIND[marker];
        const diff = /\[diff: ([^\]]*)\]/.exec(rest)?.[1] ?? "";
        if (!previous || RANK.indexOf(op) > RANK.indexOf(previous.op)) {
            byResource.set(key, { type, name, op, diff: diff || previous?.diff || "" });
        } else if (!previous.diff) {
            previous.diff = diff;
        }
    }
    return [...byResource.values()];
}

/** Policy violations: a "- [level]  policy  (type: name)" line, then the description and the message. */
function violations(policyLines) {
    const found = [];
    for (const line of policyLines) {
        const match = VIOLATION_LINE.exec(line);
        if (match) {
            found.push({ level: match[1], policy: match[2], resource: match[3], text: [] });
        } else if (found.length > 0 && /^\s{6,}\S/.test(line)) {
            found[found.length - 1].text.push(line.trim());
        }
    }
    // The first text line is the policy's description; the rest is the message.
    return found.map((violation) => ({ ...violation, message: (violation.text.length > 1 ? violation.text.slice(1) : violation.text).join(" ") }));
}

const cell = (text) => String(text).replace(/\|/g, "\\|").replace(/\n/g, " ");
const isVolume = (type) => /:Volume$/.test(type);

function render({ stack, exitCode, output, fullOutputElsewhere = false }) {
    const lines = output.replace(/\x1b\[[0-9;]*m/g, "").split("\n");
    const ops = operations(lines);
    const replaced = ops.filter((op) => op.op === "replace");
    const deleted = ops.filter((op) => op.op === "delete");
    const found = violations(block(lines, "Policies:"));
    const mandatory = found.filter((violation) => violation.level === "mandatory");
    const errors = block(lines, "Diagnostics:").filter((line) => /^\s*error:/.test(line));

    const status =
        exitCode === 0
            ? "✅ preview succeeded"
            : mandatory.length > 0
              ? `❌ blocked by ${mandatory.length} mandatory policy violation(s)`
              : `❌ preview failed (exit ${exitCode})`;
    const out = [`<!-- zentoria-preview:${stack} -->`, `### Pulumi preview of \`${stack}\`: ${status}`, ""];

    const dataLoss = [...replaced, ...deleted].filter((op) => isVolume(op.type));
    if (dataLoss.length > 0) {
        out.push(`> [!CAUTION]`, `> A data volume is replaced or deleted: ${dataLoss.map((op) => `\`${op.name}\``).join(", ")}. Its data is lost unless the volume is retained.`, "");
    }
    const list = (title, items, note) => {
        if (items.length === 0) return;
        out.push(`**${title} (${items.length})**${note ? ` — ${note}` : ""}`, "");
        for (const op of items) {
            out.push(`- ${isVolume(op.type) ? "🛑 " : ""}\`${op.type}\` **${op.name}** ${op.op}${op.diff ? ` — changed: \`${op.diff}\`` : ""}`);
        }
        out.push("");
    };
    list("⚠️ Replacements", replaced, "deleted and created again (containers: stopped first, so the service is down meanwhile)");
    list("🗑️ Deletions", deleted);

    const summary = block(lines, "Resources:").map((line) => line.trim());
    out.push(summary.length > 0 ? `**Resources:** ${summary.join(" · ")}` : "**Resources:** no summary in the output (see below).", "");

    if (found.length > 0) {
        out.push("**Policy violations**", "", "| level | policy | resource | message |", "| --- | --- | --- | --- |");
        for (const violation of found) {
            const icon = violation.level === "mandatory" ? "❌" : "⚠️";
            out.push(`| ${icon} ${violation.level} | \`${violation.policy}\` | ${cell(violation.resource)} | ${cell(violation.message)} |`);
        }
        out.push("");
    } else if (lines.some((line) => /✅ zentoria-data-tier/.test(line))) {
        out.push("**Policy violations:** none.", "");
    } else {
        out.push("**Policy violations:** the policy pack did not report (it may not have run; see the output).", "");
    }
    if (errors.length > 0) {
        out.push("**Errors**", "", "```text", ...errors.map((line) => line.trim()), "```", "");
    }

    if (fullOutputElsewhere) {
        out.push(`The full preview output is in the comment \`preview\` on zentoria/${stack} (pulumi/actions).`);
        return `${out.join("\n")}\n`;
    }
    let full = lines.join("\n").trim();
    if (full.length > MAX_FULL_OUTPUT) {
        full = `${full.slice(0, MAX_FULL_OUTPUT)}\n… (cut; the whole output is in the workflow run's log)`;
    }
    out.push("<details><summary>Full preview output</summary>", "", "```text", full.replace(/```/g, "``\u200b`"), "```", "</details>");
    return `${out.join("\n")}\n`;
}

if (require.main === module) {
    const args = parseArgs(process.argv.slice(2));
    process.stdout.write(render({ stack: args.stack, exitCode: args.exitCode, output: fs.readFileSync(args.file, "utf8"), fullOutputElsewhere: args.fullOutputElsewhere }));
}

module.exports = { render, operations, violations, block };
