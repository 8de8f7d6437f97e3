/** Byte and count formatting shared by the estimate's texts; a leaf, so any module of the estimate can use it. */
const GiB = 2 ** 30;
/** Bytes as GiB with one decimal ("18.9 GiB"). */
export function formatGiB(bytes: number, digits = 1): string {
  return `${(bytes / GiB).toFixed(digits)} GiB`;
}

/** A parameter count in one unit per size: "7.62 B", "40.4 M", "12.3 K". */
export function formatCount(n: number): string {
  if (n >= 1e9) return `${(n / 1e9).toFixed(2)} B`;
  if (n >= 1e6) return `${(n / 1e6).toFixed(1)} M`;
  if (n >= 1e3) return `${(n / 1e3).toFixed(1)} K`;
  return String(Math.round(n));
}
