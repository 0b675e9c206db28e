// The error objects JS adapters return instead of throwing (the C++ side turns them into the
// core's Failure), with the exit-code numbering of CLI.md. No dependencies: pages import this
// without loading the module.

export const ExitCode = Object.freeze({
  success: 0, general: 1, usage: 2, modelNotFound: 3, authenticationRequired: 4, outOfMemory: 5,
  unsupported: 6, outputIo: 7, corruptInput: 8, imatrix: 10, qualityDegraded: 11, coherenceFailed: 12,
  profile: 13, smoothquant: 14, calibration: 15, importance: 16, interrupted: 130,
});

const typeNames = {
  0: 'success', 1: 'general', 2: 'usage', 3: 'model_not_found', 4: 'authentication_required',
  5: 'out_of_memory', 6: 'unsupported', 7: 'output_io', 8: 'corrupt_input', 10: 'imatrix',
  11: 'quality_degraded', 12: 'coherence_failed', 13: 'profile', 14: 'smoothquant', 15: 'calibration',
  16: 'importance', 130: 'interrupted',
};

/** The error object adapters return instead of throwing. */
export function llmqError(code, message, hint = null) {
  return { isLlmqError: true, code, type: typeNames[code] ?? 'general', message, hint: hint || null };
}

export function isLlmqError(value) {
  return typeof value === 'object' && value !== null && value.isLlmqError === true;
}
