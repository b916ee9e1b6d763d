// SECURITY.md's attack table and totals are generated from the attack suite's results files
// (scripts/security-report.ts), never typed by hand: this fails when they are out of step.
import * as fs from "fs";
import { attackBlock, BEGIN, END, readResults, SECURITY_FILE, withBlock } from "../../scripts/security-report";

test("SECURITY.md's attack block is what the committed results files give", () => {
    const document = fs.readFileSync(SECURITY_FILE, "utf8");
    const expected = withBlock(document, attackBlock(readResults()));
    if (expected !== document) {
        process.stdout.write(`SECURITY.md should read:\n${attackBlock(readResults())}\n`);
    }
    expect(document).toBe(expected);
});

test("the totals line counts every outcome and every refusal", () => {
    const outcome = (refused: boolean) => ({ attack: "a", from: "Docker host", expected: "x", refused, observed: "x" });
    const block = attackBlock([
        { suite: "one", description: "one stack", outcomes: [outcome(true), outcome(true)] },
        { suite: "two", description: "another", outcomes: [outcome(false)] },
    ]);
    expect(block.startsWith(BEGIN)).toBe(true);
    expect(block.endsWith(END)).toBe(true);
    expect(block).toContain("**3 attacks tried, 2 refused.**");
    expect(block).toContain("On another: 1 tried, 0 refused.");
    expect(block).toContain("| a | Docker host | **NOT REFUSED** | x |");
});
