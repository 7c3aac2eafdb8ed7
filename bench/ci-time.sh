#!/usr/bin/env bash
# Times `.ci/run` as CI runs it: a clean clone of this repository's HEAD, a fresh CARGO_HOME
# (so no tansu and an empty crate cache: downloads count), a fresh target directory, and a
# PATH without ~/.cargo/bin (only the toolchain's proxies). Prints the total, the tansu
# install's own time, and the test counts.
# Usage: bench/ci-time.sh [WORK_DIR]   (default /tmp/occurrent-ci; removed and recreated)
set -euo pipefail
repo=$(cd "$(dirname "$0")/.." && pwd)
work=${1:-/tmp/occurrent-ci}
rm -rf "$work" && mkdir -p "$work/bin" "$work/cargo-home"
for tool in cargo rustc rustdoc rustup; do
    ln -s "$(command -v $tool)" "$work/bin/$tool"
done
git clone -q "$repo" "$work/main"
# The conformance data lives beside the repository.
[ -e "$repo/../shared" ] && ln -s "$(cd "$repo/../shared" && pwd)" "$work/shared"
cd "$work/main"
started=$(date +%s)
status=0
env -i HOME="$HOME" RUSTUP_HOME="${RUSTUP_HOME:-$HOME/.rustup}" CARGO_HOME="$work/cargo-home" \
    CARGO_TARGET_DIR="$work/target" PATH="$work/bin:/usr/local/bin:/usr/bin:/bin" \
    bash .ci/run > "$work/ci.log" 2>&1 || status=$?
echo ".ci/run exit $status in $(( $(date +%s) - started )) s (log: $work/ci.log)"
grep -m1 "Finished .dev. profile" "$work/ci.log" | sed 's/^ */tansu install: /' || true
grep "test result" "$work/ci.log" | awk '{p += $4; f += $6} END {print p " passed, " f " failed, " NR " test binaries"}'
exit $status
