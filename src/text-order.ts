// One order for names and keys in everything we print and apply: by UTF-16
// code unit, as `[].sort()` orders, the same on every machine. Not
// localeCompare: that asks ICU for the locale's collation, which depends on the
// locale and costs the agent about 4 MB of resident memory (ICU's collation
// tables, paged in from the node binary) for names that are ASCII anyway.
export function compareText(a: string, b: string): number {
  return a < b ? -1 : a > b ? 1 : 0;
}
