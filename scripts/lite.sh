#!/usr/bin/env bash
# The `lite`-sized run: builds `benches/lite.rs`, makes a cgroup v1 group limited to 1/16 of a
# CPU (cfs_quota 6250 µs per 100000 µs period) and 256 MiB, runs the bench (which starts molt
# inside the group), and removes the group again, whatever happened. Needs root (cgroup files).
# Arguments go to the bench: `scripts/lite.sh --messages 30 --pause-ms 500`.
set -euo pipefail
cd "$(dirname "$0")/.."
export CARGO_TARGET_DIR="${CARGO_TARGET_DIR:-$HOME/.cache/molt/target}"

if [ "$(id -u)" != 0 ]; then
  echo "lite.sh: cgroup files need root" >&2
  echo "hint: sudo -E scripts/lite.sh" >&2
  exit 1
fi
for controller in cpu memory; do
  if [ ! -d "/sys/fs/cgroup/$controller" ]; then
    echo "lite.sh: no cgroup v1 controller at /sys/fs/cgroup/$controller" >&2
    exit 1
  fi
done

# Built outside the limits: the bench measures molt, not the compiler.
cargo bench --bench lite --no-run

group="molt-lite-$$"
cleanup() {
  for controller in cpu memory; do
    dir="/sys/fs/cgroup/$controller/$group"
    [ -d "$dir" ] || continue
    # A process left behind goes back to the root group, so the group can be removed.
    while read -r pid; do
      echo "$pid" > "/sys/fs/cgroup/$controller/cgroup.procs" || true
    done < "$dir/cgroup.procs"
    rmdir "$dir" || echo "lite.sh: could not remove $dir" >&2
  done
}
trap cleanup EXIT

mkdir "/sys/fs/cgroup/cpu/$group" "/sys/fs/cgroup/memory/$group"
echo 100000 > "/sys/fs/cgroup/cpu/$group/cpu.cfs_period_us"
echo 6250 > "/sys/fs/cgroup/cpu/$group/cpu.cfs_quota_us"
echo 268435456 > "/sys/fs/cgroup/memory/$group/memory.limit_in_bytes"
cargo bench --bench lite -- --cgroup "$group" "$@"
