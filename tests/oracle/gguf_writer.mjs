// A minimal GGUF v3 writer for the oracle tests: small random models of each architecture
// llmq runs, written independently of llmq's own writer (reference/ggml-formats.md §1).
import { writeFileSync } from "node:fs";

const ALIGNMENT = 32;
export const T = { U8: 0, I8: 1, U16: 2, I16: 3, U32: 4, I32: 5, F32: 6, BOOL: 7, STRING: 8, ARRAY: 9, U64: 10, I64: 11, F64: 12 };

class Bytes {
  constructor() {
    this.parts = [];
    this.length = 0;
  }
  push(buf) {
    this.parts.push(buf);
    this.length += buf.length;
  }
  u32(v) {
    const b = Buffer.alloc(4);
    b.writeUInt32LE(v);
    this.push(b);
  }
  u64(v) {
    const b = Buffer.alloc(8);
    b.writeBigUInt64LE(BigInt(v));
    this.push(b);
  }
  str(s) {
    const b = Buffer.from(s, "utf8");
    this.u64(b.length);
    this.push(b);
  }
  scalar(type, v) {
    const b = Buffer.alloc({ [T.U8]: 1, [T.I8]: 1, [T.BOOL]: 1, [T.U16]: 2, [T.I16]: 2, [T.U32]: 4, [T.I32]: 4, [T.F32]: 4, [T.U64]: 8, [T.I64]: 8, [T.F64]: 8 }[type] ?? 0);
    switch (type) {
      case T.STRING:
        return this.str(v);
      case T.U8: case T.BOOL: b.writeUInt8(Number(v)); break;
      case T.I8: b.writeInt8(v); break;
      case T.U16: b.writeUInt16LE(v); break;
      case T.I16: b.writeInt16LE(v); break;
      case T.U32: b.writeUInt32LE(v); break;
      case T.I32: b.writeInt32LE(v); break;
      case T.F32: b.writeFloatLE(v); break;
      case T.U64: b.writeBigUInt64LE(BigInt(v)); break;
      case T.I64: b.writeBigInt64LE(BigInt(v)); break;
      case T.F64: b.writeDoubleLE(v); break;
      default: throw new Error(`type ${type}`);
    }
    this.push(b);
  }
  pad() {
    const n = (ALIGNMENT - (this.length % ALIGNMENT)) % ALIGNMENT;
    if (n) this.push(Buffer.alloc(n));
  }
  concat() {
    return Buffer.concat(this.parts, this.length);
  }
}

/**
 * Writes a GGUF file. kv: [key, type, value, elementType?] (elementType for arrays);
 * tensors: {name, ne (innermost first), data: Float32Array} (stored as F32).
 */
export function writeGguf(path, kv, tensors) {
  const out = new Bytes();
  out.push(Buffer.from("GGUF"));
  out.u32(3);
  out.u64(tensors.length);
  out.u64(kv.length);
  for (const [key, type, value, elementType] of kv) {
    out.str(key);
    out.u32(type);
    if (type === T.ARRAY) {
      out.u32(elementType);
      out.u64(value.length);
      for (const v of value) out.scalar(elementType, v);
    } else {
      out.scalar(type, value);
    }
  }
  let offset = 0;
  const offsets = [];
  for (const t of tensors) {
    offsets.push(offset);
    offset += Math.ceil((t.data.length * 4) / ALIGNMENT) * ALIGNMENT;
  }
  tensors.forEach((t, i) => {
    out.str(t.name);
    out.u32(t.ne.length);
    for (const n of t.ne) out.u64(n);
    out.u32(0); // F32
    out.u64(offsets[i]);
  });
  out.pad();
  for (const t of tensors) {
    out.push(Buffer.from(t.data.buffer, t.data.byteOffset, t.data.byteLength));
    out.pad();
  }
  writeFileSync(path, out.concat());
}

// Deterministic normal samples (mulberry32 + Box-Muller).
export function normalSource(seed) {
  let a = seed >>> 0;
  const uniform = () => {
    a = (a + 0x6d2b79f5) >>> 0;
    let t = a;
    t = Math.imul(t ^ (t >>> 15), t | 1);
    t ^= t + Math.imul(t ^ (t >>> 7), t | 61);
    return ((t ^ (t >>> 14)) >>> 0) / 4294967296;
  };
  return () => Math.sqrt(-2 * Math.log(1 - uniform())) * Math.cos(2 * Math.PI * uniform());
}
