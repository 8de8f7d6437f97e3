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
export function isConfigFile(path: string, firstLine: string, settings: FileMatchSettings, relativePath?: string): boolean {
  const normalized = path.replace(/\\/g, '/');
  if (BUILT_IN_CONFIG_GLOBS.some((glob) => globToRegExp(glob, 'i').test(normalized))) return true;
  if (/\.ya?ml$/i.test(path) && MODELINE.test(firstLine)) return true;
  const candidates = [relativePath, path, path.split(/[\\/]/).pop()].filter((p): p is string => !!p).map((p) => p.replace(/\\/g, '/'));
  return settings.files.some((glob) => {
    const regex = globToRegExp(glob);
    return candidates.some((candidate) => regex.test(candidate));
  });
}

const cache = new Map<string, RegExp>();

/** A glob (`**`, `*`, `?`, `{a,b}`) as an anchored regular expression; `flags` 'i' for the built-in names. */
export function globToRegExp(glob: string, flags = ''): RegExp {
  const cacheKey = `${flags}:${glob}`;
  let cached = cache.get(cacheKey);
  if (cached) return cached;
  let source = '';
  let inBraces = false;
  for (let i = 0; i < glob.length; i++) {
    const ch = glob[i]!;
    if (ch === '*') {
      if (glob[i + 1] === '*') {
        i++;
        if (glob[i + 1] === '/') {
          i++;
          source += '(?:.*/)?';
        } else source += '.*';
      } else source += '[^/]*';
    } else if (ch === '?') source += '[^/]';
    else if (ch === '{') { inBraces = true; source += '(?:'; }
    else if (ch === '}' && inBraces) { inBraces = false; source += ')'; }
    else if (ch === ',' && inBraces) source += '|';
    else source += ch.replace(/[.+^$()|[\]\\]/g, '\\$&');
  }
  cached = new RegExp(`(^|/)${source}$`, flags);
  cache.set(cacheKey, cached);
  return cached;
}
