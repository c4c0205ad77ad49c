// Values and rules of the ConntrackPolicy API that code outside the schema
// uses too, kept apart from policy.ts so that using them loads no zod (the
// doctor and --help stay light: test/cli/lazy-loading.test.ts).

/** Dot-separated DNS labels, as metadata.name and label key prefixes must be (kube-apiserver refuses "a..b"). */
export const DNS_SUBDOMAIN = /^[a-z0-9]([-a-z0-9]*[a-z0-9])?(\.[a-z0-9]([-a-z0-9]*[a-z0-9])?)*$/;

/** The thresholds where a policy sets none, or no policy applies. */
export const DEFAULT_PRESSURE = { warningPercent: 70, criticalPercent: 90 } as const;

/**
 * Ports mean nothing without tcp or udp. One statement of the rule for the
 * CRD (CEL, the API server refuses the object), the policy check and the
 * renderers (which never see such a rule once the policy was checked).
 */
export const PORTS_NEED_PROTOCOL = {
  cel: '!has(self.ports) || has(self.protocol)',
  message: 'protocol is required when ports are given',
  violatedBy: (rule: { ports?: readonly unknown[] | undefined; protocol?: unknown }): boolean => (rule.ports?.length ?? 0) > 0 && rule.protocol === undefined,
};
