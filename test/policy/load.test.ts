import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { formatPolicyErrors, parsePolicyDocuments, validatePolicyObjects, validPolicies, type PolicyError } from '../../src/policy/load.js';

const HEADER = 'apiVersion: conntrack.io/v1alpha1\nkind: ConntrackPolicy\n';

/** A one-document policy named `name` with the given spec lines (indented under spec:). */
function policy(spec: string, name = 'web-nodes'): string {
  const body = spec
    .trim()
    .split('\n')
    .map((line) => `  ${line}`)
    .join('\n');
  return `${HEADER}metadata:\n  name: ${name}\nspec:\n${body}\n`;
}

function errorsOf(text: string): PolicyError[] {
  const result = parsePolicyDocuments(text, 'p.yaml');
  assert.ok('errors' in result, `expected errors, got policies ${JSON.stringify(result)}`);
  return result.errors;
}

/** Each expected {path, message-substring} is found, and there are no other errors. */
function assertErrors(got: PolicyError[], expected: Array<{ path: string; message: string }>): void {
  const shown = formatPolicyErrors(got);
  assert.equal(got.length, expected.length, `error count; got:\n${shown}`);
  for (const want of expected) {
    assert.ok(
      got.some((e) => e.path === want.path && e.message.includes(want.message)),
      `missing ${want.path}: ...${want.message}...; got:\n${shown}`,
    );
  }
}

describe('parsePolicyDocuments: errors name the field and the reason', () => {
  const cases: Array<{ name: string; text: string; errors: Array<{ path: string; message: string }> }> = [
    {
      name: 'wrong enum, with the allowed values',
      text: policy('mode: enforce'),
      errors: [{ path: 'spec.mode', message: 'must be one of "Enforce", "DryRun", got "enforce"' }],
    },
    {
      name: 'unknown field, with the allowed ones',
      text: policy('prio: 3'),
      errors: [{ path: 'spec.prio', message: 'unknown field; allowed here: nodeSelector, priority, mode' }],
    },
    {
      name: 'unknown nested field',
      text: policy('timeouts: {tcp: {establised: 600}}'),
      errors: [{ path: 'spec.timeouts.tcp.establised', message: 'allowed here: synSentSeconds, synRecvSeconds, establishedSeconds' }],
    },
    {
      name: 'timeout of 0 seconds',
      text: policy('timeouts: {tcp: {establishedSeconds: 0}}'),
      errors: [{ path: 'spec.timeouts.tcp.establishedSeconds', message: 'must be at least 1 second, got 0' }],
    },
    {
      name: 'a duration string where whole seconds are wanted',
      text: policy('timeouts: {udp: {unrepliedSeconds: "10m"}}'),
      errors: [{ path: 'spec.timeouts.udp.unrepliedSeconds', message: 'expected whole seconds (the field is in seconds: 600, not "10m"), got "10m"' }],
    },
    {
      name: 'timeout too long for the kernel',
      text: policy('timeouts: {genericSeconds: 3599996400}'),
      errors: [{ path: 'spec.timeouts.genericSeconds', message: 'must be at most 2147483647 seconds, got 3599996400' }],
    },
    {
      name: 'fractional seconds',
      text: policy('timeouts: {tcp: {timeWaitSeconds: 1.5}}'),
      errors: [{ path: 'spec.timeouts.tcp.timeWaitSeconds', message: 'expected a whole number, got 1.5' }],
    },
    {
      name: 'the old field name without the unit',
      text: policy('timeouts: {icmp: 10}'),
      errors: [
        { path: 'spec.timeouts.icmp', message: 'unknown field; allowed here: tcp, udp, icmpSeconds, icmpv6Seconds, genericSeconds, allowBelowSafeFloor' },
      ],
    },
    {
      name: 'a fractional percent',
      text: policy('pressure: {warningPercent: 72.5}'),
      errors: [{ path: 'spec.pressure.warningPercent', message: 'expected a whole number, got 72.5' }],
    },
    {
      name: 'fractional number where an integer is expected',
      text: policy('priority: 1.5'),
      errors: [{ path: 'spec.priority', message: 'expected a whole number, got 1.5' }],
    },
    {
      name: 'table max below the minimum',
      text: policy('table: {max: 10}'),
      errors: [{ path: 'spec.table.max', message: 'must be at least 1024, got 10' }],
    },
    {
      name: 'autoSize with max',
      text: policy('table: {max: 65536, autoSize: {}}'),
      errors: [{ path: 'spec.table.autoSize', message: 'cannot be combined with max or buckets' }],
    },
    {
      name: 'maxMax below minMax',
      text: policy('table: {autoSize: {minMax: 200000, maxMax: 100000}}'),
      errors: [{ path: 'spec.table.autoSize.maxMax', message: 'must be at least minMax (200000), got 100000' }],
    },
    {
      name: 'growAheadSeconds beyond what the forecast can see',
      text: policy('table: {autoSize: {growAheadSeconds: 300}}'),
      errors: [{ path: 'spec.table.autoSize.growAheadSeconds', message: 'must be at most 120 seconds, got 300' }],
    },
    {
      name: 'growAheadSeconds too short to act on',
      text: policy('table: {autoSize: {growAheadSeconds: 5}}'),
      errors: [{ path: 'spec.table.autoSize.growAheadSeconds', message: 'must be at least 10 seconds, got 5' }],
    },
    {
      name: 'warning not below critical',
      text: policy('pressure: {warningPercent: 90, criticalPercent: 80}'),
      errors: [{ path: 'spec.pressure.warningPercent', message: 'must be below criticalPercent (80), got 90' }],
    },
    {
      name: 'warning above the default critical',
      text: policy('pressure: {warningPercent: 95}'),
      errors: [{ path: 'spec.pressure.warningPercent', message: 'must be below criticalPercent (90)' }],
    },
    {
      name: 'pressure response: stop not below start',
      text: policy('pressureResponse: {startPercent: 70, stopPercent: 70, timeouts: {tcp: {timeWaitSeconds: 10}}}'),
      errors: [{ path: 'spec.pressureResponse.stopPercent', message: 'must be below startPercent (70), got 70' }],
    },
    {
      name: 'pressure response: stop above the default start',
      text: policy('pressureResponse: {stopPercent: 85, timeouts: {udp: {unrepliedSeconds: 10}}}'),
      errors: [{ path: 'spec.pressureResponse.stopPercent', message: 'must be below startPercent (80), got 85' }],
    },
    {
      name: 'pressure response that lowers nothing',
      text: policy('pressureResponse: {timeouts: {}}'),
      errors: [{ path: 'spec.pressureResponse.timeouts', message: 'names no timeout: a pressure response must lower at least one' }],
    },
    {
      name: 'pressure response without timeouts',
      text: policy('pressureResponse: {startPercent: 90}'),
      errors: [{ path: 'spec.pressureResponse.timeouts', message: 'required: expected a mapping' }],
    },
    {
      name: 'pressure response: no opt-in below the safe floors',
      text: policy('pressureResponse: {timeouts: {tcp: {timeWaitSeconds: 10}, allowBelowSafeFloor: true}}'),
      errors: [{ path: 'spec.pressureResponse.timeouts.allowBelowSafeFloor', message: 'unknown field; allowed here: tcp, udp, icmpSeconds' }],
    },
    {
      name: 'percent out of range',
      text: policy('pressure: {criticalPercent: 101}'),
      errors: [{ path: 'spec.pressure.criticalPercent', message: 'must be at most 100, got 101' }],
    },
    {
      name: 'ports without protocol',
      text: policy('notrack: [{name: web, ports: [80]}]'),
      errors: [{ path: 'spec.notrack[0].protocol', message: 'required when ports are given' }],
    },
    {
      name: 'port range reversed, out of range, malformed, zero',
      text: policy('notrack: [{name: web, protocol: tcp, ports: ["90-80", "70000", "1-2-3", 0]}]'),
      errors: [
        { path: 'spec.notrack[0].ports[0]', message: 'range start 90 is above its end 80' },
        { path: 'spec.notrack[0].ports[1]', message: 'within 1..65535, got "70000"' },
        { path: 'spec.notrack[0].ports[2]', message: 'expected a port (443) or an inclusive range ("8000-8100"), got "1-2-3"' },
        { path: 'spec.notrack[0].ports[3]', message: 'must be at least 1, got 0' },
      ],
    },
    {
      name: 'invalid CIDRs',
      text: policy('notrack: [{name: r, sources: ["10.0.0.256/8", "10.0.0.0/33", "fd00::/129", "fd00:::1", "010.0.0.0/8", "zz"]}]'),
      errors: [
        { path: 'spec.notrack[0].sources[0]', message: 'octet 256 is above 255' },
        { path: 'spec.notrack[0].sources[1]', message: 'prefix /33 is longer than 32 bits' },
        { path: 'spec.notrack[0].sources[2]', message: 'prefix /129 is longer than 128 bits' },
        { path: 'spec.notrack[0].sources[3]', message: 'not a valid IPv4 or IPv6 CIDR' },
        { path: 'spec.notrack[0].sources[4]', message: 'without leading zeros' },
        { path: 'spec.notrack[0].sources[5]', message: 'expected an IPv4 or IPv6 CIDR such as "10.0.0.0/8"' },
      ],
    },
    {
      name: 'sources and destinations of different families',
      text: policy('notrack: [{name: r, sources: [10.0.0.0/8], destinations: ["fd00::/64"]}]'),
      errors: [{ path: 'spec.notrack[0].destinations', message: 'different IP families' }],
    },
    {
      name: 'duplicate rule names',
      text: policy('notrack: [{name: lo, interface: lo}, {name: lo, interface: lo}]'),
      errors: [{ path: 'spec.notrack[1].name', message: 'duplicate rule name "lo" (also spec.notrack[0])' }],
    },
    {
      name: 'bad rule name and interface',
      text: policy('notrack: [{name: Web_1, interface: "a-very-long-interface-name"}]'),
      errors: [
        { path: 'spec.notrack[0].name', message: 'expected lowercase letters, digits and "-"' },
        { path: 'spec.notrack[0].interface', message: 'expected an interface name' },
      ],
    },
    {
      name: 'matchExpressions value rules and label syntax',
      text: policy(
        'nodeSelector: {matchLabels: {"bad key!": x}, matchExpressions: [{key: a, operator: In}, {key: b, operator: Exists, values: [x]}, {key: c, operator: Like}]}',
      ),
      errors: [
        { path: 'spec.nodeSelector.matchLabels.bad key!', message: 'label key "bad key!"' },
        { path: 'spec.nodeSelector.matchExpressions[0].values', message: 'operator In needs at least one value' },
        { path: 'spec.nodeSelector.matchExpressions[1].values', message: 'operator Exists takes no values, got 1' },
        { path: 'spec.nodeSelector.matchExpressions[2].operator', message: 'must be one of "In", "NotIn", "Exists", "DoesNotExist"' },
      ],
    },
    {
      name: 'unquoted YAML boolean as a label value',
      text: policy('nodeSelector: {matchLabels: {gpu: true}}'),
      errors: [{ path: 'spec.nodeSelector.matchLabels.gpu', message: 'expected a string, got true (quote it: "true")' }],
    },
    {
      name: 'wrong apiVersion and kind, missing spec',
      text: 'apiVersion: conntrack.io/v1\nkind: Policy\nmetadata: {name: x}\n',
      errors: [
        { path: 'apiVersion', message: 'must be "conntrack.io/v1alpha1", got "conntrack.io/v1"' },
        { path: 'kind', message: 'must be "ConntrackPolicy", got "Policy"' },
        { path: 'spec', message: 'required: expected a mapping' },
      ],
    },
    {
      name: 'bad policy name',
      text: policy('priority: 1', 'Web_Nodes'),
      errors: [{ path: 'metadata.name', message: 'got "Web_Nodes"' }],
    },
    {
      // kube-apiserver refuses an empty DNS label between dots; the file loader must agree.
      name: 'policy name with an empty part between dots',
      text: policy('priority: 1', 'web..nodes'),
      errors: [{ path: 'metadata.name', message: 'got "web..nodes"' }],
    },
    {
      name: 'a document that is not a mapping',
      text: '--- just a string\n',
      errors: [{ path: '', message: 'expected a mapping, got "just a string"' }],
    },
    {
      name: 'several errors at once, schema and semantic together',
      text: policy('mode: enforce\ntimeouts: {tcp: {establishedSeconds: 0}}\nnotrack: [{name: w, ports: ["9-1"]}]\npressure: {warningPercent: 95}'),
      errors: [
        { path: 'spec.mode', message: 'must be one of' },
        { path: 'spec.timeouts.tcp.establishedSeconds', message: 'at least 1 second' },
        { path: 'spec.notrack[0].protocol', message: 'required when ports are given' },
        { path: 'spec.notrack[0].ports[0]', message: 'range start 9 is above its end 1' },
        { path: 'spec.pressure.warningPercent', message: 'must be below criticalPercent' },
      ],
    },
    {
      name: 'duplicate policy names across documents',
      text: `${policy('priority: 1', 'a')}---\n${policy('priority: 2', 'a')}`,
      errors: [{ path: 'metadata.name', message: 'duplicate policy name (also document 1)' }],
    },
  ];
  for (const c of cases) it(c.name, () => assertErrors(errorsOf(c.text), c.errors));

  it('names the policy, or the document index when there is no name', () => {
    const text = `${policy('mode: x', 'named')}---\n${HEADER}spec: {}\n`;
    const errors = errorsOf(text);
    assert.deepEqual(
      errors.map((e) => [e.policy, e.document, e.path]),
      [
        ['named', 1, 'spec.mode'],
        [undefined, 2, 'metadata'],
      ],
    );
    assert.equal(
      formatPolicyErrors(errors),
      'p.yaml: named: spec.mode: must be one of "Enforce", "DryRun", got "x"\np.yaml: document 2: metadata: required: expected a mapping',
    );
  });

  it('reports a YAML syntax error with line and column', () => {
    const errors = errorsOf(`${HEADER}metadata: {name: a}\nspec:\n  notrack: [\n    {name: a,\n  - x\n`);
    assert.equal(errors.length, 1);
    assert.equal(errors[0]!.source, 'p.yaml');
    assert.match(errors[0]!.message, /^YAML syntax error at line \d+, column \d+: \S/);
  });

  it('reports a duplicate key (js-yaml refuses it) with its line', () => {
    const errors = errorsOf(`${HEADER}metadata: {name: a}\nspec:\n  priority: 1\n  priority: 2\n`);
    assert.match(errors[0]!.message, /^YAML syntax error at line 6, column 3: duplicated mapping key/);
  });
});

describe('parsePolicyDocuments: valid input', () => {
  it('reads several documents, skipping empty ones, and fills defaults', () => {
    const text = `---\n${policy('priority: 5', 'a')}---\n# only a comment\n---\n${policy('mode: DryRun', 'b')}`;
    const result = parsePolicyDocuments(text, 'p.yaml');
    assert.ok('policies' in result, formatPolicyErrors('errors' in result ? result.errors : []));
    assert.deepEqual(
      result.policies.map((p) => [p.metadata.name, p.spec.priority, p.spec.mode]),
      [
        ['a', 5, 'Enforce'],
        ['b', 0, 'DryRun'],
      ],
    );
  });

  it('accepts timeouts, port ranges and CIDRs in all their forms', () => {
    const result = parsePolicyDocuments(
      policy(
        'timeouts: {tcp: {establishedSeconds: 5400, timeWaitSeconds: 30, synSentSeconds: 45, finWaitSeconds: 120}}\n' +
          'notrack: [{name: r, protocol: udp, ports: [53, "8000-8100", "9000-9000"], sources: [10.0.0.1, "fd00::/64", "::ffff:10.0.0.0/104"]}]',
      ),
      'p.yaml',
    );
    assert.ok('policies' in result, formatPolicyErrors('errors' in result ? result.errors : []));
  });

  it('validates objects from the API the same way', () => {
    const result = validatePolicyObjects(
      [{ object: { apiVersion: 'conntrack.io/v1alpha1', kind: 'ConntrackPolicy', metadata: { name: 'x' }, spec: { priority: 'high' } }, document: 1 }],
      'api',
    );
    assert.ok('errors' in result);
    assert.equal(formatPolicyErrors(result.errors), 'api: x: spec.priority: expected a number, got "high"');
  });

  it('validates API objects one by one: an invalid policy does not take the valid ones down', () => {
    const object = (name: string, spec: object) => ({ apiVersion: 'conntrack.io/v1alpha1', kind: 'ConntrackPolicy', metadata: { name }, spec });
    const { policies, errors } = validPolicies([object('good', { priority: 1 }), object('bad', { priority: 'high' }), object('also-good', {})]);
    assert.deepEqual(
      policies.map((p) => p.metadata.name),
      ['good', 'also-good'],
    );
    assert.equal(formatPolicyErrors(errors), 'api: bad: spec.priority: expected a number, got "high"');
  });
});
