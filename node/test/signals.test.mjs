// Ctrl-C in `npx llmq` acts as in the native CLI: the job stops between chunks, exit code 130,
// "error: interrupted", and neither the output nor its .part file is left.
import assert from 'node:assert/strict';
import { spawn } from 'node:child_process';
import fs from 'node:fs';
import path from 'node:path';
import { after, test } from 'node:test';
import { bin, native, smallSyntheticModel, tempDir } from './helpers.mjs';

const work = tempDir('llmq-signal-');
after(() => fs.rmSync(work, { recursive: true, force: true }));
// Big enough that the native CLI (one thread) is still busy when its first progress line appears.
const model = smallSyntheticModel(work, 24);

// Starts a quantization, sends SIGINT once it has made progress, and reports how it ended.
function interrupt(command, args) {
  return new Promise((resolve) => {
    const child = spawn(command, args, { cwd: work });
    let stderr = '';
    let sent = false;
    child.stderr.on('data', (d) => {
      stderr += d;
      if (!sent && /quantize: /.test(stderr)) {
        sent = true;
        child.kill('SIGINT');
      }
    });
    child.on('exit', (code, signal) => resolve({ code, signal, stderr, sent }));
  });
}

for (const [name, command, prefix] of [['native', native, []], ['npx llmq', process.execPath, [bin]]]) {
  test(`${name}: SIGINT during quantize exits 130 and leaves nothing`, async () => {
    const out = path.join(work, `${name.replace(/\W/g, '')}.gguf`);
    const r = await interrupt(command, [...prefix, 'quantize', model, '-q', 'Q4_K_M', '-o', out, '--chunk-mb', '2', '-t', '1']);
    assert.ok(r.sent, `no progress line seen: ${r.stderr}`);
    assert.equal(r.code, 130, r.stderr);
    assert.match(r.stderr, /error: interrupted\n$/);
    assert.ok(!fs.existsSync(out));
    assert.ok(!fs.existsSync(`${out}.part`));
  });
}
