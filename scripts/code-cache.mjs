// Writes dist/cli.js.cache: V8's code cache for the CLI bundle, taken after the bundle ran a `check` of an example
// (so the functions a command runs are in it, not only the top level). bin/lora-lens.js hands it to V8; V8 checks
// it against the source and its own version and ignores it when they differ.
import { readFileSync, writeFileSync, rmSync } from 'node:fs';
import { createRequire } from 'node:module';
import { dirname, resolve } from 'node:path';
import { Writable } from 'node:stream';
import vm from 'node:vm';
import Module from 'node:module';

const file = resolve('dist/cli.js');
rmSync(`${file}.cache`, { force: true });
const script = new vm.Script(Module.wrap(readFileSync(file, 'utf8')), {
  filename: file,
  importModuleDynamically: vm.constants.USE_MAIN_CONTEXT_DEFAULT_LOADER,
});
const module = { exports: {} };
script.runInThisContext()(module.exports, createRequire(file), module, file, dirname(file));
const sink = new Writable({
  write(_chunk, _encoding, done) {
    done();
  },
});
await module.exports.main(['check', '--offline', resolve('examples/qwen2.5-0.5b-full.finetune.yaml')], {
  stdout: sink,
  stderr: sink,
  cwd: process.cwd(),
  stdin: process.stdin,
});
writeFileSync(`${file}.cache`, script.createCachedData());
