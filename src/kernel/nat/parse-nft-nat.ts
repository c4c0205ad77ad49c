// Pure: native nftables tables with nat chains, from `nft -j list ...`
// output, in the shape of nat-rules.ts. The JSON is structured, so sets and
// verdict maps (kube-proxy's nftables mode keeps every Service in them) are
// read element by element: a verdict map becomes one branch per element, each
// with the element's key as matches. Only tables with a base chain of type
// nat are kept; expressions it does not know become `unknown` matches (may
// match any packet).
import type { PortRange } from '../../policy/types.js';
import type { IpFamily } from '../notrack/packet-matches.js';
import type { NatAction, NatBranch, NatChain, NatHook, NatMatch, NatRule, NatTable, NatTranslation } from './nat-rules.js';

type Json = unknown;
type Obj = Record<string, Json>;

const isObj = (v: Json): v is Obj => typeof v === 'object' && v !== null && !Array.isArray(v);
const HOOKS = new Set<string>(['prerouting', 'input', 'output', 'postrouting']);
const FAMILIES: Readonly<Record<string, IpFamily | 'inet'>> = { ip: 'ipv4', ip6: 'ipv6', inet: 'inet' };
const PORT_PROTOCOLS = new Set(['tcp', 'udp', 'sctp', 'dccp', 'udplite']);

/** A set or map of one table: its elements, or null when they cannot be relied on (dynamic, with timeouts). */
interface NamedSet {
  elements: Json[] | null;
}

interface TableParts {
  family: IpFamily | 'inet';
  name: string;
  chains: Map<string, NatChain>;
  natBase: boolean;
  sets: Map<string, NamedSet>;
  rules: Obj[];
}

// ---- display: nft-like text of an expression, for the reports ----

function show(e: Json): string {
  if (typeof e === 'string' || typeof e === 'number') return String(e);
  if (Array.isArray(e)) return e.map(show).join(' : ');
  if (!isObj(e)) return 'null';
  const [key, val] = Object.entries(e)[0] ?? ['', null];
  const v = isObj(val) ? val : {};
  switch (key) {
    case 'payload':
      return `${String(v.protocol)} ${String(v.field)}`;
    case 'meta':
      return `meta ${String(v.key)}`;
    case 'ct':
      return `ct ${String(v.key)}`;
    case 'fib':
      return `fib ${(Array.isArray(v.flags) ? v.flags : [v.flags]).map(String).join(' . ')} ${String(v.result)}`;
    case 'concat':
      return (Array.isArray(val) ? val : []).map(show).join(' . ');
    case 'prefix':
      return `${String(v.addr)}/${String(v.len)}`;
    case 'range':
      return (Array.isArray(val) ? val : []).map(show).join('-');
    case 'set':
      return `{ ${(Array.isArray(val) ? val : []).map(show).join(', ')} }`;
    case 'elem':
      return show(v.val);
    case '&':
    case '|':
    case '^':
      return (Array.isArray(val) ? val : []).map((x) => (typeof x === 'number' ? `0x${x.toString(16)}` : show(x))).join(` ${key} `);
    case 'numgen':
      return `numgen ${String(v.mode)} mod ${String(v.mod)}`;
    case 'goto':
    case 'jump':
      return `${key} ${String(v.target)}`;
    case 'accept':
    case 'drop':
    case 'return':
    case 'continue':
      return key;
    default:
      return JSON.stringify(e);
  }
}

function showMatch(m: Obj): string {
  const op = String(m.op);
  return `${show(m.left)} ${op === '==' ? '' : `${op} `}${show(m.right)}`;
}

function showTo(s: Obj): string {
  const addr = s.addr === undefined ? '' : show(s.addr);
  const port = s.port === undefined ? '' : `:${show(s.port)}`;
  return addr || port ? ` to ${addr}${port}` : '';
}

function showStatement(e: Obj): string {
  const [key, val] = Object.entries(e)[0] ?? ['', null];
  const v = isObj(val) ? val : {};
  switch (key) {
    case 'match':
      return showMatch(v);
    case 'dnat':
    case 'snat':
    case 'masquerade':
    case 'redirect':
      return `${key}${showTo(v)}`;
    case 'mangle':
      return `${show(v.key)} set ${show(v.value)}`;
    case 'vmap':
      return `${show(v.key)} vmap ${typeof v.data === 'string' ? v.data : show(v.data)}`;
    case 'xt':
      return `xt ${String(v.type)} "${String(v.name)}"`;
    case 'counter':
      return '';
    default:
      return show(e);
  }
}

// ---- values ----

/** Elements of a set reference ("@name") or an anonymous set; null when unknown. */
function elementsOf(right: Json, sets: Map<string, NamedSet>): Json[] | null {
  if (typeof right === 'string' && right.startsWith('@')) return sets.get(right.slice(1))?.elements ?? null;
  if (isObj(right) && Array.isArray(right.set)) return right.set;
  return [right];
}

const unwrap = (e: Json): Json => (isObj(e) && isObj(e.elem) ? e.elem.val : e);

function address(v: Json): string | null {
  v = unwrap(v);
  if (typeof v === 'string') return v;
  if (isObj(v) && isObj(v.prefix)) return `${String(v.prefix.addr)}/${String(v.prefix.len)}`;
  if (isObj(v) && Array.isArray(v.range) && v.range.length === 2) return `${String(v.range[0])}-${String(v.range[1])}`;
  return null;
}

const SERVICES: Readonly<Record<string, number>> = { http: 80, https: 443, domain: 53, ssh: 22 };

function port(v: Json): PortRange | null {
  v = unwrap(v);
  if (typeof v === 'number') return { from: v, to: v };
  if (typeof v === 'string' && SERVICES[v] !== undefined) return { from: SERVICES[v]!, to: SERVICES[v]! };
  if (isObj(v) && Array.isArray(v.range) && v.range.length === 2) {
    const [a, b] = v.range.map((x) => port(x));
    return a && b ? { from: a.from, to: b.to } : null;
  }
  return null;
}

function protocol(v: Json): string | null {
  v = unwrap(v);
  return typeof v === 'string' || typeof v === 'number' ? String(v).toLowerCase() : null;
}

function all<T>(values: Json[], one: (v: Json) => T | null): T[] | null {
  const out: T[] = [];
  for (const v of values) {
    const r = one(v);
    if (r === null) return null;
    out.push(r);
  }
  return out;
}

// ---- matches ----

/** What a left-hand expression selects, as a function from its right-hand values to matches. */
type Selector = (values: Json[], negated: boolean) => NatMatch[] | null;

function selector(left: Json): Selector | null {
  if (!isObj(left)) return null;
  if (isObj(left.payload)) {
    const { protocol: proto, field } = left.payload;
    if ((proto === 'ip' || proto === 'ip6') && (field === 'saddr' || field === 'daddr')) {
      const family: NatMatch = { kind: 'family', family: proto === 'ip' ? 'ipv4' : 'ipv6' };
      return (values, negated) => {
        const addresses = all(values, address);
        return addresses ? [family, { kind: field, addresses, negated }] : null;
      };
    }
    if (typeof proto === 'string' && (field === 'sport' || field === 'dport') && (PORT_PROTOCOLS.has(proto) || proto === 'th')) {
      const implied: NatMatch[] = proto === 'th' ? [] : [{ kind: 'protocol', protocols: [proto], negated: false }];
      return (values, negated) => {
        const ports = all(values, port);
        return ports ? [...implied, { kind: field, ports, negated }] : null;
      };
    }
    return null;
  }
  if (isObj(left.meta)) {
    const key = left.meta.key;
    if (key === 'l4proto')
      return (values, negated) => {
        const protocols = all(values, protocol);
        return protocols ? [{ kind: 'protocol', protocols, negated }] : null;
      };
    if (key === 'nfproto')
      return (values, negated) => {
        const fams = all(values, (v) => (v === 'ipv4' || v === 'ipv6' ? v : null));
        if (!fams || fams.length !== 1 || negated) return null;
        return [{ kind: 'family', family: fams[0]! }];
      };
    if (key === 'iifname' || key === 'oifname' || key === 'iif' || key === 'oif') {
      const kind = key.startsWith('i') ? 'iif' : 'oif';
      return (values, negated) => {
        const names = all(values, (v) => (typeof unwrap(v) === 'string' ? String(unwrap(v)) : null));
        if (!names) return null;
        return [{ kind, negated, names: names.map((n) => (n.endsWith('*') ? { name: n.slice(0, -1), prefix: true } : { name: n, prefix: false })) }];
      };
    }
    if (key === 'mark') return markSelector(0xffffffff);
    return null;
  }
  const and = left['&'];
  if (Array.isArray(and) && and.length === 2 && isObj(and[0]) && isObj(and[0].meta) && and[0].meta.key === 'mark' && typeof and[1] === 'number') {
    return markSelector(and[1]);
  }
  if (isObj(left.fib) && left.fib.result === 'type') {
    const flags = Array.isArray(left.fib.flags) ? left.fib.flags : [left.fib.flags];
    const field = flags.includes('daddr') ? 'daddr' : flags.includes('saddr') ? 'saddr' : null;
    if (!field) return null;
    // "fib daddr . iif type local": local on that interface, still one of the node's addresses.
    const narrowed = flags.length > 1;
    return (values, negated) => {
      if (values.length !== 1 || unwrap(values[0]) !== 'local' || (negated && narrowed)) return null;
      return [{ kind: 'local', field, negated }];
    };
  }
  return null;
}

function markSelector(mask: number): Selector {
  return (values, negated) => {
    if (values.length !== 1 || typeof unwrap(values[0]) !== 'number') return null;
    return [{ kind: 'mark', mask, value: (unwrap(values[0]) as number) & mask, negated }];
  };
}

function unknownMatch(e: Obj): NatMatch {
  return { kind: 'unknown', text: showStatement(e) };
}

/** Numeric comparisons of ports ("tcp dport < 1024") as a range. */
function comparedPorts(op: string, right: Json): PortRange[] | null {
  const r = port(right);
  if (!r) return null;
  switch (op) {
    case '<':
      return [{ from: 0, to: r.from - 1 }];
    case '<=':
      return [{ from: 0, to: r.from }];
    case '>':
      return [{ from: r.from + 1, to: 65535 }];
    case '>=':
      return [{ from: r.from, to: 65535 }];
    default:
      return null;
  }
}

/**
 * One match expression: a conjunction of matches, or branches when it is a
 * lookup of a concatenation in a set (one branch per element).
 */
function matchOf(m: Obj, sets: Map<string, NamedSet>): { matches: NatMatch[] } | { branches: NatMatch[][] } {
  const op = String(m.op);
  const left = m.left;
  if (isObj(left) && Array.isArray(left.concat)) {
    if (op !== '==' && op !== 'in') return { matches: [unknownMatch({ match: m })] };
    const parts = left.concat.map(selector);
    const elements = elementsOf(m.right, sets);
    if (!elements || parts.some((p) => p === null)) return { matches: [unknownMatch({ match: m })] };
    const branches: NatMatch[][] = [];
    for (const el of elements) {
      const v = unwrap(el);
      const values = isObj(v) && Array.isArray(v.concat) ? v.concat : null;
      const ms = values?.length === parts.length ? parts.map((p, i) => p!([values[i]], false)) : null;
      if (!ms || ms.some((x) => x === null)) return { matches: [unknownMatch({ match: m })] };
      branches.push(ms.flatMap((x) => x!));
    }
    return { branches };
  }
  const sel = selector(left);
  if (!sel) return { matches: [unknownMatch({ match: m })] };
  const range = isObj(left) && isObj(left.payload) && (left.payload.field === 'sport' || left.payload.field === 'dport') ? comparedPorts(op, m.right) : null;
  if (range) {
    const field = (left as { payload: { field: 'sport' | 'dport' } }).payload.field;
    return { matches: [{ kind: field, ports: range, negated: false }] };
  }
  if (op !== '==' && op !== '!=' && op !== 'in') return { matches: [unknownMatch({ match: m })] };
  const elements = elementsOf(m.right, sets);
  const matches = elements ? sel(elements, op === '!=') : null;
  return { matches: matches ?? [unknownMatch({ match: m })] };
}

// ---- statements ----

function translation(s: Obj): NatTranslation {
  const addresses = s.addr === undefined ? null : address(s.addr);
  const ports = s.port === undefined ? null : port(s.port);
  // "dnat to ip daddr map { ... }": not followed element by element here.
  const unreadable = (s.addr !== undefined && !addresses) || (s.port !== undefined && !ports);
  return { ...(addresses ? { addresses: [addresses] } : {}), ...(ports ? { ports } : {}), ...(unreadable ? { unknown: true as const } : {}) };
}

function verdictAction(v: Json): NatAction | null {
  if (!isObj(v)) return null;
  if (isObj(v.goto)) return { kind: 'goto', chain: String(v.goto.target) };
  if (isObj(v.jump)) return { kind: 'jump', chain: String(v.jump.target) };
  if ('return' in v) return { kind: 'return' };
  if ('accept' in v || 'drop' in v) return { kind: 'stop' };
  if ('continue' in v) return null;
  return null;
}

/** `meta mark set <value>`: the bits it may set. */
function markBits(value: Json): number | 'unknown' | null {
  if (typeof value === 'number') return value;
  if (isObj(value)) {
    for (const op of ['|', '^'] as const) {
      const args = value[op];
      if (Array.isArray(args) && typeof args[1] === 'number') return args[1];
    }
    if (Array.isArray(value['&'])) return null; // clears bits only
  }
  return 'unknown';
}

const XT_NAT: Readonly<Record<string, 'dnat' | 'snat' | 'masquerade' | 'redirect' | 'netmap'>> = {
  DNAT: 'dnat',
  SNAT: 'snat',
  MASQUERADE: 'masquerade',
  REDIRECT: 'redirect',
  NETMAP: 'netmap',
};

/** The vmap statement as branches: each element's key as matches, its verdict as the action. */
function vmapBranches(v: Obj, sets: Map<string, NamedSet>): NatAction {
  const key = v.key;
  const data = v.data;
  const elements =
    typeof data === 'string' && data.startsWith('@') ? sets.get(data.slice(1))?.elements : isObj(data) && Array.isArray(data.set) ? data.set : null;
  // Hashes and numgen pick a branch by chance: every branch may be taken, with no match.
  const chance = isObj(key) && ('numgen' in key || 'jhash' in key || 'symhash' in key);
  const parts = isObj(key) && Array.isArray(key.concat) ? key.concat.map(selector) : [selector(key)];
  const branches: NatBranch[] = [];
  if (!elements) return { kind: 'branch', branches: [{ matches: [unknownMatch({ vmap: v })], actions: [] }] };
  for (const el of elements) {
    if (!Array.isArray(el) || el.length !== 2) continue;
    const action = verdictAction(el[1]);
    const k = unwrap(el[0]);
    const values = isObj(k) && Array.isArray(k.concat) ? k.concat : [k];
    let matches: NatMatch[] = [];
    if (!chance) {
      const ms = values.length === parts.length ? parts.map((p, i) => (p ? p([values[i]], false) : null)) : null;
      matches = ms && ms.every((x) => x !== null) ? ms.flatMap((x) => x!) : [unknownMatch({ vmap: v })];
    }
    branches.push({ matches, actions: action ? [action] : [], text: `${show(el[0])} : ${show(el[1])}` });
  }
  return { kind: 'branch', branches };
}

function statementActions(e: Obj, sets: Map<string, NamedSet>): NatAction[] {
  const [key, val] = Object.entries(e)[0] ?? ['', null];
  const v = isObj(val) ? val : {};
  switch (key) {
    case 'dnat':
    case 'snat':
      return [{ kind: 'nat', nat: key, to: translation(v) }];
    case 'masquerade':
    case 'redirect':
      return [{ kind: 'nat', nat: key, to: translation(v) }];
    case 'mangle': {
      if (!isObj(v.key) || !isObj(v.key.meta) || v.key.meta.key !== 'mark') return [];
      const bits = markBits(v.value);
      return bits === null ? [] : [{ kind: 'mark', bits }];
    }
    case 'jump':
    case 'goto':
    case 'return':
    case 'accept':
    case 'drop': {
      const a = verdictAction(e);
      return a ? [a] : [];
    }
    case 'reject':
    case 'queue':
      return [{ kind: 'stop' }];
    case 'vmap':
      return [vmapBranches(v, sets)];
    case 'xt': {
      if (v.type !== 'target') return [];
      const nat = XT_NAT[String(v.name)];
      if (nat) return [{ kind: 'nat', nat, to: { unknown: true } }];
      return v.name === 'MARK' || v.name === 'CONNMARK' ? [{ kind: 'mark', bits: 'unknown' }] : [];
    }
    default:
      return [];
  }
}

/**
 * A rule's expressions in order. Matches before the first statement filter
 * the whole rule; a match after a statement filters only what follows it,
 * so the rest becomes one branch (a counter or mark set before it still runs).
 */
function rulePart(exprs: Json[], sets: Map<string, NamedSet>): { matches: NatMatch[]; actions: NatAction[] } {
  const matches: NatMatch[] = [];
  const actions: NatAction[] = [];
  for (let i = 0; i < exprs.length; i++) {
    const e = exprs[i];
    if (!isObj(e)) continue;
    const xt = isObj(e.xt) && e.xt.type === 'match' ? e.xt : null;
    if (isObj(e.match) || xt) {
      // An xt match (iptables-nft's, shown by nft) cannot be read here; a comment restricts nothing.
      const m = xt ? { matches: xt.name === 'comment' ? [] : [unknownMatch(e)] } : matchOf(e.match as Obj, sets);
      if (actions.length > 0 || 'branches' in m) {
        const rest = rulePart(exprs.slice(i + 1), sets);
        const branches: NatBranch[] =
          'branches' in m
            ? m.branches.map((b) => ({ matches: [...b, ...rest.matches], actions: rest.actions }))
            : [{ matches: [...m.matches, ...rest.matches], actions: rest.actions }];
        actions.push({ kind: 'branch', branches });
        return { matches, actions };
      }
      matches.push(...m.matches);
      continue;
    }
    actions.push(...statementActions(e, sets));
  }
  return { matches, actions };
}

function ruleOf(r: Obj, sets: Map<string, NamedSet>): NatRule {
  const exprs = Array.isArray(r.expr) ? r.expr : [];
  const { matches, actions } = rulePart(exprs, sets);
  const text = exprs
    .filter(isObj)
    .map(showStatement)
    .filter((t) => t !== '')
    .join(' ');
  return { text, ...(typeof r.comment === 'string' ? { comment: r.comment } : {}), matches, actions };
}

/**
 * Native nftables tables that have a nat base chain, from one or more `nft -j
 * list` outputs. `skip`: "family name" of tables read another way (the
 * iptables-nft nat tables iptables-nft-save showed).
 */
export function parseNftNat(outputs: readonly Json[], skip: ReadonlySet<string> = new Set()): NatTable[] {
  const tables = new Map<string, TableParts>();
  const partsOf = (o: Obj): TableParts | undefined => {
    const family = FAMILIES[String(o.family)];
    const key = `${String(o.family)} ${String(o.table ?? o.name)}`;
    if (!family || skip.has(key)) return undefined;
    let t = tables.get(key);
    if (!t) {
      t = { family, name: String(o.table ?? o.name), chains: new Map(), natBase: false, sets: new Map(), rules: [] };
      tables.set(key, t);
    }
    return t;
  };
  for (const out of outputs) {
    const items = isObj(out) && Array.isArray(out.nftables) ? out.nftables : [];
    for (const item of items) {
      if (!isObj(item)) continue;
      const [kind, body] = Object.entries(item)[0] ?? ['', null];
      if (!isObj(body)) continue;
      if (kind === 'table') partsOf(body);
      else if (kind === 'chain') {
        const t = partsOf(body);
        if (!t) continue;
        const name = String(body.name);
        const isNatBase = body.type === 'nat' && typeof body.hook === 'string' && HOOKS.has(body.hook);
        if (isNatBase) t.natBase = true;
        t.chains.set(name, { name, ...(isNatBase ? { hook: body.hook as NatHook } : {}), rules: [] });
      } else if (kind === 'set' || kind === 'map') {
        const t = partsOf(body);
        const flags = Array.isArray(body.flags) ? body.flags : [];
        // Elements the packet path adds or times out are not what was listed.
        const reliable = !flags.includes('dynamic') && !flags.includes('timeout') && body.timeout === undefined;
        t?.sets.set(String(body.name), { elements: reliable ? (Array.isArray(body.elem) ? body.elem : []) : null });
      } else if (kind === 'rule') partsOf(body)?.rules.push(body);
    }
  }
  const result: NatTable[] = [];
  for (const t of tables.values()) {
    if (!t.natBase) continue;
    for (const r of t.rules) t.chains.get(String(r.chain))?.rules.push(ruleOf(r, t.sets));
    result.push({ source: 'nftables', family: t.family, name: t.name, chains: t.chains });
  }
  return result;
}
