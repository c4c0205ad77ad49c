// A seeded generator for the fuzz tests: the same seed gives the same inputs,
// so a failure names the seed and case that reproduce it.
import { seededRandom } from '../support/seeded-random.js';

// What a careless or hostile edit puts into a file: YAML structure and tags,
// aliases, separators, control and odd characters, numbers that do not fit,
// prototype keys, firewall syntax.
const TOKENS = [
  '&a ',
  '*a',
  '<<: *a\n',
  '---\n',
  '...\n',
  '!!js/function "x"',
  '!!binary aGk=',
  '!!set {a, b}',
  '? ',
  ': ',
  '- ',
  '{',
  '}',
  '[',
  ']',
  '"',
  "'",
  '#',
  '\n',
  '\r\n',
  '\t',
  '\u0000',
  '\u2028',
  '\ufeff',
  '😀',
  '__proto__: {x: 1}\n',
  'constructor: 1\n',
  '1e999',
  '.nan',
  '.inf',
  '-.inf',
  '0x1F',
  '0o17',
  '-1',
  '99999999999999999999',
  '9007199254740993',
  '1_000',
  'COMMIT\n',
  '-j ACCEPT',
  '*filter\n',
  '; flush ruleset',
  '$(reboot)',
  '`id`',
  '../../etc/passwd',
  '+',
  '0.0.0.0/0',
  '::/0',
  'x'.repeat(300),
  ' ',
  '  ',
  '=',
  ',',
  ':',
];

/** `text` with 1 to 8 random edits: a token inserted, a range deleted or repeated, a character replaced. */
export function mutate(text: string, random: () => number): string {
  let out = text;
  const edits = 1 + Math.floor(random() * 8);
  const at = () => Math.floor(random() * (out.length + 1));
  for (let i = 0; i < edits; i++) {
    const kind = random();
    const p = at();
    if (kind < 0.45) {
      out = out.slice(0, p) + TOKENS[Math.floor(random() * TOKENS.length)] + out.slice(p);
    } else if (kind < 0.65) {
      out = out.slice(0, p) + out.slice(p + Math.floor(random() * 40));
    } else if (kind < 0.8) {
      const piece = out.slice(p, p + Math.floor(random() * 60));
      out = out.slice(0, p) + piece.repeat(1 + Math.floor(random() * 4)) + out.slice(p);
    } else {
      out = out.slice(0, p) + String.fromCharCode(Math.floor(random() * 128)) + out.slice(p + 1);
    }
  }
  return out;
}

/** `count` cases from the seeds, each with the seed that made it. */
export function cases(seeds: readonly string[], count: number, seed: number): Array<{ seed: number; input: string }> {
  return Array.from({ length: count }, (_, i) => {
    const s = seed + i;
    const random = seededRandom(s);
    return { seed: s, input: mutate(seeds[Math.floor(random() * seeds.length)]!, random) };
  });
}
