// Data output for -o json|yaml. js-yaml is loaded only when YAML is asked for.

export async function renderData(data: unknown, format: 'json' | 'yaml'): Promise<string> {
  if (format === 'json') return `${JSON.stringify(data, null, 2)}\n`;
  const { dump } = await import('js-yaml');
  // skipInvalid: undefined fields are left out, as JSON.stringify does.
  return dump(data, { noRefs: true, lineWidth: -1, skipInvalid: true });
}
