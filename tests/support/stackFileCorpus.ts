// Shapes of stack files that config/stackFile.ts must read as the Pulumi CLI does. The e2e
// test runs each through the real CLI (`pulumi config --json --show-secrets`) and through the
// reader and compares; the unit test holds the reader to the values written here.
//
// `SECURE` stands for a ciphertext that the e2e test makes with the CLI for the plaintext
// ENCRYPTED_PLACEHOLDER, so the CLI's decrypted value and the reader's placeholder are equal.

export interface CorpusCase {
    name: string;
    /** The stack file's text after the `encryptionsalt:` line. */
    yaml: string;
    /**
     * "same": the CLI and the reader agree, value for value, or both refuse the file.
     * A string: the reader refuses a file the CLI reads, for that reason.
     */
    expect: "same" | string;
}

export const SECURE = "@@SECURE@@";

export const CORPUS: readonly CorpusCase[] = [
    { name: "empty config", yaml: "config: {}\n", expect: "same" },
    { name: "no config at all", yaml: "", expect: "same" },
    { name: "config: null", yaml: "config:\n", expect: "same" },
    {
        name: "the dev stack",
        yaml: "config:\n  zentoria:prefix: zentoria\n  zentoria:bindAddress: 127.0.0.1\n",
        expect: "same",
    },
    {
        name: "quoted numbers: a string at the top level becomes a number for the program, inside a map it stays a string",
        yaml: 'config:\n  zentoria:prefix: "5432"\n  zentoria:postgres:\n    hostPort: "15432"\n    port: 5432\n',
        expect: "same",
    },
    {
        name: "booleans, as YAML booleans and as strings",
        yaml: 'config:\n  zentoria:allowPublicBind: "true"\n  zentoria:qdrant:\n    enabled: false\n    retainDataOnDestroy: "false"\n  zentoria:x: True\n',
        expect: "same",
    },
    {
        name: "YAML 1.1 words are strings",
        yaml: "config:\n  zentoria:a: yes\n  zentoria:b: on\n  zentoria:c:\n    d: no\n    e: off\n    f: y\n",
        expect: "same",
    },
    {
        name: "yaml.v3 numbers: octal, hex, underscores, a leading zero that is not octal, floats, exponents",
        yaml: "config:\n  zentoria:n:\n    octal: 017\n    hex: 0x1F\n    under: 1_000\n    eight: 08\n    float: 1.50\n    exp: 1e3\n    negzero: -0.0\n    big: 99999999999999999999\n    plus: +5\n    dot: .5\n",
        expect: "same",
    },
    {
        name: "top-level numbers",
        yaml: "config:\n  zentoria:a: 017\n  zentoria:b: 1.0\n  zentoria:c: 18446744073709551615\n  zentoria:d: -12\n",
        expect: "same",
    },
    {
        name: "timestamps become the CLI's time text",
        yaml: "config:\n  zentoria:when: 2001-12-14\n  zentoria:nested:\n    at: 2001-12-14T21:59:43.10Z\n    offset: 2001-12-14t21:59:43.10+01:00\n    spaced: 2001-12-14 21:59:43\n    notadate: 2001-02-30\n",
        expect: "same",
    },
    {
        name: "nulls: empty at the top level, null inside maps and lists",
        yaml: "config:\n  zentoria:a:\n  zentoria:b: ~\n  zentoria:c:\n    d: null\n    e: [1, null]\n  zentoria:services:\n    monitoring: null\n",
        expect: "same",
    },
    {
        name: "empty strings, maps and lists",
        yaml: 'config:\n  zentoria:a: ""\n  zentoria:b: {}\n  zentoria:c: []\n  zentoria:d:\n    e: ""\n',
        expect: "same",
    },
    {
        name: "nested objects and lists",
        yaml: "config:\n  zentoria:pgbouncer:\n    ignoreStartupParameters: [extra_float_digits, options]\n  zentoria:roles:\n    app:\n      access: application\n      connectionLimit: 40\n      directConnections: 2\n",
        expect: "same",
    },
    {
        name: "bare keys are the project's",
        yaml: "config:\n  prefix: zentoria-bare\n  postgres:\n    hostPort: 15432\n",
        expect: "same",
    },
    {
        name: "the legacy namespace:config:key form",
        yaml: "config:\n  zentoria:config:prefix: zentoria-legacy\n  other:config:x: 1\n",
        expect: "same",
    },
    {
        name: "other namespaces are passed on but not the project's",
        yaml: "config:\n  docker:host: unix:///var/run/docker.sock\n  aws:region: eu-west-1\n  zentoria:prefix: zentoria\n",
        expect: "same",
    },
    {
        name: "secure leaves, at the top level, nested and in lists",
        yaml: `config:\n  zentoria:secretTop:\n    secure: ${SECURE}\n  zentoria:credentials:\n    postgres:\n      zentoria_app:\n        secure: ${SECURE}\n    qdrantApiKey:\n      secure: ${SECURE}\n  zentoria:list:\n    - secure: ${SECURE}\n    - plain\n`,
        expect: "same",
    },
    {
        name: "a plaintext credential beside an encrypted one",
        yaml: `config:\n  zentoria:credentials:\n    postgres:\n      zentoria_app:\n        secure: ${SECURE}\n    qdrantApiKey: plain-text-key-0001\n`,
        expect: "same",
    },
    {
        name: "secure with a non-string value is an ordinary map",
        yaml: "config:\n  zentoria:u:\n    secure: 5\n  zentoria:v:\n    secure: x\n    other: 1\n",
        expect: "same",
    },
    {
        name: "anchors, aliases and merge keys",
        yaml: "config:\n  base: &base\n    a: 1\n    b: 2\n  zentoria:m:\n    <<: *base\n    b: 3\n    c: *base\n",
        expect: "same",
    },
    {
        name: "explicit tags",
        yaml: 'config:\n  zentoria:x: !!int "5"\n  zentoria:y: !!str 5\n  zentoria:z: !custom bar\n  zentoria:w:\n    v: !!str 017\n',
        expect: "same",
    },
    {
        name: "block scalars and quoted strings with escapes",
        yaml: 'config:\n  zentoria:a: |\n    line one\n    line two\n  zentoria:b: >\n    folded\n    text\n  zentoria:c: "tab\\there"\n  zentoria:d: \'it\'\'s\'\n',
        expect: "same",
    },
    {
        name: "unicode keys and values",
        yaml: 'config:\n  zentoria:unicode: "é 🐘"\n  zentoria:ünïcode: 1\n',
        expect: "same",
    },
    {
        name: "non-string keys inside a map are printed the Go way",
        yaml: "config:\n  zentoria:x:\n    1: a\n    true: b\n    ~: c\n",
        expect: "same",
    },
    { name: "a second YAML document is ignored", yaml: "config:\n  zentoria:x: 1\n---\nconfig:\n  zentoria:y: 2\n", expect: "same" },
    { name: "invalid YAML: an unclosed flow sequence", yaml: "config:\n  zentoria:x: [1, 2\n", expect: "same" },
    { name: "invalid YAML: an unclosed quote", yaml: 'config:\n  zentoria:x: "abc\n', expect: "same" },
    { name: "invalid YAML: bad indentation", yaml: "config:\n  zentoria:x:\n      a: 1\n    b: 2\n", expect: "same" },
    { name: "invalid YAML: a tab for indentation", yaml: "config:\n\tzentoria:x: 1\n", expect: "same" },
    { name: "duplicate keys", yaml: "config:\n  zentoria:x: 1\n  zentoria:x: 2\n", expect: "same" },
    { name: "duplicate keys in a nested map", yaml: "config:\n  zentoria:x:\n    a: 1\n    a: 2\n", expect: "same" },
    { name: "a key with too many colons", yaml: "config:\n  zentoria:a:b: 1\n", expect: "same" },
    { name: "a non-string key at the top of config", yaml: "config:\n  1: a\n", expect: "same" },
    { name: "config is a list", yaml: "config:\n  - a\n  - b\n", expect: "same" },
    { name: "an infinite number", yaml: "config:\n  zentoria:x: .inf\n", expect: "same" },
    { name: "a NaN inside a map", yaml: "config:\n  zentoria:x:\n    y: .nan\n", expect: "same" },
    { name: "the document is a list", yaml: "- a\n- b\n", expect: "same" },
    {
        name: "a bare key and its namespaced twin",
        yaml: "config:\n  prefix: zentoria-a\n  zentoria:prefix: zentoria-b\n",
        expect: "the CLI keeps one of the two at random",
    },
    {
        name: "a legacy key and its current twin",
        yaml: "config:\n  zentoria:config:prefix: zentoria-a\n  zentoria:prefix: zentoria-b\n",
        expect: "the CLI keeps one of the two at random",
    },
];
