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
  /** 'quantize', 'analyze' (layers), 'perplexity' (executor stages), 'coherence check' (prompt
   *  passes) or 'generate' (tokens) */
  task: string;
  /** What done and total count: 'bytes' (quantize) or the plural name of the steps ('layers',
   *  'stages', 'prompt passes', 'tokens'). */
  unit: string;
  /** Units done so far and the total. */
  done: number;
  total: number;
  /** done / total, from 0 to 1. */
  fraction: number;
  /** What is being worked on: a tensor, 'layer 3', a prompt ('' at the start and the end). */
  item: string;
  elapsedSeconds: number;
  /** Units per second (bytes per second for unit 'bytes'). */
  rate: number;
  /** Bytes per second when unit is 'bytes', else 0. */
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
  /** Threads of the job: more than 1 runs the threaded WebAssembly module (pthreads over
   *  worker_threads), 1 the single-threaded one; the outputs are the same. Default: the
   *  LLMQ_THREADS environment variable, else the machine's cores (at most 8). */
  threads?: number;
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
  /** Score the output's coherence afterwards and reject (exit 12, LlmqError) below
   *  LLM_QUANTIZE_COHERENCE_THRESHOLD; IQ1_S/IQ1_M/TQ1_0/TQ2_0 are checked anyway (warning only). */
  coherenceCheck?: boolean;
  /** Skip that automatic check. */
  noCoherenceCheck?: boolean;
  /** Bound of the row buffers in MiB (default 64). Smaller uses less memory. */
  chunkMb?: number;
  /** Dynamic quantization (level 'dynamic'): 'attention-high', 'balanced', 'compression-max' or
   *  a .dqprofile path (see docs/profiles.md). */
  profile?: string;
  /** Bits per weight over all tensors (±0.02). At most one of targetBpw and targetSize. */
  targetBpw?: number;
  /** The file's size: bytes, or a string such as '3.2GB' or '800MiB'; never exceeded. */
  targetSize?: number | string;
  /** Keep the measurement in this file and reuse it when it exists (a new target re-solves in
   *  well under a second). */
  measurements?: string;
  /** Text the KL-divergence probes run on (default: the imatrix's text, else WikiText-2). */
  calibrationData?: string;
  /** Probe samples of 256 tokens (default 8). */
  calibrationSamples?: number;
  /** KL-divergence probes per tensor: 'auto' (default), 'none', 'one', 'two', 'all'. */
  probes?: 'auto' | 'none' | 'one' | 'two' | 'all';
  /** Keep the super weights (from superWeights, or detected now on the calibration text) through
   *  the quantizers' own weighted search; any level. See docs/super-weights.md. */
  protectSuperWeights?: boolean;
  /** Fraction of weights protected beside the super weights, in (0, 0.01] (default 0.0001). */
  protectionCoverage?: number;
  /** A super-weight mask from analyze (identifySuperWeights) instead of detecting them again. */
  superWeights?: string;
  /** After writing, measure the file against its input (qualityReport's figures, 32 chunks of 512
   *  tokens of the bundled text) into result.quality_report; above LLM_QUANTIZE_QUALITY_THRESHOLD
   *  percent more perplexity (default 20) it warns. */
  qualityReport?: boolean;
  /** With qualityReport: fail (LlmqError, code 11) above the threshold; the file is kept. */
  strict?: boolean;
  /** Plan only: the result lists every tensor's type and predicted_size; nothing is written. */
  dryRun?: boolean;
  /** Do not read or write the measurement cache. */
  noCache?: boolean;
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
  /** The type holding most of the layer's weights. */
  type: string;
  bit_width: number;
  parameter_count: number;
  /** The layer's share of the tensor bytes. */
  share_of_size: number;
  /** Dynamic quantization: the summed estimated KL divergence of its tensors, else null. */
  estimated_error: number | null;
  is_protected: boolean;
}

export interface CoherencePrompt {
  prompt: string;
  text: string;
  score: number;
  repetition: number;
  original_ppl: number;
  agreement: number;
  distinct_2: number;
  distinct_3: number;
  longest_repeat: number;
  first_divergence: number;
  n_tokens: number;
}

/** docs/coherence.md: overall score in [0,1] = mean of the per-prompt scores. */
export interface CoherenceResult {
  score: number;
  threshold: number;
  passed: boolean;
  duration_seconds: number;
  prompts: CoherencePrompt[];
}

export interface QuantizeResult {
  status: 'success';
  output_path: string;
  format: 'gguf';
  level: string;
  profile: string | null;
  /** The dynamic target as written to llmq.target ('3000000 bytes', '4.5 bpw'), else null. */
  target: string | null;
  /** True for a dryRun: nothing was written. */
  dry_run: boolean;
  input_size: number;
  file_size: number;
  /** The file's exact size, known before writing (equals file_size). */
  predicted_size: number;
  /** Dynamic quantization: profile, target, budget, estimated KL divergence, the measurement. */
  dynamic: {
    profile: string; target: string; budget_bytes: number; estimated_kld: number;
    /** The targets this profile and measurement can reach: sizes in bytes, bits per weight. */
    reachable: { min_size: number; max_size: number; min_bpw: number; max_bpw: number };
    measurement: Record<string, unknown>; warnings: string[];
  } | null;
  /** With protectSuperWeights: what was protected and how each super weight came through. */
  protection: {
    identified: boolean; coverage: number; source: string; protected_weights: number;
    super_weights: Array<{ tensor: string; row: number; col: number; value: number; after: number; relative_error: number }>;
    coverage_worst_relative_error: number;
  } | null;
  effective_bpw: number;
  compression_ratio: number;
  duration_seconds: number;
  /** Peak resident memory of the process. */
  peak_memory_bytes: number;
  /** Peak WebAssembly linear memory of the job. */
  wasm_heap_bytes: number;
  /** Threads the job ran with (1: the single-threaded module). */
  wasm_threads: number;
  tensors: TensorResult[];
  layer_summary: LayerSummary[];
  quality_report: QualityReport | null;
  /** The coherence check's result when it ran (coherenceCheck, or IQ1_*/TQ* levels), else null. */
  coherence: CoherenceResult | null;
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

export interface PerplexityOptions extends JobOptions {
  /** Plain-text file; default: the bundled WikiText-2 test text (data/wikitext-2-test.raw). */
  text?: string;
  /** Tokens per chunk (default 512, at least 4). */
  ctx?: number;
  /** Score at most this many chunks (default: all). */
  chunks?: number;
  /** The original model: adds the KL divergence, top-1 agreement and Δp statistics. */
  kldBase?: string;
  /** RoPE frequencies: 'exact' (default) or 'bf16' (rounded to bfloat16, as transformers with a
   *  model cast to bfloat16 and back; to reproduce such a run's numbers). */
  ropeFreqs?: 'exact' | 'bf16';
  /** 'exact' (default): float arithmetic. 'ggml': activations rounded as llama.cpp's CPU backend
   *  rounds them (8-bit blocks for quantized weights, bf16/fp16, an fp16 KV cache), to reproduce
   *  llama-perplexity's figures. */
  numerics?: 'exact' | 'ggml';
}

export interface Distribution {
  mean: number;
  uncertainty: number;
  max: number;
  min: number;
  median: number;
  [percentile: string]: number;
}

export interface PerplexityResult {
  status: 'success';
  model_path: string;
  text_path: string;
  ctx: number;
  chunks: number;
  tokens: number;
  scored_tokens: number;
  bos_at_chunk_start: boolean;
  rope_freqs: 'exact' | 'bf16';
  perplexity: number;
  perplexity_uncertainty: number;
  /** Running perplexity after each chunk. */
  chunk_perplexities: number[];
  kld_base_path: string | null;
  /** With kldBase: ppl, ppl_base, kld, delta_p, top1_agreement, ... */
  kld: {
    tokens: number;
    ppl: number;
    ppl_base: number;
    kld: Distribution;
    delta_p: Distribution & { rms: number; rms_uncertainty: number };
    top1_agreement: number;
    top1_agreement_uncertainty: number;
    [field: string]: unknown;
  } | null;
  duration_seconds: number;
  [field: string]: unknown;
}

export interface GenerateOptions extends JobOptions {
  prompt: string;
  /** Tokens to generate (default 64). */
  n?: number;
  /** Sampling temperature; 0 (default) is greedy. */
  temp?: number;
  seed?: number;
  /** Keep generating past the end-of-sequence token (always n tokens). */
  ignoreEos?: boolean;
  /** RoPE frequencies: 'exact' (default) or 'bf16' (see PerplexityOptions.ropeFreqs). */
  ropeFreqs?: 'exact' | 'bf16';
}

export interface GenerateResult {
  status: 'success';
  model_path: string;
  prompt: string;
  completion: string;
  /** prompt + completion */
  text: string;
  prompt_tokens: number[];
  /** The generated token ids. */
  tokens: number[];
  n_generated: number;
  stop_reason: 'length' | 'eos';
  temperature: number;
  seed: number;
  rope_freqs: 'exact' | 'bf16';
  prompt_tokens_per_second: number;
  tokens_per_second: number;
  duration_seconds: number;
  [field: string]: unknown;
}

export interface AnalyzeOptions extends JobOptions {
  /** Output path; default <model-name>.imatrix in the current directory. */
  output?: string;
  /** Text, .json or .jsonl file; default: the bundled WikiText-2 test text. */
  calibrationData?: string;
  /** Samples of ctx tokens (default 512; 128..1024, else code 15). */
  calibrationSamples?: number;
  /** Tokens per sample (default 512; 16..65536). */
  ctx?: number;
  /** 'activation' (default); 'gradient' and 'fisher' are not implemented (code 2). */
  method?: string;
  /** 'gguf' (default, llama.cpp's GGUF imatrix) or 'dat' (legacy). */
  imatrixFormat?: 'gguf' | 'dat';
  /** Also find super weights; the mask goes to OUTPUT.superweights.json. */
  identifySuperWeights?: boolean;
  /** Fraction of weights protected by |w|²·imatrix (default 0.0001, max 0.01). */
  coverage?: number;
  /** Write a checkpoint after each layer into this directory. */
  checkpointDir?: string;
  /** Continue from the newest checkpoint in this directory. */
  resume?: string;
  /** false skips the cache (the CLI's --no-cache). */
  cache?: boolean;
}

export interface LayerImportance {
  layer: number;
  /** = block_influence: mean of 1 - cos(input, output hidden state). */
  score: number;
  block_influence: number;
  /** imatrix-weighted relative quantization error of the layer's matrices. */
  sensitivity: number;
}

export interface SuperWeightLocation {
  tensor: string;
  layer: number;
  row: number;
  col: number;
  value: number;
  activation: number;
  output_activation: number;
}

export interface AnalyzeResult {
  status: 'success';
  output_path: string;
  model_path: string;
  method: string;
  imatrix_format: 'gguf' | 'dat';
  num_layers: number;
  calibration_samples: number;
  ctx: number;
  calibration: { source: string; tokens: number; text_tokens: number; sha256: string };
  global_statistics: { min: number | null; max: number | null; mean: number | null; std: number | null };
  layer_importance: LayerImportance[];
  super_weights: {
    identified: boolean;
    coverage: number;
    total_protected: number;
    locations: SuperWeightLocation[];
    mask_path: string;
  } | null;
  cached: boolean;
  duration_seconds: number;
  tokens_per_second: number;
  peak_memory_bytes: number;
  [field: string]: unknown;
}

export interface Level {
  name: string;
  description: string;
  /** False while llmq cannot write the level's main type. */
  available: boolean;
  /** Quantizing an ordinary model to this level needs an importance matrix (imatrix option). */
  needsImatrix: boolean;
}

export const version: string;

/** Quantizes a GGUF model (HuggingFace directories once the core reads them). */
export function quantize(model: string, options: QuantizeOptions): Promise<QuantizeResult>;

/** Metadata, tensors, types, sizes and bits per weight of a model. */
export function inspect(model: string, options?: JobOptions): Promise<InspectResult>;

/** Perplexity (and with kldBase the KL divergence against the original) on a text. */
export function perplexity(model: string, options?: PerplexityOptions): Promise<PerplexityResult>;

/** Importance matrix, layer importance and optionally super weights from calibration text. */
export function analyze(model: string, options?: AnalyzeOptions): Promise<AnalyzeResult>;

/** A continuation of a prompt (greedy at temp 0). */
export function generate(model: string, options: GenerateOptions): Promise<GenerateResult>;

/** Runs a command line of the CLI (without the program name); resolves with the exit code. */
export function run(
  args: string[],
  options?: { stdout?: (text: string) => void; stderr?: (text: string) => void; signal?: AbortSignal },
): Promise<number>;

/** Every quantization level. */
export function levels(): Promise<Level[]>;

export interface QualityOptions extends JobOptions {
  /** Text to score (default: the bundled WikiText-2 test text). */
  text?: string;
  /** Tokens per chunk (default 512). */
  ctx?: number;
  /** Chunks scored (default 32; 0: the whole text). */
  chunks?: number;
  /** Output file: .json, .html (the rendered report) or, for a comparison, .csv. */
  output?: string;
  /** 'ggml' (default): llama.cpp's CPU rounding, so the figures are those llama.cpp measures;
   *  'exact': float arithmetic. */
  numerics?: 'exact' | 'ggml';
}

export interface QualityReportOptions extends QualityOptions {
  /** Per-tensor and per-layer errors of the dequantized weights. */
  includeLayers?: boolean;
  /** Importance matrix weighting those errors (default: accumulated on the original's run). */
  imatrix?: string;
  /** Also the coherence check of the quantized model. */
  coherence?: boolean;
}

export interface QualityMetrics {
  perplexity_original: number; perplexity_original_uncertainty: number;
  perplexity_quantized: number; perplexity_quantized_uncertainty: number;
  perplexity_delta_pct: number;
  kld_mean: number; kld_uncertainty: number; kld_median: number; kld_p99: number; kld_max: number;
  top1_agreement: number;
  delta_p_mean: number; delta_p_rms: number; delta_p_p01: number; delta_p_p99: number;
  original_size: number; quantized_size: number;
  effective_bpw: number; original_bpw: number; compression_ratio: number;
}

export interface LayerError {
  layer_name: string; mse: number; max_error: number; relative_error: number;
  /** Weighted by the importance of each column; null where no importance covers the layer. */
  weighted_error: number | null;
  bit_width: number; parameter_count: number; types: string[];
}

export interface TensorError {
  name: string; type: string; shape: number[]; parameter_count: number; bit_width: number;
  mse: number; max_error: number; relative_error: number; weighted_error: number | null;
}

export interface QualityText { source: string; ctx: number; chunks: number; tokens: number; scored_tokens: number }

export interface QualityReport {
  status: 'success';
  original_model: string;
  quantized_model: string;
  text: QualityText;
  metrics: QualityMetrics;
  /** Every figure of llama-perplexity --kl-divergence. */
  kld: Record<string, unknown>;
  layer_errors: LayerError[] | null;
  tensor_errors: TensorError[] | null;
  coherence_score: number | null;
  coherence: Record<string, unknown> | null;
  output_path: string | null;
  timestamp: string;
  duration_seconds: number;
  peak_memory_bytes: number;
}

export interface QualityCompareRow {
  model: string; size: number; bpw: number; compression_ratio: number;
  perplexity: number; perplexity_uncertainty: number; perplexity_delta_pct: number;
  kld_mean: number; kld_uncertainty: number; kld_p99: number; top1_agreement: number;
  /** No other file is at most as large with at most its perplexity and KL divergence. */
  pareto: boolean;
}

export interface QualityCompare {
  status: 'success';
  original_model: string; original_size: number; original_bpw: number;
  perplexity_original: number; perplexity_original_uncertainty: number;
  text: QualityText;
  /** Sorted by size. */
  rows: QualityCompareRow[];
  output_path: string | null;
  timestamp: string;
  duration_seconds: number;
  peak_memory_bytes: number;
}

export function qualityReport(original: string, quantized: string, options?: QualityReportOptions): Promise<QualityReport>;
export function qualityCompare(original: string, quantized: string[], options?: QualityOptions): Promise<QualityCompare>;
