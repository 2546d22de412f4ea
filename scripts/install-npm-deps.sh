#!/usr/bin/env bash
# Installs the pinned npm packages the server tests use (the official
# `openai` client, version fixed in tests/js/package-lock.json).
# Idempotent: does nothing when node_modules already matches the lock file.
set -euo pipefail
cd "$(dirname "$0")/../tests/js"
stamp=node_modules/.tokenfab-lock
if [[ -f "$stamp" ]] && cmp -s package-lock.json "$stamp"; then
  exit 0
fi
echo "install-npm-deps: npm ci in tests/js"
npm ci --no-audit --no-fund --loglevel=error
cp package-lock.json "$stamp"
