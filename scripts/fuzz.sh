#!/usr/bin/env bash
# Fuzzes every parser of outside input: each cargo-fuzz target in fuzz/ in turn, one at a time,
# for [seconds] each (default 30). Not part of scripts/test.sh. Installs the nightly toolchain
# and cargo-fuzz when they are missing. New inputs go to a scratch corpus, not fuzz/corpus/;
# a crash stops the run and leaves its input in fuzz/artifacts/<target>/.
# Usage: scripts/fuzz.sh [seconds] [target...]
set -euo pipefail
cd "$(dirname "$0")/.."
seconds="${1:-30}"
shift || true
target_dir="${MOLT_FUZZ_TARGET_DIR:-$HOME/.cache/molt/target-fuzz-nightly}"
export CARGO_TERM_COLOR="${CARGO_TERM_COLOR:-never}"

if ! rustup toolchain list | grep -q '^nightly'; then
  echo "fuzz.sh: installing the nightly toolchain" >&2
  rustup toolchain install nightly --profile minimal
fi
if ! cargo +nightly fuzz --version >/dev/null 2>&1; then
  echo "fuzz.sh: installing cargo-fuzz" >&2
  cargo install cargo-fuzz --locked
fi

cd fuzz
targets=("$@")
if [ "${#targets[@]}" -eq 0 ]; then
  mapfile -t targets < <(cargo +nightly fuzz list)
fi
cargo +nightly fuzz build --target-dir "$target_dir"
scratch="$(mktemp -d)"
trap 'rm -rf "$scratch"' EXIT
for target in "${targets[@]}"; do
  echo "fuzz.sh: $target for ${seconds}s" >&2
  mkdir -p "$scratch/$target"
  cargo +nightly fuzz run --target-dir "$target_dir" "$target" "$scratch/$target" "corpus/$target" -- \
    -max_total_time="$seconds" -print_final_stats=1
done
echo "fuzz.sh: no crash in ${#targets[@]} targets" >&2
