#!/usr/bin/env node
// npx llmq: the native CLI's command grammar, run by the wasm build of the same core.
import { main } from '../src/cli.mjs';

process.exitCode = await main(process.argv.slice(2));
