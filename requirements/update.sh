#!/usr/bin/env bash
# Regenerate the hash-pinned locks after a change to pyproject.toml's dependencies
# (needs uv: pip install uv). The versions already in the files are kept unless the
# change needs others; add --upgrade to move everything to the newest allowed.
#   requirements/dev.txt   runtime + dev extras: ./run tests installs it
#   requirements/lock.txt  runtime only, same versions: ./run demo, deploy/Dockerfile
set -euo pipefail
cd "$(dirname "$0")/.."
common=(--universal --python-version 3.11 --generate-hashes --annotation-style line --no-header)
uv pip compile pyproject.toml --extra dev "${common[@]}" "$@" -o requirements/dev.txt
uv pip compile pyproject.toml "${common[@]}" -c requirements/dev.txt "$@" -o requirements/lock.txt
