// Stages the build outputs into the package: build/wasm (module + JS adapters) → dist/, and the
// page of build/web (without its own copy of the module: `llmq web` serves dist/ for /wasm/) →
// web/. Runs before `npm pack` and before the tests; needs `make wasm web` first.
import fs from 'node:fs';
import path from 'node:path';
import { fileURLToPath } from 'node:url';

const pkg = path.resolve(path.dirname(fileURLToPath(import.meta.url)), '..');
const build = process.env.LLMQ_BUILD_DIR ?? path.resolve(pkg, '..', 'build');
const wasmFiles = ['llmq.mjs', 'llmq.wasm', 'llmq-core.mjs', 'llmq-errors.mjs', 'node-files.mjs', 'blob-files.mjs', 'opfs-files.mjs'];

function need(file, make) {
  if (!fs.existsSync(file)) {
    console.error(`llmq: ${file} is missing; run \`make ${make}\` in the repository first`);
    process.exit(1);
  }
}

for (const f of wasmFiles) need(path.join(build, 'wasm', f), 'wasm');
need(path.join(build, 'web', 'index.html'), 'web');

const dist = path.join(pkg, 'dist');
fs.rmSync(dist, { recursive: true, force: true });
fs.mkdirSync(dist);
for (const f of wasmFiles) fs.copyFileSync(path.join(build, 'wasm', f), path.join(dist, f));

const web = path.join(pkg, 'web');
fs.rmSync(web, { recursive: true, force: true });
fs.cpSync(path.join(build, 'web'), web, { recursive: true, filter: (src) => path.basename(src) !== 'wasm' || !fs.statSync(src).isDirectory() });
console.error(`llmq: staged ${wasmFiles.length} module files into dist/ and the page into web/`);
