// The resourceVersion of a list, as kube-apiserver 1.32 (captures' version) reads it: the watch
// cache serves what it can, the rest goes to etcd (cacher's shouldDelegateList). Here the store
// stands for both, and the cache is never behind etcd.
// - unset or "": a consistent read, the current state;
// - "0": any state: the cache's, i.e. the current one; the cache ignores limit for "0"
//   (client-go's reflector relies on it), so the whole list comes back, without continue;
// - N, match unset or NotOlderThan: not older than N: the current state once the cache has N; a
//   cache behind N waits up to 3 s (blockTimeout; configurable here) for it, then answers 504
//   "Too large resource version" (storage.NewTooLargeResourceVersionError);
// - exact reads go to etcd: match Exact, or legacy N with limit. The store keeps no snapshots, so
//   only N = the current resourceVersion is served; other exact reads fail loudly (500);
// - resourceVersion with continue (other than "0"): 400; resourceVersionMatch is validated as
//   ValidateListOptions does (422 Invalid ListOptions.meta.k8s.io);
// - not a number: 400 from etcd's store; the cache passes the versioner's error on unconverted,
//   which the apiserver answers with a 500 without reason (kubernetes/kubernetes#101350, #139485).
import type { ObjectStore } from './store.js';
import { ApiError, badRequest, fieldErrors, invalid, statusBody, type FieldError, type StatusBody } from './status-errors.js';

/** kube-apiserver's watch cache blockTimeout. */
export const TOO_LARGE_RV_WAIT_MS = 3000;
const UINT64_MAX = 2n ** 64n - 1n;

/** Go's strconv.ParseUint(rv, 10, 64), with its error text. */
function parseRv(rv: string): bigint {
  if (!/^[0-9]+$/.test(rv)) throw new Error(`strconv.ParseUint: parsing ${JSON.stringify(rv)}: invalid syntax`);
  const n = BigInt(rv);
  if (n > UINT64_MAX) throw new Error(`strconv.ParseUint: parsing ${JSON.stringify(rv)}: value out of range`);
  return n;
}

/** k8s.io/apimachinery/pkg/apis/meta/internalversion/validation.ValidateListOptions (a list, not a watch). */
function validateListOptions(rv: string, match: string, token: string): void {
  if (!match) return;
  const path = 'resourceVersionMatch';
  const errors: FieldError[] = [];
  if (!rv) errors.push(fieldErrors.forbidden(path, 'resourceVersionMatch is forbidden unless resourceVersion is provided'));
  if (token) errors.push(fieldErrors.forbidden(path, 'resourceVersionMatch is forbidden when continue is provided'));
  if (match !== 'Exact' && match !== 'NotOlderThan') errors.push(fieldErrors.notSupported(path, match, ['Exact', 'NotOlderThan', '']));
  if (match === 'Exact' && rv === '0') errors.push(fieldErrors.forbidden(path, 'resourceVersionMatch "exact" is forbidden for resourceVersion "0"'));
  if (errors.length > 0) throw invalid({ kind: 'ListOptions', group: 'meta.k8s.io' }, '', errors);
}

/** storage.NewTooLargeResourceVersionError as the watch cache returns it: retry after 1 s. */
function tooLargeResourceVersion(wanted: bigint, current: number): ApiError {
  return new ApiError(
    statusBody(504, 'Timeout', `Timeout: Too large resource version: ${wanted}, current: ${current}`, {
      causes: [{ reason: 'ResourceVersionTooLarge', message: 'Too large resource version' }],
      retryAfterSeconds: 1,
    }),
    { 'Retry-After': '1' },
  );
}

/** An error that is not a Status, as the apiserver answers it (responsewriters.ErrorToAPIStatus): 500, no reason. */
function unconverted(message: string): ApiError {
  return new ApiError({ kind: 'Status', apiVersion: 'v1', metadata: {}, status: 'Failure', message, code: 500 } as unknown as StatusBody);
}

/** Resolves true once the store has reached rv, false after waitMs. */
function waitForRv(store: ObjectStore, rv: bigint, waitMs: number): Promise<boolean> {
  const reached = () => BigInt(store.currentRv()) >= rv;
  if (reached()) return Promise.resolve(true);
  return new Promise((resolve) => {
    const done = (ok: boolean) => {
      clearTimeout(timer);
      unsubscribe();
      resolve(ok);
    };
    const timer = setTimeout(() => done(reached()), waitMs);
    const unsubscribe = store.subscribe(() => {
      if (reached()) done(true);
    });
  });
}

/**
 * Checks a list's resourceVersion, resourceVersionMatch and continue, waits as the watch cache does
 * for a resourceVersion it has not reached, and returns the query to page with.
 */
export async function readListAt(query: URLSearchParams, store: ObjectStore, waitMs: number): Promise<URLSearchParams> {
  const rv = query.get('resourceVersion') ?? '';
  const match = query.get('resourceVersionMatch') ?? '';
  const token = query.get('continue') ?? '';
  validateListOptions(rv, match, token);
  if (!rv) return query;
  const exact = match === 'Exact' || (!match && Number(query.get('limit') ?? 0) > 0 && rv !== '0');
  let wanted: bigint;
  try {
    wanted = parseRv(rv);
  } catch (err) {
    const detail = `resourceVersion: Invalid value: ${JSON.stringify(rv)}: ${(err as Error).message}`;
    throw exact || token ? badRequest(`invalid resource version: ${detail}`) : unconverted(detail);
  }
  if (token) {
    if (wanted !== 0n) throw badRequest('specifying resource version is not allowed when using continue');
    return query;
  }
  if (wanted === 0n) {
    const whole = new URLSearchParams(query);
    whole.delete('limit');
    return whole;
  }
  if (exact) {
    if (wanted === BigInt(store.currentRv())) return query;
    throw new ApiError(
      statusBody(
        500,
        'InternalError',
        `Internal error occurred: test API server: an exact list at resourceVersion ${wanted} is not implemented (no snapshots; current is ${store.currentRv()})`,
      ),
    );
  }
  if (!(await waitForRv(store, wanted, waitMs))) throw tooLargeResourceVersion(wanted, store.currentRv());
  return query;
}
