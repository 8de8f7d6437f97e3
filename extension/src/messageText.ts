/**
 * A toast's text: paths inside the workspace as the Explorer shows them (workspace-relative), so a notification never
 * opens with a long absolute path that pushes the point out of its one visible line. Pure: tested alone.
 */

/** Every absolute path under one of `roots` in `text`, made relative to it (`/ws/proj/configs/a.yaml` -> `configs/a.yaml`). */
export function workspaceRelative(text: string, roots: readonly string[]): string {
  let out = text;
  // The longest root first: a nested workspace folder wins over its parent.
  for (const root of [...roots].filter(Boolean).sort((a, b) => b.length - a.length)) {
    const base = root.replace(/[\\/]+$/, '');
    for (const sep of ['/', '\\']) out = out.split(`${base}${sep}`).join('');
  }
  return out;
}

/**
 * "LoRA Lens: " and the message, its workspace paths relative. A message that still opens with an absolute path (an
 * interpreter outside the workspace: "/usr/bin/python3 lacks torch") opens with the file's name instead, the full
 * path at the end, so the visible line says what is wrong.
 */
export function toastText(message: string, roots: readonly string[]): string {
  let text = workspaceRelative(message.replace(/^LoRA Lens: /, ''), roots);
  const leading = /^(\/[^\s:]+|[A-Za-z]:\\[^\s:]+)/.exec(text)?.[1];
  if (leading) text = `${leading.split(/[\\/]/).pop()}${text.slice(leading.length)} (${leading.replace(/[.,;]$/, '')})`;
  return `LoRA Lens: ${text}`;
}
