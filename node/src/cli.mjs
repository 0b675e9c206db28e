// `npx llmq`: the command line goes to the core's command layer (in a worker_thread, writing
// straight to stdout/stderr), so flags, messages, JSON and exit codes are the native CLI's.
// Only `llmq web` is handled here: it exists in the npm package alone.
import { existsSync } from 'node:fs';
import { Worker } from 'node:worker_threads';
import { serveWeb } from './server.mjs';
import { compiledModule, jobThreads, threadsArgument } from './threads.mjs';

const workerUrl = new URL('./worker.mjs', import.meta.url);

const WEB_HELP = `llmq web [--port N] [--host ADDRESS]

Serves the llmq web page on this computer (default http://127.0.0.1:8080/). The page quantizes in
the browser: files never leave the machine. Stop with Ctrl-C.

  --port N          port to listen on (default 8080; 0 picks a free one)
  --host ADDRESS    address to bind (default 127.0.0.1)
  --root DIR        serve another copy of the page (e.g. build/web of a source checkout)
`;

// The command word, skipping the global options and their values (as the core does).
function commandOf(args) {
  for (let i = 0; i < args.length; ++i) {
    const a = args[i];
    if (a === '--format' || a === '-t' || a === '--threads') {
      ++i;
    } else if (!a.startsWith('-') && a !== '') {
      return { command: a, index: i };
    }
  }
  return { command: '', index: -1 };
}

function usage(message, hint) {
  process.stderr.write(`error: ${message}\n${hint ? `hint: ${hint}\n` : ''}`);
  return 2;
}

async function web(args) {
  let port = 8080;
  let host = '127.0.0.1';
  let root;
  const json = args.includes('--format=json') || args.some((a, i) => a === '--format' && args[i + 1] === 'json');
  for (let i = 0; i < args.length; ++i) {
    let a = args[i];
    let value;
    if (a.startsWith('--') && a.includes('=')) [a, value] = [a.slice(0, a.indexOf('=')), a.slice(a.indexOf('=') + 1)];
    const take = () => value ?? args[++i];
    if (a === '-h' || a === '--help') {
      process.stdout.write(WEB_HELP);
      return 0;
    } else if (a === '--port') {
      const v = take();
      if (v === undefined) return usage('option --port needs a value', 'see `llmq web --help`');
      if (!/^\d+$/.test(v) || Number(v) > 65535) return usage(`invalid value '${v}' for --port`, 'expected a whole number from 0 to 65535');
      port = Number(v);
    } else if (a === '--host') {
      host = take();
      if (host === undefined) return usage('option --host needs a value', 'see `llmq web --help`');
    } else if (a === '--root') {
      root = take();
      if (root === undefined) return usage('option --root needs a value', 'see `llmq web --help`');
      if (!existsSync(`${root}/index.html`)) return usage(`${root} holds no index.html`, 'give the directory of the page, e.g. build/web');
    } else if (a === '--format' || a === '-t' || a === '--threads') {
      take();
    } else if (['-v', '--verbose', '--debug', '--quiet'].includes(a) || (a.startsWith('--format') && value !== undefined)) {
      // global options without effect here
    } else if (a !== 'web') {
      return usage(a.startsWith('-') ? `unknown option ${a} for 'web'` : `unexpected argument '${a}'`, 'see `llmq web --help`');
    }
  }
  let server;
  try {
    server = await serveWeb({ port, host, ...(root ? { root } : {}) });
  } catch (e) {
    process.stderr.write(`error: cannot listen on ${host}:${port}: ${e.message}\nhint: choose another port with --port\n`);
    return 1;
  }
  const { port: actual } = server.address();
  const url = `http://${host.includes(':') ? `[${host}]` : host}:${actual}/`;
  if (json) process.stdout.write(`${JSON.stringify({ status: 'serving', url })}\n`);
  process.stderr.write(`llmq web: serving the page at ${url} (Ctrl-C to stop)\n`);
  await new Promise((resolve) => {
    const stop = () => server.close(() => resolve());
    process.once('SIGINT', stop);
    process.once('SIGTERM', stop);
  });
  return 0;
}

async function core(args) {
  const cancel = new SharedArrayBuffer(4);
  const flag = new Int32Array(cancel);
  // -t N (else LLMQ_THREADS, else the cores, at most 8) sizes the module's pool; 1: single-threaded.
  const threads = jobThreads(threadsArgument(args));
  const wasmModule = await compiledModule(threads);
  const worker = new Worker(workerUrl, {
    workerData: { mode: 'cli', args, cancel, cwd: process.cwd(), threads, wasmModule, direct: true },
    stdout: false,
    stderr: false,
  });
  // First Ctrl-C: the job stops between chunks (exit 130, no partial output); second: leave now.
  const onSignal = () => {
    if (Atomics.exchange(flag, 0, 1) !== 0) process.exit(130);
  };
  process.on('SIGINT', onSignal);
  process.on('SIGTERM', onSignal);
  return new Promise((resolve) => {
    worker.on('message', (m) => {
      if (m.type === 'exit') resolve(m.code);
    });
    worker.on('error', (e) => {
      process.stderr.write(`error: internal error: ${e.message}\nhint: please report this with the command line\n`);
      resolve(1);
    });
    worker.on('exit', () => resolve(1));
  });
}

export async function main(args) {
  const { command } = commandOf(args);
  if (command === 'web') return web(args);
  return core(args);
}
