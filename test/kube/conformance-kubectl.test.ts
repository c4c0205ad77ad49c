// Real kubectl 1.33 against the API server: apply a CRD and objects (client- and
// server-side), get with printer columns (captures 95, 96), explain (98), strict field
// validation (99), delete.
import assert from 'node:assert/strict';
import { fileURLToPath } from 'node:url';
import { after, before, describe, it } from 'node:test';
import { startApi, type TestApi } from '../support/kube/harness.js';
import { runKubectl, type ToolResult } from '../support/kube/tools.js';

const CRD_FILE = fileURLToPath(new URL('./fixtures/gadget-crd.json', import.meta.url));
const gadgetYaml = (name: string, spec: string) => `apiVersion: wire.example/v1alpha1\nkind: Gadget\nmetadata:\n  name: ${name}\nspec:\n${spec}`;

describe('kubectl against the API server', () => {
  let api: TestApi;
  let kubeconfig: string;
  before(async () => {
    api = await startApi();
    kubeconfig = api.kubeconfig();
  });
  after(() => api?.stop());

  const kubectl = (args: string[], input?: string): Promise<ToolResult> => runKubectl(args, { kubeconfig, ...(input !== undefined ? { input } : {}) });
  const ok = async (args: string[], input?: string) => {
    const res = await kubectl(args, input);
    assert.equal(res.code, 0, `kubectl ${args.join(' ')}: ${res.stderr}`);
    return res.stdout;
  };

  it('applies the CRD, waits for Established, then applies, re-applies and lists an object with the printer columns', async () => {
    assert.equal(await ok(['apply', '-f', CRD_FILE]), 'customresourcedefinition.apiextensions.k8s.io/gadgets.wire.example created\n');
    assert.match(await ok(['wait', '--for=condition=Established', 'crd/gadgets.wire.example', '--timeout=20s']), /condition met/);
    assert.equal(await ok(['apply', '-f', '-'], gadgetYaml('g1', '  max: 3\n')), 'gadget.wire.example/g1 created\n');
    assert.equal(await ok(['apply', '-f', '-'], gadgetYaml('g1', '  max: 4\n')), 'gadget.wire.example/g1 configured\n');
    assert.equal(await ok(['apply', '-f', '-'], gadgetYaml('g1', '  max: 4\n')), 'gadget.wire.example/g1 unchanged\n');
    const status = await api.request('PATCH', '/apis/wire.example/v1alpha1/gadgets/g1/status', {
      body: { status: { usagePercent: 42 } },
      contentType: 'application/merge-patch+json',
    });
    assert.equal(status.status, 200);
    const lines = (await ok(['get', 'gadgets'])).trimEnd().split('\n');
    assert.deepEqual(lines[0]?.split(/\s+/), ['NAME', 'MODE', 'USAGE', 'AGE']);
    assert.deepEqual(lines[1]?.split(/\s+/).slice(0, 3), ['g1', 'Enforce', '42']);
    assert.match(lines[1]?.split(/\s+/)[3] ?? '', /^\d+s$/);
    assert.equal(lines.length, 2);
    const byShortName = await ok(['get', 'gd', 'g1', '-o', 'jsonpath={.spec.max} {.metadata.generation}']);
    assert.equal(byShortName, '4 2');
  });

  it('explains the CRD schema from OpenAPI v3 (capture 98)', async () => {
    const out = await ok(['explain', 'gadgets.spec']);
    assert.match(out, /^GROUP:\s+wire\.example\nKIND:\s+Gadget\nVERSION:\s+v1alpha1\n/);
    assert.match(out, /FIELD: spec <Object>/);
    assert.match(out, /\n {2}mode\t<string>\n {2}enum: Enforce, DryRun\n/);
    assert.match(out, /\n {2}max\t<integer>\n/);
  });

  it("reports an unknown field as the server's strict decoding error (capture 99)", async () => {
    const res = await kubectl(['apply', '-f', '-'], gadgetYaml('g6', '  typo: 4\n'));
    assert.equal(res.code, 1);
    assert.equal(
      res.stderr.trim(),
      'Error from server (BadRequest): error when creating "STDIN": Gadget in version "v1alpha1" cannot be handled as a Gadget: strict decoding error: unknown field "spec.typo"',
    );
  });

  it('reports schema and CEL violations as the server words them', async () => {
    const res = await kubectl(['apply', '-f', '-'], gadgetYaml('g7', '  max: 5\n  pressure: {warning: 95, critical: 90}\n'));
    assert.equal(res.code, 1);
    assert.match(res.stderr, /The Gadget "g7" is invalid: spec: Invalid value: "object": warning must be below critical/);
  });

  it('applies server-side and shows the object', async () => {
    assert.equal(await ok(['apply', '--server-side', '-f', '-'], gadgetYaml('g2', '  max: 7\n')), 'gadget.wire.example/g2 serverside-applied\n');
    const got = JSON.parse(await ok(['get', 'gadget', 'g2', '-o', 'json', '--show-managed-fields']));
    assert.deepEqual(got.spec, { max: 7, mode: 'Enforce' });
    assert.ok(got.metadata.managedFields.some((m: any) => m.manager === 'kubectl' && m.operation === 'Apply'));
  });

  it('applies and re-applies a built-in object with a strategic merge patch', async () => {
    const cm = (value: string) => `apiVersion: v1\nkind: ConfigMap\nmetadata:\n  name: settings\n  namespace: default\ndata:\n  a: "${value}"\n`;
    assert.equal(await ok(['apply', '-f', '-'], cm('1')), 'configmap/settings created\n');
    assert.equal(await ok(['apply', '-f', '-'], cm('2')), 'configmap/settings configured\n');
    assert.equal(await ok(['get', 'configmap', 'settings', '-n', 'default', '-o', 'jsonpath={.data.a}']), '2');
  });

  it('watches with get -w, one Table row per change', async () => {
    const patch = setTimeout(
      () =>
        void api.request('PATCH', '/apis/wire.example/v1alpha1/gadgets/g1', {
          body: { spec: { mode: 'DryRun' } },
          contentType: 'application/merge-patch+json',
        }),
      700,
    );
    const res = await kubectl(['get', 'gadgets', 'g1', '-w', '--request-timeout=2s']);
    clearTimeout(patch);
    const rows = res.stdout
      .trimEnd()
      .split('\n')
      .map((l) => l.split(/\s+/).slice(0, 2));
    assert.deepEqual(rows, [
      ['NAME', 'MODE'],
      ['g1', 'Enforce'],
      ['g1', 'DryRun'],
    ]);
  });

  it('runs the typed commands that send protobuf bodies: create namespace/secret, auth can-i, delete', async () => {
    assert.equal(await ok(['create', 'namespace', 'team-x']), 'namespace/team-x created\n');
    assert.equal(
      await ok(['create', 'secret', 'generic', 'creds', '-n', 'team-x', '--from-literal=password=s3cret', '--type=Opaque']),
      'secret/creds created\n',
    );
    const secret = await api.request('GET', '/api/v1/namespaces/team-x/secrets/creds');
    assert.deepEqual([secret.body.type, secret.body.data], ['Opaque', { password: Buffer.from('s3cret').toString('base64') }]);
    assert.equal((await ok(['auth', 'can-i', 'delete', 'secrets', '-n', 'team-x'])).trim(), 'yes');
    assert.equal(await ok(['delete', 'secret', 'creds', '-n', 'team-x']), 'secret "creds" deleted\n');
  });

  it('deletes an object and no longer lists it', async () => {
    assert.equal(await ok(['delete', 'gadget', 'g1']), 'gadget.wire.example "g1" deleted\n');
    assert.equal(await ok(['get', 'gadgets', '-o', 'name']), 'gadget.wire.example/g2\n');
    const missing = await kubectl(['get', 'gadget', 'g1']);
    assert.equal(missing.code, 1);
    assert.equal(missing.stderr.trim(), 'Error from server (NotFound): gadgets.wire.example "g1" not found');
  });
});
