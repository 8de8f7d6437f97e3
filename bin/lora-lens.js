#!/usr/bin/env node
'use strict';
const { existsSync } = require('node:fs');
const { join } = require('node:path');
const cli = join(__dirname, '..', 'dist', 'cli.js');
if (!existsSync(cli)) {
  process.stderr.write('lora-lens: dist/cli.js is missing; run "npm run build" (npm ci runs it through "prepare").\n');
  process.exit(2);
}
require(cli)
  .main(process.argv.slice(2), { stdout: process.stdout, stderr: process.stderr, cwd: process.cwd() })
  .then((code) => { process.exitCode = code; }, (error) => {
    process.stderr.write(`lora-lens: internal error: ${(error && error.stack) || error}\n`);
    process.exitCode = 70;
  });
