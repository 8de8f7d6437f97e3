/** Which documents are LoRA Lens configs: by name, by a `# lora-lens` modeline, or by the user's globs. */
export interface FileMatchSettings {
  /** Extra globs matched against the workspace-relative path (and the base name). */
  files: string[];
}

const BUILT_IN = [/\.finetune\.(ya?ml|json)$/i, /(^|[\\/])finetune\.ya?ml$/i];
const MODELINE = /^\s*#\s*lora-lens\b/;

export function isConfigFile(path: string, firstLine: string, settings: FileMatchSettings, relativePath?: string): boolean {
  if (BUILT_IN.some((pattern) => pattern.test(path))) return true;
  if (/\.ya?ml$/i.test(path) && MODELINE.test(firstLine)) return true;
  const candidates = [relativePath, path, path.split(/[\\/]/).pop()].filter((p): p is string => !!p).map((p) => p.replace(/\\/g, '/'));
  return settings.files.some((glob) => {
    const regex = globToRegExp(glob);
    return candidates.some((candidate) => regex.test(candidate));
  });
}

const cache = new Map<string, RegExp>();

/** A glob (`**`, `*`, `?`, `{a,b}`) as an anchored regular expression. */
export function globToRegExp(glob: string): RegExp {
  let cached = cache.get(glob);
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
  cached = new RegExp(`(^|/)${source}$`);
  cache.set(glob, cached);
  return cached;
}
