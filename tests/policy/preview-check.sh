#!/usr/bin/env bash
# npm run preview-check: `pulumi preview --policy-pack` through a real CLI, on a throw-away local
# backend:
#   1. the dev and prod stacks (Pulumi.<stack>.yaml as committed) must pass;
#   2. dev with zentoria:bindAddress 0.0.0.0 and zentoria:allowPublicBind: true must pass (the
#      program labels its containers with the address, and the pack reads the label);
#   3. dev with zentoria:redis.retainDataOnDestroy: false must fail on data-volume-retained (a
#      violation a stack config can produce: the program accepts it, the pack does not), and pass
#      with a policy config that names redis in notRetainedServices (the documented, reviewable
#      exception, as policy/config/<stack>.json would give it);
#   4. tests/policy/fixtures/violating, a program that breaks every mandatory rule the config
#      cannot reach, must fail on each of them.
# Nothing is deployed: previews only, in copies of the program under a temporary directory.
#
# The CI's CLI cannot start a `runtime: nodejs` pack (its Node.js language host, sdk 3.68, lacks
# RunPlugin), so this test hands the CLI a copy of policy/PulumiPolicy.yaml with the runtime
# `zentoria-ci-nodejs`, which the CLI starts through tests/policy/analyzer/ (see the launcher there):
# the same pack, the same code, started the way an official language host starts it. With
# ZENTORIA_PREVIEW_CHECK_PACK=direct the pack is given as it is (an official CLI needs nothing else).
#
# Needs `npm ci`, Docker (the docker provider's preview), and a Pulumi CLI with the docker, postgresql
# and random plugins: `pulumi` on PATH, or else the env.sh that .ci/toolchain.sh leaves in
# ${ZENTORIA_CACHE:-$HOME/.cache/zentoria}/toolchain.
# Prints one line per case and "preview-check: N passed, M failed"; exits 1 if any case failed.
set -euo pipefail

ROOT="$(cd "$(dirname "${BASH_SOURCE[0]}")/../.." && pwd)"
PACK="$ROOT/policy"

die() {
  echo "preview-check: $*" >&2
  exit 2
}

if ! command -v pulumi >/dev/null; then
  ENV_SH="${ZENTORIA_CACHE:-$HOME/.cache/zentoria}/toolchain/env.sh"
  [[ -f "$ENV_SH" ]] || die "pulumi is not on PATH and $ENV_SH does not exist: run eval \"\$(bash .ci/toolchain.sh)\" first"
  # shellcheck source=/dev/null
  source "$ENV_SH"
fi
command -v pulumi >/dev/null || die "pulumi is not on PATH"
[[ -d "$ROOT/node_modules/@pulumi/pulumi" ]] || die "run npm ci in $ROOT first"
[[ -d "$ROOT/node_modules/@pulumi/policy" ]] || die "run npm ci in $ROOT first (it installs the policy pack's dependencies too)"
grep -qx 'runtime: nodejs' "$PACK/PulumiPolicy.yaml" || die "policy/PulumiPolicy.yaml does not declare runtime: nodejs"

WORK="$(mktemp -d "${TMPDIR:-/tmp}/zentoria-preview-check.XXXXXX")"
# ZENTORIA_PREVIEW_CHECK_KEEP=1 keeps the work directory (each case's log) for a look afterwards.
trap '[[ -n "${ZENTORIA_PREVIEW_CHECK_KEEP:-}" ]] || rm -rf "$WORK"' EXIT
mkdir -p "$WORK/state"
export PULUMI_BACKEND_URL="file://$WORK/state"
export PULUMI_CONFIG_PASSPHRASE="preview-check"
export PULUMI_SKIP_UPDATE_CHECK=true

# The pack as the CLI is given it: the test-only adaptation (see the top), or policy/ itself.
if [[ "${ZENTORIA_PREVIEW_CHECK_PACK:-adapted}" == direct ]]; then
  PACK_ARG="$PACK"
else
  PACK_ARG="$WORK/pack"
  mkdir -p "$PACK_ARG"
  sed 's/^runtime: nodejs$/runtime: zentoria-ci-nodejs/' "$PACK/PulumiPolicy.yaml" >"$PACK_ARG/PulumiPolicy.yaml"
  export ZENTORIA_POLICY_PACK="$PACK"
  export PATH="$ROOT/tests/policy/analyzer:$PATH"
fi

# A copy of a program directory, sharing the repository's node_modules.
copy_program() {
  local from="$1" to="$2"
  mkdir -p "$to"
  tar -C "$from" --exclude=./node_modules --exclude=./.git --exclude=./policy --exclude=./.ci --exclude=./tests \
    --exclude=./tmp-scratch --exclude=./.pulumi-state -cf - . | tar -C "$to" -xf -
  ln -s "$ROOT/node_modules" "$to/node_modules"
}

# Pulumi.<from>.yaml of a program copy as Pulumi.<to>.yaml, with config keys set: KEY=JSON...
derive_stack() {
  local dir="$1" from="$2" to="$3"
  shift 3
  ROOT="$ROOT" node - "$dir/Pulumi.$from.yaml" "$dir/Pulumi.$to.yaml" "$@" <<'EOF'
const fs = require("fs");
const YAML = require(require.resolve("yaml", { paths: [process.env.ROOT] }));
const [source, target, ...settings] = process.argv.slice(2);
const document = YAML.parse(fs.readFileSync(source, "utf8")) ?? {};
document.config = document.config ?? {};
for (const setting of settings) {
  const [key, ...rest] = setting.split("=");
  const path = key.split(".");
  let node = document.config;
  for (const part of path.slice(0, -1)) node = node[part] = node[part] ?? {};
  node[path[path.length - 1]] = JSON.parse(rest.join("="));
}
fs.writeFileSync(target, YAML.stringify(document));
EOF
}

PASSED=0
FAILED=0

# check NAME DIR STACK pass|fail [POLICY...]: previews DIR's STACK with the pack (and the policy
# config policy/config/<NAME>.json or $WORK/<NAME>.json when there is one, as the workflow does);
# "fail" expects a failed preview listing each POLICY as a mandatory violation.
check() {
  local name="$1" dir="$2" stack="$3" expect="$4"
  shift 4
  local log="$WORK/$name.log" rc=0 problems=() config=()
  local file
  for file in "$PACK/config/$name.json" "$WORK/$name.json"; do
    [[ -f "$file" ]] && config=(--policy-pack-config "$file")
  done
  (cd "$dir" && pulumi stack select --create "$stack" --non-interactive >/dev/null 2>&1)
  (cd "$dir" && pulumi preview --stack "$stack" --policy-pack "$PACK_ARG" "${config[@]}" --non-interactive --color never) >"$log" 2>&1 || rc=$?
  if [[ "$expect" == pass ]]; then
    [[ "$rc" == 0 ]] || problems+=("preview exited $rc, expected 0")
    grep -q "✅ zentoria-data-tier" "$log" || problems+=("the policy pack's summary line (✅ zentoria-data-tier) is missing")
  else
    [[ "$rc" != 0 ]] || problems+=("preview passed, expected it to fail")
    local policy
    for policy in "$@"; do
      grep -qE "\[mandatory\] +$policy " "$log" || problems+=("no mandatory violation of $policy")
    done
  fi
  if [[ ${#problems[@]} == 0 ]]; then
    PASSED=$((PASSED + 1))
    echo "ok      $name ($expect, preview exit $rc)"
    grep -E '^ +- \[(mandatory|advisory)\]' "$log" | sed -E 's/^ +- /          /' || true
  else
    FAILED=$((FAILED + 1))
    echo "FAILED  $name: ${problems[*]}"
    echo "--- $log ---"
    sed -n '/^Policies:/,$p' "$log" | head -80
    tail -n 20 "$log"
  fi
}

PROGRAM="$WORK/program"
copy_program "$ROOT" "$PROGRAM"
derive_stack "$PROGRAM" dev dev-public "zentoria:bindAddress=\"0.0.0.0\"" "zentoria:allowPublicBind=true" "zentoria:tls.enabled=true"
derive_stack "$PROGRAM" dev dev-volatile "zentoria:redis.retainDataOnDestroy=false"
FIXTURE="$WORK/fixture"
copy_program "$ROOT/tests/policy/fixtures/violating" "$FIXTURE"

echo "preview-check: $(pulumi version), pack $PACK_ARG, work directory $WORK"
check dev "$PROGRAM" dev pass
check prod "$PROGRAM" prod pass
check dev-public "$PROGRAM" dev-public pass
check dev-volatile "$PROGRAM" dev-volatile fail data-volume-retained
# The documented exception: a reviewed policy config that lets this stack delete Redis's data.
echo '{ "data-volume-retained": { "notRetainedServices": ["redis"] } }' >"$WORK/dev-volatile-waived.json"
check dev-volatile-waived "$PROGRAM" dev-volatile pass
check fixture "$FIXTURE" fixture fail no-public-port no-credential-in-env no-generated-secret-in-env no-plaintext-credential-output \
  data-volume-retained image-pinned role-connection-limit

echo "preview-check: $PASSED passed, $FAILED failed"
[[ "$FAILED" == 0 ]]
