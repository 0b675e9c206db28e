// The page in Chromium (headless, Debian's), cross-origin isolated: time to quantize a model with
// 1 thread (?threads=1, the single-threaded module) and 2 (?threads=2, the threaded one), and
// whether the two downloads are identical. Never part of `make test`.
//
//   node bench/page_threads.mjs [MODEL.gguf] [--level Q4_K_M] [--runs N]
//
// Default model: the synthetic TinyLlama-1.1B-shaped F16 model of bench/wasm_vs_native.mjs
// (build/bench/ or build/bench-wasm/). Needs `make web web-deps` (build/web, playwright-core in web/test) and
// Chromium at /usr/bin/chromium. Times are from the click on Start to the done state, best of
// --runs (default 1).
import fs from 'node:fs';
import { createRequire } from 'node:module';
import os from 'node:os';
import path from 'node:path';
import { fileURLToPath } from 'node:url';
import { serveWeb } from '../node/src/server.mjs';
import { sha256File, takeOption } from './util.mjs';

const root = path.resolve(path.dirname(fileURLToPath(import.meta.url)), '..');
const { chromium } = createRequire(path.join(root, 'web', 'test', 'package.json'))('playwright-core');
const args = process.argv.slice(2);
const option = (name, fallback) => takeOption(args, name, fallback);
const level = option('--level', 'Q4_K_M');
const runs = Number(option('--runs', '1'));
const made = ['bench', 'bench-wasm'].map((d) => path.join(root, 'build', d, 'synthetic-llama-1.1b-f16.gguf'));
const model = args[0] ?? made.find((f) => fs.existsSync(f)) ?? made[0];
if (!fs.existsSync(model)) {
  console.error(`${model} is missing: run bench/wasm_vs_native.mjs once (it makes it) or name a model`);
  process.exit(1);
}
const out = fs.mkdtempSync(path.join(os.tmpdir(), 'llmq-page-bench-'));

const server = await serveWeb({ port: 0, root: path.join(root, 'build', 'web') });
const profile = fs.mkdtempSync(path.join(os.tmpdir(), 'llmq-chromium-'));
const context = await chromium.launchPersistentContext(profile, {
  executablePath: '/usr/bin/chromium', headless: true, acceptDownloads: true,
  args: ['--no-sandbox', '--disable-gpu', '--disable-quic', '--no-first-run', '--disable-background-networking',
    '--disable-component-update', '--disable-sync'],
});

async function quantizeOnce(threads, saved) {
  const page = await context.newPage();
  await page.addInitScript(() => Object.defineProperty(window, 'showSaveFilePicker', { value: undefined }));
  await page.goto(`http://127.0.0.1:${server.address().port}/?threads=${threads}`);
  await page.waitForSelector('body[data-state="ready"]', { timeout: 60_000 });
  const isolated = await page.evaluate(() => crossOriginIsolated);
  const used = Number(await page.getAttribute('body', 'data-threads'));
  await page.setInputFiles('#file-input', model);
  await page.waitForSelector('body[data-state="model"]', { timeout: 60_000 });
  await page.selectOption('#level', level);
  const download = page.waitForEvent('download', { timeout: 3_600_000 });
  const t0 = performance.now();
  await page.click('#start');
  await page.waitForSelector('body[data-state="done"]', { timeout: 3_600_000 });
  const seconds = (performance.now() - t0) / 1000;
  await (await download).saveAs(saved);
  await page.close();
  return { seconds, isolated, used };
}

try {
  console.log(`page, ${path.basename(model)} → ${level}, best of ${runs} run(s)`);
  const best = {};
  for (let i = 0; i < runs; ++i) {
    for (const threads of [1, 2]) {
      const r = await quantizeOnce(threads, path.join(out, `page-${threads}.gguf`));
      if (!r.isolated || r.used !== threads) throw new Error(`asked ${threads} threads, got ${r.used} (isolated: ${r.isolated})`);
      best[threads] = Math.min(best[threads] ?? Infinity, r.seconds);
    }
  }
  const same = sha256File(path.join(out, 'page-1.gguf')) === sha256File(path.join(out, 'page-2.gguf'));
  console.log(`1 thread ${best[1].toFixed(2)} s   2 threads ${best[2].toFixed(2)} s   speedup ${(best[1] / best[2]).toFixed(2)}×   identical ${same ? 'yes' : 'NO'}`);
} finally {
  await context.close();
  server.closeAllConnections();
  server.close();
  fs.rmSync(out, { recursive: true, force: true });
  fs.rmSync(profile, { recursive: true, force: true });
}
