// A fast, cheap watch between passes (about once a second): what predicts a
// full table and what shows one. It reads the stat file (entries, drop
// counters) of our namespace, the host's and the namespaces nearest to full
// (the last census's figures, then its own), and looks for processes that
// appeared since the last look (a stat of net/stat for each new pid only),
// so a namespace born after the census (a new pod) is read within seconds.
// Every namespace's figures come with each census, and with a sweep now and
// then; between them a tripwire keeps the rest honest: the nf_conntrack slab
// (every namespace's entries) growing faster than the namespaces read every
// second explain means one of the others is climbing, and they are all read
// at once. It keeps a short history per namespace, forecasts time to full
// (report/forecast.ts) and starts a pass at once when drops rise anywhere,
// when FillingUp turns on or the forecast says full within the horizon
// while autoSize could still grow, and when a namespace appears.
import type { Host } from '../kernel/host.js';
import type { NetnsCensus } from '../kernel/netns-census.js';
import { lookForNewPids, readNetnsSample, readOwnSample, readSlabActive, type NetnsSample } from '../kernel/netns-sample.js';
import type { FillingUpOptions, WatchView } from '../report/forecast.js';
import { hotKeys, latest, observe, watched, watchView, type WatchedNetns } from './watch-state.js';
import { pressureResponseDue, type PressureResponseState } from '../policy/pressure-response.js';

export interface TableWatchOptions {
  /** How often the hot namespaces are read (about a second). */
  tickMs: number;
  /** Where the slab cannot be read (not root): how often every known namespace is read instead (each census reads them all too). */
  sweepMs: number;
  /** How often the nf_conntrack slab is read for growth the namespaces read every tick do not explain (a read costs about 0.7 ms). */
  slabMs: number;
  /** Namespaces nearest to full read every tick besides ours, the host's, new and filling ones. */
  hotNamespaces: number;
  /** Where the kernel has no stat file our counters come from `conntrack -S`: spawned at most this often. */
  commandMs: number;
  /**
   * The proc root is listed when the node's process count (its link count)
   * changed, and at least this often: a process that replaced another
   * between two looks leaves the count as it was.
   */
  listMs: number;
}

/** What the last pass decided that the watch judges by. */
export interface WatchSettings {
  /** FillingUp's horizon: the policy's growAheadSeconds. */
  horizonSeconds: number;
  /** The policy's warning threshold, in % of max: namespaces projected above it are read every tick. */
  warningPercent: number;
  /** autoSize could grow max now (enforced, below its ceiling): a forecast "full soon" is worth a pass. */
  canGrow: boolean;
  /** The policy's pressure response as the last pass left it: a pass when our own namespace crosses its start or stop threshold. */
  pressureResponse?: PressureResponseState;
}

export type WatchTrigger = 'drops' | 'filling-up' | 'forecast' | 'new-namespace' | 'pressure-response';

/**
 * About once a second; every namespace whenever the slab says so (or every
 * 30 s without it) and with every census. Measured at idle with 500
 * namespaces (README): a stat file read costs 25-85 us of CPU, so reading all
 * of them at once is what the watch does least.
 */
export const WATCH_DEFAULTS: TableWatchOptions = { tickMs: 1000, sweepMs: 30_000, slabMs: 3000, hotNamespaces: 8, commandMs: 2000, listMs: 5000 };

/**
 * Slab growth (objects a second) beyond what the namespaces read every tick
 * explain that sends the watch to read them all: 1/200 of max a second, a
 * table filling from empty in 200 s.
 */
const UNEXPLAINED_GROWTH_SHARE_OF_MAX = 0.005;

/** A pass for a forecast (or a pressure response) alone at most this often: one that could not act need not be asked again at once. */
const FORECAST_RETRIGGER_MS = 5000;

/**
 * FillingUp's rule for the watch: where autoSize can grow, the first sample
 * within the horizon turns it on, since autoSize acts on that sample and the
 * pass that grows must say why; otherwise two in a row, against noise.
 */
function fillingUp(settings: WatchSettings): FillingUpOptions {
  return { horizonSeconds: settings.horizonSeconds, onAfter: settings.canGrow ? 1 : 2 };
}

export class TableWatch {
  private timer: NodeJS.Timeout | null = null;
  private running: Promise<void> | null = null;
  private namespaces = new Map<number, WatchedNetns>();
  /** Every pid seen at the last look, with its namespace key. */
  private pids = new Map<number, number>();
  /** null until the first census: until then the watch only learns the pids. */
  private settings: WatchSettings | null = null;
  private max: number | null = null;
  private atMs = 0;
  private lastSweepMs = -Infinity;
  private lastForecastTriggerMs = -Infinity;
  private lastResponseTriggerMs = -Infinity;
  private lastCommandMs = -Infinity;
  private lastListMs = -Infinity;
  private lastProcesses: number | null = null;
  private lastSlab: { atMs: number; active: number; watched: number } | null = null;
  /** The keys read every tick; null when they must be ranked again. */
  private hot: Set<number> | null = null;

  constructor(
    private readonly host: Pick<Host, 'files' | 'paths' | 'runner' | 'isRoot' | 'clock'>,
    private readonly opts: TableWatchOptions,
    private readonly onTrigger: (why: WatchTrigger[]) => void,
  ) {}

  start(): void {
    this.timer = setInterval(() => void this.tick(), this.opts.tickMs);
  }

  /** Stop ticking; waits for a tick in flight. */
  async stop(): Promise<void> {
    if (this.timer) clearInterval(this.timer);
    this.timer = null;
    await this.idle();
  }

  /** Resolves when no look is in flight (one that asks for a pass has asked by then). */
  async idle(): Promise<void> {
    await this.running;
  }

  /**
   * A pass's census and settings: the namespaces to watch from now on. The
   * history of one already watched is kept. Namespaces of pids seen since
   * the census listed them are new to it too: watched, and a pass asked for.
   */
  rebase(census: NetnsCensus, settings: WatchSettings): void {
    const now = this.host.clock();
    const next = new Map<number, WatchedNetns>();
    for (const row of census.namespaces) {
      const ref = { key: row.key, inode: row.inode, pid: row.pid, host: row.host, podUid: row.podUid };
      const via = row.ours ? 'self' : String(row.pid);
      const old = this.namespaces.get(row.key);
      const ns = old ? { ...old, ref, via, fresh: false } : watched(ref, via, false);
      // The census read every namespace: its figures are a sample of each, for free.
      const c = row.counters;
      const sample = { entries: row.entries, drop: c?.drop ?? null, insertFailed: c?.insertFailed ?? null, earlyDrop: c?.earlyDrop ?? null };
      next.set(row.key, row.entries === null ? ns : observe(ns, now, sample, this.max, fillingUp(settings)).ns);
    }
    this.namespaces = next;
    this.settings = settings;
    this.hot = null;
    this.lastResponseTriggerMs = -Infinity; // a pass has judged the response since: the next crossing is news
    if (this.addUnknown()) this.onTrigger(['new-namespace']);
  }

  /** The focus namespace and its forecast; null before the first census. */
  view(): WatchView | null {
    return this.settings ? watchView([...this.namespaces.values()], this.settings.horizonSeconds, this.atMs, this.max) : null;
  }

  /** One look; a tick while one runs is skipped. Never throws. */
  async tick(): Promise<void> {
    if (this.running) return;
    this.running = this.look()
      .catch(() => undefined) // a look that failed is the next one's to retry; nothing is half-kept
      .finally(() => (this.running = null));
    await this.running;
  }

  private async look(): Promise<void> {
    const { host } = this;
    const now = host.clock();
    const maxText = await host.files.read(host.paths.sysctl('nf_conntrack_max')).catch(() => null);
    this.max = maxText !== null && /^\d+$/.test(maxText.trim()) ? Number(maxText.trim()) : null;
    await this.lookForNewPids(now);
    const settings = this.settings;
    if (!settings) return;
    const why = new Set<WatchTrigger>();
    if (this.addUnknown()) why.add('new-namespace');

    const all = [...this.namespaces.values()];
    // Ranked again only when others were read (a census, a sweep, a new namespace): between those only the hot ones move.
    this.hot ??= hotKeys(all, {
      max: this.max,
      warningPercent: settings.warningPercent,
      horizonSeconds: settings.horizonSeconds,
      count: this.opts.hotNamespaces,
    });
    const hot = this.hot;
    let soon = false;
    let watchedGrowth = 0;
    const sample = async (ns: WatchedNetns): Promise<void> => {
      const figures = await this.read(ns, now);
      if (figures === null) return;
      const o = observe(ns, now, figures, this.max, fillingUp(settings));
      this.namespaces.set(ns.ref.key, o.ns);
      watchedGrowth += (latest(o.ns) ?? 0) - (latest(ns) ?? latest(o.ns) ?? 0);
      if (o.dropsRose) why.add('drops');
      if (o.turnedFilling) why.add('filling-up');
      const toFull = o.ns.forecast?.secondsToFull;
      if (toFull !== null && toFull !== undefined && toFull <= settings.horizonSeconds) soon = true;
    };
    for (const ns of all) if (hot.has(ns.ref.key)) await sample(ns);
    const slab = await this.slabSaysSweep(now, watchedGrowth);
    if (slab === 'sweep' || (slab === 'unreadable' && now - this.lastSweepMs >= this.opts.sweepMs)) {
      this.lastSweepMs = now;
      for (const ns of all) if (!hot.has(ns.ref.key) && this.namespaces.has(ns.ref.key)) await sample(ns);
      this.lastSlab = null; // every namespace read: the slab's next window starts from here
      this.hot = null;
    }
    this.atMs = now;
    if (soon && settings.canGrow && now - this.lastForecastTriggerMs >= FORECAST_RETRIGGER_MS) why.add('forecast');
    if (why.has('forecast') || why.has('filling-up')) this.lastForecastTriggerMs = now;
    if (
      now - this.lastResponseTriggerMs >= FORECAST_RETRIGGER_MS &&
      settings.pressureResponse &&
      pressureResponseDue(settings.pressureResponse, this.ownPercent())
    ) {
      why.add('pressure-response');
      this.lastResponseTriggerMs = now;
    }
    if (why.size) this.onTrigger([...why]);
  }

  /** Our own namespace's usage of max, in % (the timeouts a pressure response lowers are ours only); null before a sample or without max. */
  private ownPercent(): number | null {
    const ours = [...this.namespaces.values()].find((ns) => ns.via === 'self');
    const count = ours ? latest(ours) : null;
    return this.max && count !== null ? (count * 100) / this.max : null;
  }

  /**
   * Every slabMs: 'sweep' when the slab grew faster than the namespaces read
   * every tick did, by more than UNEXPLAINED_GROWTH_SHARE_OF_MAX a second,
   * since the last reading (a namespace read by none of them is climbing);
   * 'unreadable' without the slab (not root), when a sweep every sweepMs
   * stands in for it.
   */
  private async slabSaysSweep(now: number, watchedGrowth: number): Promise<'sweep' | 'quiet' | 'unreadable'> {
    const last = this.lastSlab;
    if (last) last.watched += watchedGrowth;
    if (last && now - last.atMs < this.opts.slabMs) return 'quiet';
    const active = await readSlabActive(this.host);
    this.lastSlab = active === null ? null : { atMs: now, active, watched: 0 };
    if (active === null) return 'unreadable';
    if (!last || this.max === null) return 'quiet';
    const unexplained = ((active - last.active - last.watched) * 1000) / (now - last.atMs);
    return unexplained > this.max * UNEXPLAINED_GROWTH_SHARE_OF_MAX ? 'sweep' : 'quiet';
  }

  /** One namespace's sample; null when there is none to take now. A namespace whose process exited is read through another of its pids, or dropped. */
  private async read(ns: WatchedNetns, now: number): Promise<NetnsSample | null> {
    if (ns.via === 'self') {
      const own = await readNetnsSample(this.host, 'self');
      if (own !== null && own !== 'gone') return own;
      // No stat file on this kernel: conntrack -S, spawned at most every commandMs.
      if (now - this.lastCommandMs < this.opts.commandMs) return null;
      const fallback = await readOwnSample(this.host);
      if (fallback.source === 'conntrack -S') this.lastCommandMs = now;
      return fallback;
    }
    const sample = await readNetnsSample(this.host, ns.via);
    if (sample !== 'gone') return sample;
    const other = [...this.pids].find(([pid, key]) => key === ns.ref.key && String(pid) !== ns.via);
    if (other) this.namespaces.set(ns.ref.key, { ...ns, via: String(other[0]), ref: { ...ns.ref, pid: other[0] } });
    else {
      this.namespaces.delete(ns.ref.key);
      this.hot = null;
    }
    return null;
  }

  /**
   * List the proc root when processes came or went (or listMs passed): a
   * readdir of /proc costs about a microsecond of kernel time per process,
   * a stat of it a few microseconds in all.
   */
  private async lookForNewPids(now: number): Promise<void> {
    const { host } = this;
    const processes = await host.files.linkCount(host.paths.proc()).catch(() => null);
    if (processes !== null && processes === this.lastProcesses && now - this.lastListMs < this.opts.listMs) return;
    try {
      this.pids = await lookForNewPids(host, this.pids);
      this.lastProcesses = processes;
      this.lastListMs = now;
    } catch {
      // the proc root unlistable now: the pids seen last stay, the next look tries again
    }
  }

  /** Watch the namespaces of pids whose key neither the census nor the watch knew; whether there was one. */
  private addUnknown(): boolean {
    let found = false;
    for (const [pid, key] of this.pids) {
      if (this.namespaces.has(key)) continue;
      this.namespaces.set(key, watched({ key, inode: null, pid, host: false, podUid: null }, String(pid), true));
      this.hot = null;
      found = true;
    }
    return found;
  }
}
