// The secure metrics check on fake reviews and a fake clock: the status codes
// controller-runtime's filter answers (401 no or unknown token, 403 not
// allowed, 500 review failed), and its caching (token 1 min, allow 5 min,
// deny 30 s, failures never; one review for concurrent requests).
import assert from 'node:assert/strict';
import { test } from 'node:test';
import type { ReviewedUser } from '../../src/kube/cluster-api.js';
import { MetricsAuthorizer, REVIEW_CACHE_TTL, type Reviews } from '../../src/kube/metrics-auth.js';
import { silentLog } from '../support/silent-log.js';

const SCRAPER: ReviewedUser = {
  username: 'system:serviceaccount:monitoring:prometheus',
  uid: 'u-1',
  groups: ['system:serviceaccounts', 'system:authenticated'],
};

/** Reviews that answer from tables, counting calls; `fail` makes the next reviews throw as an unreachable API server does. */
function fakeReviews(tokens: Record<string, ReviewedUser>, allowed: Set<string>) {
  const calls = { token: 0, access: [] as string[] };
  const state = { fail: false };
  const reviews: Reviews = {
    reviewToken: async (token) => {
      calls.token++;
      if (state.fail) throw Object.assign(new Error('connect ECONNREFUSED 10.96.0.1:443'), { code: 'ECONNREFUSED' });
      return tokens[token] ?? null;
    },
    reviewAccess: async (user, verb, path) => {
      calls.access.push(`${user.username} ${verb} ${path}`);
      if (state.fail) throw new Error('connect ECONNREFUSED 10.96.0.1:443');
      return { allowed: allowed.has(`${user.username} ${verb} ${path}`), reason: '' };
    },
  };
  return { reviews, calls, state };
}

function setup() {
  const clock = { ms: 1_000_000 };
  const warnings: string[] = [];
  const fake = fakeReviews(
    { 'good-token': SCRAPER, 'other-token': { username: 'alice', groups: ['system:authenticated'] } },
    new Set([`${SCRAPER.username} get /metrics`]),
  );
  const auth = new MetricsAuthorizer(fake.reviews, () => clock.ms, silentLog({ warn: (_o, m) => void warnings.push(m) }));
  return { ...fake, clock, auth, warnings };
}

test('status codes: 401 without a usable token, 403 for a user RBAC does not allow, allowed for the scraper', async () => {
  const { auth, calls } = setup();
  const cases: Array<[authorization: string | undefined, method: string, expected: object]> = [
    [undefined, 'GET', { allowed: false, code: 401, message: 'Unauthorized' }],
    ['', 'GET', { allowed: false, code: 401, message: 'Unauthorized' }],
    ['Basic dXNlcjpwYXNz', 'GET', { allowed: false, code: 401, message: 'Unauthorized' }],
    ['Bearer', 'GET', { allowed: false, code: 401, message: 'Unauthorized' }],
    ['Bearer made-up', 'GET', { allowed: false, code: 401, message: 'Unauthorized' }],
    ['Bearer other-token', 'GET', { allowed: false, code: 403, message: 'Authorization denied for user alice' }],
    ['Bearer good-token', 'GET', { allowed: true, user: SCRAPER.username }],
    ['bearer   good-token ', 'GET', { allowed: true, user: SCRAPER.username }],
    // The verb is the method in lower case, as controller-runtime asks: a role granting get does not grant head.
    ['Bearer good-token', 'HEAD', { allowed: false, code: 403, message: `Authorization denied for user ${SCRAPER.username}` }],
  ];
  for (const [authorization, method, expected] of cases) {
    assert.deepEqual(await auth.check(authorization, method, '/metrics'), expected, `${authorization} ${method}`);
  }
  assert.equal(calls.token, 3, 'one TokenReview per distinct token; none without one');
  assert.deepEqual(calls.access, ['alice get /metrics', `${SCRAPER.username} get /metrics`, `${SCRAPER.username} head /metrics`]);
});

test('answers are cached for as long as controller-runtime caches them', async () => {
  const { auth, calls, clock } = setup();
  await auth.check('Bearer good-token', 'GET', '/metrics');
  await auth.check('Bearer made-up', 'GET', '/metrics');
  await auth.check('Bearer other-token', 'GET', '/metrics');
  assert.deepEqual([calls.token, calls.access.length], [3, 2]);

  clock.ms += REVIEW_CACHE_TTL.denyMs - 1;
  for (const t of ['good-token', 'made-up', 'other-token']) await auth.check(`Bearer ${t}`, 'GET', '/metrics');
  assert.deepEqual([calls.token, calls.access.length], [3, 2], 'all cached');

  clock.ms += 2; // past the deny's 30 s: only the deny is asked again
  await auth.check('Bearer other-token', 'GET', '/metrics');
  await auth.check('Bearer good-token', 'GET', '/metrics');
  assert.deepEqual([calls.token, calls.access.length], [3, 3]);

  clock.ms += REVIEW_CACHE_TTL.tokenMs; // past a token's minute: tokens reviewed again, the allow still holds
  await auth.check('Bearer good-token', 'GET', '/metrics');
  assert.deepEqual([calls.token, calls.access.length], [4, 3]);

  clock.ms += REVIEW_CACHE_TTL.allowMs; // past the allow's 5 minutes
  await auth.check('Bearer good-token', 'GET', '/metrics');
  assert.deepEqual([calls.token, calls.access.length], [5, 4]);
});

test('concurrent scrapes with one token share one review of each kind', async () => {
  const { auth, calls } = setup();
  const verdicts = await Promise.all(Array.from({ length: 5 }, () => auth.check('Bearer good-token', 'GET', '/metrics')));
  assert.ok(verdicts.every((v) => v.allowed));
  assert.deepEqual([calls.token, calls.access.length], [1, 1]);
});

test('a review that fails is 500, is not cached, and is logged at warn once until one works', async () => {
  const { auth, calls, state, warnings } = setup();
  state.fail = true;
  assert.deepEqual(await auth.check('Bearer good-token', 'GET', '/metrics'), { allowed: false, code: 500, message: 'Authentication failed' });
  assert.deepEqual(await auth.check('Bearer good-token', 'GET', '/metrics'), { allowed: false, code: 500, message: 'Authentication failed' });
  assert.equal(calls.token, 2, 'a failure is not cached');
  assert.equal(warnings.length, 1);
  state.fail = false;
  assert.equal((await auth.check('Bearer good-token', 'GET', '/metrics')).allowed, true);
  state.fail = true;
  await auth.check('Bearer other-token', 'GET', '/metrics');
  assert.equal(warnings.length, 2, 'logged again after a review worked');
});

test('a flood of made-up tokens evicts the oldest answers: memory stays bounded', async () => {
  const { auth, calls } = setup();
  await auth.check('Bearer good-token', 'GET', '/metrics');
  for (let i = 0; i < 1000; i++) await auth.check(`Bearer made-up-${i}`, 'GET', '/metrics');
  assert.equal(calls.token, 1001);
  await auth.check('Bearer good-token', 'GET', '/metrics');
  assert.equal(calls.token, 1002, 'the first answer was evicted by the 1000 after it');
});
