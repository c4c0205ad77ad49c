// Counts as every report prints them: a whole number with comma thousands
// separators, whatever the machine's locale ("1,234,567"); "?" for not read.
// Grouped by hand, not toLocaleString: that loads ICU's number formatting
// (about 7 MB of resident memory in the agent) for a comma every three digits.

export function countText(v: number | null | undefined): string {
  return v === null || v === undefined ? '?' : String(Math.round(v)).replace(/\B(?=(\d{3})+$)/g, ',');
}
