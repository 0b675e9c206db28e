// The worker_thread a job runs in. The module's calls are synchronous; running them here keeps
// the caller's event loop free (progress events, Ctrl-C, an Electron UI) and lets a shared flag
// cancel the job between chunks. Two modes:
//   cli  the command line of CLI.md, output written straight to fds 1 and 2 (npx llmq), or
//        sent back as messages (the API's run());
//   job  quantize / inspect / perplexity / generate / analyze / qualityReport / qualityCompare with progress, log and the result sent back
//        as messages.
import fs from 'node:fs';
import path from 'node:path';
import tty from 'node:tty';
import { fileURLToPath } from 'node:url';
import { parentPort, workerData } from 'node:worker_threads';
import { loadLlmq } from '../dist/llmq-core.mjs';
import { nodeHost } from '../dist/node-files.mjs';
import { EventProgress, StderrProgress } from './progress.mjs';

const { mode, args, job, params, cwd, cancel, wasmModule, direct, threads = 1 } = workerData;
const cancelFlag = new Int32Array(cancel);
const cancelled = () => Atomics.load(cancelFlag, 0) !== 0;
const pause = new Int32Array(new SharedArrayBuffer(4));
// The package's data/ (the default perplexity text), found by bundledFile.
const dataDir = path.resolve(path.dirname(fileURLToPath(import.meta.url)), '..', 'data');

// A pipe may be non-blocking (Node sets stdio pipes so): wait and retry instead of losing output.
function writeAll(fd, text) {
  const bytes = Buffer.from(text);
  let done = 0;
  while (done < bytes.length) {
    try {
      done += fs.writeSync(fd, bytes, done, bytes.length - done);
    } catch (e) {
      if (e.code !== 'EAGAIN') throw e;
      Atomics.wait(pause, 0, 0, 5);
    }
  }
}

// threads > 1: the threaded module (its pool Workers are this worker's children; dispose() ends
// them, so this worker, and a process that waits for it, can exit).
const llmq = await loadLlmq({ wasmModule, threads });
llmq.setWorkingDirectory(cwd);

if (mode === 'cli') {
  const out = direct ? (t) => writeAll(1, t) : (t) => parentPort.postMessage({ type: 'stdout', text: t });
  const err = direct ? (t) => writeAll(2, t) : (t) => parentPort.postMessage({ type: 'stderr', text: t });
  const progress = new StderrProgress(direct && tty.isatty(2), err);
  const host = nodeHost({
    stdout: out,
    stderr: err,
    progress,
    cancelled,
    configure: (options) => progress.configure(options),
  }, { dataDir });
  const code = llmq.runCli(args, host);
  llmq.dispose();
  parentPort.postMessage({ type: 'exit', code });
} else {
  const progress = new EventProgress((event) => parentPort.postMessage({ type: 'progress', event }));
  const host = nodeHost({
    stderr: (text) => parentPort.postMessage({ type: 'log', text }),
    progress,
    cancelled,
  }, { dataDir });
  const jobs = {
    quantize: () => llmq.quantize(params, host),
    inspect: () => llmq.inspect(params.model, host),
    perplexity: () => llmq.perplexity(params, host),
    generate: () => llmq.generate(params, host),
    analyze: () => llmq.analyze(params, host),
    qualityReport: () => llmq.qualityReport(params, host),
    qualityCompare: () => llmq.qualityCompare(params, host),
  };
  const r = jobs[job]();
  const heapBytes = llmq.heapBytes();
  llmq.dispose();
  parentPort.postMessage(r.ok ? { type: 'done', result: r.result, heapBytes, threads: llmq.threads } : { type: 'error', error: r.error });
}
