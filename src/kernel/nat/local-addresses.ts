// The node's own addresses, as its routing tables say: what `addrtype LOCAL`
// and `fib ... type local` match, what arrives over lo, what MASQUERADE picks.
// IPv4 from /proc/net/fib_trie (routes of type LOCAL, 127.0.0.0/8 among them),
// IPv6 from /proc/net/ipv6_route (routes flagged RTF_LOCAL, ::1 among them).
// Both are the reading process's own namespace (the host's, for the agent).
import type { Host } from '../host.js';
import type { LocalAddresses } from './nat-rules.js';

const RTF_LOCAL = 0x80000000;

/** Prefixes of type LOCAL in fib_trie ("|-- 10.0.0.1" then "/32 host LOCAL"). */
export function parseFibTrieLocal(text: string): string[] {
  const out = new Set<string>();
  let address: string | undefined;
  for (const raw of text.split('\n')) {
    const line = raw.trim();
    const leaf = /^\|-- (\S+)$/.exec(line);
    if (leaf) address = leaf[1];
    const route = /^\/(\d+) \S+ LOCAL$/.exec(line);
    if (route && address) out.add(`${address}/${route[1]}`);
  }
  return [...out];
}

/** Local routes of ipv6_route: destination (32 hex digits), prefix length (hex), ..., flags (hex, 9th field). */
export function parseIpv6RouteLocal(text: string): string[] {
  const out = new Set<string>();
  for (const line of text.split('\n')) {
    const f = line.trim().split(/\s+/);
    if (f.length < 10 || !/^[0-9a-f]{32}$/.test(f[0]!)) continue;
    if ((Number.parseInt(f[8]!, 16) & RTF_LOCAL) === 0) continue;
    const groups = f[0]!.match(/.{4}/g)!.map((g) => Number.parseInt(g, 16).toString(16));
    out.add(`${groups.join(':')}/${Number.parseInt(f[1]!, 16)}`);
  }
  return [...out];
}

/** The node's addresses; null when the tables cannot be read (then any address may be local). */
export async function readLocalAddresses(host: Host): Promise<LocalAddresses | null> {
  try {
    const v4 = parseFibTrieLocal(await host.files.read(host.paths.proc('net', 'fib_trie')));
    const v6 = await host.files
      .read(host.paths.proc('net', 'ipv6_route'))
      .then(parseIpv6RouteLocal)
      .catch(() => ['::1/128']); // IPv6 disabled: no file, and nothing but loopback
    return v4.length ? { cidrs: [...v4, ...v6] } : null;
  } catch {
    return null;
  }
}
