import { test } from 'node:test';
import assert from 'node:assert/strict';
import { HostPaths } from '../../src/kernel/host-paths.js';
import { readLegacyTables } from '../../src/kernel/legacy-tables.js';
import { FakeKernel, type FakeFile } from '../support/fake-kernel.js';

const paths = new HostPaths({ procRoot: '/host/proc', sysRoot: '/host/sys' });

const cases: { name: string; files: Record<string, string | FakeFile>; family: 'ipv4' | 'ipv6'; want: string[] | RegExp }[] = [
  { name: 'the tables listed, one a line', files: { '/host/proc/net/ip_tables_names': 'filter\nraw\n' }, family: 'ipv4', want: ['filter', 'raw'] },
  {
    name: 'ipv6 reads its own list',
    files: { '/host/proc/net/ip_tables_names': 'raw\n', '/host/proc/net/ip6_tables_names': 'nat\n' },
    family: 'ipv6',
    want: ['nat'],
  },
  { name: 'an empty list: the module is loaded, no table used', files: { '/host/proc/net/ip_tables_names': '' }, family: 'ipv4', want: [] },
  { name: 'no file: the legacy module is not loaded, so no table', files: {}, family: 'ipv4', want: [] },
  {
    name: 'an unreadable list is an error (what exists is unknown)',
    files: { '/host/proc/net/ip_tables_names': { content: 'raw\n', refuseRead: 'EACCES' } },
    family: 'ipv4',
    want: /EACCES/,
  },
];

for (const c of cases) {
  test(`readLegacyTables: ${c.name}`, async () => {
    const read = readLegacyTables({ files: new FakeKernel(c.files), paths }, c.family);
    if (c.want instanceof RegExp) await assert.rejects(read, c.want);
    else assert.deepEqual([...(await read)].sort(), c.want);
  });
}
