import assert from 'node:assert/strict';
import { it } from 'node:test';
import { PORTS_NEED_PROTOCOL } from '../../src/api/v1alpha1/policy-rules.js';

// The one statement of the rule the policy check, the renderers and (as CEL) the CRD share.
const cases: Array<{ rule: { ports?: unknown[]; protocol?: string }; violated: boolean }> = [
  { rule: {}, violated: false },
  { rule: { protocol: 'tcp' }, violated: false },
  { rule: { ports: [80], protocol: 'udp' }, violated: false },
  { rule: { ports: [] }, violated: false },
  { rule: { ports: [80] }, violated: true },
  { rule: { ports: ['8000-8100', 443] }, violated: true },
];
for (const c of cases) it(JSON.stringify(c.rule), () => assert.equal(PORTS_NEED_PROTOCOL.violatedBy(c.rule), c.violated));
