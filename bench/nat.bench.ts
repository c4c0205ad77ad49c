// What the NAT check costs on a node with 10,000 Services:
// `npm run bench -- nat` (root for parts 2 and 3; they skip without it).
// 1. Canned: a kube-proxy-shaped iptables nat table (the captured one's
//    shape, test/fixtures/kube-proxy-nat/: per Service a KUBE-SERVICES rule,
//    KUBE-SVC with two KUBE-SEP endpoints, every fourth a NodePort on
//    127.0.0.0/8 and the node address through KUBE-EXT) handed to the real
//    reader by a runner that answers from memory: the agent's own CPU for a
//    first pass (parse, walk, compare), an unchanged pass, a pass after one
//    endpoint changed.
// 2. The same table restored in a test namespace with iptables-nft-restore
//    (and in another with iptables-legacy-restore): the real reading, tools
//    included, measured by this file run again inside the namespace (its
//    tools, its /proc/net), as the agent runs on a node.
// 3. kube-proxy's nftables mode for 10,000 Services (the captured table's
//    shape: verdict maps service-ips and service-nodeports, a chain per
//    Service and per endpoint) loaded with nft -f: the real reading.
// Each prints CPU per reading, the reading cadence the budget sets (reading
// is spaced to NAT_READ_BUDGET_MS of CPU a minute), and CPU per minute at the
// default 30 s interval. CPU of the tools is counted from /proc/self/stat
// (children's time); this machine is shared, so read ratios, not absolutes.
// 4. In the namespaces of 2., the iptables NOTRACK backend's check of a
//    policy with one rule, as every pass makes it: now (iptables-save -t raw
//    and -t filter per family) and as it was up to 6f53011 (the whole
//    ruleset saved per family, nat included), whole-process CPU.
//    `npm run bench -- nat --only notrack` runs this part alone.
import { readFileSync } from 'node:fs';
import { execFileSync } from 'node:child_process';
import { fileURLToPath } from 'node:url';
import { realHost, type Host } from '../src/kernel/host.js';
import type { CommandResult, CommandRunner } from '../src/kernel/command-runner.js';
import { NatRulesReader } from '../src/kernel/nat/nat-reader.js';
import type { DesiredNotrackRule } from '../src/policy/types.js';
import { NAT_READ_BUDGET_MS, NatGuard } from '../src/reconcile/nat-guard.js';
import type { NotrackDesired } from '../src/kernel/notrack/backend.js';
import { createNotrackBackend } from '../src/kernel/notrack/detect.js';
import { diffIptables, ownedView, parseIptablesSave } from '../src/kernel/notrack/iptables-state.js';
import { renderIptablesChains } from '../src/kernel/notrack/render-iptables.js';
import { runChecked } from '../src/kernel/notrack/run-command.js';
import { realKernelSkipReason } from '../test/support/netns.js';
import { createNetns } from '../test/notrack/netns.js';

const SERVICES = 10_000;
const INTERVAL_S = 30;
const NODE_IP = '192.168.77.10';
const RULES: DesiredNotrackRule[] = [
  { name: 'loopback', interface: 'lo', direction: 'both' },
  { name: 'local-app', interface: 'lo', protocol: 'tcp', ports: [{ from: 31500, to: 31500 }], destinations: ['127.0.0.0/8'], direction: 'both' },
  {
    name: 'node-web',
    protocol: 'tcp',
    ports: [
      { from: 80, to: 80 },
      { from: 443, to: 443 },
    ],
    destinations: [`${NODE_IP}/32`],
    direction: 'inbound',
  },
];

/** `--only notrack`: part 4 alone. */
const NOTRACK_ONLY = process.argv.includes('notrack');
/** A policy with one NOTRACK rule. */
const ONE_RULE: NotrackDesired = { rules: RULES.slice(0, 1), acceptUntracked: false };

const print = (name: string, value: string | number): void => void process.stdout.write(`${name}: ${value}\n`);
const id = (prefix: string, i: number) => `${prefix}-${i.toString(36).toUpperCase().padStart(16, '0')}`;
const ip = (net: string, i: number) => `${net}.${(i >> 8) & 255}.${i & 255}`;
const nodePortOf = (i: number) => 30000 + ((i / 4) % 2768);

/** kube-proxy's iptables-mode nat table for n Services (two endpoints each, every fourth a NodePort). */
function iptablesModeTable(n: number, endpointShift = 0): string {
  const chains = ['KUBE-SERVICES', 'KUBE-NODEPORTS', 'KUBE-POSTROUTING', 'KUBE-MARK-MASQ'];
  const rules = [
    '-A PREROUTING -m comment --comment "kubernetes service portals" -j KUBE-SERVICES',
    '-A OUTPUT -m comment --comment "kubernetes service portals" -j KUBE-SERVICES',
    '-A POSTROUTING -m comment --comment "kubernetes postrouting rules" -j KUBE-POSTROUTING',
    '-A KUBE-MARK-MASQ -j MARK --set-xmark 0x4000/0x4000',
    '-A KUBE-POSTROUTING -m mark ! --mark 0x4000/0x4000 -j RETURN',
    '-A KUBE-POSTROUTING -j MARK --set-xmark 0x4000/0x0',
    '-A KUBE-POSTROUTING -m comment --comment "kubernetes service traffic requiring SNAT" -j MASQUERADE --random-fully',
  ];
  const services: string[] = [];
  for (let i = 0; i < n; i++) {
    const name = `ns${i % 50}/svc-${i}:http`;
    const svc = id('KUBE-SVC', i);
    const vip = ip('10.96', i);
    services.push(`-A KUBE-SERVICES -d ${vip}/32 -p tcp -m comment --comment "${name} cluster IP" -m tcp --dport 80 -j ${svc}`);
    chains.push(svc);
    rules.push(`-A ${svc} ! -s 10.244.0.0/16 -d ${vip}/32 -p tcp -m comment --comment "${name} cluster IP" -m tcp --dport 80 -j KUBE-MARK-MASQ`);
    for (const e of [0, 1]) {
      const sep = id(`KUBE-SEP${e}`, i);
      const ep = ip(e === 0 ? '10.244' : '10.245', i + (e === 0 ? endpointShift : 0));
      chains.push(sep);
      rules.push(
        e === 0
          ? `-A ${svc} -m comment --comment "${name} -> ${ep}:8080" -m statistic --mode random --probability 0.50000000000 -j ${sep}`
          : `-A ${svc} -m comment --comment "${name} -> ${ep}:8080" -j ${sep}`,
        `-A ${sep} -s ${ep}/32 -m comment --comment "${name}" -j KUBE-MARK-MASQ`,
        `-A ${sep} -p tcp -m comment --comment "${name}" -m tcp -j DNAT --to-destination ${ep}:8080`,
      );
    }
    if (i % 4 === 0) {
      const ext = id('KUBE-EXT', i);
      chains.push(ext);
      rules.push(
        `-A KUBE-NODEPORTS -d 127.0.0.0/8 -p tcp -m comment --comment "${name}" -m tcp --dport ${nodePortOf(i)} -j ${ext}`,
        `-A KUBE-NODEPORTS -p tcp -m comment --comment "${name}" -m tcp --dport ${nodePortOf(i)} -j ${ext}`,
        `-A ${ext} -m comment --comment "masquerade traffic for ${name} external destinations" -j KUBE-MARK-MASQ`,
        `-A ${ext} -j ${svc}`,
      );
    }
  }
  services.push(
    '-A KUBE-SERVICES -m comment --comment "kubernetes service nodeports; NOTE: this must be the last rule in this chain" -m addrtype --dst-type LOCAL -j KUBE-NODEPORTS',
  );
  const builtins = [':PREROUTING ACCEPT [0:0]', ':INPUT ACCEPT [0:0]', ':OUTPUT ACCEPT [0:0]', ':POSTROUTING ACCEPT [0:0]'];
  return ['*nat', ...builtins, ...chains.map((c) => `:${c} - [0:0]`), ...rules, ...services, 'COMMIT', ''].join('\n');
}

/** kube-proxy's nftables-mode table for n Services, as nft -f reads it. */
function nftablesModeTable(n: number): string {
  const serviceIps: string[] = [];
  const nodePorts: string[] = [];
  const chains: string[] = [];
  for (let i = 0; i < n; i++) {
    const tag = i.toString(36).toUpperCase().padStart(8, '0');
    const svc = `service-${tag}-ns${i % 50}/svc-${i}/tcp/http`;
    const eps = [ip('10.244', i), ip('10.245', i)].map((ep) => ({ ep, chain: `endpoint-${tag}-ns${i % 50}/svc-${i}/tcp/http__${ep}/8080` }));
    serviceIps.push(`${ip('10.96', i)} . tcp . 80 : goto ${svc}`);
    for (const e of eps) chains.push(`chain ${e.chain} {\n ip saddr ${e.ep} jump mark-for-masquerade\n meta l4proto tcp dnat to ${e.ep}:8080\n}`);
    chains.push(
      `chain ${svc} {\n ip daddr ${ip('10.96', i)} tcp dport 80 ip saddr != 10.244.0.0/16 jump mark-for-masquerade\n numgen random mod 2 vmap { 0 : goto ${eps[0]!.chain}, 1 : goto ${eps[1]!.chain} }\n}`,
    );
    if (i % 4 === 0) {
      const ext = `external-${tag}-ns${i % 50}/svc-${i}/tcp/http`;
      nodePorts.push(`tcp . ${nodePortOf(i)} : goto ${ext}`);
      chains.push(`chain ${ext} {\n jump mark-for-masquerade\n goto ${svc}\n}`);
    }
  }
  return [
    'table ip kube-proxy {',
    ` set nodeport-ips { type ipv4_addr; elements = { ${NODE_IP} } }`,
    ` map service-ips { type ipv4_addr . inet_proto . inet_service : verdict; elements = { ${serviceIps.join(', ')} } }`,
    ` map service-nodeports { type inet_proto . inet_service : verdict; elements = { ${nodePorts.join(', ')} } }`,
    ' chain mark-for-masquerade {\n meta mark set meta mark | 0x00004000\n }',
    ' chain masquerading {\n meta mark & 0x00004000 == 0x00000000 return\n meta mark set meta mark ^ 0x00004000\n masquerade fully-random\n }',
    ...chains,
    ' chain services {\n ip daddr . meta l4proto . th dport vmap @service-ips\n ip daddr @nodeport-ips meta l4proto . th dport vmap @service-nodeports\n }',
    ' chain nat-prerouting {\n type nat hook prerouting priority dstnat; policy accept;\n jump services\n }',
    ' chain nat-output {\n type nat hook output priority -100; policy accept;\n jump services\n }',
    ' chain nat-postrouting {\n type nat hook postrouting priority srcnat; policy accept;\n jump masquerading\n }',
    '}',
    '',
  ].join('\n');
}

/** CPU of this process and of its reaped children so far, in ms. */
function cpuMs(): number {
  const own = process.cpuUsage();
  const stat = readFileSync('/proc/self/stat', 'utf8');
  const f = stat.slice(stat.lastIndexOf(')') + 2).split(' ');
  return (own.user + own.system) / 1000 + (Number(f[13]) + Number(f[14])) * 10;
}

/** The canned node's routing table: 127.0.0.0/8 and its address. */
const CANNED_FIB_TRIE = 'Local:\n  +-- 0.0.0.0/0 2 0 2\n     |-- 127.0.0.0\n        /8 host LOCAL\n     |-- 192.168.77.10\n        /32 host LOCAL\n';

/** One NAT check as a pass makes it: read (or reuse) the rules, judge the policy's rules. */
async function pass(guard: NatGuard): Promise<{ ms: number; withheld: string[] }> {
  const before = cpuMs();
  const j = await guard.judge(RULES);
  return { ms: cpuMs() - before, withheld: j.withheld.map((w) => w.rule) };
}

/** Per minute at the default interval: every pass re-reads while reading costs little, else as the budget allows. */
function perMinute(readMs: number): string {
  const everySeconds = Math.max(INTERVAL_S, (readMs * 60) / NAT_READ_BUDGET_MS);
  return `${Math.round((readMs * 60) / everySeconds)} ms CPU a minute (a reading every ${everySeconds.toFixed(0)} s)`;
}

// ---- 1. canned ----
async function canned(): Promise<void> {
  let text = iptablesModeTable(SERVICES);
  const runner: CommandRunner = {
    run: async (cmd): Promise<CommandResult> => {
      if (cmd === 'iptables-nft-save') return { code: 0, stdout: text, stderr: '' };
      if (cmd === 'ip6tables-nft-save') return { code: 0, stdout: '*nat\n:PREROUTING ACCEPT [0:0]\nCOMMIT\n', stderr: '' };
      throw Object.assign(new Error(`spawn ${cmd} ENOENT`), { code: 'ENOENT' });
    },
    streamChunks: () => {
      throw new Error('not used');
    },
  };
  const real = realHost({ procRoot: '/proc', sysRoot: '/sys' }, false);
  const files = { ...real.files, read: async (p: string) => (p.endsWith('fib_trie') ? CANNED_FIB_TRIE : real.files.read(p)) };
  const host: Host = { ...real, files, runner };
  // A clock an hour on at every look: each pass reads afresh (the canned tool costs nothing, only our own work counts).
  let now = 0;
  const guard = new NatGuard(new NatRulesReader(host), { clock: () => (now += 3_600_000) });
  print(
    'iptables mode, canned',
    `${SERVICES} Services, ${text.split('\n').filter((l) => l.startsWith('-A')).length} rules, ${(text.length / 1e6).toFixed(1)} MB`,
  );
  const first = await pass(guard);
  print('  first pass (parse, walk, judge)', `${first.ms.toFixed(0)} ms CPU; withheld: ${first.withheld.join(', ')}`);
  const steady: number[] = [];
  for (let i = 0; i < 5; i++) steady.push((await pass(guard)).ms);
  print('  unchanged pass (hash the text, reuse)', `${steady.map((m) => m.toFixed(0)).join(' / ')} ms CPU`);
  const changed: number[] = [];
  for (let i = 1; i <= 3; i++) {
    text = iptablesModeTable(SERVICES, i * 7);
    changed.push((await pass(guard)).ms);
  }
  print('  pass after an endpoint changed (all again)', `${changed.map((m) => m.toFixed(0)).join(' / ')} ms CPU`);
}

// ---- 2. and 3. the real tools in test namespaces ----
/** CPU (ms, this process and its children) of each of `runs` calls of fn, as min / median / max. */
async function cpuOf(runs: number, fn: () => Promise<unknown>): Promise<number[]> {
  const costs: number[] = [];
  for (let i = 0; i < runs; i++) {
    const before = cpuMs();
    await fn();
    costs.push(cpuMs() - before);
  }
  return costs.sort((a, b) => a - b);
}

/** 4.: the NOTRACK check as it is and as it was (a whole save per family, then the same parse and compare). */
async function measureNotrackCheck(label: string, mode: 'nft' | 'legacy'): Promise<void> {
  const host = realHost({ procRoot: '/proc', sysRoot: '/sys' }, true);
  const backend = createNotrackBackend(`iptables-${mode}`, host);
  await backend.sync(ONE_RULE);
  const wholeSaveCheck = async (): Promise<void> => {
    for (const family of ['ipv4', 'ipv6'] as const) {
      const tool = `${family === 'ipv4' ? 'iptables' : 'ip6tables'}-${mode}-save`;
      const { saved } = ownedView(parseIptablesSave((await runChecked(host.runner, tool, [])).stdout));
      const diff = diffIptables(saved, renderIptablesChains(ONE_RULE, family), family);
      if (diff.missing.length + diff.extra.length > 0) throw new Error(`${tool}: not in sync after sync`);
    }
  };
  const before = await cpuOf(3, wholeSaveCheck);
  const after = await cpuOf(3, async () => {
    if (!(await backend.check(ONE_RULE)).inSync) throw new Error('not in sync after sync');
  });
  await backend.remove();
  const show = (c: number[]) => `${c.map((m) => m.toFixed(0)).join(' / ')} ms CPU (min/median/max)`;
  print(`  ${label}: NOTRACK check, 1 rule, whole ruleset saved (up to 6f53011)`, show(before));
  print(`  ${label}: NOTRACK check, 1 rule, raw + filter saved (now)`, show(after));
  const perMin = (ms: number) => `${Math.round((ms * 60) / INTERVAL_S)} ms CPU a minute (${((ms / INTERVAL_S / 1000) * 100).toFixed(1)}% of a core)`;
  print(`  ${label}: NOTRACK check every ${INTERVAL_S} s, before -> now`, `${perMin(before[1]!)} -> ${perMin(after[1]!)}`);
}

/** Runs inside a test namespace (as the agent would on the node): its tools, its /proc/net. */
async function measureHere(label: string): Promise<void> {
  if (label.startsWith('iptables-')) await measureNotrackCheck(label, label === 'iptables-legacy' ? 'legacy' : 'nft');
  if (NOTRACK_ONLY) return;
  // A clock an hour on at every look: each pass reads afresh (the agent would wait for the budget).
  let now = 0;
  const guard = new NatGuard(new NatRulesReader(realHost({ procRoot: '/proc', sysRoot: '/sys' }, true)), { clock: () => (now += 3_600_000) });
  const first = await pass(guard);
  print(`  ${label}: first reading (tools, parse, walk, judge)`, `${first.ms.toFixed(0)} ms CPU; withheld: ${first.withheld.join(', ') || 'none'}`);
  const costs: number[] = [];
  for (let i = 0; i < 3; i++) costs.push((await pass(guard)).ms);
  const sorted = [...costs].sort((a, b) => a - b);
  print(`  ${label}: unchanged reading (tools, hash; min/median/max)`, `${sorted.map((c) => c.toFixed(0)).join(' / ')} ms CPU`);
  print(`  ${label}: at a ${INTERVAL_S} s interval, unchanged`, perMinute(sorted[1]!));
  print(`  ${label}: at a ${INTERVAL_S} s interval, changing every pass`, perMinute(first.ms));
}

function realTools(): void {
  const skip = realKernelSkipReason(['ip', 'nft', 'iptables-nft-restore', 'iptables-legacy-restore']);
  if (skip) {
    print('real tools', `skipped: ${skip}`);
    return;
  }
  const self = fileURLToPath(import.meta.url);
  const inside = (ns: string, label: string) =>
    execFileSync('ip', ['netns', 'exec', ns, process.execPath, '--import', 'tsx', self, 'measure', label, ...(NOTRACK_ONLY ? ['notrack'] : [])], {
      stdio: 'inherit',
      timeout: 1_800_000,
    });
  const node = (ns: ReturnType<typeof createNetns>) =>
    ns.sh(`ip link add eth0 type veth peer name peer0\nip addr add ${NODE_IP}/24 dev eth0\nip link set eth0 up\nip link set peer0 up`);
  const load = (ns: string, cmd: string[], input: string) => execFileSync('ip', ['netns', 'exec', ns, ...cmd], { input, timeout: 1_800_000 });

  print('iptables mode, real tools', `${SERVICES} Services`);
  for (const mode of ['nft', 'legacy'] as const) {
    const ns = createNetns(`bench-nat-${mode}`);
    try {
      node(ns);
      load(ns.name, [`iptables-${mode}-restore`], iptablesModeTable(SERVICES));
      inside(ns.name, `iptables-${mode}`);
    } finally {
      ns.destroy();
    }
  }
  if (NOTRACK_ONLY) return;
  print('nftables mode, real tools', `${SERVICES} Services`);
  const ns = createNetns('bench-nat-nftables');
  try {
    node(ns);
    load(ns.name, ['nft', '-f', '-'], nftablesModeTable(SERVICES));
    inside(ns.name, 'nftables');
  } finally {
    ns.destroy();
  }
}

if (process.argv[2] === 'measure') await measureHere(process.argv[3] ?? '');
else {
  if (!NOTRACK_ONLY) await canned();
  realTools();
}
