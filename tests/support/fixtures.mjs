// Where the JavaScript tests and benchmarks find their data: tests/fixtures in this repository
// (see its README for provenance), or the copy LLMQ_FIXTURES names.
import path from 'node:path';
import { fileURLToPath } from 'node:url';

/** The fixture folder. */
export const fixturesDir = process.env.LLMQ_FIXTURES ?? fileURLToPath(new URL('../fixtures/', import.meta.url));

/**
 * A path inside the fixture folder.
 * @param {...string} parts e.g. 'models', 'tinyqwen-bpe.bf16.gguf'
 * @returns {string}
 */
export const fixture = (...parts) => path.join(fixturesDir, ...parts);
