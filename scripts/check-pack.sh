#!/usr/bin/env bash
# npm run check:pack — proves that the npm package installs and works for a consumer, both ways:
#  (a) with prebuilt binaries: `npm run prebuildify`, `npm pack`, install the tarball into an empty
#      folder with a PATH that holds only node, npm, npx and sh (no compiler, no cmake), then run a
#      matmul from a CommonJS (.cjs) and an ES module (.mjs) consumer, type-check a TypeScript
#      consumer (.mts and .cts), and check that the addon came from prebuilds/ and no build/ appeared;
#  (b) without prebuilt binaries: pack a tarball with no prebuilds/, install it with the normal PATH
#      (scripts/install.js must build from source with cmake-js), then run the same consumers.
#
# Everything happens in a temporary copy of the package (its node_modules is a link to this one),
# so the working tree is never touched: prebuildify's clean rebuild, its move of the .node out of
# build/Release and its prebuilds/ folder all stay inside the copy. The copy and the consumers are
# removed at the end (KEEP_WORK=1 keeps them). Any failure exits non-zero with a line saying what.
set -euo pipefail

ROOT="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"
START=$(date +%s)
WORK="$(mktemp -d "${TMPDIR:-/tmp}/qkv-check-pack.XXXXXX")"

log() { echo "check-pack [$(( $(date +%s) - START ))s] $*"; }
fail() {
  echo "check-pack: FAILED: $*" >&2
  exit 1
}
cleanup() {
  local rc=$?
  if [[ "${KEEP_WORK:-}" == 1 ]]; then
    echo "check-pack: work folder kept at $WORK"
  else
    rm -rf "$WORK"
  fi
  if [[ $rc -ne 0 ]]; then echo "check-pack: FAILED (exit $rc) after $(( $(date +%s) - START ))s" >&2; fi
}
trap cleanup EXIT

# `npm run` exports npm_* variables (config, lifecycle, package fields); a nested npm in a consumer
# folder would read them as its own configuration, so the nested commands run without them.
while IFS= read -r v; do unset "$v"; done < <(compgen -e | grep -i '^npm_' || true)

[[ -d "$ROOT/node_modules/prebuildify" && -d "$ROOT/node_modules/typescript" ]] ||
  fail "run 'npm install' (or 'npm ci') in $ROOT first: prebuildify and typescript are needed"

NAME=$(node -p "require('$ROOT/package.json').name")
VERSION=$(node -p "require('$ROOT/package.json').version")

# ---- a private copy of the package ---------------------------------------------------------------
# The files git would track (tracked + untracked, minus ignored ones); a plain copy outside git.
PKG="$WORK/pkg"
mkdir -p "$PKG"
if git -C "$ROOT" rev-parse --is-inside-work-tree >/dev/null 2>&1; then
  (cd "$ROOT" && git ls-files -z --cached --others --exclude-standard |
    while IFS= read -r -d '' f; do [[ -e "$f" || -L "$f" ]] && printf '%s\0' "$f"; done |
    tar --null -T - -cf -) | tar -C "$PKG" -xf -
else
  (cd "$ROOT" && tar --exclude=./node_modules --exclude=./build --exclude='./build-*' --exclude=./prebuilds \
    --exclude=./dist --exclude='./*.tgz' --exclude=./.git -cf - .) | tar -C "$PKG" -xf -
fi
rm -rf "$PKG/node_modules" "$PKG/build" "$PKG/prebuilds" "$PKG/dist"
ln -s "$ROOT/node_modules" "$PKG/node_modules"
log "copied the package to $PKG"

# nvcc decides whether the CUDA plugin is built (CMakeLists.txt: check_language(CUDA) on PATH).
EXPECT_PLUGIN=0
if command -v nvcc >/dev/null 2>&1; then EXPECT_PLUGIN=1; fi

# ---- (a) prebuilds --------------------------------------------------------------------------------
log "(a) npm run prebuildify"
(cd "$PKG" && npm run prebuildify) > "$WORK/prebuildify.log" 2>&1 ||
  { tail -40 "$WORK/prebuildify.log" >&2; fail "npm run prebuildify failed (log above)"; }
PREBUILD="$PKG/prebuilds/linux-x64/$NAME.node"
[[ -f "$PREBUILD" ]] || fail "prebuildify made no $PREBUILD; prebuilds/ holds: $(cd "$PKG" && find prebuilds -type f 2>/dev/null | tr '\n' ' ')"
if [[ $EXPECT_PLUGIN == 1 && ! -f "$PKG/prebuilds/linux-x64/libqkv_cuda.so" ]]; then
  fail "nvcc is on PATH but prebuilds/linux-x64/libqkv_cuda.so is missing (prebuildify copies build/Release/*.so)"
fi
log "(a) prebuilds: $(cd "$PKG/prebuilds/linux-x64" && ls -s --block-size=K | tail -n +2 | tr -s ' ' | tr '\n' ' ')"

log "(a) npm pack"
(cd "$PKG" && npm pack --pack-destination "$WORK" --silent) > "$WORK/pack-a.log" 2>&1 ||
  { tail -40 "$WORK/pack-a.log" >&2; fail "npm pack failed (log above)"; }
TGZ_A="$WORK/$NAME-$VERSION-prebuilt.tgz"
mv "$WORK/$NAME-$VERSION.tgz" "$TGZ_A"
LIST_A=$(tar -tzf "$TGZ_A")
for f in package/package.json package/dist/index.js package/dist/index.d.ts "package/prebuilds/linux-x64/$NAME.node" \
  package/scripts/install.js package/CMakeLists.txt; do
  grep -qx "$f" <<<"$LIST_A" || fail "tarball (a) lacks $f"
done
if grep -qE '^package/(build|node_modules|test)/' <<<"$LIST_A"; then
  fail "tarball (a) contains build/, node_modules/ or test/: $(grep -E '^package/(build|node_modules|test)/' <<<"$LIST_A" | head -5 | tr '\n' ' ')"
fi
log "(a) tarball: $(wc -l <<<"$LIST_A") files, $(du -k "$TGZ_A" | cut -f1) KB"

# A PATH with node, npm, npx and sh only (npm needs sh to run install scripts).
ONLYNODE="$WORK/onlynode-bin"
mkdir -p "$ONLYNODE"
for c in node npm npx; do
  p=$(command -v "$c") || fail "$c not found on PATH"
  ln -s "$p" "$ONLYNODE/$c"
done
ln -s "$(command -v sh)" "$ONLYNODE/sh"
found=$(env PATH="$ONLYNODE" sh -c 'for c in g++ c++ gcc cc clang cmake make ninja nvcc ld strip python3; do command -v "$c"; done; true')
[[ -z "$found" ]] || fail "the no-compiler PATH still finds: $found"

# The consumers, shared by (a) and (b). $1: folder, $2: expected place of the addon (prebuilds|build).
write_consumers() {
  local dir=$1
  cat > "$dir/use.cjs" <<'EOF'
'use strict';
const path = require('path');
const qkv = require('qkv');
const a = qkv.Tensor.from(new Float32Array([1, 2, 3, 4]), [2, 2]);
const b = qkv.Tensor.from(new Float32Array([5, 6, 7, 8]), [2, 2]);
const c = qkv.matmul(a, b);
const got = Array.from(c.toFloat32Array());
const want = [19, 22, 43, 50];
if (JSON.stringify(got) !== JSON.stringify(want)) throw new Error(`matmul: got ${got}, want ${want}`);
if (JSON.stringify(c.shape) !== '[2,2]') throw new Error(`matmul: shape ${JSON.stringify(c.shape)}`);
const addons = Object.keys(require.cache).filter((k) => k.endsWith('.node'));
if (addons.length !== 1) throw new Error(`expected one .node in require.cache, got ${addons}`);
const rel = path.relative(path.dirname(require.resolve('qkv/package.json')), addons[0]);
const expect = process.env.EXPECT_FROM;
if (!rel.startsWith(expect + path.sep)) throw new Error(`addon loaded from ${rel}, expected ${expect}/`);
const info = qkv.cuda.info();
if (info.available !== qkv.cuda.available()) throw new Error('cuda.info().available != cuda.available()');
if (!info.available && !info.reason) throw new Error('cuda unavailable without a reason');
if (process.env.EXPECT_PLUGIN === '1') {
  if (!info.pluginPath || path.dirname(info.pluginPath) !== path.dirname(addons[0]))
    throw new Error(`CUDA plugin not found next to the addon: pluginPath=${info.pluginPath}`);
}
for (const t of [a, b, c]) t.dispose();
console.log(`[cjs] matmul ${JSON.stringify(got)} from ${rel}; cuda available=${info.available} plugin=${info.pluginPath ? path.relative(process.cwd(), info.pluginPath) : null}${info.reason ? ` (${info.reason})` : ''}`);
EOF
  cat > "$dir/use.mjs" <<'EOF'
import { createRequire } from 'node:module';
import path from 'node:path';
import qkvDefault, { Tensor, matmul, cuda } from 'qkv';
const require = createRequire(import.meta.url);
const a = Tensor.from(new Float32Array([1, 2, 3, 4]), [2, 2]);
const b = Tensor.from(new Float32Array([5, 6, 7, 8]), [2, 2]);
const got = Array.from(matmul(a, b).toFloat32Array());
if (JSON.stringify(got) !== '[19,22,43,50]') throw new Error(`matmul: got ${got}`);
const cjs = require('qkv');
if (qkvDefault !== cjs || cjs.matmul !== matmul || cjs.Tensor !== Tensor) throw new Error('ESM and CommonJS see different instances');
if (typeof cuda.available() !== 'boolean') throw new Error('cuda.available() is not a boolean');
const addons = Object.keys(require.cache).filter((k) => k.endsWith('.node'));
const rel = path.relative(path.dirname(require.resolve('qkv/package.json')), addons[0] ?? '');
if (addons.length !== 1 || !rel.startsWith(process.env.EXPECT_FROM + path.sep)) throw new Error(`addon loaded from ${addons}`);
console.log(`[esm] matmul ${JSON.stringify(got)} from ${rel}; default export is module.exports: true`);
EOF
  cat > "$dir/use-types.mts" <<'EOF'
import { Tensor, matmul, cuda } from 'qkv';
const a: Tensor = Tensor.from(new Float32Array([1, 2, 3, 4]), [2, 2]);
const c: Tensor = matmul(a, a);
const data: Float32Array = c.toFloat32Array();
const shape: readonly number[] = c.shape;
const ok: boolean = cuda.available();
const info = cuda.info();
const n: number = info.deviceCount;
const plugin: string | null = info.pluginPath;
// @ts-expect-error matmul takes tensors, not numbers
matmul(1, a);
// @ts-expect-error cuda.available takes no string
cuda.available('x');
export { data, shape, ok, n, plugin };
EOF
  cat > "$dir/use-types.cts" <<'EOF'
import qkv = require('qkv');
const a: qkv.Tensor = qkv.Tensor.from(new Float32Array([1, 2, 3, 4]), [2, 2]);
const c: qkv.Tensor = qkv.matmul(a, a);
const ok: boolean = qkv.cuda.available();
export = { c, ok };
EOF
  cat > "$dir/tsconfig.json" <<EOF
{
  "compilerOptions": {
    "module": "nodenext", "moduleResolution": "nodenext", "target": "ES2022", "lib": ["ES2022"],
    "strict": true, "noEmit": true, "skipLibCheck": false,
    "typeRoots": ["$ROOT/node_modules/@types"], "types": ["node"]
  },
  "files": ["use-types.mts", "use-types.cts"]
}
EOF
}

# $1: label, $2: folder, $3: tarball, $4: PATH for npm and node, $5: expected place (prebuilds|build)
install_and_run() {
  local label=$1 dir=$2 tgz=$3 path=$4 from=$5
  mkdir -p "$dir"
  echo '{ "name": "qkv-consumer", "version": "1.0.0", "private": true }' > "$dir/package.json"
  write_consumers "$dir"
  log "($label) npm install $(basename "$tgz")"
  (cd "$dir" && env PATH="$path" npm install --no-audit --no-fund --prefer-offline --foreground-scripts "$tgz") \
    > "$dir/install.log" 2>&1 || { tail -40 "$dir/install.log" >&2; fail "($label) npm install of the tarball failed (log above)"; }
  grep -E '^qkv: ' "$dir/install.log" | sed "s/^/check-pack ($label)   /" || true
  local pkgdir="$dir/node_modules/$NAME"
  if [[ $from == prebuilds ]]; then
    grep -q "^qkv: using prebuilds/linux-x64/$NAME.node" "$dir/install.log" ||
      fail "($label) the install script did not report using prebuilds/linux-x64/$NAME.node"
    [[ ! -e "$pkgdir/build" ]] || fail "($label) a build/ folder was created in $pkgdir"
  else
    grep -q '^qkv: no usable prebuilt binary' "$dir/install.log" ||
      fail "($label) the install script did not report a source build"
    [[ -f "$pkgdir/build/Release/$NAME.node" ]] || fail "($label) no build/Release/$NAME.node after the source build"
    if [[ $EXPECT_PLUGIN == 1 && ! -f "$pkgdir/build/Release/libqkv_cuda.so" ]]; then
      fail "($label) nvcc is on PATH but the source build made no build/Release/libqkv_cuda.so"
    fi
  fi
  (cd "$dir" && env PATH="$path" EXPECT_FROM="$from" EXPECT_PLUGIN="$EXPECT_PLUGIN" node use.cjs) ||
    fail "($label) the CommonJS consumer failed"
  (cd "$dir" && env PATH="$path" EXPECT_FROM="$from" node use.mjs) || fail "($label) the ES module consumer failed"
  [[ $from != prebuilds || ! -e "$pkgdir/build" ]] || fail "($label) a build/ folder appeared after running the consumers"
}

install_and_run a "$WORK/consumer-a" "$TGZ_A" "$ONLYNODE" prebuilds

log "(a) type-check a TypeScript consumer (.mts and .cts, nodenext) against the installed package"
(cd "$WORK/consumer-a" && node "$ROOT/node_modules/typescript/bin/tsc" -p tsconfig.json) ||
  fail "(a) the TypeScript consumer does not type-check against the package's .d.ts"

# ---- (b) no prebuilds: source build ----------------------------------------------------------------
log "(b) npm pack without prebuilds/"
rm -rf "$PKG/prebuilds" "$PKG/build"
(cd "$PKG" && npm pack --pack-destination "$WORK" --silent --ignore-scripts) > "$WORK/pack-b.log" 2>&1 ||
  { tail -40 "$WORK/pack-b.log" >&2; fail "npm pack (b) failed (log above)"; }
TGZ_B="$WORK/$NAME-$VERSION-source.tgz"
mv "$WORK/$NAME-$VERSION.tgz" "$TGZ_B"
if tar -tzf "$TGZ_B" | grep -q '^package/prebuilds/'; then fail "tarball (b) still contains prebuilds/"; fi

install_and_run b "$WORK/consumer-b" "$TGZ_B" "$PATH" build

log "passed: (a) prebuilt install with no compiler + CJS/ESM/TS consumers; (b) source build + CJS/ESM consumers"
