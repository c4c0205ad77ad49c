// Counts as every report prints them: a whole number with comma thousands
// separators, whatever the machine's locale ("1,234,567"); "?" for not read.

export function countText(v: number | null | undefined): string {
  return v === null || v === undefined ? '?' : Math.round(v).toLocaleString('en-US');
}
