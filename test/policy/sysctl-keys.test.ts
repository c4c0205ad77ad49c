import assert from 'node:assert/strict';
import { execFileSync } from 'node:child_process';
import { describe, it } from 'node:test';
import { SAFE_FLOORS } from '../../src/policy/guardrails.js';
import { TcpTimeouts, Timeouts, UdpTimeouts } from '../../src/api/v1alpha1/policy.js';
import { KERNEL_DEFAULT_TIMEOUTS, kubeProxyWrites, TIMEOUT_SYSCTLS } from '../../src/policy/sysctl-keys.js';

describe('sysctl keys', () => {
  it('every timeout field of the schema has a sysctl key', () => {
    const fields = [
      ...Object.keys(TcpTimeouts.shape).map((k) => `tcp.${k}`),
      ...Object.keys(UdpTimeouts.shape).map((k) => `udp.${k}`),
      ...Object.keys(Timeouts.shape).filter((k) => !['tcp', 'udp', 'allowBelowSafeFloor'].includes(k)),
    ];
    assert.deepEqual(fields.sort(), Object.keys(TIMEOUT_SYSCTLS).sort());
  });

  it('every timeout key has a kernel default, and every safe floor is below it', () => {
    assert.deepEqual(Object.values(TIMEOUT_SYSCTLS).sort(), Object.keys(KERNEL_DEFAULT_TIMEOUTS).sort());
    for (const [key, floor] of Object.entries(SAFE_FLOORS)) {
      assert.ok(floor.seconds < KERNEL_DEFAULT_TIMEOUTS[key]!, `${key}: floor ${floor.seconds} >= default`);
    }
  });

  it('names kube-proxy for the keys it writes, and not for the others', () => {
    const cases: Array<[string, boolean]> = [
      ['nf_conntrack_max', true],
      ['nf_conntrack_tcp_timeout_established', true],
      ['nf_conntrack_tcp_timeout_close_wait', true],
      ['nf_conntrack_tcp_be_liberal', true],
      ['hashsize', true],
      ['nf_conntrack_buckets', true],
      ['nf_conntrack_tcp_timeout_time_wait', false],
      ['nf_conntrack_icmp_timeout', false],
    ];
    for (const [key, want] of cases) assert.equal(kubeProxyWrites(key), want, key);
  });
});

describe('kernel defaults, on the real kernel', () => {
  const root = process.getuid?.() === 0;
  let ipFound = true;
  try {
    execFileSync('ip', ['-V'], { stdio: 'ignore' });
  } catch {
    ipFound = false;
  }
  const skip = !root ? 'needs root (ip netns add)' : !ipFound ? 'ip (iproute2) not installed' : false;

  it('a fresh network namespace starts at KERNEL_DEFAULT_TIMEOUTS', { skip }, (t) => {
    const ns = `ctop-defaults-${process.pid}`;
    execFileSync('ip', ['netns', 'add', ns]);
    try {
      const keys = Object.keys(KERNEL_DEFAULT_TIMEOUTS);
      const out = execFileSync(
        'ip',
        ['netns', 'exec', ns, 'sh', '-c', 'cd /proc/sys/net/netfilter && for k in "$@"; do echo "$k=$(cat "$k" 2>/dev/null)"; done', 'sh', ...keys],
        {
          encoding: 'utf8',
        },
      );
      const found = Object.fromEntries(
        out
          .trim()
          .split('\n')
          .map((line) => line.split('=') as [string, string]),
      );
      if (Object.values(found).every((v) => v === '')) return t.skip('nf_conntrack is not loaded');
      for (const key of keys) {
        if (found[key] === '') continue; // not on this kernel: the set differs by version
        assert.equal(Number(found[key]), KERNEL_DEFAULT_TIMEOUTS[key], key);
      }
    } finally {
      execFileSync('ip', ['netns', 'del', ns]);
    }
  });
});
