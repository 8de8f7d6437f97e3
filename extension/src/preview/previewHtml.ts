/** The preview panel's HTML (pure: the extension passes webview URIs, the Chromium test passes file URLs). */
import type { PanelAssets } from '../runs/panelHtml';

export type PreviewAssets = Pick<PanelAssets, 'cspSource' | 'nonce'> & { script: string; style: string };

const escape = (text: string) => text.replace(/[&<>"']/g, (c) => `&#${c.charCodeAt(0)};`);

/** Strict CSP: no inline script or style, scripts only with this render's nonce, nothing fetched from anywhere. */
export function renderPreviewHtml(assets: PreviewAssets, title = 'Training data preview'): string {
  const csp = [
    "default-src 'none'",
    `style-src ${assets.cspSource}`,
    `font-src ${assets.cspSource}`,
    `script-src 'nonce-${assets.nonce}'`,
  ].join('; ');
  return `<!DOCTYPE html>
<html lang="en">
<head>
<meta charset="UTF-8">
<meta http-equiv="Content-Security-Policy" content="${csp}">
<meta name="viewport" content="width=device-width, initial-scale=1.0">
<link rel="stylesheet" href="${escape(assets.style)}">
<title>${escape(title)}</title>
</head>
<body>
<header id="header"><span class="muted">Rendering rows with the trainer…</span></header>
<ul id="notes" hidden></ul>
<main id="rows" role="listbox" tabindex="0" aria-label="Training rows"></main>
<footer id="keys" class="muted">↑/↓ or j/k: row · PgUp/PgDn · g good · b bad · u unsure · f first rows · s spot check · r render again · masked tokens are dimmed, trained ones underlined</footer>
<script nonce="${assets.nonce}" src="${escape(assets.script)}"></script>
</body>
</html>`;
}
