import assert from 'node:assert/strict';
import { readdirSync, readFileSync } from 'node:fs';
import { join } from 'node:path';
import { describe, it } from 'node:test';
import { effectivePolicy } from '../../src/policy/effective.js';
import { formatPolicyErrors, parsePolicyDocuments } from '../../src/policy/load.js';

const DIR = join(import.meta.dirname, '..', '..', 'examples');
const files = readdirSync(DIR).filter((f) => f.endsWith('.yaml'));

describe('examples/', () => {
  it('has the documented examples', () => {
    for (const name of ['policy.yaml', 'nginx-loopback-upstreams.yaml', 'edge-node.yaml', 'nat-gateway.yaml']) {
      assert.ok(files.includes(name), `examples/${name} is missing`);
    }
  });

  for (const file of files) {
    it(`${file} validates and applies without refusals on a 16 GiB Kubernetes node`, () => {
      const result = parsePolicyDocuments(readFileSync(join(DIR, file), 'utf8'), file);
      assert.ok('policies' in result, 'errors' in result ? formatPolicyErrors(result.errors) : '');
      assert.ok(result.policies.length > 0);
      // Selectors cleared: every policy of the file is evaluated on this node.
      const all = effectivePolicy(
        result.policies.map((p) => ({ ...p, spec: { ...p.spec, nodeSelector: undefined } })),
        {},
        { memTotalBytes: 16 * 1024 ** 3, slabObjectSize: 320, serviceCidrs: ['10.96.0.0/12'], podCidrs: ['10.244.0.0/16'] },
      );
      assert.deepEqual(all.refused, [], JSON.stringify(all.refused));
      assert.deepEqual(all.conflicts, []);
    });
  }

  it('policy.yaml is DryRun (npm start must change nothing)', () => {
    const result = parsePolicyDocuments(readFileSync(join(DIR, 'policy.yaml'), 'utf8'), 'policy.yaml');
    assert.ok('policies' in result);
    assert.ok(result.policies.every((p) => p.spec.mode === 'DryRun'));
  });
});
