// A generated proc tree in a temp dir for the benches that walk /proc (read
// with --proc-root): `pids` pids in `namespaces` namespaces, laid out as /proc
// is: every pid's `net` a symlink to its namespace's one directory (so
// net/stat is one inode per namespace, what the census keys by) holding
// net/stat/nf_conntrack (this kernel's file, 2 CPUs), ns/net a real symlink
// whose target is "net:[inode]" (as readlink on /proc returns), cgroup (a
// kubelet systemd-driver path) and comm (pid 2 is kube-proxy, pid 3 kubelet);
// self is pid 1; the conntrack sysctls, slabinfo, meminfo and osrelease as a
// node has them.
import { mkdirSync, readFileSync, symlinkSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';

const FIRST_INODE = 4026532000;
const STAT_FILE = readFileSync(fileURLToPath(new URL('../../test/fixtures/with-table/proc/self/net/stat/nf_conntrack', import.meta.url)), 'utf8');

/** pid p (1-based) lives in namespace p % namespaces; pid 1 in the host's. The tree's proc root is <dir>/proc. */
export function generateProcTree(dir: string, pids: number, namespaces: number): void {
  for (let ns = 0; ns < namespaces; ns++) {
    mkdirSync(join(dir, 'netns', String(ns), 'stat'), { recursive: true });
    writeFileSync(join(dir, 'netns', String(ns), 'stat/nf_conntrack'), STAT_FILE);
  }
  for (let p = 1; p <= pids; p++) {
    const pidDir = join(dir, 'proc', String(p));
    mkdirSync(join(pidDir, 'ns'), { recursive: true });
    const ns = p === 1 ? 0 : p % namespaces;
    symlinkSync(`../../netns/${ns}`, join(pidDir, 'net'));
    symlinkSync(`net:[${FIRST_INODE + ns}]`, join(pidDir, 'ns/net'));
    const uid = `0f3b0c1e_7a2d_4c55_9a8e_${String(ns).padStart(12, '0')}`;
    writeFileSync(
      join(pidDir, 'cgroup'),
      ns === 0 ? '0::/init.scope\n' : `0::/kubepods.slice/kubepods-burstable.slice/kubepods-burstable-pod${uid}.slice/cri-containerd-${p}.scope\n`,
    );
    writeFileSync(join(pidDir, 'comm'), p === 2 ? 'kube-proxy\n' : p === 3 ? 'kubelet\n' : 'pause\n');
  }
  symlinkSync('1', join(dir, 'proc/self'));
  const netfilter = join(dir, 'proc/sys/net/netfilter');
  mkdirSync(netfilter, { recursive: true });
  for (const [key, value] of Object.entries({ nf_conntrack_count: 100, nf_conntrack_max: 262144, nf_conntrack_buckets: 65536 })) {
    writeFileSync(join(netfilter, key), `${value}\n`);
  }
  mkdirSync(join(dir, 'proc/sys/kernel'), { recursive: true });
  writeFileSync(join(dir, 'proc/sys/kernel/osrelease'), '6.18.0\n');
  writeFileSync(join(dir, 'proc/meminfo'), 'MemTotal:       16318252 kB\n');
  writeFileSync(
    join(dir, 'proc/slabinfo'),
    'slabinfo - version: 2.1\nnf_conntrack        100    112    256   16    1 : tunables    0    0    0 : slabdata      7      7      0\n',
  );
}
