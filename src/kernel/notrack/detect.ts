// Which backend this host uses, decided as kubernetes-sigs/iptables-wrappers
// does: kubelet's hint chains (KUBE-IPTABLES-HINT / KUBE-KUBELET-CANARY) in
// one mode's rules decide; without them the mode holding more rules wins (the
// wrapper's older rule count), ties going to nft. A host with no iptables
// tools at all but with nft gets the nftables backend. All failures are
// best effort: a missing tool or a failing save counts as "no rules there".
import type { CommandRunner } from '../command-runner.js';
import type { NotrackBackend, NotrackBackendName } from './backend.js';
import type { CreatedObjects } from './created-objects.js';
import { IptablesBackend } from './iptables-backend.js';
import { NftablesBackend } from './nft-backend.js';
import { readLegacyTables, type ProcNetReader } from '../legacy-tables.js';

const KUBELET_CHAINS = /^:(KUBE-IPTABLES-HINT|KUBE-KUBELET-CANARY)\b/m;

interface SaveOutput {
  found: boolean;
  text: string;
}

async function tryRun(runner: CommandRunner, cmd: string, args: string[]): Promise<SaveOutput> {
  try {
    const result = await runner.run(cmd, args);
    return { found: true, text: result.code === 0 ? result.stdout : '' };
  } catch {
    return { found: false, text: '' }; // ENOENT: the tool is not installed
  }
}

async function saveBoth(runner: CommandRunner, mode: 'nft' | 'legacy'): Promise<SaveOutput> {
  const v4 = await tryRun(runner, `iptables-${mode}-save`, []);
  const v6 = await tryRun(runner, `ip6tables-${mode}-save`, []);
  return { found: v4.found || v6.found, text: `${v4.text}\n${v6.text}` };
}

function ruleCount(text: string): number {
  return text.split('\n').filter((l) => l.startsWith('-')).length;
}

export async function detectBackend(runner: CommandRunner): Promise<NotrackBackendName> {
  const nft = await saveBoth(runner, 'nft');
  if (KUBELET_CHAINS.test(nft.text)) return 'iptables-nft';
  const legacy = await saveBoth(runner, 'legacy');
  if (KUBELET_CHAINS.test(legacy.text)) return 'iptables-legacy';
  if (legacy.found && ruleCount(legacy.text) > ruleCount(nft.text)) return 'iptables-legacy';
  if (nft.found || legacy.found) return legacy.found && !nft.found ? 'iptables-legacy' : 'iptables-nft';
  return (await tryRun(runner, 'nft', ['--version'])).found ? 'nftables' : 'iptables-nft';
}

/** The tools, and /proc/net for the legacy tables that exist. */
export type NotrackHost = ProcNetReader & { runner: CommandRunner };

/** `created`: where iptables-nft records the tables and base chains it created (legacy tables cannot be removed, nftables uses its own table). */
export function createNotrackBackend(name: NotrackBackendName, host: NotrackHost, created?: CreatedObjects): NotrackBackend {
  switch (name) {
    case 'iptables-nft':
      return new IptablesBackend({ mode: 'nft', created }, host.runner);
    case 'iptables-legacy':
      return new IptablesBackend({ mode: 'legacy', tables: (family) => readLegacyTables(host, family) }, host.runner);
    case 'nftables':
      return new NftablesBackend(host.runner);
  }
}
