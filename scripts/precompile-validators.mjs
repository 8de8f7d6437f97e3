// An esbuild plugin that replaces server/src/core/schema/configValidator.ts with the validator ajv's standalone
// code generation writes for the same schema and options (ajv.js.org/standalone.html). The module is bundled and run
// once here to get those options, so the two can never differ; test/schema/precompiled.test.ts checks that the
// generated validator and the runtime one agree.
import { build } from 'esbuild';
import { createRequire } from 'node:module';
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join, resolve } from 'node:path';

const require = createRequire(import.meta.url);
const MODULE = resolve('server/src/core/schema/configValidator.ts');

/** The standalone CommonJS source of the config validator, exporting `compileConfigValidator` as the module does. */
export async function configValidatorSource() {
  const bundled = await build({
    entryPoints: [MODULE],
    bundle: true,
    platform: 'node',
    format: 'cjs',
    write: false,
    logLevel: 'warning',
  });
  const dir = mkdtempSync(join(tmpdir(), 'lora-lens-validator-'));
  try {
    const file = join(dir, 'configValidator.cjs');
    writeFileSync(file, bundled.outputFiles[0].text);
    const { configAjv } = require(file);
    const ajv = configAjv({ code: { source: true, esm: false } });
    const schema = require(resolve('schemas/finetune.schema.json'));
    const validate = ajv.compile(schema);
    const standalone = require('ajv/dist/standalone').default;
    return `${standalone(ajv, validate)}\nconst precompiled = module.exports;\nmodule.exports = { compileConfigValidator: () => precompiled };\n`;
  } finally {
    rmSync(dir, { recursive: true, force: true });
  }
}

/** The esbuild plugin (resolveDir keeps ajv's runtime helpers resolvable from the generated code). */
export async function precompiledValidators() {
  const contents = await configValidatorSource();
  return {
    name: 'precompiled-validators',
    setup(pluginBuild) {
      pluginBuild.onLoad({ filter: /core[\\/]schema[\\/]configValidator\.ts$/ }, () => ({
        contents,
        loader: 'js',
        resolveDir: resolve('server/src/core/schema'),
      }));
    },
  };
}
