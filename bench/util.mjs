// Helpers the Node benchmarks share.
import { createHash } from 'node:crypto';
import fs from 'node:fs';

/** The value of `--name VALUE` in args (removed from it, so positionals remain), or fallback. */
export function takeOption(args, name, fallback) {
  const i = args.indexOf(name);
  if (i < 0) return fallback;
  const [, value] = args.splice(i, 2);
  return value;
}

/** SHA-256 of a file, read in 16 MiB pieces (outputs of several GB). */
export function sha256File(file) {
  const hash = createHash('sha256');
  const fd = fs.openSync(file, 'r');
  const buf = Buffer.alloc(16 << 20);
  for (let n; (n = fs.readSync(fd, buf, 0, buf.length, null)) > 0;) hash.update(buf.subarray(0, n));
  fs.closeSync(fd);
  return hash.digest('hex');
}
