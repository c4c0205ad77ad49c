// Table-driven checks of the test API server's building blocks whose exact output the
// conformance tests only touch in passing: human durations (Age cells), printer-column
// JSONPath, strategic merge directives kubectl apply emits, merge patch and label selectors.
import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { mergePatch, strategicMergePatch } from '../support/kube/patch.js';
import { parseLabelSelector } from '../support/kube/selectors.js';
import { evalJsonPath, humanDuration } from '../support/kube/table.js';

describe('test API server internals', () => {
  it('formats ages like apimachinery HumanDuration', () => {
    const cases: [number, string][] = [
      [-5_000, '<invalid>'],
      [0, '0s'],
      [11_000, '11s'],
      [119_000, '119s'],
      [125_000, '2m5s'],
      [600_000, '10m'],
      [3 * 3_600_000, '3h'],
      [3 * 3_600_000 + 60_000, '3h1m'],
      [30 * 3_600_000, '30h'],
      [3 * 86_400_000 + 3_600_000, '3d1h'],
      [400 * 86_400_000, '400d'],
    ];
    for (const [ms, expected] of cases) assert.equal(humanDuration(ms), expected, `${ms} ms`);
  });

  it('evaluates printer-column JSONPath', () => {
    const obj = {
      spec: { mode: 'Enforce', ports: [80, 443] },
      status: {
        conditions: [
          { type: 'Ready', status: 'True' },
          { type: 'Drift', status: 'False' },
        ],
      },
    };
    const cases: [string, unknown[]][] = [
      ['.spec.mode', ['Enforce']],
      ['.spec.missing', []],
      ['.spec.ports[1]', [443]],
      ['.spec.ports[*]', [80, 443]],
      ['.status.conditions[?(@.type=="Ready")].status', ['True']],
      ['.status.conditions[?(@.type=="Nope")].status', []],
    ];
    for (const [path, expected] of cases) assert.deepEqual(evalJsonPath(obj as never, path), expected, path);
  });

  // Orders as kube-apiserver 1.32 answered the same patches (a Deployment's containers, a ConfigMap's finalizers).
  it('applies the strategic merge directives kubectl apply sends', () => {
    const live = {
      metadata: { finalizers: ['a', 'b'] },
      spec: {
        containers: [
          { name: 'x', image: '1' },
          { name: 'y', image: '1' },
        ],
        tolerations: [{ key: 'k' }],
      },
    };
    const cases: [string, unknown, unknown][] = [
      [
        'merge by name',
        { spec: { containers: [{ name: 'y', image: '2' }] } },
        [
          { name: 'x', image: '1' },
          { name: 'y', image: '2' },
        ],
      ],
      ['$patch delete', { spec: { containers: [{ name: 'x', $patch: 'delete' }] } }, [{ name: 'y', image: '1' }]],
      [
        '$setElementOrder alone reorders',
        { spec: { '$setElementOrder/containers': [{ name: 'y' }, { name: 'x' }] } },
        [
          { name: 'y', image: '1' },
          { name: 'x', image: '1' },
        ],
      ],
      ['new items before live-only ones', { spec: { containers: [{ name: 'z', image: '1' }] } }, [{ name: 'z', image: '1' }, ...live.spec.containers]],
      [
        '$setElementOrder places new items',
        { spec: { '$setElementOrder/containers': [{ name: 'x' }, { name: 'z' }, { name: 'y' }], containers: [{ name: 'z', image: '1' }] } },
        [
          { name: 'x', image: '1' },
          { name: 'z', image: '1' },
          { name: 'y', image: '1' },
        ],
      ],
    ];
    for (const [name, patch, containers] of cases)
      assert.deepEqual((strategicMergePatch(live as never, patch as never) as any).spec.containers, containers, name);
    assert.deepEqual(
      (strategicMergePatch(live as never, { spec: { tolerations: [{ key: 'j' }] } }) as any).spec.tolerations,
      [{ key: 'j' }],
      'lists without a merge key are replaced',
    );
    assert.deepEqual(
      (strategicMergePatch(live as never, { metadata: { finalizers: ['c'] } }) as any).metadata.finalizers,
      ['c', 'a', 'b'],
      "finalizers merge as a set, the patch's first",
    );
    assert.deepEqual((strategicMergePatch(live as never, { metadata: { '$deleteFromPrimitiveList/finalizers': ['a'] } }) as any).metadata.finalizers, ['b']);
    assert.deepEqual((strategicMergePatch(live as never, { spec: { $patch: 'replace', tolerations: [] } }) as any).spec, { tolerations: [] });
  });

  it('applies merge patch without modifying its input', () => {
    const doc = { a: { b: [1, 2] }, c: 1 };
    assert.deepEqual(mergePatch(doc, { a: { b: null }, z: { y: 1 } }), { a: {}, c: 1, z: { y: 1 } });
    assert.deepEqual(doc, { a: { b: [1, 2] }, c: 1 }, 'the input is not modified');
  });

  it('matches label selectors of every operator', () => {
    const obj = (labels: Record<string, string>) => ({ metadata: { labels } });
    const cases: [string, Record<string, string>, boolean][] = [
      ['tier=edge', { tier: 'edge' }, true],
      ['tier==edge', { tier: 'core' }, false],
      ['tier!=edge', {}, true],
      ['tier in (edge, core)', { tier: 'core' }, true],
      ['tier notin (edge)', { tier: 'edge' }, false],
      ['tier', { tier: '' }, true],
      ['!tier', { tier: 'x' }, false],
      ['a=1,b in (2,3)', { a: '1', b: '3' }, true],
      ['node-role.kubernetes.io/web', { 'node-role.kubernetes.io/web': '' }, true],
    ];
    for (const [selector, labels, expected] of cases)
      assert.equal(parseLabelSelector(selector)(obj(labels) as never), expected, `${selector} on ${JSON.stringify(labels)}`);
    assert.throws(() => parseLabelSelector('tier in edge'), /unable to parse requirement/);
  });
});
