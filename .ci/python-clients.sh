#!/usr/bin/env bash
# The Python clients the integration tests run (SQLAlchemy 2 + asyncpg, from PyPI), in a venv
# cached outside the repository and keyed by the requirements file and the interpreter, so a
# rerun costs nothing and a changed pin gets a fresh venv.
#
#   .ci/python-clients.sh                # create it if missing, print its directory
#   .ci/python-clients.sh --print-path   # print its directory; fail if it is not there
set -Eeuo pipefail
cd "$(dirname "${BASH_SOURCE[0]}")/.."

requirements=tests/integration/clients/requirements.txt
python=${ZENTORIA_PYTHON:-python3}
key=$({ "$python" -c 'import sys; print(sys.executable, sys.version, sys.platform)'; cat "$requirements"; } | sha256sum | cut -c1-16)
venv="${ZENTORIA_CACHE:-$HOME/.cache/zentoria}/python-clients/$key"

if [ "${1:-}" = "--print-path" ]; then
    if [ ! -e "$venv/.complete" ]; then
        echo "no venv for $requirements (with $python): run \`bash .ci/python-clients.sh\`" >&2
        exit 1
    fi
    echo "$venv"
    exit 0
fi

if [ ! -e "$venv/.complete" ]; then
    rm -rf "$venv"
    mkdir -p "$(dirname "$venv")"
    "$python" -m venv "$venv"
    # Hashes for every file, binary wheels only: nothing is built from source.
    "$venv/bin/pip" install --quiet --no-input --disable-pip-version-check --require-hashes --only-binary=:all: -r "$requirements"
    touch "$venv/.complete"
fi
echo "$venv"
