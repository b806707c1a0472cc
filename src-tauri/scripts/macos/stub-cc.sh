#!/bin/sh
# A C compiler for `cargo check --target aarch64-apple-darwin` on Linux, where the Apple SDK's
# headers are missing: it says it is clang when the cc crate asks (`-E` on its probe file; no
# cl-style `-?`),
# writes an empty object for each `-o`, and succeeds. `cargo check` never links, so the C and
# Objective-C parts (ring, SQLite, objc2's exception helper, the notification bridge) are not
# checked by this: only every line of Rust is.
out=""
prev=""
for arg in "$@"; do
  case "$arg" in
    -E) echo "clang"; exit 0 ;;
    -\?) exit 1 ;;
  esac
  [ "$prev" = "-o" ] && out="$arg"
  prev="$arg"
done
[ -n "$out" ] && : > "$out"
exit 0
