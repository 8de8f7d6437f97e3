// Builds the .vsix offline (vsce --no-dependencies: esbuild already bundled every dependency) and prints its size.
import { spawnSync } from 'node:child_process';
import { readFileSync, statSync } from 'node:fs';

const { name, version } = JSON.parse(readFileSync('package.json', 'utf8'));
const out = `${name}-${version}.vsix`;
const vsce = spawnSync(process.execPath, ['node_modules/@vscode/vsce/vsce', 'package', '--no-dependencies', '--out', out,
  // README links are relative (docs/...); the published page resolves them against the repository.
  '--baseContentUrl', 'https://github.com/lora-lens/lora-lens/blob/main', '--baseImagesUrl', 'https://github.com/lora-lens/lora-lens/raw/main'], { stdio: 'inherit' });
if (vsce.status !== 0) process.exit(vsce.status ?? 1);
const bytes = statSync(out).size;
console.log(`${out}: ${(bytes / 1024).toFixed(0)} KiB (${bytes} bytes)`);
