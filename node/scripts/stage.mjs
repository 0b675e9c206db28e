// Stages the build outputs into the package: build/wasm (module + JS adapters) → dist/, and the
// page of build/web (without its own copies of the module and the data: `llmq web` serves dist/
// for /wasm/ and data/ for /data/) →
// web/, and the repository's data/ (the default perplexity text) → data/. Runs before `npm pack`
// and before the tests; needs `make wasm web` first.
import fs from 'node:fs';
import path from 'node:path';
import { fileURLToPath } from 'node:url';

const pkg = path.resolve(path.dirname(fileURLToPath(import.meta.url)), '..');
const build = process.env.LLMQ_BUILD_DIR ?? path.resolve(pkg, '..', 'build');
const wasmFiles = ['llmq.mjs', 'llmq.wasm', 'llmq-mt.mjs', 'llmq-mt.wasm', 'llmq-mt.worker.js', 'llmq-core.mjs', 'llmq-errors.mjs', 'node-files.mjs', 'blob-files.mjs', 'opfs-files.mjs'];

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
// The threaded module's pool Workers run llmq-mt.worker.js, a classic script (CommonJS in Node):
// the package is "type": "module", so dist/ says otherwise for its .js files.
fs.writeFileSync(path.join(dist, 'package.json'), `${JSON.stringify({ type: 'commonjs' }, null, 2)}\n`);

const web = path.join(pkg, 'web');
fs.rmSync(web, { recursive: true, force: true });
// Nor its data/: `llmq web` serves the package's data/ for /data/.
const shared = new Set([path.join(build, 'web', 'wasm'), path.join(build, 'web', 'data')]);
fs.cpSync(path.join(build, 'web'), web, { recursive: true, filter: (src) => !shared.has(src) });
// data/: the default perplexity text (WikiText-2 test, CC BY-SA 3.0) and its license note.
const dataFiles = ['wikitext-2-test.raw', 'README.md'];
const data = path.join(pkg, 'data');
fs.rmSync(data, { recursive: true, force: true });
fs.mkdirSync(data);
for (const f of dataFiles) {
  const src = path.resolve(pkg, '..', 'data', f);
  need(src, 'node-stage (the repository\'s data/)');
  fs.copyFileSync(src, path.join(data, f));
}
console.error(`llmq: staged ${wasmFiles.length} module files into dist/, the page into web/ and ${dataFiles.length} files into data/`);
