// A per-namespace stat file (/proc/<pid>/net/stat/nf_conntrack) with chosen
// figures: the netns-census fixture's real file (its header and its two CPU
// rows) with `entries` set on every row (the kernel prints the namespace's
// count on each) and `drop` on the first.
import { fixtureText } from './fixture-tree.js';

export function statFileWith(entries: number, drop = 0): string {
  const [header, ...rows] = fixtureText('netns-census', 'netns/4026532307/stat/nf_conntrack').trim().split('\n');
  const names = header!.trim().split(/\s+/);
  const hex = (n: number) => n.toString(16).padStart(8, '0');
  const out = rows.map((row, r) =>
    row
      .trim()
      .split(/\s+/)
      .map((cell, i) => (names[i] === 'entries' ? hex(entries) : names[i] === 'drop' ? hex(r === 0 ? drop : 0) : cell))
      .join(' '),
  );
  return `${header}\n${out.join('\n')}\n`;
}
