/**
 * Python's fixed-point formatting (`f"{x:.2f}"`): the nearest decimal, and on an exact tie the even one. JavaScript's
 * toFixed takes the larger on a tie, so 6.25 printed 6.3 where sacreBLEU prints 6.2.
 */
export function pythonFixed(x: number, digits: number): string {
  const rounded = x.toFixed(digits);
  if (!Number.isFinite(x) || Math.abs(x) >= 1e21) return rounded;
  // toFixed(100) is the exact decimal expansion of any double above 2^-47 (its binary fraction ends within 100 digits).
  const [whole, fraction = ''] = Math.abs(x).toFixed(100).split('.');
  const rest = fraction.slice(digits);
  const tie = rest[0] === '5' && /^0*$/.test(rest.slice(1));
  if (!tie) return rounded;
  const kept = fraction.slice(0, digits);
  const lastDigit = Number((digits ? kept : whole!).slice(-1));
  if (lastDigit % 2 === 1) return rounded; // the larger neighbour is the even one: toFixed's answer
  return `${x < 0 ? '-' : ''}${whole}${digits ? `.${kept}` : ''}`;
}
