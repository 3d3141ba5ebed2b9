'use strict';
// Install step: use a prebuilt binary when one loads here, else build from source with cmake-js.
// node-gyp-build's own bin can only fall back to `node-gyp rebuild`, which has no binding.gyp to read.
const path = require('path');
const { spawnSync } = require('child_process');

const root = path.join(__dirname, '..');
const fromSource = /^(1|true)$/i.test(process.env.npm_config_build_from_source || '');

if (!fromSource) {
  try {
    const file = require('node-gyp-build').resolve(root);
    require(file);
    console.log(`qkv: using ${path.relative(root, file)}`);
    process.exit(0);
  } catch (err) {
    console.log(`qkv: no usable prebuilt binary (${String(err.message).split('\n')[0]}); building from source`);
  }
} else {
  console.log('qkv: npm_config_build_from_source is set; building from source');
}

const cmakeJs = require.resolve('cmake-js/bin/cmake-js', { paths: [root] });
const result = spawnSync(process.execPath, [cmakeJs, 'compile'], { cwd: root, stdio: 'inherit' });
if (result.error) {
  console.error(`qkv: could not run cmake-js: ${result.error.message}`);
  process.exit(1);
}
process.exit(result.status === null ? 1 : result.status);
