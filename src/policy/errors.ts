// Policy errors: each names the policy (or the document), the field path and
// the reason, so a user can fix every problem in one pass.

export interface PolicyError {
  /** metadata.name when the document has one. */
  policy?: string;
  /** Where the policy came from (file name, or "api"). */
  source?: string;
  /** 1-based document index within the source; used when there is no name. */
  document?: number;
  /** Field path such as "spec.timeouts.tcp.established"; "" for the document itself. */
  path: string;
  message: string;
}

/** One line per error: "policy.yaml: web-nodes: spec.timeouts.tcp.established: must be ...". */
export function formatPolicyErrors(errors: readonly PolicyError[]): string {
  return errors
    .map((e) => {
      const who = e.policy ?? (e.document !== undefined ? `document ${e.document}` : undefined);
      return [e.source, who, e.path, e.message].filter((part) => part !== undefined && part !== '').join(': ');
    })
    .join('\n');
}

/** "spec.notrack[0].ports[1]" from a path of keys and indexes. */
export function formatPath(path: readonly PropertyKey[]): string {
  return path.map((part, i) => (typeof part === 'number' ? `[${part}]` : `${i === 0 ? '' : '.'}${String(part)}`)).join('');
}
