// Multiset difference of rule lines: a duplicated line counts as extra.

export function linesMissingFrom(actual: string[], wanted: string[]): string[] {
  const left = new Map<string, number>();
  for (const line of actual) left.set(line, (left.get(line) ?? 0) + 1);
  return wanted.filter((line) => {
    const n = left.get(line) ?? 0;
    if (n === 0) return true;
    left.set(line, n - 1);
    return false;
  });
}
