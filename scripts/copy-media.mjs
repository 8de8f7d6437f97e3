// Builds the run panel's webview assets into media/build/ (git-ignored, shipped in the .vsix through !media/**):
// the page script (webview/panel.ts plus the shared events→series reducer, one IIFE for the browser) and uPlot's
// IIFE build and stylesheet copied from node_modules. Built rather than committed, so the uPlot version is the
// one package-lock.json pins and there is no second copy of the reducer to keep in step.
import { build } from 'esbuild';
import { copyFileSync, mkdirSync } from 'node:fs';
import { dirname, join } from 'node:path';
import { fileURLToPath } from 'node:url';

const root = join(dirname(fileURLToPath(import.meta.url)), '..');
const out = join(root, 'media', 'build');
mkdirSync(out, { recursive: true });
copyFileSync(join(root, 'node_modules/uplot/dist/uPlot.iife.min.js'), join(out, 'uPlot.iife.min.js'));
copyFileSync(join(root, 'node_modules/uplot/dist/uPlot.min.css'), join(out, 'uPlot.min.css'));
// The page scripts: the run panel, and the training-data preview (webview/preview.ts).
for (const name of ['panel', 'preview'])
  await build({
    entryPoints: [join(root, `webview/${name}.ts`)],
    outfile: join(out, `${name}.js`),
    bundle: true,
    format: 'iife',
    platform: 'browser',
    target: 'chrome120',
    minify: process.argv.includes('--minify'),
    sourcemap: false,
    logLevel: 'warning',
  });
