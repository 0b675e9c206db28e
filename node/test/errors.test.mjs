// Bad input is rejected by `npx llmq` exactly as by the native CLI: the same exit code, the same
// stderr (message and hint) and the same stdout (help texts, JSON errors), and no file is left
// at the output path.
import assert from 'node:assert/strict';
import fs from 'node:fs';
import path from 'node:path';
import { after, test } from 'node:test';
import { fixture } from '../../tests/support/fixtures.mjs';
import { runNative, runNode, sample, tempDir } from './helpers.mjs';

const work = tempDir('llmq-errors-');
after(() => fs.rmSync(work, { recursive: true, force: true }));
const bytes = fs.readFileSync(sample);
fs.copyFileSync(sample, path.join(work, 'sample.gguf'));
fs.writeFileSync(path.join(work, 'header-cut.gguf'), bytes.subarray(0, 1000));
fs.writeFileSync(path.join(work, 'data-cut.gguf'), bytes.subarray(0, 5_000_000));
fs.writeFileSync(path.join(work, 'not-gguf.gguf'), Buffer.from('this is not a model\n'.repeat(100)));
fs.writeFileSync(path.join(work, 'empty.gguf'), Buffer.alloc(0));
const broken = Buffer.from(bytes);
broken.writeBigUInt64LE(0xffffffffffffn, 8); // tensor count far beyond the file
fs.writeFileSync(path.join(work, 'huge-count.gguf'), broken);
fs.mkdirSync(path.join(work, 'a-directory'));
fs.mkdirSync(path.join(work, 'existing-dir'));
fs.writeFileSync(path.join(work, 'existing-dir', 'keep'), 'x');
const invalid = fixture('gguf', 'invalid-alignment-kv64-data32.gguf');
if (fs.existsSync(invalid)) fs.copyFileSync(invalid, path.join(work, 'invalid-alignment.gguf'));

const cases = [
  [],
  ['frobnicate'],
  ['help'],
  ['--help'],
  ['--version'],
  ['quantize', '--help'],
  ['inspect', '--help'],
  ['quantize'],
  ['quantize', 'sample.gguf'],
  ['quantize', 'sample.gguf', '-q', 'Q9_X'],
  ['quantize', 'sample.gguf', '-q'],
  ['quantize', 'missing.gguf', '-q', 'Q4_K_M'],
  ['quantize', 'a-directory', '-q', 'Q4_K_M'],
  ['quantize', 'header-cut.gguf', '-q', 'Q8_0'],
  ['quantize', 'data-cut.gguf', '-q', 'Q8_0', '-o', 'out.gguf'],
  ['quantize', 'not-gguf.gguf', '-q', 'Q8_0'],
  ['quantize', 'empty.gguf', '-q', 'Q8_0'],
  ['quantize', 'huge-count.gguf', '-q', 'Q8_0'],
  ['quantize', 'sample.gguf', '-q', 'Q8_0', '-o', 'no-such-dir/out.gguf'],
  ['quantize', 'sample.gguf', '-q', 'Q8_0', '-o', 'sample.gguf'],
  ['quantize', 'sample.gguf', '-q', 'Q8_0', '-o', './sample.gguf'],
  ['quantize', 'sample.gguf', '-q', 'Q8_0', '-o', 'existing-dir'],
  ['quantize', 'sample.gguf', '-q', 'Q8_0', '-o', 'existing-dir/../sample.gguf'],
  ['quantize', 'sample.gguf', '-q', 'Q8_0', '-o', 'no-such-dir/../out.gguf'],
  ['quantize', 'sample.gguf', '-q', 'Q8_0', '--bogus'],
  ['quantize', 'sample.gguf', '-q', 'Q8_0', '--tensor-type', 'nonsense'],
  ['quantize', 'sample.gguf', '-q', 'Q8_0', '--tensor-type', 'attn=q9_9'],
  ['quantize', 'sample.gguf', '-q', 'Q8_0', '--tensor-type', '(=q8_0'],
  ['quantize', 'sample.gguf', '-q', 'Q8_0', '--output-tensor-type', 'iq9'],
  ['quantize', 'sample.gguf', '-q', 'Q8_0', '--imatrix', 'missing.imatrix'],
  ['quantize', 'sample.gguf', '-q', 'Q8_0', '--imatrix', 'sample.gguf'],
  ['quantize', 'sample.gguf', '-q', 'IQ2_XXS'],
  ['quantize', 'sample.gguf', '-q', 'Q8_0', '-t', 'many'],
  ['quantize', 'sample.gguf', '-q', 'Q8_0', '--chunk-mb', '0'],
  ['quantize', 'sample.gguf', '-q', 'Q8_0', '--pure', '--pure'],
  ['quantize', 'sample.gguf', 'smoothquant', '-q', 'Q8_0'],
  ['quantize', 'sample.gguf', 'gguf', 'extra', '-q', 'Q8_0'],
  ['--format', 'yaml', 'inspect', 'sample.gguf'],
  ['--format'],
  ['inspect'],
  ['inspect', 'missing.gguf'],
  ['inspect', 'header-cut.gguf'],
  ['inspect', 'invalid-alignment.gguf'],
  ['analyze', 'missing.gguf'],
  ['analyze', 'sample.gguf', '--bogus'],
  ['convert', 'a-directory', '-o', 'x.gguf'],
];

// Native and wasm must agree on every case (no known divergences).
const todo = {};

for (const args of cases) {
  for (const format of [[], ['--format', 'json']]) {
    if (args[0] === '--format' && format.length) continue;
    const argv = [...args, ...format];
    test(`llmq ${argv.join(' ') || '(no arguments)'}`, { todo: args.map((a) => todo[a]).find(Boolean) }, () => {
      const n = runNative(argv, { cwd: work });
      const w = runNode(argv, { cwd: work });
      assert.equal(w.code, n.code, `exit code\nnative stderr: ${n.stderr}\nwasm stderr: ${w.stderr}`);
      assert.equal(w.stderr, n.stderr);
      assert.equal(w.stdout, n.stdout);
      if (n.code !== 0) {
        const leftovers = fs.readdirSync(work).filter((f) => f.endsWith('.part') || f === 'out.gguf');
        assert.deepEqual(leftovers, [], 'no partial output stays behind');
      }
      for (const f of ['sample-Q8_0.gguf', 'sample-IQ2_XXS.gguf']) fs.rmSync(path.join(work, f), { force: true });
    });
  }
}

test('a successful run prints the same human report apart from the measurements', () => {
  const n = runNative(['quantize', 'sample.gguf', '-q', 'Q6_K', '-o', 'n.gguf'], { cwd: work });
  const w = runNode(['quantize', 'sample.gguf', '-q', 'Q6_K', '-o', 'w.gguf'], { cwd: work });
  assert.equal(n.code, 0);
  assert.equal(w.code, 0);
  const normalise = (s) => s.replace(/time .*\n/, 'time …\n').replace(/: [nw]\.gguf/, ': OUT');
  assert.equal(normalise(w.stderr), normalise(n.stderr));
});

test('llmq web rejects bad options like the other commands', () => {
  const w = runNode(['web', '--port', 'eighty']);
  assert.equal(w.code, 2);
  assert.equal(w.stderr, "error: invalid value 'eighty' for --port\nhint: expected a whole number from 0 to 65535\n");
  assert.equal(runNode(['web', '--bogus']).code, 2);
  const help = runNode(['web', '--help']);
  assert.equal(help.code, 0);
  assert.match(help.stdout, /^llmq web \[--port N\]/);
});
