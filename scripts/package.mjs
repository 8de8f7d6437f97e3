// Builds the .vsix offline (vsce --no-dependencies: esbuild already bundled every dependency) and prints its size.
import { spawnSync } from 'node:child_process';
import { readFileSync, statSync } from 'node:fs';

const { name, version } = JSON.parse(readFileSync('package.json', 'utf8'));
const out = `${name}-${version}.vsix`;
const vsce = spawnSync(
  process.execPath,
  [
    'node_modules/@vscode/vsce/vsce',
    'package',
    '--no-dependencies',
    '--out',
    out,
    // The Extensions page shows the user README (docs/marketplace/README.md; the repository README opens with developer
    // set-up). Its images are packaged (docs/images/*.png) and stay relative, so the page shows them offline; its
    // links to the docs are absolute.
    '--readme-path',
    'docs/marketplace/README.md',
    '--no-rewrite-relative-links',
  ],
  { stdio: 'inherit' },
);
if (vsce.status !== 0) process.exit(vsce.status ?? 1);
const bytes = statSync(out).size;
console.log(`${out}: ${(bytes / 1024).toFixed(0)} KiB (${bytes} bytes)`);
