// Types of the llmq ESM API (src/index.mjs). The results are the JSON documents of the CLI
// (`--format json`, see docs/cli.md); the most used fields are typed here.

/** An error of the core. code is the CLI's exit code (2 usage, 3 model not found, 5 out of
 *  memory, 6 unsupported, 7 output I/O, 8 corrupt input, 10 importance matrix, 130 interrupted). */
export class LlmqError extends Error {
  readonly name: 'LlmqError';
  readonly code: number;
  /** Machine name of the code: 'usage', 'model_not_found', 'corrupt_input', ... */
  readonly type: string;
  /** What to do about it, or null. */
  readonly hint: string | null;
}

export interface ProgressEvent {
  /** 'quantize' */
  task: string;
  /** Units done so far (bytes of output for quantize) and the total. */
  done: number;
  total: number;
  /** done / total, from 0 to 1. */
  fraction: number;
  /** The tensor being worked on ('' at the start and the end). */
  item: string;
  elapsedSeconds: number;
  bytesPerSecond: number;
  etaSeconds: number | null;
}

export interface JobOptions {
  /** Called at most ten times a second, and whenever the tensor changes. */
  onProgress?: (event: ProgressEvent) => void;
  /** Warnings and other messages of the job, one line each. */
  onLog?: (line: string) => void;
  /** Aborting stops the job between chunks; the promise rejects with code 130 and no output
   *  file is left behind. */
  signal?: AbortSignal;
}

export interface QuantizeOptions extends JobOptions {
  /** A preset: Q4_K_M, Q8_0, Q6_K, ... (case-insensitive; see levels()). */
  level: string;
  /** Output path; default <model-name>-<LEVEL>.gguf in the current directory. */
  output?: string;
  /** Importance matrix (llama.cpp .imatrix GGUF or legacy .dat). */
  imatrix?: string;
  /** Per-tensor type overrides, first match wins: {regex: type}, [regex, type] pairs or
   *  'REGEX=TYPE' strings, e.g. {'attn_v': 'q8_0'}. */
  tensorTypes?: Record<string, string> | Array<[string, string] | string>;
  outputTensorType?: string;
  tokenEmbeddingType?: string;
  pure?: boolean;
  leaveOutputTensor?: boolean;
  allowRequantize?: boolean;
  /** Bound of the row buffers in MiB (default 64). Smaller uses less memory. */
  chunkMb?: number;
}

export interface TensorResult {
  name: string;
  type: string;
  shape: number[];
  bytes: number;
  bpw: number;
  reason: string;
}

export interface LayerSummary {
  layer_name: string;
  bit_width: number;
  parameter_count: number;
  is_protected: boolean;
}

export interface QuantizeResult {
  status: 'success';
  output_path: string;
  format: 'gguf';
  level: string;
  profile: string | null;
  input_size: number;
  file_size: number;
  effective_bpw: number;
  compression_ratio: number;
  duration_seconds: number;
  /** Peak resident memory of the process. */
  peak_memory_bytes: number;
  /** Peak WebAssembly linear memory of the job. */
  wasm_heap_bytes: number;
  tensors: TensorResult[];
  layer_summary: LayerSummary[];
  quality_report: unknown | null;
  warnings: string[];
  [field: string]: unknown;
}

export interface InspectResult {
  status: 'success';
  model_path: string;
  format: string;
  architecture: string;
  file_size: number;
  parameter_count: number;
  tensor_bytes: number;
  effective_bpw: number;
  type_counts: Record<string, number>;
  metadata: Record<string, unknown>;
  tensors: Array<{ name: string; type: string; shape: number[]; parameters: number; bytes: number; bpw: number }>;
  [field: string]: unknown;
}

export interface Level {
  name: string;
  description: string;
  /** False while llmq cannot write the level's main type. */
  available: boolean;
}

export const version: string;

/** Quantizes a GGUF model (HuggingFace directories once the core reads them). */
export function quantize(model: string, options: QuantizeOptions): Promise<QuantizeResult>;

/** Metadata, tensors, types, sizes and bits per weight of a model. */
export function inspect(model: string, options?: JobOptions): Promise<InspectResult>;

/** Runs a command line of the CLI (without the program name); resolves with the exit code. */
export function run(
  args: string[],
  options?: { stdout?: (text: string) => void; stderr?: (text: string) => void; signal?: AbortSignal },
): Promise<number>;

/** Every quantization level. */
export function levels(): Promise<Level[]>;
