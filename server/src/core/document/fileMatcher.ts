import { anyChar, compilePattern, isChar, PatternError, type LinearMatcher, type PatternNode } from './linearMatch';

/**
 * Which documents are LoRA Lens configs: by name, by a `# lora-lens` modeline, or by the user's globs. The one
 * definition: the server, the status bar and (through a test) package.json's activation events use it.
 */
export interface FileMatchSettings {
  /** Extra globs matched against the workspace-relative path (and the base name). */
  files: string[];
}

/** The config names every workspace has (package.json activates on `workspaceContains:` these). */
export const BUILT_IN_CONFIG_GLOBS = ['**/*.finetune.{yaml,yml,json}', '**/finetune.{yaml,yml}'] as const;
const MODELINE = /^\s*#\s*lora-lens\b/;

/**
 * Whether a document is a config: `path` absolute (or a URI path), `firstLine` its first line (for the modeline),
 * `relativePath` the workspace-relative path when it lies in a workspace folder.
 */
export function isConfigFile(
  path: string,
  firstLine: string,
  settings: FileMatchSettings,
  relativePath?: string,
): boolean {
  const normalized = path.replace(/\\/g, '/');
  if (BUILT_IN_CONFIG_GLOBS.some((glob) => matchesGlob(glob, normalized, true))) return true;
  if (/\.ya?ml$/i.test(path) && MODELINE.test(firstLine)) return true;
  const candidates = [relativePath, path, path.split(/[\\/]/).pop()]
    .filter((p): p is string => !!p)
    .map((p) => p.replace(/\\/g, '/'));
  return settings.files.some((glob) => candidates.some((candidate) => matchesGlob(glob, candidate)));
}

/** Globs longer than this never match (a real one is a few dozen characters; the matcher is linear anyway). */
export const MAX_GLOB_LENGTH = 1000;
const SLASH = 47;
const notSlash = (c: number) => c !== SLASH;
const cache = new Map<string, LinearMatcher | null>();
const CACHE_SIZE = 256;

/**
 * Whether `path` matches a glob (`**`, `*`, `?`, `{a,b}`, nested braces too) at a path-segment boundary:
 * `configs/*.yaml` matches `/w/configs/a.yaml`. Linear in the path for every glob: settings are read in Restricted
 * Mode, and a backtracking regular expression froze the server on `**\/**\/…/x`. `ignoreCase` for built-in names.
 */
export function matchesGlob(glob: string, path: string, ignoreCase = false): boolean {
  const matcher = globMatcher(glob, ignoreCase);
  return matcher !== null && matcher.matches(ignoreCase ? path.toLowerCase() : path);
}

function globMatcher(glob: string, ignoreCase: boolean): LinearMatcher | null {
  const cacheKey = `${ignoreCase ? 'i' : ''}:${glob}`;
  if (cache.has(cacheKey)) return cache.get(cacheKey)!;
  let matcher: LinearMatcher | null = null;
  if (glob.length <= MAX_GLOB_LENGTH) {
    try {
      matcher = compilePattern(globPattern(ignoreCase ? glob.toLowerCase() : glob));
    } catch (error) {
      if (!(error instanceof PatternError)) throw error;
    }
  }
  if (cache.size >= CACHE_SIZE) cache.delete(cache.keys().next().value!);
  cache.set(cacheKey, matcher);
  return matcher;
}

/** The glob as a pattern tree, anchored after any `/` (or the start): `(?:.*\/)?GLOB` matched whole. */
function globPattern(glob: string): PatternNode {
  const any: PatternNode = { kind: 'repeat', item: { kind: 'char', test: anyChar }, min: 0, max: Infinity };
  const slash: PatternNode = { kind: 'char', test: isChar(SLASH) };
  const anyDirs: PatternNode = { kind: 'repeat', item: { kind: 'seq', items: [any, slash] }, min: 0, max: 1 };
  // A stack of open brace groups: each holds its finished options and the items of the option being written.
  const stack: Array<{ options: PatternNode[]; items: PatternNode[] }> = [{ options: [], items: [anyDirs] }];
  const top = () => stack[stack.length - 1]!;
  for (let i = 0; i < glob.length; i++) {
    const ch = glob[i]!;
    if (ch === '*' && glob[i + 1] === '*') {
      i++;
      if (glob[i + 1] === '/') {
        i++;
        top().items.push(anyDirs);
      } else top().items.push(any);
    } else if (ch === '*')
      top().items.push({ kind: 'repeat', item: { kind: 'char', test: notSlash }, min: 0, max: Infinity });
    else if (ch === '?') top().items.push({ kind: 'char', test: notSlash });
    else if (ch === '{') stack.push({ options: [], items: [] });
    else if (ch === ',' && stack.length > 1) {
      top().options.push({ kind: 'seq', items: top().items });
      top().items = [];
    } else if (ch === '}' && stack.length > 1) closeBraces(stack);
    else top().items.push({ kind: 'char', test: isChar(ch.charCodeAt(0)) });
  }
  while (stack.length > 1) closeBraces(stack); // an unclosed `{a,b` reads as closed at the end
  return { kind: 'seq', items: top().items };
}

function closeBraces(stack: Array<{ options: PatternNode[]; items: PatternNode[] }>): void {
  const group = stack.pop()!;
  const options = [...group.options, { kind: 'seq', items: group.items } as PatternNode];
  stack[stack.length - 1]!.items.push({ kind: 'alt', options });
}
