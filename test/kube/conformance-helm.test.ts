// Real helm against the API server: install, upgrade, list and uninstall a chart. Helm
// keeps its releases in Secrets written with protobuf bodies by typed client-go clients.
import assert from 'node:assert/strict';
import { fileURLToPath } from 'node:url';
import { after, before, describe, it } from 'node:test';
import { startApi, type TestApi } from '../support/kube/harness.js';
import { runHelm } from '../support/kube/tools.js';

const CHART = fileURLToPath(new URL('./fixtures/demo-chart', import.meta.url));

describe('helm against the API server', () => {
  let api: TestApi;
  let kubeconfig: string;
  before(async () => {
    api = await startApi();
    kubeconfig = api.kubeconfig();
  });
  after(() => api?.stop());

  const helm = async (args: string[]) => {
    const res = await runHelm([...args, '--namespace', 'default'], { kubeconfig, timeoutMs: 60_000 });
    assert.equal(res.code, 0, `helm ${args.join(' ')}: ${res.stderr}`);
    return res.stdout;
  };
  const releaseSecrets = async () => {
    const res = await api.request('GET', '/api/v1/namespaces/default/secrets?labelSelector=owner%3Dhelm');
    return res.body.items.map((s: any) => [s.metadata.name, s.metadata.labels.status, s.type]);
  };

  it('installs and upgrades a release, storing each revision in a Secret', async () => {
    assert.match(await helm(['install', 'demo', CHART]), /STATUS: deployed/);
    const settings = await api.request('GET', '/api/v1/namespaces/default/configmaps/demo-settings');
    assert.equal(settings.body.data.tag, '1');
    assert.match(await helm(['upgrade', 'demo', CHART, '--set', 'tag=2']), /REVISION: 2/);
    const ds = await api.request('GET', '/apis/apps/v1/namespaces/default/daemonsets/demo-agent');
    assert.equal(ds.body.spec.template.spec.containers[0].image, 'agent:2');
    assert.deepEqual(await releaseSecrets(), [
      ['sh.helm.release.v1.demo.v1', 'superseded', 'helm.sh/release.v1'],
      ['sh.helm.release.v1.demo.v2', 'deployed', 'helm.sh/release.v1'],
    ]);
    assert.match(await helm(['list']), /demo\s+default\s+2\s+.*deployed\s+demo-0\.1\.0/);
  });

  it('uninstalls the release and its objects', async () => {
    assert.match(await helm(['uninstall', 'demo']), /release "demo" uninstalled/);
    assert.equal((await api.request('GET', '/api/v1/namespaces/default/configmaps/demo-settings')).status, 404);
    assert.equal((await api.request('GET', '/apis/apps/v1/namespaces/default/daemonsets/demo-agent')).status, 404);
    assert.deepEqual(await releaseSecrets(), []);
  });
});
