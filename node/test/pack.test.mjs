// The npm package as users get it: `npm pack`, installed offline into an empty directory, where
// `npx llmq` quantizes the sample model to the native CLI's bytes and `llmq web` serves the page.
import assert from 'node:assert/strict';
import { spawn, spawnSync } from 'node:child_process';
import fs from 'node:fs';
import path from 'node:path';
import { after, test } from 'node:test';
import { native, pkg, sample, sha256, tempDir } from './helpers.mjs';

const packs = tempDir('llmq-pack-');
const project = tempDir('llmq-install-');
after(() => {
  fs.rmSync(packs, { recursive: true, force: true });
  fs.rmSync(project, { recursive: true, force: true });
});
// An unreachable registry and an empty cache: any network use would fail the install.
const env = { ...process.env, npm_config_registry: 'http://127.0.0.1:9/', npm_config_cache: path.join(packs, 'cache'), npm_config_update_notifier: 'false' };

function npm(args, cwd) {
  const r = spawnSync('npm', args, { cwd, env, encoding: 'utf8' });
  assert.equal(r.status, 0, `npm ${args.join(' ')}\n${r.stdout}\n${r.stderr}`);
  return r.stdout;
}

let tarball;

test('npm pack produces a tarball with the module, the adapters and the page', () => {
  const [info] = JSON.parse(npm(['pack', '--json', '--pack-destination', packs], pkg));
  tarball = path.join(packs, info.filename);
  const files = info.files.map((f) => f.path);
  for (const f of ['bin/llmq.mjs', 'src/index.mjs', 'src/index.d.ts', 'src/worker.mjs', 'src/threads.mjs', 'dist/llmq.wasm', 'dist/llmq.mjs',
    'dist/llmq-mt.wasm', 'dist/llmq-mt.mjs', 'dist/llmq-mt.worker.js', 'dist/package.json', 'dist/node-files.mjs', 'web/index.html', 'web/worker.mjs', 'data/wikitext-2-test.raw', 'data/README.md']) {
    assert.ok(files.includes(f), `${f} is in the package`);
  }
  assert.ok(!files.some((f) => f.startsWith('test/') || f.startsWith('scripts/')), 'tests stay out of the package');
  // Two modules (single-threaded and threaded, about 0.7 MB compressed each), the page and the text.
  assert.ok(info.size < 2_600_000, `tarball ${info.size} bytes`);
});

test('it installs with no network and `npx llmq` runs', () => {
  fs.writeFileSync(path.join(project, 'package.json'), '{"name": "try-llmq", "private": true}\n');
  npm(['install', '--offline', '--no-audit', '--no-fund', tarball], project);
  const version = spawnSync('npx', ['--no', '--offline', 'llmq', '--version'], { cwd: project, env, encoding: 'utf8' });
  assert.equal(version.status, 0, version.stderr);
  assert.match(version.stdout, /^llmq \d+\.\d+\.\d+\n$/);
});

test('the installed `npx llmq quantize` writes the native CLI\'s bytes', () => {
  const q = spawnSync('npx', ['--no', '--offline', 'llmq', 'quantize', sample, '-q', 'Q4_K_M', '-o', 'w.gguf'], { cwd: project, env, encoding: 'utf8' });
  assert.equal(q.status, 0, q.stderr);
  const reference = path.join(packs, 'native.gguf');
  assert.equal(spawnSync(native, ['quantize', sample, '-q', 'Q4_K_M', '-o', reference, '--quiet']).status, 0);
  assert.equal(sha256(path.join(project, 'w.gguf')), sha256(reference));
});

test('the installed `npx llmq perplexity` without -f scores the bundled WikiText-2 text', () => {
  const { LLMQ_DATA_DIR: _unset, ...clean } = env;
  const r = spawnSync('npx', ['--no', '--offline', 'llmq', 'perplexity', sample, '--ctx', '128', '--chunks', '1', '--format', 'json'],
    { cwd: project, env: clean, encoding: 'utf8' });
  assert.equal(r.status, 0, r.stderr);
  const result = JSON.parse(r.stdout);
  assert.equal(fs.realpathSync(result.text_path), fs.realpathSync(path.join(project, 'node_modules', 'llmq', 'data', 'wikitext-2-test.raw')));
  assert.ok(result.perplexity > 1);
});

test('the installed `llmq web` serves the page and the module with isolation headers', async () => {
  const server = spawn(path.join(project, 'node_modules', '.bin', 'llmq'), ['web', '--port', '0'], { cwd: project, env });
  try {
    const url = await new Promise((resolve, reject) => {
      let text = '';
      server.stderr.on('data', (d) => {
        text += d;
        const m = /(http:\/\/\S+\/)/.exec(text);
        if (m) resolve(m[1]);
      });
      server.on('exit', (code) => reject(new Error(`llmq web exited with ${code}: ${text}`)));
    });
    const page = await fetch(url);
    assert.equal(page.status, 200);
    assert.match(await page.text(), /<title>llmq/);
    assert.equal(page.headers.get('cross-origin-opener-policy'), 'same-origin');
    assert.equal(page.headers.get('cross-origin-embedder-policy'), 'require-corp');
    const wasm = await fetch(new URL('wasm/llmq.wasm', url));
    assert.equal(wasm.headers.get('content-type'), 'application/wasm');
    assert.ok(WebAssembly.validate(new Uint8Array(await wasm.arrayBuffer())));
    const worker = await fetch(new URL('worker.mjs', url));
    assert.match(worker.headers.get('content-type'), /^text\/javascript/);
    assert.equal((await fetch(new URL('wasm/node-files.mjs', url))).status, 200);
    // The Analyze step's default calibration text, from the package's data/ (not a second copy).
    const text = await fetch(new URL('data/wikitext-2-test.raw', url));
    assert.equal(text.status, 200);
    assert.equal(Buffer.from(await text.arrayBuffer()).equals(fs.readFileSync(path.join(project, 'node_modules', 'llmq', 'data', 'wikitext-2-test.raw'))), true);
    assert.ok(!fs.existsSync(path.join(project, 'node_modules', 'llmq', 'web', 'data')));
    assert.equal((await fetch(new URL('%2e%2e/package.json', url))).status, 404);
    assert.equal((await fetch(new URL('nothing-here', url))).status, 404);
  } finally {
    const exited = new Promise((resolve) => server.on('exit', resolve));
    server.kill('SIGINT');
    assert.equal(await exited, 0);
  }
});
