// scripts/deploy.ts (npm run deploy / npm run preview) with stand-ins for what this machine lacks:
// a `docker` that answers or not, a `pulumi` on PATH of a chosen version, and, for the install
// path, get.pulumi.com. The real download cannot happen here (no internet), so `fetch` hands
// PulumiCommand.install a stand-in install.sh, which the Automation API runs exactly as it runs
// the real one (`sh install.sh --no-edit-path --install-root <root> --version <version>`) and
// which installs a stub `pulumi` of the version it was asked for. Everything between, from
// finding no CLI to running `pulumi up` with the installed one, is the script's real code.
import * as fs from "fs";
import * as os from "os";
import * as path from "path";
import { PulumiCommand } from "@pulumi/pulumi/automation";
import { main } from "../../scripts/deploy";
import { pinnedCliVersion } from "../../ops/pulumiCli";
import { REPO_ROOT } from "./support/config";

jest.setTimeout(120_000);

const PINNED = JSON.parse(fs.readFileSync(path.join(REPO_ROOT, "package.json"), "utf8")).dependencies["@pulumi/pulumi"] as string;

/** A stub `pulumi`: prints `v<version>` for `version`, else logs its arguments and backend. */
function stubCli(version: string): string {
    return [
        "#!/bin/sh",
        `if [ "$1" = version ]; then echo "v${version}"; exit 0; fi`,
        'echo "$0 $* | backend=$PULUMI_BACKEND_URL" >>"$STUB_LOG"',
        "",
    ].join("\n");
}

/** What get.pulumi.com/install.sh does, as far as the Automation API relies on it. */
const INSTALL_SH = `#!/bin/sh
set -e
root=""; version=""
while [ $# -gt 0 ]; do
  case "$1" in
    --install-root) root="$2"; shift 2 ;;
    --version) version="$2"; shift 2 ;;
    *) shift ;;
  esac
done
mkdir -p "$root/bin"
cat >"$root/bin/pulumi" <<EOF
#!/bin/sh
if [ "\\$1" = version ]; then echo "v$version"; exit 0; fi
echo "\\$0 \\$* | backend=\\$PULUMI_BACKEND_URL" >>"\\$STUB_LOG"
EOF
chmod +x "$root/bin/pulumi"
echo "$version" >>"$root/../install-count"
`;

interface Sandbox {
    dir: string;
    bin: string;
    home: string;
    log: string;
    env: NodeJS.ProcessEnv;
}

function sandbox(docker: "answers" | "fails" | "missing"): Sandbox {
    const dir = fs.mkdtempSync(path.join(os.tmpdir(), "zentoria-deploy-"));
    const bin = path.join(dir, "bin");
    const home = path.join(dir, "home");
    fs.mkdirSync(bin);
    fs.mkdirSync(home);
    if (docker !== "missing") {
        fs.writeFileSync(path.join(bin, "docker"), `#!/bin/sh\nexit ${docker === "answers" ? 0 : 1}\n`, { mode: 0o755 });
    }
    const log = path.join(dir, "calls.log");
    // Only bin/ is on PATH: no pulumi unless a test puts one there, and this machine's own docker
    // out of sight. The stubs need nothing but /bin/sh's builtins.
    const env: NodeJS.ProcessEnv = { PATH: bin, HOME: home, STUB_LOG: log };
    return { dir, bin, home, log, env };
}

async function deploy(box: Sandbox, command: "up" | "preview", argv: string[]): Promise<{ code: number; lines: string[]; calls: string[] }> {
    const lines: string[] = [];
    const code = await main(command, argv, { projectDir: REPO_ROOT, env: box.env, log: (line) => lines.push(line) });
    const calls = fs.existsSync(box.log) ? fs.readFileSync(box.log, "utf8").trim().split("\n") : [];
    return { code, lines, calls };
}

let realFetch: typeof fetch;
let fetched: string[];
beforeEach(() => {
    realFetch = globalThis.fetch;
    fetched = [];
    globalThis.fetch = (async (url: string) => {
        fetched.push(String(url));
        return { ok: true, status: 200, statusText: "OK", text: async () => INSTALL_SH };
    }) as unknown as typeof fetch;
});
afterEach(() => {
    globalThis.fetch = realFetch;
    jest.restoreAllMocks();
});

test("the pinned CLI version is @pulumi/pulumi's exact version in package.json", () => {
    expect(pinnedCliVersion(REPO_ROOT)).toBe(PINNED);
    expect(PINNED).toMatch(/^\d+\.\d+\.\d+$/);
});

describe("without a Pulumi CLI on PATH", () => {
    test("installs the pinned version into the user's Pulumi home with the Automation API, then runs pulumi up with it", async () => {
        const box = sandbox("answers");
        const install = jest.spyOn(PulumiCommand, "install");
        const { code, lines, calls } = await deploy(box, "up", ["dev", "--yes"]);
        const root = path.join(box.home, ".pulumi", "versions", PINNED);
        const cli = path.join(root, "bin", "pulumi");

        expect(code).toBe(0);
        expect(install).toHaveBeenCalledTimes(1);
        expect(install.mock.calls[0][0]?.version?.version).toBe(PINNED);
        expect(install.mock.calls[0][0]?.root).toBe(root);
        expect(fetched).toEqual(["https://get.pulumi.com/install.sh"]);
        expect(lines).toEqual([
            `deploy: no Pulumi CLI on PATH; installing v${PINNED} (the version package.json pins) into ${root} with the Automation API, from get.pulumi.com ...`,
            `deploy: using the Pulumi CLI v${PINNED} at ${cli}`,
            `deploy: stack dev, state in file://${path.join(box.home, ".zentoria", "state")}, Pulumi CLI v${PINNED}`,
        ]);
        const backend = `backend=file://${path.join(box.home, ".zentoria", "state")}`;
        expect(calls).toEqual([`${cli} stack select --create --secrets-provider passphrase dev | ${backend}`, `${cli} up --stack dev --yes | ${backend}`]);
        expect(fs.existsSync(path.join(box.home, ".zentoria", "state"))).toBe(true);

        // A second run finds the installed CLI and downloads nothing.
        await deploy(box, "up", ["dev"]);
        expect(fetched).toHaveLength(1);
        expect(fs.readFileSync(path.join(root, "..", "install-count"), "utf8").trim().split("\n")).toEqual([PINNED]);
    });

    test("installs into $PULUMI_HOME when it is set, and previews with the policy pack", async () => {
        const box = sandbox("answers");
        box.env.PULUMI_HOME = path.join(box.dir, "pulumi-home");
        box.env.PULUMI_BACKEND_URL = "file:///srv/zentoria-state";
        const { code, calls } = await deploy(box, "preview", ["prod"]);
        const cli = path.join(box.dir, "pulumi-home", "versions", PINNED, "bin", "pulumi");
        expect(code).toBe(0);
        expect(calls).toEqual([
            `${cli} stack select --create --secrets-provider passphrase prod | backend=file:///srv/zentoria-state`,
            `${cli} preview --stack prod --policy-pack policy | backend=file:///srv/zentoria-state`,
        ]);
    });

    test("a failed download stops with one line that says what to do", async () => {
        const box = sandbox("answers");
        globalThis.fetch = (async () => {
            throw new Error("getaddrinfo ENOTFOUND get.pulumi.com");
        }) as unknown as typeof fetch;
        const { code, lines, calls } = await deploy(box, "up", []);
        expect(code).toBe(1);
        expect(lines[1]).toMatch(/^deploy: could not install the Pulumi CLI v\S+ into .* \(.*ENOTFOUND get\.pulumi\.com\); install it yourself: https:\/\/www\.pulumi\.com\/docs\/install\/$/);
        expect(lines).toHaveLength(2);
        expect(calls).toEqual([]);
    });
});

describe("with a Pulumi CLI on PATH", () => {
    test("uses it as it is: no install, the stack selected or created with a passphrase, pulumi up with the given options", async () => {
        const box = sandbox("answers");
        fs.writeFileSync(path.join(box.bin, "pulumi"), stubCli(PINNED), { mode: 0o755 });
        box.env.ZENTORIA_STATE_DIR = path.join(box.dir, "state");
        const install = jest.spyOn(PulumiCommand, "install");
        const { code, lines, calls } = await deploy(box, "up", ["prod", "--yes", "--diff"]);
        const cli = path.join(box.bin, "pulumi");
        expect(code).toBe(0);
        expect(install).not.toHaveBeenCalled();
        expect(fetched).toEqual([]);
        expect(lines).toEqual([`deploy: stack prod, state in file://${path.join(box.dir, "state")}, Pulumi CLI v${PINNED}`]);
        expect(calls).toEqual([
            `${cli} stack select --create --secrets-provider passphrase prod | backend=file://${path.join(box.dir, "state")}`,
            `${cli} up --stack prod --yes --diff | backend=file://${path.join(box.dir, "state")}`,
        ]);
    });

    test("options without a stack name go to the dev stack", async () => {
        const box = sandbox("answers");
        fs.writeFileSync(path.join(box.bin, "pulumi"), stubCli(PINNED), { mode: 0o755 });
        const { calls } = await deploy(box, "up", ["--yes"]);
        expect(calls.map((call) => call.split(" | ")[0].split(" ").slice(1).join(" "))).toEqual(["stack select --create --secrets-provider passphrase dev", "up --stack dev --yes"]);
    });

    test("warns when its major version differs from the pinned one, and goes on with it", async () => {
        const box = sandbox("answers");
        fs.writeFileSync(path.join(box.bin, "pulumi"), stubCli("4.1.0"), { mode: 0o755 });
        const { code, lines, calls } = await deploy(box, "up", ["dev"]);
        expect(code).toBe(0);
        expect(lines[0]).toBe(
            `deploy: warning: the Pulumi CLI on PATH (${path.join(box.bin, "pulumi")}) is version 4.1.0, but this project is written for ${PINNED} (major version 3); going on with it`,
        );
        expect(calls).toHaveLength(2);
    });

    test("an older 3.x on PATH is used without a warning", async () => {
        const box = sandbox("answers");
        fs.writeFileSync(path.join(box.bin, "pulumi"), stubCli("3.150.0"), { mode: 0o755 });
        const { lines } = await deploy(box, "up", ["dev"]);
        expect(lines).toEqual([expect.stringMatching(/^deploy: stack dev, state in file:\/\/.*, Pulumi CLI v3\.150\.0$/)]);
    });

    test("returns the CLI's exit code", async () => {
        const box = sandbox("answers");
        fs.writeFileSync(path.join(box.bin, "pulumi"), `${stubCli(PINNED)}exit 3\n`, { mode: 0o755 });
        expect((await deploy(box, "up", ["dev"])).code).toBe(3);
    });
});

describe("stops with one line, before anything is installed or run", () => {
    test.each(["fails", "missing"] as const)("when Docker %s", async (docker) => {
        const box = sandbox(docker);
        const install = jest.spyOn(PulumiCommand, "install");
        const { code, lines, calls } = await deploy(box, "up", ["dev"]);
        expect(code).toBe(1);
        expect(lines).toEqual(["deploy: no Docker engine answers (is dockerd running, and may this user use it? `docker info` must work)"]);
        expect(install).not.toHaveBeenCalled();
        expect(calls).toEqual([]);
    });

    test("when the stack has no Pulumi.<stack>.yaml", async () => {
        const box = sandbox("answers");
        const { code, lines } = await deploy(box, "preview", ["staging"]);
        expect(code).toBe(1);
        expect(lines).toEqual(['preview: there is no Pulumi.staging.yaml; see "Adding an environment" in README.md']);
    });
});
