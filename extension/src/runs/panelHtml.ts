/** The run panel's HTML (pure: the extension passes webview URIs, the Chromium test passes file URLs). */

export interface PanelAssets {
  /** The webview's `cspSource` (or the test's origin). */
  cspSource: string;
  nonce: string;
  uplotScript: string;
  uplotStyle: string;
  panelScript: string;
  panelStyle: string;
}

/** A fresh nonce per render: the CSP admits only scripts that carry it. */
export function makeNonce(): string {
  const chars = 'ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789';
  let out = '';
  for (let i = 0; i < 32; i++) out += chars[Math.floor(Math.random() * chars.length)];
  return out;
}

const escape = (text: string) => text.replace(/[&<>"']/g, (c) => `&#${c.charCodeAt(0)};`);

export function renderPanelHtml(assets: PanelAssets, title = 'LoRA Lens run'): string {
  const csp = [
    "default-src 'none'",
    `img-src ${assets.cspSource} data:`,
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
<link rel="stylesheet" href="${escape(assets.uplotStyle)}">
<link rel="stylesheet" href="${escape(assets.panelStyle)}">
<title>${escape(title)}</title>
</head>
<body>
<header id="header"><span class="muted">Waiting for the trainer…</span></header>
<section id="settings-diff" hidden></section>
<section id="problem" hidden></section>
<div id="controls">
<label title="Exponential moving average of the train loss, as TensorBoard's slider">Smoothing <input id="smoothing" type="range" min="0" max="0.99" step="0.01" value="0.6"> <output id="smoothing-value">0.60</output></label>
<label><input id="log-loss" type="checkbox"> Log scale (loss)</label>
</div>
<main id="charts"></main>
<section id="evaluation" hidden></section>
<script nonce="${assets.nonce}" src="${escape(assets.uplotScript)}"></script>
<script nonce="${assets.nonce}" src="${escape(assets.panelScript)}"></script>
</body>
</html>`;
}
