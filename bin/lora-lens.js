#!/usr/bin/env node
'use strict';
const { existsSync } = require('node:fs');
const { join } = require('node:path');
const cli = join(__dirname, '..', 'dist', 'cli.js');
if (!existsSync(cli)) {
  process.stderr.write('lora-lens: dist/cli.js is missing; run "npm run build" (npm ci runs it through "prepare").\n');
  process.exit(2);
}
// A reader that stops early (`lora-lens estimate F | head -1`) closes the pipe: that ends the output, not an error.
for (const stream of [process.stdout, process.stderr]) {
  stream.on('error', (error) => {
    if (error && error.code === 'EPIPE') process.exit(process.exitCode === undefined ? 0 : process.exitCode);
    throw error;
  });
}
// Ctrl-C: 130, the shell's code for an interrupt; `run` adds its own handler (stop with a checkpoint, then 130).
process.on('SIGINT', () => { if (process.listenerCount('SIGINT') === 1) process.exit(130); });
require(cli)
  .main(process.argv.slice(2), { stdout: process.stdout, stderr: process.stderr, cwd: process.cwd(), stdin: process.stdin })
  .then((code) => { process.exitCode = code; }, (error) => {
    process.stderr.write(`lora-lens: internal error: ${(error && error.stack) || error}\n`);
    process.exitCode = 70;
  });
