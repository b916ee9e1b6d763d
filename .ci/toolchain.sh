#!/usr/bin/env bash
# Builds and installs the Pulumi toolchain for this repository from Go modules:
#   - the Pulumi CLI `pulumi` (version PULUMI_VERSION from .ci/toolchain/versions.env)
#   - the Node.js language host `pulumi-language-nodejs` (next to `pulumi`)
#   - resource provider plugins docker, postgresql and random, bridged from the
#     upstream Terraform providers by our own wrappers under .ci/toolchain/providers/,
#     each stamped with exactly the version of its @pulumi/<name> npm SDK in
#     package.json, and installed into $PULUMI_HOME/plugins.
#
# Usage:  bash .ci/toolchain.sh [--force] [--sync] [--help]
#         eval "$(bash .ci/toolchain.sh)"      # build if needed, then set PATH/PULUMI_HOME
#
#   --force   rebuild every component even if its stamp is current
#   --sync    rewrite the go.mod/go.sum files under .ci/toolchain/ from
#             versions.env (needs the module proxy), then build
#
# Environment:
#   ZENTORIA_CACHE   cache root (default: $HOME/.cache/zentoria). Binaries go to
#                    $ZENTORIA_CACHE/toolchain; Go uses its normal module and build caches.
#   PULUMI_HOME      where plugins are installed (default: $ZENTORIA_CACHE/pulumi-home)
#
# Progress goes to stderr. stdout gets only the `export ...` lines to use the
# toolchain (also written to $ZENTORIA_CACHE/toolchain/env.sh), or `false` if
# the script failed (so that `eval "$(...)"` fails as well).
set -Eeuo pipefail

SCRIPT_PATH="$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)/$(basename "${BASH_SOURCE[0]}")"
REPO_ROOT="$(cd "$(dirname "$SCRIPT_PATH")/.." && pwd)"
TC_DIR="$REPO_ROOT/.ci/toolchain"
VERSIONS_FILE="$TC_DIR/versions.env"

# On failure stdout gets `false`, so that `eval "$(bash .ci/toolchain.sh)"`
# fails too (eval of an empty string would succeed) instead of going on
# without the toolchain.
fail_eval() { echo 'false # .ci/toolchain.sh failed, see its stderr'; }

FORCE=0
SYNC=0
for arg in "$@"; do
  case "$arg" in
    --force) FORCE=1 ;;
    --sync) SYNC=1 ;;
    -h | --help)
      sed -n '2,/^set -Eeuo/p' "$SCRIPT_PATH" | sed -e '$d' -e 's/^# \{0,1\}//'
      exit 0
      ;;
    *)
      echo "toolchain.sh: unknown argument '$arg' (try --help)" >&2
      fail_eval
      exit 2
      ;;
  esac
done

# ---------------------------------------------------------------- utilities --
T0=$SECONDS
CURRENT_STEP="start-up"
log() { printf '[toolchain %4ds] %s\n' "$((SECONDS - T0))" "$*" >&2; }
die() {
  printf 'toolchain.sh: ERROR: %s\n' "$*" >&2
  fail_eval
  exit 1
}
on_error() {
  local rc=$? line=$1
  # ERR also fires in subshells (set -E); report once, from the main shell.
  [[ "$BASHPID" == "$$" ]] || exit "$rc"
  printf 'toolchain.sh: ERROR: step "%s" failed (exit %d, line %d).\n' "$CURRENT_STEP" "$rc" "$line" >&2
  if [[ -n "${STEP_LOG:-}" && -s "${STEP_LOG:-}" ]]; then
    printf -- '--- last lines of %s ---\n' "$STEP_LOG" >&2
    tail -n 40 "$STEP_LOG" >&2 || true
    if grep -q '403 Forbidden\|not available' "$STEP_LOG" 2>/dev/null; then
      printf '%s\n' "hint: the Go module proxy refused a module version (403). Only an allow-list of" \
        "      versions is served here; pins must be exact versions (see .ci/toolchain/README.md)." >&2
    fi
  fi
  fail_eval
  exit "$rc"
}
trap 'on_error $LINENO' ERR

# Runs "$@" with output to the step log (shown on failure).
run_logged() {
  "$@" >>"$STEP_LOG" 2>&1
}

hash_stdin() { sha256sum | cut -c1-64; }

# Content hash of a directory tree (paths + contents).
hash_tree() {
  (cd "$1" && find . -type f -print0 | LC_ALL=C sort -z | xargs -0 sha256sum) | hash_stdin
}

version_ge() { # version_ge A B: A >= B (dotted numbers)
  [[ "$(printf '%s\n%s\n' "$1" "$2" | sort -V | head -n1)" == "$2" ]]
}

# ------------------------------------------------------------- preconditions --
[[ -f "$VERSIONS_FILE" ]] || die "missing $VERSIONS_FILE"
# shellcheck source=.ci/toolchain/versions.env disable=SC1091
source "$VERSIONS_FILE"
for v in GO_MIN_VERSION PULUMI_VERSION NODEJS_LANGHOST_SDK_VERSION TF_BRIDGE_VERSION \
  PULUMI_TF_PLUGIN_SDK_V2_VERSION DOCKER_UPSTREAM_MODULE DOCKER_UPSTREAM_VERSION \
  RANDOM_UPSTREAM_MODULE RANDOM_UPSTREAM_VERSION POSTGRESQL_UPSTREAM_MODULE POSTGRESQL_UPSTREAM_VERSION; do
  [[ -n "${!v:-}" ]] || die "$VERSIONS_FILE does not set $v"
done

command -v go >/dev/null || die "go is not on PATH (Go >= $GO_MIN_VERSION is needed)"
command -v node >/dev/null || die "node is not on PATH (needed to read package.json)"
GO_VERSION="$(go env GOVERSION)"
GO_VERSION="${GO_VERSION#go}"
version_ge "$GO_VERSION" "$GO_MIN_VERSION" || die "Go $GO_VERSION is too old; need >= $GO_MIN_VERSION"

ZENTORIA_CACHE="${ZENTORIA_CACHE:-$HOME/.cache/zentoria}"
OUT="$ZENTORIA_CACHE/toolchain"
BIN="$OUT/bin"
PLUGINS="$OUT/plugins"
BUILD="$OUT/build"
export PULUMI_HOME="${PULUMI_HOME:-$ZENTORIA_CACHE/pulumi-home}"
export PULUMI_SKIP_UPDATE_CHECK=true
mkdir -p "$BIN" "$PLUGINS" "$BUILD" "$PULUMI_HOME"

# One build at a time per cache directory.
if command -v flock >/dev/null; then
  exec 9>"$OUT/.lock"
  if ! flock -n 9; then
    log "waiting for another toolchain.sh using $OUT"
    flock 9
  fi
fi

# SDK version of @pulumi/<name>: node_modules (what the program will load) if
# installed, else package.json, which must then pin an exact version.
sdk_version() {
  local pkg="$1"
  # shellcheck disable=SC2016 # JavaScript, not shell
  node -e '
    const fs = require("fs"), path = require("path");
    const [root, pkg] = process.argv.slice(1);
    const pj = JSON.parse(fs.readFileSync(path.join(root, "package.json"), "utf8"));
    const want = (pj.dependencies || {})[pkg] || (pj.devDependencies || {})[pkg] || "";
    const installedFile = path.join(root, "node_modules", pkg, "package.json");
    const installed = fs.existsSync(installedFile) ? JSON.parse(fs.readFileSync(installedFile, "utf8")).version : "";
    const exact = /^\d+\.\d+\.\d+$/;
    if (!want) { process.stdout.write(""); process.exit(0); }
    if (installed && exact.test(want) && installed !== want) {
      console.error(`package.json pins ${pkg} ${want} but node_modules has ${installed}: run npm ci`);
      process.exit(3);
    }
    const v = installed || want;
    if (!exact.test(v)) {
      console.error(`${pkg}: "${want}" in package.json is not an exact version and node_modules is not installed`);
      process.exit(3);
    }
    process.stdout.write(v);
  ' "$REPO_ROOT" "$pkg"
}

[[ -f "$REPO_ROOT/package.json" ]] || die "no package.json in $REPO_ROOT"
PULUMI_SDK_VERSION="$(sdk_version @pulumi/pulumi)" || die "cannot determine the @pulumi/pulumi version"
declare -A SDK_VERSION=()
PROVIDERS=()
for name in docker postgresql random; do
  v="$(sdk_version "@pulumi/$name")" || die "cannot determine the @pulumi/$name version"
  if [[ -z "$v" ]]; then
    log "warning: @pulumi/$name is not a dependency in package.json; not building pulumi-resource-$name"
    continue
  fi
  SDK_VERSION[$name]="$v"
  PROVIDERS+=("$name")
done
if [[ -n "$PULUMI_SDK_VERSION" && "$PULUMI_SDK_VERSION" != "$PULUMI_VERSION" ]]; then
  log "warning: CLI pin PULUMI_VERSION=$PULUMI_VERSION differs from @pulumi/pulumi $PULUMI_SDK_VERSION in package.json"
fi

# ----------------------------------------------------------------- go.mod pins --
# Applies the pins of versions.env to the go.mod files of component $1 in
# directory $2 (a copy in the build dir, or the repo itself with --sync).
apply_pins() {
  local comp="$1" dir="$2"
  case "$comp" in
    cli)
      local pkgmod
      pkgmod="$(cd "$dir/cli" && GOSUMDB=off GOFLAGS=-mod=mod go mod download -json "github.com/pulumi/pulumi/pkg/v3@v$PULUMI_VERSION" |
        node -e 'let s="";process.stdin.on("data",d=>s+=d).on("end",()=>{const j=JSON.parse(s);if(j.Error){console.error(j.Error);process.exit(1)}process.stdout.write(j.GoMod)})')"
      local edits=(-require="github.com/pulumi/pulumi/pkg/v3@v$PULUMI_VERSION"
        -require="github.com/pulumi/pulumi/sdk/v3@v$PULUMI_VERSION")
      # pkg/go.mod's replaces are ignored in a dependency: copy the non-local ones.
      local r
      while IFS= read -r r; do
        [[ -n "$r" ]] && edits+=(-replace="$r")
      done < <(go mod edit -json "$pkgmod" | node -e '
        let s="";process.stdin.on("data",d=>s+=d).on("end",()=>{
          for (const r of JSON.parse(s).Replace || []) {
            if (!r.New.Version) continue; // local directory replace (../sdk)
            const old = r.Old.Path + (r.Old.Version ? "@" + r.Old.Version : "");
            console.log(old + "=" + r.New.Path + "@" + r.New.Version);
          }
        })')
      (cd "$dir/cli" && go mod edit "${edits[@]}")
      ;;
    langhost)
      (cd "$dir/langhost" && go mod edit -require="github.com/pulumi/pulumi/sdk/v3@v$NODEJS_LANGHOST_SDK_VERSION")
      ;;
    docker | postgresql | random)
      local common=(-require="github.com/pulumi/pulumi-terraform-bridge/v3@v$TF_BRIDGE_VERSION"
        -replace="github.com/hashicorp/terraform-plugin-sdk/v2=github.com/pulumi/terraform-plugin-sdk/v2@$PULUMI_TF_PLUGIN_SDK_V2_VERSION")
      local d="$dir/providers/$comp"
      case "$comp" in
        docker)
          local up=(-require="github.com/terraform-providers/terraform-provider-docker@v0.0.0"
            -replace="github.com/terraform-providers/terraform-provider-docker=$DOCKER_UPSTREAM_MODULE@$DOCKER_UPSTREAM_VERSION"
            -replace="github.com/hashicorp/terraform-plugin-sdk/v2=github.com/pulumi/terraform-plugin-sdk/v2@$PULUMI_TF_PLUGIN_SDK_V2_VERSION")
          (cd "$d/shim" && go mod edit "${up[@]}")
          (cd "$d" && go mod edit "${common[@]}" "${up[@]}")
          ;;
        random)
          (cd "$d/shim" && go mod edit -require="$RANDOM_UPSTREAM_MODULE@$RANDOM_UPSTREAM_VERSION")
          (cd "$d" && go mod edit "${common[@]}" -require="$RANDOM_UPSTREAM_MODULE@$RANDOM_UPSTREAM_VERSION")
          ;;
        postgresql)
          (cd "$d" && go mod edit "${common[@]}" -require="$POSTGRESQL_UPSTREAM_MODULE@$POSTGRESQL_UPSTREAM_VERSION")
          ;;
      esac
      ;;
  esac
}

# go.mod directories of a component, relative to .ci/toolchain.
mod_dirs() {
  case "$1" in
    cli | langhost) echo "$1" ;;
    docker | random) echo "providers/$1/shim providers/$1" ;;
    *) echo "providers/$1" ;;
  esac
}

# `go mod tidy` for a component's modules under $2. The module proxy here
# cannot be checked against sum.golang.org (not reachable), so new hashes are
# taken from the proxy (GOSUMDB=off) and recorded in go.sum.
tidy_component() {
  local comp="$1" dir="$2" m
  for m in $(mod_dirs "$comp"); do
    (cd "$dir/$m" && GOSUMDB=off GOFLAGS=-mod=mod go mod tidy)
  done
}

if [[ "$SYNC" == 1 ]]; then
  for comp in cli langhost docker postgresql random; do
    CURRENT_STEP="sync $comp"
    STEP_LOG="$BUILD/sync-$comp.log"
    : >"$STEP_LOG"
    log "sync: pinning and tidying go.mod of $comp in the repository"
    run_logged apply_pins "$comp" "$TC_DIR"
    run_logged tidy_component "$comp" "$TC_DIR"
  done
  STEP_LOG=""
fi

# --------------------------------------------------------------------- stamps --
SCRIPT_HASH="$(hash_stdin <"$SCRIPT_PATH")"
VERSIONS_HASH="$(hash_stdin <"$VERSIONS_FILE")"
component_key() {
  local comp="$1" src
  case "$comp" in
    cli | langhost) src="$TC_DIR/$comp" ;;
    *) src="$TC_DIR/providers/$comp" ;;
  esac
  {
    echo "script=$SCRIPT_HASH versions=$VERSIONS_HASH go=$GO_VERSION"
    echo "src=$(hash_tree "$src")"
    case "$comp" in
      docker | postgresql | random)
        echo "sdk=${SDK_VERSION[$comp]} diff=$(hash_stdin <"$TC_DIR/schema-diff.js")"
        ;;
    esac
  } | hash_stdin
}
stamp_ok() { [[ "$FORCE" == 0 && -f "$BUILD/$1.stamp" && "$(cat "$BUILD/$1.stamp")" == "$2" ]]; }

# Copies a component's sources into the build dir and applies the pins; if the
# committed go.mod does not match versions.env, resolves the new pins there.
prepare_src() {
  local comp="$1" m
  local src="$BUILD/$comp/src"
  rm -rf "$src"
  mkdir -p "$src"
  for m in $(mod_dirs "$comp"); do mkdir -p "$src/$m"; done
  case "$comp" in
    cli | langhost) cp -a "$TC_DIR/$comp/." "$src/$comp/" ;;
    *) cp -a "$TC_DIR/providers/$comp/." "$src/providers/$comp/" ;;
  esac
  run_logged apply_pins "$comp" "$src"
  local stale=0
  for m in $(mod_dirs "$comp"); do
    cmp -s "$src/$m/go.mod" "$TC_DIR/$m/go.mod" || stale=1
  done
  if [[ "$stale" == 1 ]]; then
    log "warning: .ci/toolchain go.mod of $comp does not match versions.env; resolving the pins now" \
      "(run 'bash .ci/toolchain.sh --sync' and commit the go.mod/go.sum files)"
    run_logged tidy_component "$comp" "$src"
  fi
}

# -------------------------------------------------------------------- builders --
GOBUILD=(go build -mod=readonly -trimpath)

build_cli() {
  local src="$BUILD/cli/src/cli"
  (cd "$src" && run_logged "${GOBUILD[@]}" \
    -ldflags "-s -w -X github.com/pulumi/pulumi/sdk/v3/go/common/version.Version=v$PULUMI_VERSION" \
    -o "$BUILD/cli/pulumi" github.com/pulumi/pulumi/pkg/v3/cmd/pulumi)
  mv -f "$BUILD/cli/pulumi" "$BIN/pulumi"
}

build_langhost() {
  local src="$BUILD/langhost/src/langhost"
  (cd "$src" && run_logged "${GOBUILD[@]}" \
    -ldflags "-s -w -X github.com/pulumi/pulumi/sdk/v3/go/common/version.Version=v$NODEJS_LANGHOST_SDK_VERSION" \
    -o "$BUILD/langhost/pulumi-language-nodejs" github.com/pulumi/pulumi/sdk/v3/nodejs/cmd/pulumi-language-nodejs)
  mv -f "$BUILD/langhost/pulumi-language-nodejs" "$BIN/pulumi-language-nodejs"
}

# Resources/functions that the Zentoria program relies on: missing one in the
# generated schema fails the build. (All other differences from the npm SDK are
# reported as warnings, see schema-diff.txt.)
required_tokens() {
  case "$1" in
    docker) echo "docker:index/container:Container docker:index/network:Network docker:index/volume:Volume" \
      "docker:index/remoteImage:RemoteImage" ;;
    postgresql) echo "postgresql:index/role:Role postgresql:index/database:Database postgresql:index/grant:Grant" \
      "postgresql:index/extension:Extension postgresql:index/defaultPrivileges:DefaultPrivileges" ;;
    random) echo "random:index/randomPassword:RandomPassword random:index/randomBytes:RandomBytes" \
      "random:index/randomId:RandomId" ;;
  esac
}

build_provider() {
  local name="$1" version="${SDK_VERSION[$1]}"
  local work="$BUILD/$name" src="$BUILD/$name/src/providers/$name"
  local tags=() ldflags="-s -w -X zentoria.local/toolchain/providers/$name/provider.Version=$version"
  # docker_compose (upstream plugin-framework part, not exposed) pulls in docker/compose.
  [[ "$name" == docker ]] && tags=(-tags no_compose)

  (cd "$src" && run_logged "${GOBUILD[@]}" "${tags[@]}" -ldflags "$ldflags" \
    -o "$work/pulumi-tfgen-$name" "./cmd/pulumi-tfgen-$name")
  rm -rf "$work/gen"
  (cd "$src" && run_logged "$work/pulumi-tfgen-$name" schema --out "$work/gen" --skip-docs --skip-examples)
  [[ -s "$work/gen/schema.json" ]] || die "pulumi-tfgen-$name wrote no schema.json"

  local sdkdir="$REPO_ROOT/node_modules/@pulumi/$name"
  if [[ -d "$sdkdir" ]]; then
    # shellcheck disable=SC2046
    if ! node "$TC_DIR/schema-diff.js" "$work/gen/schema.json" "$sdkdir" $(required_tokens "$name") \
      >"$work/schema-diff.txt" 2>&1; then
      cat "$work/schema-diff.txt" >&2
      die "the generated $name schema lacks resources the program needs (see above)"
    fi
    log "  schema vs @pulumi/$name $version: $(tail -n1 "$work/schema-diff.txt" | sed 's/^ *//') (details: $work/schema-diff.txt)"
  else
    log "  node_modules/@pulumi/$name not installed: schema not compared with the npm SDK"
  fi

  # schema.json is embedded with go:embed; supply it through a build overlay.
  printf '{"Replace":{"%s":"%s"}}\n' "$src/cmd/pulumi-resource-$name/schema.json" "$work/gen/schema.json" >"$work/overlay.json"
  mkdir -p "$PLUGINS/$name"
  (cd "$src" && run_logged "${GOBUILD[@]}" "${tags[@]}" -overlay "$work/overlay.json" -ldflags "$ldflags" \
    -o "$work/pulumi-resource-$name" "./cmd/pulumi-resource-$name")
  local got
  got="$("$work/pulumi-resource-$name" -version)"
  [[ "$got" == "$version" ]] || die "pulumi-resource-$name reports version '$got', expected '$version'"
  mv -f "$work/pulumi-resource-$name" "$PLUGINS/$name/pulumi-resource-$name"
  echo "$version" >"$PLUGINS/$name/VERSION"
}

# ---------------------------------------------------------------------- build --
build_component() {
  local comp="$1" what="$2" key t
  key="$(component_key "$comp")"
  if stamp_ok "$comp" "$key"; then
    log "$what: up to date"
    return 0
  fi
  CURRENT_STEP="build $comp"
  mkdir -p "$BUILD/$comp"
  STEP_LOG="$BUILD/$comp.log"
  : >"$STEP_LOG"
  t=$SECONDS
  log "$what: building (log: $STEP_LOG)"
  rm -f "$BUILD/$comp.stamp"
  prepare_src "$comp"
  case "$comp" in
    cli) build_cli ;;
    langhost) build_langhost ;;
    *) build_provider "$comp" ;;
  esac
  echo "$key" >"$BUILD/$comp.stamp"
  log "$what: built in $((SECONDS - t))s"
  STEP_LOG=""
}

build_component cli "pulumi CLI v$PULUMI_VERSION"
[[ -x "$BIN/pulumi" ]] || { rm -f "$BUILD/cli.stamp"; die "$BIN/pulumi is missing; rerun"; }
build_component langhost "pulumi-language-nodejs (sdk v$NODEJS_LANGHOST_SDK_VERSION)"
[[ -x "$BIN/pulumi-language-nodejs" ]] || { rm -f "$BUILD/langhost.stamp"; die "$BIN/pulumi-language-nodejs is missing; rerun"; }
for name in "${PROVIDERS[@]}"; do
  build_component "$name" "pulumi-resource-$name ${SDK_VERSION[$name]}"
  [[ -x "$PLUGINS/$name/pulumi-resource-$name" ]] || { rm -f "$BUILD/$name.stamp"; die "plugin binary for $name is missing; rerun"; }
done
# The program's dynamic resources (components/live/) run in the Node.js dynamic provider, which
# the official CLI ships beside its binary; a CLI built from source has none.
install -m 0755 "$TC_DIR/dynamic/pulumi-resource-pulumi-nodejs" "$BIN/pulumi-resource-pulumi-nodejs"

# -------------------------------------------------------------------- install --
CURRENT_STEP="install plugins"
STEP_LOG="$BUILD/install.log"
: >"$STEP_LOG"
export PATH="$BIN:$PATH"
for name in "${PROVIDERS[@]}"; do
  version="${SDK_VERSION[$name]}"
  bin="$PLUGINS/$name/pulumi-resource-$name"
  installed="$PULUMI_HOME/plugins/resource-$name-v$version/pulumi-resource-$name"
  if [[ -f "$installed" ]] && cmp -s "$bin" "$installed"; then
    log "plugin resource $name $version: installed in $PULUMI_HOME"
    continue
  fi
  log "plugin resource $name $version: installing into $PULUMI_HOME"
  run_logged pulumi plugin install resource "$name" "$version" --file "$bin" --reinstall
  cmp -s "$bin" "$installed" || die "plugin $name $version did not land at $installed"
done

CURRENT_STEP="check"
got="$(pulumi version)"
[[ "$got" == "v$PULUMI_VERSION" ]] || die "pulumi version prints '$got', expected v$PULUMI_VERSION"

ENV_LINES="export PATH=\"$BIN:\$PATH\"
export PULUMI_HOME=\"$PULUMI_HOME\"
export PULUMI_SKIP_UPDATE_CHECK=true"
printf '%s\n' "$ENV_LINES" >"$OUT/env.sh"
log "done in $((SECONDS - T0))s: pulumi $got, language host v$NODEJS_LANGHOST_SDK_VERSION," \
  "plugins: $(for n in "${PROVIDERS[@]}"; do printf '%s ' "$n-${SDK_VERSION[$n]}"; done)"
log "to use it: eval \"\$(bash .ci/toolchain.sh)\"  or  source $OUT/env.sh"
printf '%s\n' "$ENV_LINES"
