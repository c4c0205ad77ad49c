// `kubectl conntrack doctor NODE` against the API server (the in-process
// test server, or a real kube-apiserver with KUBEBUILDER_ASSETS), run as a
// user runs it (the CLI as a process). No kubelet runs here, so no exec can
// complete: what is real is the pod lookup (labels, spec.nodeName, phase,
// releases, RBAC) and the kubectl command line, which a stand-in kubectl
// records (its exit code and output become the plugin's) and real kubectl
// parses up to the exec itself. The exec into a real agent container is in
// the image test (test/image/pod.image-test.ts).
import assert from 'node:assert/strict';
import { chmodSync, mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { after, before, describe, test } from 'node:test';
import { hostRootFlags } from '../../src/cli/kubectl-doctor.js';
import { runCli } from '../cli/cli-support.js';
import type { TestApi } from '../support/kube/harness.js';
import { ensureKubeTools } from '../support/kube/tools.js';
import { AGENT_LABELS, AGENT_NS, putAgentPod, startPluginCluster } from './support.js';

const VIEWER = { name: 'viewer', groups: ['system:authenticated'] };

let api: TestApi;
let dir: string;
/** A kubectl that records its arguments, prints a line and exits with SHIM_EXIT. */
let shim: string;
before(async () => {
  api = await startPluginCluster({ users: [VIEWER] });
  dir = mkdtempSync(join(tmpdir(), 'ctop-kubectl-doctor-'));
  shim = join(dir, 'kubectl');
  writeFileSync(shim, `#!/bin/sh\nprintf '%s\\n' "$@" > "${join(dir, 'args')}"\necho "doctor says hello"\necho "a warning" >&2\nexit "\${SHIM_EXIT:-0}"\n`);
  chmodSync(shim, 0o755);
  await putAgentPod(api, { name: 'agent-n1', node: 'n1', args: ['agent', '--kubernetes', '--proc-root=/hostfs/proc', '--state-dir=/var/lib/x'] });
  await putAgentPod(api, { name: 'agent-n2', node: 'n2', phase: 'Pending' });
  await putAgentPod(api, { name: 'agent-n3', node: 'n3' });
  await putAgentPod(api, { name: 'other-n3', node: 'n3', labels: { ...AGENT_LABELS, 'app.kubernetes.io/instance': 'other' } });
  await putAgentPod(api, { name: 'not-an-agent', node: 'n4', labels: { app: 'web' } });
});
after(async () => {
  await api?.stop();
  rmSync(dir, { recursive: true, force: true });
});

const doctor = (args: string[], env: Record<string, string> = {}) => runCli(['kubectl', 'doctor', ...args], { env });

describe('kubectl conntrack doctor NODE', () => {
  test("runs doctor in the node's agent container through kubectl exec: its output and exit code are the plugin's", async () => {
    const kubeconfig = api.kubeconfig();
    const r = await doctor(['n1', '--kubeconfig', kubeconfig, '--kubectl', shim, '-o', 'json', '--sample', '0', '--top=3'], { SHIM_EXIT: '2' });
    assert.equal(r.code, 2, r.stderr);
    assert.equal(r.stdout, 'doctor says hello\n');
    assert.equal(r.stderr, 'a warning\n');
    assert.deepEqual(readFileSync(join(dir, 'args'), 'utf8').trimEnd().split('\n'), [
      '--kubeconfig',
      kubeconfig,
      'exec',
      '--namespace',
      AGENT_NS,
      'agent-n1',
      '--container',
      'agent',
      '--',
      'node',
      '/app/dist/bundle/main.js',
      'doctor',
      '--proc-root=/hostfs/proc', // the agent's own flag
      '--sys-root=/host/sys', // the chart's mount, as the agent gave none
      '--output=json',
      '--sample=0',
      '--top=3',
    ]);
  });

  test('the context and its namespace are passed on; KUBECONFIG is inherited, not turned into --kubeconfig', async () => {
    const r = await doctor(['n3', '--kubectl', shim, '-l', 'app.kubernetes.io/instance=ctop', '--context', 'admin', '-n', AGENT_NS], {
      KUBECONFIG: api.kubeconfig(),
    });
    assert.equal(r.code, 0, r.stderr);
    assert.deepEqual(readFileSync(join(dir, 'args'), 'utf8').split('\n').slice(0, 6), ['--context', 'admin', 'exec', '--namespace', AGENT_NS, 'agent-n3']);
  });

  const refusals: Array<{ name: string; args: string[]; message: RegExp }> = [
    {
      name: 'no agent pod on the node',
      args: ['n4'],
      message:
        /no agent pod on node "n4" in namespace conntrack-operator \(pods labelled app.kubernetes.io\/name=conntrack-operator,app.kubernetes.io\/component=agent\): check the node's name/,
    },
    { name: 'no agent in the namespace', args: ['n1', '-n', 'default'], message: /no agent pod on node "n1" in namespace default/ },
    { name: 'the agent pod is not running', args: ['n2'], message: /no running agent pod on node "n2": conntrack-operator\/agent-n2 is Pending/ },
    {
      name: 'two releases on one node',
      args: ['n3'],
      message:
        /2 agent pods run on node "n3": conntrack-operator\/agent-n3 \(release ctop\), conntrack-operator\/other-n3 \(release other\); pick one release with -l .*app.kubernetes.io\/instance=RELEASE/,
    },
    {
      name: 'no kubectl',
      args: ['n1', '--kubectl', '/nonexistent/kubectl'],
      message: /\/nonexistent\/kubectl: not found \(kubectl runs the exec; name it with --kubectl PATH\)/,
    },
  ];
  for (const tc of refusals) {
    test(`exit 1, naming the problem: ${tc.name}`, async () => {
      const r = await doctor([...tc.args, '--kubeconfig', api.kubeconfig(), ...(tc.args.includes('--kubectl') ? [] : ['--kubectl', shim])]);
      assert.equal(r.code, 1, r.stderr);
      assert.match(r.stderr, /^kubectl conntrack doctor: /);
      assert.match(r.stderr, tc.message);
      assert.equal(r.stdout, '');
    });
  }

  test("RBAC refusal of the pod lookup: named, with the server's message", async () => {
    const r = await doctor(['n1', '--kubeconfig', api.kubeconfig(VIEWER.name), '--kubectl', shim]);
    assert.equal(r.code, 1);
    assert.match(
      r.stderr,
      /looking for the agent pod on node "n1" in namespace conntrack-operator: refused by RBAC: pods is forbidden: User "viewer" cannot list resource "pods" in API group "" in the namespace "conntrack-operator"/,
    );
  });

  test("real kubectl takes the command line as built, and its exit code is the plugin's when the exec fails (no kubelet here)", async () => {
    const { kubectl } = await ensureKubeTools();
    const r = await doctor(['n1', '--kubeconfig', api.kubeconfig(), '--kubectl', kubectl]);
    assert.equal(r.code, 1, r.stderr);
    // Refused by the server at the exec itself, past kubectl's flag parsing and its look at the pod.
    assert.doesNotMatch(r.stderr, /unknown flag|Usage:|container .* not found|does not have a host assigned/);
    assert.match(r.stderr, /error/i);
  });
});

test("the host's /proc and /sys: the agent's own flags in either form, else the chart's mounts", () => {
  const cases: Array<[string[], string[]]> = [
    [
      ['agent', '--proc-root=/a', '--sys-root', '/b'],
      ['--proc-root=/a', '--sys-root=/b'],
    ],
    [
      ['agent', '--proc-root'],
      ['--proc-root=/host/proc', '--sys-root=/host/sys'],
    ],
    [[], ['--proc-root=/host/proc', '--sys-root=/host/sys']],
  ];
  for (const [args, flags] of cases) assert.deepEqual(hostRootFlags(args), flags, args.join(' '));
});
