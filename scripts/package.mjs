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
    // set-up). VS Code renders it under a policy that loads images from https: and data: only (no base URL into the
    // package), so a relative picture never shows there: vsce rewrites them to the repository's raw files (https),
    // as the Marketplace needs too. Offline the page shows their alt text. Its links to the docs are absolute.
    '--readme-path',
    'docs/marketplace/README.md',
  ],
  { stdio: 'inherit' },
);
if (vsce.status !== 0) process.exit(vsce.status ?? 1);
const bytes = statSync(out).size;
console.log(`${out}: ${(bytes / 1024).toFixed(0)} KiB (${bytes} bytes)`);
