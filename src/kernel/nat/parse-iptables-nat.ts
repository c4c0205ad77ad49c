// Pure: the nat table of an `iptables-save -t nat` dump (iptables-nft or
// iptables-legacy, v4 or v6) in the shape of nat-rules.ts. Matches it does
// not know become `unknown` (may match any packet); see nat-rules.ts.
import type { PortRange } from '../../policy/types.js';
import type { IpFamily } from '../notrack/packet-matches.js';
import type { InterfaceName, NatAction, NatChain, NatHook, NatMatch, NatRule, NatSourceName, NatTable, NatTranslation } from './nat-rules.js';

const BASE_CHAINS: Readonly<Record<string, NatHook>> = { PREROUTING: 'prerouting', INPUT: 'input', OUTPUT: 'output', POSTROUTING: 'postrouting' };
const PORT_MODULES = new Set(['tcp', 'udp', 'sctp', 'dccp', 'udplite']);

export interface IptablesNatDump {
  /** The nat table; null when the dump has none. */
  table: NatTable | null;
  /**
   * iptables-nft-save found rules it cannot show ("# Table `nat' is
   * incompatible, use 'nft' tool."): what it printed is not the table, and
   * only nft can list it. It still exits 0.
   */
  incompatible: boolean;
}

/** Splits a rule line as the shell would: double-quoted words (with \" inside) are one token. */
export function splitRuleLine(line: string): string[] {
  // Most lines have no quotes (and kube-proxy writes tens of thousands): split them the fast way.
  if (!line.includes('"')) return line.split(' ').filter((t) => t !== '');
  const tokens: string[] = [];
  let i = 0;
  while (i < line.length) {
    if (line[i] === ' ') {
      i++;
      continue;
    }
    let token = '';
    while (i < line.length && line[i] !== ' ') {
      if (line[i] === '"') {
        i++;
        while (i < line.length && line[i] !== '"') {
          if (line[i] === '\\' && i + 1 < line.length) i++;
          token += line[i++];
        }
        i++;
      } else token += line[i++];
    }
    tokens.push(token);
  }
  return tokens;
}

interface OptionGroup {
  negated: boolean;
  option: string;
  args: string[];
}

/** "! --dport 80" and "-j DNAT --to-destination x" as option groups, each with the words that follow it. */
function groups(tokens: string[]): OptionGroup[] {
  const out: OptionGroup[] = [];
  let negate = false;
  for (const t of tokens) {
    if (t === '!') negate = true;
    else if (t.startsWith('-') && t.length > 1 && !/^-\d/.test(t)) {
      out.push({ negated: negate, option: t, args: [] });
      negate = false;
    } else out.at(-1)?.args.push(t);
  }
  return out;
}

function parsePort(text: string): PortRange | null {
  const m = /^(\d+)(?:[:-](\d+))?$/.exec(text);
  if (!m) return null;
  const from = Number(m[1]);
  return { from, to: m[2] === undefined ? from : Number(m[2]) };
}

function ports(list: string): PortRange[] | null {
  const out: PortRange[] = [];
  for (const p of list.split(',')) {
    const r = parsePort(p);
    if (!r) return null;
    out.push(r);
  }
  return out;
}

function interfaceName(text: string): InterfaceName {
  return text.endsWith('+') ? { name: text.slice(0, -1), prefix: true } : { name: text, prefix: false };
}

/** DNAT/SNAT --to-destination/--to-source: "a", "a-b", "a:p", "a:p-q", ":p", "[v6]:p", "v6". */
export function parseNatTo(text: string): NatTranslation {
  let addr = text;
  let port: string | undefined;
  const v6 = /^\[(.+)\](?::(.+))?$/.exec(text);
  if (v6) {
    addr = v6[1]!;
    port = v6[2];
  } else if ((text.match(/:/g) ?? []).length === 1) {
    [addr, port] = text.split(':') as [string, string];
  }
  const range = port === undefined ? null : parsePort(port);
  return { ...(addr ? { addresses: [addr] } : {}), ...(range ? { ports: range } : {}) };
}

function mergeTo(a: NatTranslation, b: NatTranslation): NatTranslation {
  const addresses = [...(a.addresses ?? []), ...(b.addresses ?? [])];
  return { ...(addresses.length ? { addresses } : {}), ...((a.ports ?? b.ports) ? { ports: a.ports ?? b.ports } : {}) };
}

/** A mark value "0x4000" or "0x4000/0x4000" (value/mask). */
function markValue(text: string): { value: number; mask: number } | null {
  const [v, m] = text.split('/');
  const value = Number(v);
  const mask = m === undefined ? 0xffffffff : Number(m);
  return Number.isFinite(value) && Number.isFinite(mask) ? { value, mask } : null;
}

const unknown = (g: OptionGroup, module?: string): NatMatch => ({
  kind: 'unknown',
  text: [module ? `-m ${module}` : '', g.negated ? '!' : '', g.option, ...g.args].filter(Boolean).join(' '),
});

/** One option of match module `module` (or a core option when undefined). */
function matchOf(g: OptionGroup, module: string | undefined): NatMatch | 'comment' | null {
  const neg = g.negated;
  const arg = g.args[0] ?? '';
  if (module === undefined) {
    switch (g.option) {
      case '-s':
      case '--source':
        return { kind: 'saddr', addresses: arg.split(','), negated: neg };
      case '-d':
      case '--destination':
        return { kind: 'daddr', addresses: arg.split(','), negated: neg };
      case '-i':
      case '--in-interface':
        return { kind: 'iif', names: [interfaceName(arg)], negated: neg };
      case '-o':
      case '--out-interface':
        return { kind: 'oif', names: [interfaceName(arg)], negated: neg };
      case '-p':
      case '--protocol':
        return arg === 'all' ? null : { kind: 'protocol', protocols: [arg.toLowerCase()], negated: neg };
      default:
        return unknown(g);
    }
  }
  if (PORT_MODULES.has(module) && /^--(d|s|destination-|source-)port$/.test(g.option)) {
    const r = ports(arg);
    const kind = g.option.startsWith('--d') ? 'dport' : 'sport';
    return r ? { kind, ports: r, negated: neg } : unknown(g, module);
  }
  if (module === 'multiport' && /^--(dports|sports|destination-ports|source-ports)$/.test(g.option)) {
    const r = ports(arg);
    const kind = g.option.startsWith('--d') ? 'dport' : 'sport';
    return r ? { kind, ports: r, negated: neg } : unknown(g, module);
  }
  if (module === 'addrtype' && /^--(src|dst)-type$/.test(g.option)) {
    // Only LOCAL alone is read: "LOCAL,BROADCAST" is more than the node's own addresses.
    if (arg !== 'LOCAL') return unknown(g, module);
    return { kind: 'local', field: g.option === '--src-type' ? 'saddr' : 'daddr', negated: neg };
  }
  // Narrows LOCAL to one interface's addresses: still a subset of them.
  if (module === 'addrtype' && /^--limit-iface-(in|out)$/.test(g.option)) return null;
  if (module === 'mark' && g.option === '--mark') {
    const m = markValue(arg);
    return m ? { kind: 'mark', ...m, negated: neg } : unknown(g, module);
  }
  if (module === 'iprange' && /^--(src|dst)-range$/.test(g.option)) {
    return { kind: g.option === '--src-range' ? 'saddr' : 'daddr', addresses: [arg], negated: neg };
  }
  if (module === 'comment') return 'comment';
  return unknown(g, module);
}

const NAT_TARGETS: Readonly<Record<string, 'dnat' | 'snat' | 'masquerade' | 'redirect'>> = {
  DNAT: 'dnat',
  SNAT: 'snat',
  MASQUERADE: 'masquerade',
  REDIRECT: 'redirect',
};

/** The target and its options as actions. */
function targetActions(jump: OptionGroup, options: OptionGroup[], chains: Set<string>): NatAction[] {
  const target = jump.args[0] ?? '';
  const opt = (name: string) => options.filter((o) => o.option === name).map((o) => o.args[0] ?? '');
  if (chains.has(target)) return [{ kind: jump.option === '-g' || jump.option === '--goto' ? 'goto' : 'jump', chain: target }];
  const nat = NAT_TARGETS[target];
  if (nat === 'dnat' || nat === 'snat') {
    const to = opt(nat === 'dnat' ? '--to-destination' : '--to-source')
      .map(parseNatTo)
      .reduce<NatTranslation>(mergeTo, {});
    return [{ kind: 'nat', nat, to }];
  }
  if (nat) {
    const p = opt('--to-ports')[0];
    const range = p === undefined ? null : parsePort(p.replace('-', ':'));
    return [{ kind: 'nat', nat, to: range ? { ports: range } : {} }];
  }
  if (target === 'NETMAP') {
    const to = opt('--to')[0];
    return [{ kind: 'nat', nat: 'netmap', to: to ? { addresses: [to] } : {} }];
  }
  if (target === 'MARK') {
    for (const name of ['--set-xmark', '--set-mark', '--or-mark', '--xor-mark']) {
      const v = opt(name)[0];
      if (v !== undefined) {
        const m = markValue(v);
        return [{ kind: 'mark', bits: m ? m.value : 'unknown' }];
      }
    }
    return opt('--and-mark').length ? [] : [{ kind: 'mark', bits: 'unknown' }];
  }
  // CONNMARK --restore-mark copies the connection's mark (any bits) into the packet's.
  if (target === 'CONNMARK') return options.some((o) => o.option === '--restore-mark') ? [{ kind: 'mark', bits: 'unknown' }] : [];
  if (target === 'RETURN') return [{ kind: 'return' }];
  if (target === 'ACCEPT' || target === 'DROP' || target === 'REJECT') return [{ kind: 'stop' }];
  // LOG, NFLOG, ... change nothing the model needs; an unknown target that ends
  // the chain is read as going on, which only lets more packets reach later rules.
  return [];
}

function parseRule(line: string, chains: Set<string>): { chain: string; rule: NatRule } | null {
  const tokens = splitRuleLine(line);
  if (tokens[0] !== '-A' || tokens.length < 2) return null;
  const chain = tokens[1]!;
  const rest = tokens.slice(2);
  const matches: NatMatch[] = [];
  let comment: string | undefined;
  let module: string | undefined;
  let actions: NatAction[] = [];
  const all = groups(rest);
  for (let i = 0; i < all.length; i++) {
    const g = all[i]!;
    if (g.option === '-m' || g.option === '--match') {
      module = g.args[0];
      continue;
    }
    if (g.option === '-j' || g.option === '--jump' || g.option === '-g' || g.option === '--goto') {
      actions = targetActions(g, all.slice(i + 1), chains);
      break;
    }
    if (g.option === '-c') continue; // packet and byte counters (iptables-save -c)
    // -s/-d/-i/-o/-p are core options wherever they appear.
    const core = ['-s', '-d', '-i', '-o', '-p'].includes(g.option);
    const m = matchOf(g, core ? undefined : module);
    if (m === 'comment') comment = g.args[0];
    else if (m) matches.push(m);
  }
  const text = line.slice(line.indexOf(chain) + chain.length).trim();
  return { chain, rule: { text, ...(comment === undefined ? {} : { comment }), matches, actions } };
}

/** See IptablesNatDump.incompatible. */
export function iptablesSaveIncompatible(text: string): boolean {
  return /^# Table `nat' (is incompatible|contains incompatible)/m.test(text);
}

/** The `*nat` table of an iptables-save dump. */
export function parseIptablesNat(text: string, family: IpFamily, source: Extract<NatSourceName, 'iptables-nft' | 'iptables-legacy'>): IptablesNatDump {
  const incompatible = iptablesSaveIncompatible(text);
  const lines = text.split('\n');
  const start = lines.findIndex((l) => l.trim() === '*nat');
  if (start < 0) return { table: null, incompatible };
  const chains = new Map<string, NatChain>();
  const body: string[] = [];
  for (const raw of lines.slice(start + 1)) {
    const line = raw.trimEnd();
    if (line === 'COMMIT') break;
    if (line.startsWith(':')) {
      const [name = '', policy] = line.slice(1).split(' ');
      const hook = policy !== '-' ? BASE_CHAINS[name] : undefined;
      chains.set(name, { name, ...(hook ? { hook } : {}), rules: [] });
    } else if (line.startsWith('-A ')) body.push(line);
  }
  const names = new Set(chains.keys());
  for (const line of body) {
    const parsed = parseRule(line, names);
    if (!parsed) continue;
    let chain = chains.get(parsed.chain);
    if (!chain) {
      chain = { name: parsed.chain, rules: [] };
      chains.set(parsed.chain, chain);
    }
    chain.rules.push(parsed.rule);
  }
  return { table: { source, family, name: 'nat', chains }, incompatible };
}
