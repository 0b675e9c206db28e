// A legacy .dat importance matrix (reference §4.2) with deterministic positive values for the
// 2-D weights of a model, from `llmq inspect --format json` tensors: lets the Node and page
// tests compare imatrix-weighted quantization with the native CLI's on the same input.
import fs from 'node:fs';

export function writeSyntheticDatImatrix(file, tensors) {
  const entries = tensors.filter((t) => t.shape.length === 2 && t.name !== 'token_embd.weight')
    .sort((a, b) => (a.name < b.name ? -1 : 1));
  const parts = [];
  const i32 = (v) => { const b = Buffer.alloc(4); b.writeInt32LE(v); parts.push(b); };
  i32(entries.length);
  let seed = 12345;
  for (const t of entries) {
    const name = Buffer.from(t.name);
    i32(name.length);
    parts.push(name);
    i32(1);
    i32(t.shape[0]);
    const values = Buffer.alloc(4 * t.shape[0]);
    for (let i = 0; i < t.shape[0]; ++i) {
      seed = (seed * 1103515245 + 12345) % 2147483648;
      values.writeFloatLE(0.05 + (seed / 2147483648) * (i % 7 === 0 ? 8 : 1), 4 * i);
    }
    parts.push(values);
  }
  i32(10);
  const dataset = Buffer.from('synthetic');
  i32(dataset.length);
  parts.push(dataset);
  fs.writeFileSync(file, Buffer.concat(parts));
}
