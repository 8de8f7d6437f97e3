// The README's pictures of the editor, taken in a real VS Code (code-server, as the end-to-end test drives it): the
// decision-first hover on the model id (hover-decision-first.png) and the Extensions page with the packaged icon and
// the README (extensions-page.png). What they show is checked by test/e2e/vscode.e2e.ts; this only takes the pictures.
// Run: npx tsx scripts/screenshots.ts [--out docs/images]   (default out: test-artifacts/; it packages the extension itself)
// Needs code-server (bash scripts/install-code-server.sh) and /usr/bin/chromium; no network.
import { cpSync, mkdirSync } from 'node:fs';
import { join, resolve } from 'node:path';
import {
  hoverModel,
  missing,
  openAlone,
  openExtensionPage,
  readmeImages,
  ROOT,
  startSession,
} from '../test/e2e/codeServer';

function outDir(argv: string[]): string {
  const i = argv.indexOf('--out');
  if (i >= 0 && !argv[i + 1]) throw new Error('--out needs a folder, e.g. --out docs/images');
  return resolve(i >= 0 ? argv[i + 1]! : join(ROOT, 'test-artifacts'));
}

async function main(): Promise<void> {
  if (missing) throw new Error(missing);
  const out = outDir(process.argv.slice(2));
  mkdirSync(out, { recursive: true });
  const session = await startSession({
    prepare: (ws) => {
      cpSync(join(ROOT, 'examples/data'), join(ws, 'data'), { recursive: true });
      // The QLoRA example on an RTX 4090: verdict, recommendation and the method table in the hover's first screen.
      cpSync(join(ROOT, 'examples/qwen2.5-7b-qlora.finetune.yaml'), join(ws, 'qwen-7b.finetune.yaml'));
    },
    settings: { 'loraLens.pythonPath': join(ROOT, 'test/fixtures/runs/fake-trainer.mjs') },
  });
  const { page } = session;
  try {
    await openAlone(page, 'qwen-7b.finetune.yaml', 'Qwen2.5-7B-Instruct');
    // A picture, not a test: time for the data file to be inspected, so the table has its time column.
    await page.waitForTimeout(3000);
    const hover = await hoverModel(page, 'Qwen/Qwen2.5-7B-Instruct');
    await page.waitForTimeout(500); // the hover fades in
    const box = (await hover.boundingBox())!;
    const editor = (await page.locator('.monaco-editor').first().boundingBox())!;
    // From the editor's top left (line numbers, the config's first lines and the model line) to below the hover.
    const clip = {
      x: editor.x,
      y: editor.y,
      width: Math.min(box.x + box.width + 40, editor.x + editor.width) - editor.x,
      height: box.y + box.height + 20 - editor.y,
    };
    await page.screenshot({ path: join(out, 'hover-decision-first.png'), clip });
    console.log(
      `${join(out, 'hover-decision-first.png')}: hover ${Math.round(box.width)} × ${Math.round(box.height)} px`,
    );
    await page.mouse.move(5, 5);

    const { header, readme } = await openExtensionPage(page);
    await header.locator('img.icon').first().waitFor({ timeout: 15_000 });
    const images = await readmeImages(readme);
    const broken = images.filter(([, w]) => w === 0).map(([src]) => src);
    if (broken.length) console.warn(`README pictures that did not load: ${broken.join(', ')}`);
    await page.screenshot({ path: join(out, 'extensions-page.png') });
    console.log(`${join(out, 'extensions-page.png')}: ${images.length} README pictures`);
  } finally {
    await session.close();
  }
}

main().catch((error: unknown) => {
  console.error(error instanceof Error ? error.message : error);
  process.exit(1);
});
