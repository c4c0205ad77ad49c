// Table memory math and autoSize. Memory = max x slab object size + buckets x
// 8 bytes (one pointer per bucket on 64-bit kernels). Entries live in
// unswappable kernel memory, so the size is bounded by a share of node RAM.
//
// max is one global limit, but the kernel checks it against each network
// namespace's own count: the fullest namespace (host or pod) is what max must
// fit, and every namespace may hold up to max entries of its own, all in the
// one nf_conntrack slab. So autoSize sizes from the fullest namespace's count
// and leaves room in the budget for the entries the others hold now.

const BUCKET_BYTES = 8;

/**
 * Per-entry cost when /proc/slabinfo cannot be read (it is root-only). 320 is
 * what common distribution kernels report for the nf_conntrack slab; this
 * kernel reports 256 and the field notes' older kernels 352-376. A fallback
 * near the middle keeps the budget meaningful without refusing sane sizes.
 */
export const FALLBACK_SLAB_OBJECT_SIZE = 320;

/** Share of node RAM that an explicit max/buckets may cost before it is refused. */
export const EXPLICIT_TABLE_BUDGET_PERCENT = 5;

/**
 * autoSize's floor when the policy gives no minMax: kube-proxy's default
 * conntrack min, so autoSize never sizes below what Kubernetes nodes commonly run with.
 */
const DEFAULT_AUTOSIZE_FLOOR = 131072;

/** A calm table gives back (halves max) only while the demand is below max / GIVE_BACK_BELOW. */
export const GIVE_BACK_BELOW = 4;

/** How far ahead a forecast full table is acted on (and FillingUp judged) when the policy does not say. */
export const DEFAULT_GROW_AHEAD_SECONDS = 60;

export function tableBytes(max: number, buckets: number, slabObjectSize: number): number {
  return max * slabObjectSize + buckets * BUCKET_BYTES;
}

export interface AutoSizeInput {
  memTotalBytes: number;
  slabObjectSize: number;
  memoryBudgetPercent: number;
  targetUsagePercent: number;
  /** Entries now in the fullest network namespace (host and pods alike): each one's count is checked against max. */
  observedCount: number;
  /** Entries now in every other namespace: the same slab holds them, so the budget keeps room for them. */
  otherEntries?: number;
  /** Entries the forecast expects growAheadSeconds from now in the namespace filling soonest; only where a forecast is trusted. */
  forecastCount?: number;
  /** A namespace dropped new connections for a full table since the last pass: max at least doubles. */
  droppingFull?: boolean;
  /** The table has been calm for the policy's cooldown: max may halve, if the demand is under a quarter of it. */
  giveBack?: boolean;
  currentMax?: number;
  minMax?: number;
  maxMax?: number;
}

export interface AutoSizeResult {
  max: number;
  buckets: number;
  bytes: number;
  /** Entries needed to hold the larger of the observed and the forecast count at the target usage. */
  demand: number;
  /** Which count the demand came from: now, or the forecast's growAheadSeconds ahead. */
  demandFrom: 'count' | 'forecast';
  /** The most entries the fullest namespace may hold within the budget (and maxMax), the others' entries now counted in. */
  ceiling: number;
  /** What decided max: the demand, the floor, the current size (kept), the ceiling, drops for a full table (max doubled), or a calm table giving back (max halved). */
  limitedBy: 'demand' | 'floor' | 'current' | 'ceiling' | 'drops' | 'giveBack';
}

/**
 * Size the table from the node.
 * - Grow-only (as kube-proxy does): max never drops below the current max
 *   while that fits the ceiling, so a calm node is left alone and the value
 *   does not flap with the count.
 * - Under pressure (count / max above the target) max grows to the next power
 *   of two that holds the count at the target usage: growth in doublings.
 *   Ahead of it: where the forecast says a namespace fills soon, the count it
 *   expects growAheadSeconds ahead is held at the target instead, so max
 *   grows before the table is full. A namespace dropping new connections for
 *   a full table (the forecast missed it, or a burst outran it) doubles max
 *   at least.
 * - Giving back (giveBack, after the policy's calm cooldown): max halves when
 *   the demand is under a quarter of it (GIVE_BACK_BELOW), never below the
 *   floor or the demand. The gap between growing (demand above max) and
 *   giving back (demand under max/4, for a cooldown) is the hysteresis: a
 *   halved table is at most at half its target usage.
 * - The ceiling (memory budget, maxMax) wins over the floor and the demand,
 *   but max never goes below the entries the table already needs
 *   (min(current, demand)), which would start dropping new flows at once.
 *   The budget is judged against what the entries of every namespace may
 *   cost: (max + the other namespaces' entries now) x slab object size +
 *   buckets x 8 fits it. (Each namespace may still grow to max on its own:
 *   the worst case, every namespace full, is max x namespaces; the budget
 *   cannot promise that away, the README says so.)
 * - buckets = the largest power of two <= max: the chain length
 *   (2 x count / buckets) stays <= 4 at a full table and <= 2 at 50 % usage,
 *   for at most 8 bytes per entry (3 % of a 256-byte entry). Current kernels
 *   size buckets = max themselves; kube-proxy's max/4 gives chains of 8.
 */
export function autoSize(input: AutoSizeInput): AutoSizeResult {
  const perEntry = input.slabObjectSize + BUCKET_BYTES; // buckets <= max: at most 8 bytes each
  const budgetBytes = (input.memTotalBytes * input.memoryBudgetPercent) / 100;
  const budgetMax = Math.floor(Math.max(0, budgetBytes - (input.otherEntries ?? 0) * input.slabObjectSize) / perEntry);
  const ceiling = Math.min(budgetMax, input.maxMax ?? Infinity);
  const expected = Math.max(input.observedCount, input.forecastCount ?? 0);
  const demandFrom = expected > input.observedCount ? 'forecast' : 'count';
  const demand = Math.ceil((expected * 100) / input.targetUsagePercent);
  const floor = input.minMax ?? DEFAULT_AUTOSIZE_FLOOR;
  const current = input.currentMax ?? 0;

  // A give-back stands in for the current size (and wins a tie with the floor: it is what brought max down).
  const giveBack = input.giveBack === true && demand * GIVE_BACK_BELOW < current;
  const candidates: Array<[number, AutoSizeResult['limitedBy']]> = [
    [nextPowerOfTwo(demand), 'demand'],
    ...(giveBack ? [[Math.floor(current / 2), 'giveBack'] as [number, AutoSizeResult['limitedBy']]] : []),
    [floor, 'floor'],
    ...(giveBack ? [] : [[current, 'current'] as [number, AutoSizeResult['limitedBy']]]),
    ...(input.droppingFull ? [[current * 2, 'drops'] as [number, AutoSizeResult['limitedBy']]] : []),
  ];
  let [max, limitedBy] = candidates.reduce((best, c) => (c[0] > best[0] ? c : best));
  if (max > ceiling) [max, limitedBy] = [ceiling, 'ceiling'];
  const needed = Math.min(current, demand);
  if (max < needed) [max, limitedBy] = [needed, 'current'];
  max = Math.max(max, 1024); // the kernel-side minimum the schema also enforces
  const buckets = previousPowerOfTwo(max);
  return { max, buckets, bytes: tableBytes(max, buckets, input.slabObjectSize), demand, demandFrom, ceiling, limitedBy };
}

function nextPowerOfTwo(n: number): number {
  return n <= 1 ? 1 : 2 ** Math.ceil(Math.log2(n));
}

function previousPowerOfTwo(n: number): number {
  return 2 ** Math.floor(Math.log2(n));
}
