// /readyz of the agent: ready only when it knows and enforces its policies.
import assert from 'node:assert/strict';
import { test } from 'node:test';
import { readinessProblem, type ReadinessInputs } from '../../src/agent/readiness.js';

test('readiness: first pass done, policies known, last pass fine', () => {
  const ready: ReadinessInputs = { passesDone: 3, policiesKnown: true, lastPassError: null };
  const cases: Array<{ name: string; inputs: ReadinessInputs; problem: RegExp | null }> = [
    { name: 'all good', inputs: ready, problem: null },
    { name: 'before the first pass', inputs: { ...ready, passesDone: 0 }, problem: /first reconcile pass has not finished/ },
    {
      name: 'before the first pass, policies unknown too: the first reason',
      inputs: { ...ready, passesDone: 0, policiesKnown: false },
      problem: /first reconcile pass/,
    },
    { name: 'every API call refused, no stored copy', inputs: { ...ready, policiesKnown: false }, problem: /policies are not known.*no stored copy/ },
    {
      name: 'the host could not be read',
      inputs: { ...ready, lastPassError: 'EACCES: /host/proc/sys/net/netfilter' },
      problem: /last reconcile pass failed: EACCES: \/host\/proc/,
    },
  ];
  for (const c of cases) {
    const got = readinessProblem(c.inputs);
    if (c.problem === null) assert.equal(got, null, c.name);
    else assert.match(got ?? '', c.problem, c.name);
  }
});
