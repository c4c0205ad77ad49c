// The desired set the committed fixtures were captured with (see fixtures/README.md).
import type { NotrackDesired } from '../../src/kernel/notrack/backend.js';

export const SAMPLE_DESIRED: NotrackDesired = {
  acceptUntracked: true,
  rules: [
    { name: 'loopback', interface: 'lo', direction: 'both' },
    {
      name: 'web',
      protocol: 'tcp',
      ports: [
        { from: 80, to: 80 },
        { from: 443, to: 443 },
        { from: 8000, to: 8100 },
      ],
      direction: 'inbound',
    },
    { name: 'dns-out', protocol: 'udp', ports: [{ from: 53, to: 53 }], destinations: ['10.96.0.10/32', 'fd00::10/128'], direction: 'outbound' },
  ],
};
