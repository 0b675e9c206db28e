// `llmq web`: serves the static page on this machine. Nothing happens on the server but file
// delivery; the page quantizes in the browser. The module files under /wasm/ come from the
// package's dist/ (the same ones the CLI runs), /data/ from its data/. Cross-origin isolation
// headers are sent so the page gets SharedArrayBuffer (the threaded module; cancelling a running
// job without killing its Worker).
import fs from 'node:fs';
import http from 'node:http';
import path from 'node:path';
import { fileURLToPath } from 'node:url';

const here = path.dirname(fileURLToPath(import.meta.url));
const TYPES = {
  '.html': 'text/html; charset=utf-8', '.mjs': 'text/javascript; charset=utf-8', '.js': 'text/javascript; charset=utf-8',
  '.css': 'text/css; charset=utf-8', '.wasm': 'application/wasm', '.svg': 'image/svg+xml', '.png': 'image/png',
  '.json': 'application/json', '.ico': 'image/x-icon', '.txt': 'text/plain; charset=utf-8', '.md': 'text/markdown; charset=utf-8',
};

// The file for a URL path under one of the roots, or null (never outside them).
function locate(urlPath, roots) {
  let rel;
  try {
    rel = decodeURIComponent(urlPath);
  } catch {
    return null;
  }
  if (rel.endsWith('/')) rel += 'index.html';
  for (const root of roots) {
    const file = path.resolve(root, `.${path.posix.normalize(`/${rel}`)}`);
    if (!file.startsWith(root + path.sep)) continue;
    try {
      if (fs.statSync(file).isFile()) return file;
    } catch {
      // try the next root
    }
  }
  return null;
}

/**
 * Starts the server; resolves with the http.Server once listening. isolated (default true):
 * send COOP/COEP, which make the page cross-origin isolated (SharedArrayBuffer: the threaded
 * module, cancelling between chunks). root: the page
 * (default: the package's web/), wasmDir: where /wasm/ files come from when root has none,
 * dataDir: the same for /data/ (the Analyze step's default calibration text).
 */
export function serveWeb({ port = 8080, host = '127.0.0.1', root = path.join(here, '..', 'web'), wasmDir = path.join(here, '..', 'dist'),
  dataDir = path.join(here, '..', 'data'), isolated = true } = {}) {
  const pageRoot = path.resolve(root);
  // isolated: false leaves out COOP/COEP, as a host that does not send them (tests of the fallback).
  const isolation = isolated ? { 'Cross-Origin-Opener-Policy': 'same-origin', 'Cross-Origin-Embedder-Policy': 'require-corp' } : {};
  const server = http.createServer((req, res) => {
    const headers = {
      ...isolation,
      'Cross-Origin-Resource-Policy': 'same-origin',
      'X-Content-Type-Options': 'nosniff',
      // Workers take their policy from their own response: this keeps the module honest about
      // needing nothing beyond 'wasm-unsafe-eval' (no eval, no inline code).
      'Content-Security-Policy': "default-src 'self'; script-src 'self' 'wasm-unsafe-eval'; worker-src 'self'; " +
        "style-src 'self'; img-src 'self' data: blob:; connect-src 'self'",
      'Cache-Control': 'no-cache',
    };
    if (req.method !== 'GET' && req.method !== 'HEAD') {
      res.writeHead(405, { ...headers, Allow: 'GET, HEAD' }).end();
      return;
    }
    const urlPath = new URL(req.url, 'http://localhost').pathname;
    let file = locate(urlPath, [pageRoot]);
    if (!file && urlPath.startsWith('/wasm/')) file = locate(urlPath.slice('/wasm'.length), [path.resolve(wasmDir)]);
    if (!file && urlPath.startsWith('/data/')) file = locate(urlPath.slice('/data'.length), [path.resolve(dataDir)]);
    if (!file) {
      res.writeHead(404, { ...headers, 'Content-Type': 'text/plain; charset=utf-8' }).end('not found\n');
      return;
    }
    const stat = fs.statSync(file);
    res.writeHead(200, { ...headers, 'Content-Type': TYPES[path.extname(file)] ?? 'application/octet-stream', 'Content-Length': stat.size });
    if (req.method === 'HEAD') {
      res.end();
      return;
    }
    fs.createReadStream(file).pipe(res);
  });
  return new Promise((resolve, reject) => {
    server.once('error', reject);
    server.listen(port, host, () => {
      server.off('error', reject);
      resolve(server);
    });
  });
}
