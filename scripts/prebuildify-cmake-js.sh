#!/bin/sh
# prebuildify calls its "node-gyp" as `<bin> rebuild --target=<node version> --devdir=... --arch=x64 --release`.
# cmake-js would read --target as a CMake target, so keep only what it understands and run a clean cmake-js build.
args=""
for a in "$@"; do
  case "$a" in
    --arch=*) args="$args $a" ;;
    --debug) args="$args --debug" ;;
  esac
done
exec cmake-js rebuild $args
