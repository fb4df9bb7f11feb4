#!/usr/bin/env bash
# Runs crates/core's tests under a leak checker and fails on any leak.
#   scripts/leak-check.sh            LeakSanitizer: a nightly toolchain if rustup has one, else
#                                    the stable one with RUSTC_BOOTSTRAP=1 (-Z flags are nightly's)
#   scripts/leak-check.sh valgrind   valgrind (apt-get install valgrind) over the same test binaries
# Linux x86_64/aarch64 only: LeakSanitizer's runtime ships for these targets.
set -euo pipefail
cd "$(dirname "$0")/.."

mode=${1:-lsan}
target=$(rustc -vV | sed -n 's/^host: //p')
# A target dir of its own: sanitized objects must not mix with the normal build's.
export CARGO_TARGET_DIR=${CARGO_TARGET_DIR:-target/leak-check}

case "$mode" in
lsan)
  toolchain=()
  if rustup toolchain list 2>/dev/null | grep -q '^nightly'; then
    toolchain=(+nightly)
  else
    export RUSTC_BOOTSTRAP=1
  fi
  # --target keeps the sanitizer off build scripts and proc macros, which run on the host.
  RUSTFLAGS="-Zsanitizer=leak" LSAN_OPTIONS="exitcode=23" \
    cargo "${toolchain[@]}" test -p socket2-core --target "$target"
  ;;
valgrind)
  command -v valgrind >/dev/null || { echo "valgrind not found: apt-get install valgrind" >&2; exit 2; }
  bins=$(cargo test -p socket2-core --no-run --message-format=json 2>/dev/null |
    sed -n 's/.*"executable":"\([^"]*\)".*/\1/p')
  for bin in $bins; do
    echo "== valgrind $bin"
    # One test thread: valgrind serialises threads anyway, and the report stays readable.
    valgrind --quiet --leak-check=full --show-leak-kinds=definite --errors-for-leak-kinds=definite --error-exitcode=23 \
      "$bin" --test-threads=1
  done
  ;;
*)
  echo "usage: $0 [lsan|valgrind]" >&2
  exit 2
  ;;
esac
