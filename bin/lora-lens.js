#!/usr/bin/env node
'use strict';
const { existsSync, readFileSync } = require('node:fs');
const { dirname, join } = require('node:path');
const Module = require('node:module');
const vm = require('node:vm');

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
process.on('SIGINT', () => {
  if (process.listenerCount('SIGINT') === 1) process.exit(130);
});

/**
 * Loads the CLI bundle with the V8 code cache scripts/build.mjs wrote beside it (dist/cli.js.cache), so a command
 * does not parse and compile 1.6 MB of JavaScript on every start. V8 rejects a cache made for another source or
 * another Node; the bundle is then compiled as `require` would.
 */
function loadBundle(file) {
  let cachedData;
  try {
    cachedData = readFileSync(`${file}.cache`);
  } catch {
    cachedData = undefined;
  }
  if (!cachedData) return require(file);
  // importModuleDynamically: the bundle's import() of an ES module (node-llama-cpp) resolves as it would under require.
  const script = new vm.Script(Module.wrap(readFileSync(file, 'utf8')), {
    filename: file,
    cachedData,
    importModuleDynamically: vm.constants.USE_MAIN_CONTEXT_DEFAULT_LOADER,
  });
  const module = { exports: {}, filename: file, id: file, loaded: false };
  script.runInThisContext()(module.exports, Module.createRequire(file), module, file, dirname(file));
  return module.exports;
}

loadBundle(cli)
  .main(process.argv.slice(2), {
    stdout: process.stdout,
    stderr: process.stderr,
    cwd: process.cwd(),
    stdin: process.stdin,
  })
  .then(
    (code) => {
      process.exitCode = code;
    },
    (error) => {
      process.stderr.write(`lora-lens: internal error: ${(error && error.stack) || error}\n`);
      process.exitCode = 70;
    },
  );
