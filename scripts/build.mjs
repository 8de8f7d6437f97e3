// One esbuild script for every bundle (as vscode-eslint does): the extension client, the language server, the CLI.
import { build } from 'esbuild';
import { precompiledValidators } from './precompile-validators.mjs';

const common = {
  bundle: true,
  platform: 'node',
  target: 'node20',
  format: 'cjs',
  sourcemap: true,
  logLevel: 'warning',
  minify: process.argv.includes('--minify'),
};
// The server and the CLI load the config validator ajv generated at build time instead of compiling the schema on
// every start (about 150 ms of a `lora-lens check`).
const validators = await precompiledValidators();

await Promise.all([
  build({ ...common, entryPoints: ['extension/src/extension.ts'], outfile: 'dist/extension.js', external: ['vscode'] }),
  build({ ...common, entryPoints: ['server/src/lsp/server.ts'], outfile: 'dist/server.js', plugins: [validators] }),
  build({ ...common, entryPoints: ['server/src/cli/main.ts'], outfile: 'dist/cli.js', plugins: [validators] }),
]);
