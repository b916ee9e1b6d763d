#!/usr/bin/env bash
# npm run deploy -- [stack] [pulumi up options...]
# Deploys a stack (default: dev) with a local file backend unless PULUMI_BACKEND_URL says
# otherwise. Secrets are encrypted with a passphrase: set PULUMI_CONFIG_PASSPHRASE (or
# PULUMI_CONFIG_PASSPHRASE_FILE), or type it when Pulumi asks.
set -euo pipefail
cd "$(dirname "${BASH_SOURCE[0]}")/.."

stack="${1:-dev}"
shift || true

if ! command -v pulumi >/dev/null 2>&1; then
    echo "deploy: the Pulumi CLI is not on PATH (https://www.pulumi.com/docs/install/)" >&2
    exit 1
fi
if ! docker info >/dev/null 2>&1; then
    echo "deploy: no Docker engine answers (is dockerd running, and may this user use it?)" >&2
    exit 1
fi
if [ ! -f "Pulumi.${stack}.yaml" ]; then
    echo "deploy: there is no Pulumi.${stack}.yaml; see \"Adding an environment\" in README.md" >&2
    exit 1
fi
[ -d node_modules ] || npm ci

state_dir="${ZENTORIA_STATE_DIR:-$HOME/.zentoria/state}"
if [ -z "${PULUMI_BACKEND_URL:-}" ]; then
    mkdir -p "$state_dir"
    export PULUMI_BACKEND_URL="file://${state_dir}"
fi
echo "deploy: stack ${stack}, state in ${PULUMI_BACKEND_URL}" >&2

pulumi stack select --create --secrets-provider passphrase "$stack"
pulumi up "$@"
