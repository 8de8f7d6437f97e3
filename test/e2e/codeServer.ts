// A real VS Code to drive: code-server 4.100.3 (installed offline by scripts/install-code-server.sh) with the packaged
// .vsix installed, in headless Chromium. Shared by the end-to-end test (test/e2e/vscode.e2e.ts) and the screenshot
// script (scripts/screenshots.ts), so both drive the same thing the same way.
import { strict as assert } from 'node:assert';
import { spawn, spawnSync, type ChildProcess } from 'node:child_process';
import { existsSync, mkdirSync, mkdtempSync, writeFileSync } from 'node:fs';
import { createServer } from 'node:net';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { chromium, type Browser, type Page } from 'playwright-core';

export const ROOT = join(__dirname, '..', '..');
export const CHROMIUM = '/usr/bin/chromium';
const CHROMIUM_ARGS = [
  '--headless',
  '--no-sandbox',
  '--disable-gpu',
  '--disable-background-networking',
  '--disable-component-update',
  '--disable-sync',
  '--no-first-run',
];
export const CODE_SERVER = join(ROOT, '.tools/code-server/node_modules/code-server/out/node/entry.js');

/** Why a session cannot start here (code-server or Chromium missing), or false. */
export const missing: string | false = !existsSync(CODE_SERVER)
  ? `code-server is not installed: run scripts/install-code-server.sh`
  : !existsSync(CHROMIUM)
    ? `${CHROMIUM} is missing (apt-get install -y chromium)`
    : false;

export interface Session {
  page: Page;
  browser: Browser;
  server: ChildProcess;
  /** The opened folder. */
  workspace: string;
  /** code-server's stdout and stderr so far. */
  log: string[];
  close(): Promise<void>;
}

export interface SessionOptions {
  /** User settings beside the defaults (no start page, no tips, inlay hints on). */
  settings?: Record<string, unknown>;
  /** Environment of code-server (and so of the extension host and what it spawns). */
  env?: NodeJS.ProcessEnv;
  /** Fills the workspace folder before VS Code opens it. */
  prepare?: (workspace: string) => void;
}

function freePort(): Promise<number> {
  return new Promise((resolve) => {
    const s = createServer().listen(0, '127.0.0.1', () => {
      const port = (s.address() as { port: number }).port;
      s.close(() => resolve(port));
    });
  });
}

export function runOrFail(cmd: string, args: string[], env: NodeJS.ProcessEnv = process.env): void {
  const r = spawnSync(cmd, args, { cwd: ROOT, env, encoding: 'utf8' });
  assert.equal(r.status, 0, `${cmd} ${args.join(' ')}\n${r.stdout}\n${r.stderr}`);
}

/** Packages what ships (the bundles, the panel assets, the manifest) as scripts/package.mjs does, into `dir`. */
function packageVsix(dir: string): string {
  runOrFail(process.execPath, ['scripts/build.mjs']);
  runOrFail(process.execPath, ['scripts/copy-media.mjs']);
  const vsix = join(dir, 'lora-lens-e2e.vsix');
  // The user README (docs/marketplace/README.md), its pictures rewritten by vsce to the repository's raw files over
  // https (the only images VS Code's Extensions page loads).
  runOrFail(process.execPath, [
    'node_modules/@vscode/vsce/vsce',
    'package',
    '--no-dependencies',
    '--readme-path',
    'docs/marketplace/README.md',
    '--out',
    vsix,
  ]);
  return vsix;
}

async function waitHealthy(port: number, log: string[]): Promise<void> {
  const t0 = Date.now();
  for (;;) {
    try {
      if ((await fetch(`http://127.0.0.1:${port}/healthz`)).ok) return;
    } catch {
      /* not yet */
    }
    if (Date.now() - t0 > 30_000) throw new Error(`code-server did not start:\n${log.join('')}`);
    await new Promise((r) => setTimeout(r, 200));
  }
}

/** Installs the freshly packaged extension into a new code-server and opens a new workspace in Chromium. */
export async function startSession(options: SessionOptions = {}): Promise<Session> {
  const home = mkdtempSync(join(tmpdir(), 'lora-lens-e2e-'));
  const vsix = packageVsix(home);
  const workspace = join(home, 'ws');
  mkdirSync(workspace, { recursive: true });
  options.prepare?.(workspace);
  const env = { ...process.env, XDG_CONFIG_HOME: join(home, 'xdg-config'), XDG_DATA_HOME: join(home, 'xdg-data') };
  Object.assign(env, options.env);
  const dirs = ['--user-data-dir', join(home, 'ud'), '--extensions-dir', join(home, 'ext')];
  mkdirSync(join(home, 'ud', 'User'), { recursive: true });
  const settings = {
    'workbench.startupEditor': 'none',
    'workbench.tips.enabled': false,
    'editor.inlayHints.enabled': 'on',
    'terminal.integrated.gpuAcceleration': 'off',
    'extensions.autoCheckUpdates': false,
    'extensions.autoUpdate': false,
    ...options.settings,
  };
  writeFileSync(join(home, 'ud', 'User', 'settings.json'), JSON.stringify(settings, null, 2));
  runOrFail(process.execPath, [CODE_SERVER, ...dirs, '--install-extension', vsix], env);

  const port = await freePort();
  const flags = [
    '--disable-telemetry',
    '--disable-update-check',
    '--disable-workspace-trust',
    '--disable-getting-started-override',
  ];
  const server = spawn(
    process.execPath,
    [CODE_SERVER, '--bind-addr', `127.0.0.1:${port}`, '--auth', 'none', ...dirs, ...flags, workspace],
    { env, stdio: ['ignore', 'pipe', 'pipe'] },
  );
  const log: string[] = [];
  server.stdout!.on('data', (d: Buffer) => log.push(d.toString()));
  server.stderr!.on('data', (d: Buffer) => log.push(d.toString()));
  await waitHealthy(port, log);
  const browser = await chromium.launch({ executablePath: CHROMIUM, args: CHROMIUM_ARGS });
  const page = await browser.newPage({ viewport: { width: 1600, height: 1000 } });
  await page.goto(`http://127.0.0.1:${port}/?folder=${encodeURIComponent(workspace)}`);
  await page.waitForSelector('.monaco-workbench', { timeout: 30_000 });
  const close = async () => {
    await browser.close();
    server.kill('SIGTERM');
  };
  return { page, browser, server, workspace, log, close };
}

// Typing into whatever has focus was flaky: with a webview focused (a run panel just revealed), F1 can open the
// palette while the keystrokes go elsewhere, leaving an unfiltered list. Filling the palette's own input, and
// opening it again if the command's row does not show, does not depend on where focus was.
/** Runs a command from the command palette. */
export async function palette(page: Page, command: string): Promise<void> {
  const input = page.locator('.quick-input-widget input');
  const row = page.locator('.quick-input-list .monaco-list-row', { hasText: command }).first();
  for (let attempt = 1; ; attempt++) {
    try {
      await page.keyboard.press('F1');
      await input.waitFor({ state: 'visible', timeout: 10_000 });
      await input.fill(`>${command}`);
      await row.waitFor({ state: 'visible', timeout: 10_000 });
      await input.press('Enter');
      return;
    } catch (error) {
      if (attempt === 3) throw error;
      await page.keyboard.press('Escape');
    }
  }
}

/**
 * Opens a workspace file alone in the editor area, through Quick Open, and waits for `text` in it. The name is filled
 * into Quick Open's own input, and Quick Open reopened when the file's row does not show (as palette() does).
 */
export async function openAlone(page: Page, name: string, text: string): Promise<void> {
  await palette(page, 'View: Close All Editors');
  const input = page.locator('.quick-input-widget input');
  const row = page.locator(`.quick-input-list .monaco-list-row:has-text("${name}")`).first();
  for (let attempt = 1; ; attempt++) {
    try {
      await page.keyboard.press('Control+P');
      await input.waitFor({ state: 'visible', timeout: 10_000 });
      await input.fill(name);
      await row.waitFor({ state: 'visible', timeout: 10_000 });
      await input.press('Enter');
      break;
    } catch (error) {
      if (attempt === 3) throw error;
      await page.keyboard.press('Escape');
    }
  }
  await page.waitForSelector(`.monaco-editor .view-lines:has-text("${text}")`);
}

/**
 * Hovers the model id's own token (the estimate's hover is on the value; the key has the schema's) until the
 * estimate's hover shows, and returns that hover.
 */
export async function hoverModel(page: Page, modelId: string) {
  const hover = page.locator('.monaco-hover:not(.hidden)', { hasText: 'Recommended' });
  for (let attempt = 0; ; attempt++) {
    const model = page.locator('.monaco-editor .view-lines').getByText(modelId, { exact: true });
    await model.first().hover();
    try {
      await hover.first().waitFor({ timeout: 8000 });
      return hover.first();
    } catch (e) {
      if (attempt === 3) throw e;
      await page.mouse.move(5, 5);
    }
  }
}

/** The repository's raw files over https, as vsce rewrites the README's pictures. */
export const RAW = 'https://github.com/lora-lens/lora-lens/raw/HEAD/';

/**
 * Opens the installed extension's page. Its README pictures are https URLs of the repository's raw files; the machine
 * has no network, so those requests are answered from this checkout, as GitHub would answer them.
 */
export async function openExtensionPage(page: Page) {
  await page.context().route(`${RAW}**`, (route) => {
    const file = route.request().url().slice(RAW.length);
    return route.fulfill({ path: join(ROOT, file), contentType: 'image/png' });
  });
  await palette(page, 'View: Close All Editors');
  await palette(page, 'Extensions: Show Enabled Extensions');
  const entry = page.locator('.extensions-viewlet .monaco-list-row', { hasText: 'LoRA Lens' }).first();
  await entry.waitFor({ timeout: 20_000 });
  await entry.click();
  const header = page.locator('.extension-editor .header');
  await header.waitFor({ timeout: 20_000 });
  // Webviews sit in an overlay outside the editor's element: the README's is the one visible.
  const readme = page.frameLocator('iframe.webview:visible').frameLocator('iframe#active-frame');
  return { header, readme };
}

/** The README's pictures, [src, naturalWidth], once every one has loaded or failed (complete). */
export async function readmeImages(readme: ReturnType<Page['frameLocator']>) {
  await readme.locator('img').first().waitFor({ timeout: 30_000 });
  const frame = await (await readme.locator('body').elementHandle())!.ownerFrame();
  await frame!.waitForFunction(() => Array.from(document.images).every((img) => img.complete), undefined, {
    timeout: 30_000,
  });
  return readme
    .locator('img')
    .evaluateAll((imgs) =>
      imgs.map((img) => [img.getAttribute('src') ?? '', (img as HTMLImageElement).naturalWidth] as [string, number]),
    );
}
