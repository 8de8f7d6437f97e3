// Renders media/icon.png (128×128) from the shapes of media/icon.svg, without a browser or ImageMagick: each pixel is
// the average of 8×8 samples painted in the SVG's order. Keep the two in step: `node media/icon-render.mjs`.
import { writeFileSync } from 'node:fs';
import { deflateSync } from 'node:zlib';

const SIZE = 128;
const hex = (h, a = 1) => [parseInt(h.slice(1, 3), 16), parseInt(h.slice(3, 5), 16), parseInt(h.slice(5, 7), 16), a];
const roundRect = (x, y, w, h, r) => (px, py) => {
  const cx = Math.min(Math.max(px, x + r), x + w - r);
  const cy = Math.min(Math.max(py, y + r), y + h - r);
  return px >= x && px <= x + w && py >= y && py <= y + h && (px - cx) ** 2 + (py - cy) ** 2 <= r * r;
};
const ring = (cx, cy, r, width) => (px, py) => Math.abs(Math.hypot(px - cx, py - cy) - r) <= width / 2;
const disc = (cx, cy, r) => (px, py) => Math.hypot(px - cx, py - cy) <= r;
const segment = (x1, y1, x2, y2, width) => (px, py) => {
  const dx = x2 - x1; const dy = y2 - y1;
  const t = Math.max(0, Math.min(1, ((px - x1) * dx + (py - y1) * dy) / (dx * dx + dy * dy)));
  return Math.hypot(px - (x1 + t * dx), py - (y1 + t * dy)) <= width / 2;
};
// The background's diagonal gradient #1f2a44 → #0f1524.
const background = (px, py) => { const t = (px + py) / (2 * SIZE); const a = hex('#1f2a44'); const b = hex('#0f1524'); return a.map((v, i) => (i < 3 ? v + (b[i] - v) * t : 1)); };
const SHAPES = [
  [roundRect(4, 4, 120, 120, 24), background],
  [disc(56, 56, 34), () => hex('#16213a')],
  [ring(56, 56, 34, 8), () => hex('#7dd3fc')],
  [roundRect(38, 34, 10, 44, 3), () => hex('#f59e0b')],
  [roundRect(53, 34, 30, 10, 3), () => hex('#a78bfa')],
  [roundRect(53, 50, 24, 6, 3), () => hex('#7dd3fc', 0.6)],
  [roundRect(53, 61, 18, 6, 3), () => hex('#7dd3fc', 0.4)],
  [segment(81, 81, 108, 108, 12), () => hex('#7dd3fc')],
];

function sample(px, py) {
  let rgba = [0, 0, 0, 0];
  for (const [inside, paint] of SHAPES) {
    if (!inside(px, py)) continue;
    const [r, g, b, a] = paint(px, py);
    const outA = a + rgba[3] * (1 - a);
    rgba = [r, g, b].map((v, i) => (v * a + rgba[i] * rgba[3] * (1 - a)) / (outA || 1)).concat(outA);
  }
  return rgba;
}

const raw = Buffer.alloc(SIZE * (SIZE * 4 + 1));
const N = 8;
for (let y = 0; y < SIZE; y++) {
  raw[y * (SIZE * 4 + 1)] = 0;
  for (let x = 0; x < SIZE; x++) {
    const sum = [0, 0, 0, 0];
    for (let i = 0; i < N; i++) for (let j = 0; j < N; j++) {
      const s = sample(x + (i + 0.5) / N, y + (j + 0.5) / N);
      for (let k = 0; k < 3; k++) sum[k] += s[k] * s[3];
      sum[3] += s[3];
    }
    const o = y * (SIZE * 4 + 1) + 1 + x * 4;
    for (let k = 0; k < 3; k++) raw[o + k] = sum[3] ? Math.round(sum[k] / sum[3]) : 0;
    raw[o + 3] = Math.round((sum[3] / (N * N)) * 255);
  }
}

const crcTable = Array.from({ length: 256 }, (_, n) => { let c = n; for (let k = 0; k < 8; k++) c = c & 1 ? 0xedb88320 ^ (c >>> 1) : c >>> 1; return c >>> 0; });
const crc32 = (buf) => { let c = 0xffffffff; for (const b of buf) c = crcTable[(c ^ b) & 0xff] ^ (c >>> 8); return (c ^ 0xffffffff) >>> 0; };
const chunk = (type, data) => {
  const len = Buffer.alloc(4); len.writeUInt32BE(data.length);
  const body = Buffer.concat([Buffer.from(type, 'ascii'), data]);
  const crc = Buffer.alloc(4); crc.writeUInt32BE(crc32(body));
  return Buffer.concat([len, body, crc]);
};
const header = Buffer.alloc(13);
header.writeUInt32BE(SIZE, 0); header.writeUInt32BE(SIZE, 4); header[8] = 8; header[9] = 6;
const png = Buffer.concat([Buffer.from([0x89, 0x50, 0x4e, 0x47, 0x0d, 0x0a, 0x1a, 0x0a]), chunk('IHDR', header), chunk('IDAT', deflateSync(raw)), chunk('IEND', Buffer.alloc(0))]);
writeFileSync(new URL('./icon.png', import.meta.url), png);
