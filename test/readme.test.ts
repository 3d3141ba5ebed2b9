// Every ```ts block of README.md, docs/training.md, docs/transformers.md, docs/gpt.md and docs/dual-encoders.md runs as written, as an
// ES module importing 'qkv' the way a consumer does: from the compiled package (tsc output, like
// dist/) of this checkout. (docs/word2vec.md's blocks name the user's own corpus files.)
import { execFileSync } from 'node:child_process';
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { beforeAll, describe, expect, it } from 'vitest';

const root = path.join(__dirname, '..');
const pages = ['README.md', 'docs/training.md', 'docs/transformers.md', 'docs/gpt.md', 'docs/dual-encoders.md'];
const blocks = pages.flatMap((page) =>
  [...fs.readFileSync(path.join(root, page), 'utf8').matchAll(/```ts\n([\s\S]*?)```/g)].map((m) => ({ page, code: m[1] })),
);

// Compiled next to dist/ so that its native loader finds build/Release from the package root.
const out = path.join(root, '.readme-dist');
const scratch = fs.mkdtempSync(path.join(os.tmpdir(), 'qkv-readme-'));
beforeAll(() => {
  // Examples read the bundled data as a user's checkout of the project would: data/...
  fs.symlinkSync(path.join(root, 'data'), path.join(scratch, 'data'));
  fs.rmSync(out, { recursive: true, force: true });
  execFileSync(process.execPath, [path.join(root, 'node_modules/typescript/bin/tsc'), '-p', 'tsconfig.build.json', '--outDir', out], { cwd: root });
}, 120_000);

describe('README and docs examples', () => {
  it('has examples', () => expect(blocks.length).toBeGreaterThan(10));
  blocks.forEach(({ page, code }, i) => {
    it(`${page} block ${i + 1} runs: ${code.split('\n').find((l) => l.trim() && !l.startsWith('import'))?.trim().slice(0, 50)}`, () => {
      const file = path.join(os.tmpdir(), `qkv-readme-${process.pid}-${i}.mts`);
      const src = code.replace(/from 'qkv'/g, `from ${JSON.stringify(path.join(out, 'index.js'))}`);
      fs.writeFileSync(file, src);
      try {
        // Files an example saves land in a scratch folder, not in the checkout.
        execFileSync(process.execPath, ['--import', path.join(root, 'node_modules/tsx/dist/loader.mjs'), file], { cwd: scratch, encoding: 'utf8', stdio: 'pipe' });
      } finally {
        fs.rmSync(file, { force: true });
      }
    });
  });
});
