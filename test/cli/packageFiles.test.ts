// What the packaged .vsix holds (vsce's own file list, as `npm run package` builds it) and the manifest's metadata.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { spawnSync } from 'node:child_process';
import { cpSync, existsSync, readdirSync, readFileSync, symlinkSync } from 'node:fs';
import { join } from 'node:path';
import { REPO } from '../helpers/cli';
import { tempDir } from '../run/helpers';

/**
 * The project's files (tracked and new, as git sees them) plus the build outputs, in a folder of their own: vsce
 * walks everything below the manifest, and node_modules and .tools make that minutes on a busy machine.
 */
function stagedTree(): string {
  const listed = spawnSync('git', ['ls-files', '--cached', '--others', '--exclude-standard'], {
    cwd: REPO,
    encoding: 'utf8',
  })
    .stdout.split('\n')
    .filter(Boolean);
  const built = ['dist', join('media', 'build')].flatMap((d) =>
    existsSync(join(REPO, d)) ? readdirSync(join(REPO, d)).map((f) => join(d, f)) : [],
  );
  const root = tempDir('lora-lens-vsix-');
  for (const file of [...listed, ...built]) {
    if (!existsSync(join(REPO, file))) continue;
    cpSync(join(REPO, file), join(root, file), { recursive: true });
  }
  return root;
}

test('the .vsix ships no webview sources and no .gitignore, and everything the extension and the CLI need', () => {
  const ls = spawnSync(
    process.execPath,
    [join(REPO, 'node_modules', '@vscode', 'vsce', 'vsce'), 'ls', '--no-dependencies'],
    { cwd: stagedTree(), encoding: 'utf8', timeout: 120_000 },
  );
  assert.equal(ls.status, 0, ls.stderr);
  const files = ls.stdout.trim().split('\n');
  assert.deepEqual(
    files.filter((f) => /^media\/.*\.ts$|\.gitignore$|\.map$|^test\/|^server\/src\//.test(f)),
    [],
  );
  for (const needed of [
    'package.json',
    'dist/extension.js',
    'dist/server.js',
    'dist/cli.js',
    'bin/lora-lens.js',
    'schemas/doctor.schema.json',
    'schemas/events.schema.json',
    'media/panel.css',
    'media/build/panel.js',
    'trainer/lora_lens_trainer/doctor.py',
  ]) {
    assert.ok(files.includes(needed), `${needed} is packaged`);
  }
});

test('package.json points repository, bugs and homepage where the docs link (no placeholder)', () => {
  const manifest = JSON.parse(readFileSync(join(REPO, 'package.json'), 'utf8')) as {
    repository: { url: string };
    bugs: { url: string };
    homepage: string;
  };
  const docsBase = /const DOCS_BASE = '(https:\/\/[^']+)\/blob\//.exec(
    readFileSync(join(REPO, 'server', 'src', 'core', 'document', 'diagnostics.ts'), 'utf8'),
  )![1]!;
  assert.doesNotMatch(JSON.stringify(manifest.repository), /example\.invalid/);
  assert.equal(manifest.repository.url, `${docsBase}.git`);
  assert.equal(manifest.bugs.url, `${docsBase}/issues`);
  assert.equal(manifest.homepage, `${docsBase}#readme`);
});

test("the Marketplace page (issue 27): the user README with its pictures at https URLs of the repository, an icon, keywords, a CHANGELOG and the walkthrough's pages", () => {
  const root = stagedTree();
  // The package script runs vsce from ./node_modules, as `npm run package` does in the repository.
  symlinkSync(join(REPO, 'node_modules'), join(root, 'node_modules'));
  const built = spawnSync(process.execPath, [join(root, 'scripts', 'package.mjs')], {
    cwd: root,
    encoding: 'utf8',
    timeout: 300_000,
  });
  assert.equal(built.status, 0, `${built.stdout}\n${built.stderr}`);
  const vsix = readdirSync(root).find((f) => f.endsWith('.vsix'))!;
  const entries = spawnSync('unzip', ['-Z1', join(root, vsix)], { encoding: 'utf8' })
    .stdout.trim()
    .split('\n');
  const read = (entry: string) => spawnSync('unzip', ['-p', join(root, vsix), entry], { encoding: 'utf8' }).stdout;
  const readme = read('extension/readme.md');
  assert.doesNotMatch(readme, /npm ci|LORA_LENS_TEST_PYTHON/, 'the page opens for users, not with developer set-up');
  const images = [...readme.matchAll(/!\[[^\]]*\]\(([^)]+)\)/g)].map((m) => m[1]!);
  assert.ok(images.length > 0, 'the README has pictures');
  // VS Code's Extensions page loads README images from https: and data: only, with no base URL into the package
  // (code-server 1.100.3: a relative picture has naturalWidth 0), so each is an https URL of a repository file.
  const raw = 'https://github.com/lora-lens/lora-lens/raw/HEAD/';
  for (const image of images) {
    assert.ok(image.startsWith(raw), `${image}: an https URL of the repository's raw files`);
    assert.ok(existsSync(join(REPO, image.slice(raw.length))), `${image} is a file of the repository`);
    assert.ok(!entries.includes(`extension/${image.slice(raw.length)}`), `${image}: not carried in the package`);
  }
  const manifest = JSON.parse(read('extension/package.json')) as {
    icon: string;
    keywords: string[];
    contributes: { walkthroughs: Array<{ steps: Array<{ media: { markdown?: string } }> }> };
  };
  assert.ok(entries.includes(`extension/${manifest.icon}`), 'the icon is packaged');
  const png = spawnSync('unzip', ['-p', join(root, vsix), `extension/${manifest.icon}`]).stdout as unknown as Buffer;
  assert.deepEqual([png.readUInt32BE(16), png.readUInt32BE(20)], [128, 128], 'a 128×128 PNG');
  assert.ok(
    manifest.keywords.length >= 5 && manifest.keywords.length <= 30,
    'keywords (the Marketplace takes up to 30)',
  );
  assert.ok(entries.includes('extension/changelog.md'), 'a CHANGELOG');
  const steps = manifest.contributes.walkthroughs[0]!.steps;
  assert.ok(steps.length >= 4, 'open an example, see the estimate, make it fit, run');
  for (const step of steps)
    if (step.media.markdown)
      assert.ok(entries.includes(`extension/${step.media.markdown}`), `${step.media.markdown} is packaged`);
});
