import assert from 'node:assert/strict';
import { readdirSync, readFileSync } from 'node:fs';
import { join } from 'node:path';
import { describe, it } from 'node:test';
import { renderIptablesChains } from '../../src/kernel/notrack/render-iptables.js';
import { effectivePolicy } from '../../src/policy/effective.js';
import { formatPolicyErrors, parsePolicyDocuments } from '../../src/policy/load.js';

const DIR = join(import.meta.dirname, '..', '..', 'examples');
const files = readdirSync(DIR).filter((f) => f.endsWith('.yaml'));

describe('examples/', () => {
  it('has the documented examples', () => {
    for (const name of ['policy.yaml', 'nginx-loopback-upstreams.yaml', 'edge-node.yaml', 'nat-gateway.yaml', 'node-local-dns.yaml']) {
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

  // An untracked packet skips the nat table, and every Kubernetes node NATs some of its own traffic (localhost NodePorts on lo).
  for (const file of files) {
    it(`${file}: a policy that selects every node untracks nothing`, () => {
      const result = parsePolicyDocuments(readFileSync(join(DIR, file), 'utf8'), file);
      assert.ok('policies' in result);
      for (const p of result.policies.filter((p) => !p.spec.nodeSelector)) assert.deepEqual(p.spec.notrack ?? [], [], `${p.metadata.name} selects every node`);
    });
  }

  it("node-local-dns.yaml renders NodeLocal DNSCache's raw rules for 169.254.20.10:53, UDP and TCP", () => {
    const result = parsePolicyDocuments(readFileSync(join(DIR, 'node-local-dns.yaml'), 'utf8'), 'node-local-dns.yaml');
    assert.ok('policies' in result);
    const { desired } = effectivePolicy(
      result.policies,
      { 'node.example.com/node-local-dns': 'true' },
      { serviceCidrs: ['10.96.0.0/12'], podCidrs: ['10.244.0.0/16'] },
    );
    const chains = renderIptablesChains({ rules: desired.notrack, acceptUntracked: desired.acceptUntracked }, 'ipv4');
    const matches = (chain: string) => (chains.get(chain) ?? []).map((l) => l.replace(/ -m comment --comment \S+/g, '').replace(/^-A \S+ /, ''));
    for (const proto of ['udp', 'tcp']) {
      // k8s.io/dns cmd/node-cache: PREROUTING -d IP --dport 53, OUTPUT -s IP --sport 53, OUTPUT -d IP --dport 53.
      assert.ok(matches('CTOP-NOTRACK-PRE').includes(`-d 169.254.20.10/32 -p ${proto} -m multiport --dports 53 -j CT --notrack`), proto);
      assert.ok(matches('CTOP-NOTRACK-OUT').includes(`-s 169.254.20.10/32 -p ${proto} -m multiport --sports 53 -j CT --notrack`), proto);
      assert.ok(matches('CTOP-NOTRACK-OUT').includes(`-d 169.254.20.10/32 -p ${proto} -m multiport --dports 53 -j CT --notrack`), proto);
    }
    assert.ok(chains.has('CTOP-ACCEPT-UNTRACKED'));
  });

  it('policy.yaml is DryRun (npm start must change nothing)', () => {
    const result = parsePolicyDocuments(readFileSync(join(DIR, 'policy.yaml'), 'utf8'), 'policy.yaml');
    assert.ok('policies' in result);
    assert.ok(result.policies.every((p) => p.spec.mode === 'DryRun'));
  });
});
