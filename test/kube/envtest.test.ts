import assert from 'node:assert/strict';
import { spawnSync } from 'node:child_process';
import { chmodSync, existsSync, mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { after, before, describe, it } from 'node:test';
import { ADMIN_USER, apiServerArgs, envtestAssets, envtestConfigured, etcdArgs, startEnvtest, tokenAuthFile } from '../support/kube/envtest.js';
import { writeKubeconfig } from '../support/kube/kubeconfig.js';
import { runKubectl } from '../support/kube/tools.js';

describe('envtest against real binaries', () => {
  const skip = envtestConfigured() ? false : 'KUBEBUILDER_ASSETS is not set: no kube-apiserver/etcd binaries to start';
  it('serves HTTPS with token auth and RBAC on', { skip }, async () => {
    const env = await startEnvtest({ identities: [{ token: 'restricted-token', user: 'restricted', groups: ['team'] }] });
    const dir = mkdtempSync(join(tmpdir(), 'ctop-envtest-real-'));
    try {
      const admin = writeKubeconfig({ server: env.url, token: env.adminToken, user: ADMIN_USER, caData: env.caData, dir });
      const restricted = writeKubeconfig({ server: env.url, token: 'restricted-token', user: 'restricted', caData: env.caData, dir });
      const ready = await runKubectl(['get', '--raw', '/readyz'], { kubeconfig: admin });
      assert.equal(ready.stdout, 'ok', ready.stderr);
      const discovery = await runKubectl(['api-versions'], { kubeconfig: restricted });
      assert.equal(discovery.code, 0, discovery.stderr);
      const denied = await runKubectl(['get', 'nodes'], { kubeconfig: restricted });
      assert.match(denied.stderr, /nodes is forbidden: User "restricted" cannot list resource "nodes" in API group "" at the cluster scope/);
    } finally {
      await env.stop();
      rmSync(dir, { recursive: true, force: true });
    }
  });
});

describe('envtestConfigured', () => {
  const cases: Array<[NodeJS.ProcessEnv, boolean]> = [
    [{}, false],
    [{ KUBEBUILDER_ASSETS: '' }, false],
    [{ KUBEBUILDER_ASSETS: '/usr/local/kubebuilder/bin' }, true],
  ];
  for (const [env, expected] of cases) {
    it(`${JSON.stringify(env)} -> ${expected}`, () => assert.equal(envtestConfigured(env), expected));
  }
});

describe('envtestAssets', () => {
  let dir: string;
  before(() => {
    dir = mkdtempSync(join(tmpdir(), 'ctop-envtest-assets-'));
  });
  after(() => rmSync(dir, { recursive: true, force: true }));

  it('names every missing binary', () => {
    assert.throws(() => envtestAssets(dir), /KUBEBUILDER_ASSETS: .* has no kube-apiserver and no etcd/);
    writeFileSync(join(dir, 'kube-apiserver'), '');
    assert.throws(() => envtestAssets(dir), /has no etcd \(expected/);
  });

  it('finds the binaries and an optional kubectl', () => {
    writeFileSync(join(dir, 'kube-apiserver'), '');
    writeFileSync(join(dir, 'etcd'), '');
    assert.deepEqual(envtestAssets(dir), { kubeApiserver: join(dir, 'kube-apiserver'), etcd: join(dir, 'etcd') });
    writeFileSync(join(dir, 'kubectl'), '');
    assert.equal(envtestAssets(dir).kubectl, join(dir, 'kubectl'));
  });
});

describe('tokenAuthFile', () => {
  it('writes token,user,uid and quotes several groups', () => {
    const text = tokenAuthFile([
      { token: 'admintoken', user: 'envtest-admin', groups: ['system:masters'] },
      { token: 'agenttoken', user: 'system:serviceaccount:ctop:agent', groups: ['system:serviceaccounts', 'system:serviceaccounts:ctop'] },
      { token: 'plaintoken', user: 'plain' },
    ]);
    assert.equal(
      text,
      [
        'admintoken,envtest-admin,envtest-admin,system:masters',
        'agenttoken,system:serviceaccount:ctop:agent,system:serviceaccount:ctop:agent,"system:serviceaccounts,system:serviceaccounts:ctop"',
        'plaintoken,plain,plain',
        '',
      ].join('\n'),
    );
  });

  const bad: Array<[string, Parameters<typeof tokenAuthFile>[0], RegExp]> = [
    ['a token with a comma', [{ token: 'a,b', user: 'u' }], /identities\[0\]\.token: must be printable ASCII/],
    ['a token with a space', [{ token: 'a b', user: 'u' }], /identities\[0\]\.token/],
    [
      'a repeated token',
      [
        { token: 't', user: 'u' },
        { token: 't', user: 'v' },
      ],
      /identities\[1\]\.token: used twice/,
    ],
    ['an empty user', [{ token: 't', user: '' }], /identities\[0\]\.user: must be a non-empty single line/],
    ['a group with a comma', [{ token: 't', user: 'u', groups: ['a,b'] }], /identities\[0\]\.groups: "a,b"/],
  ];
  for (const [name, identities, error] of bad) {
    it(`refuses ${name}`, () => assert.throws(() => tokenAuthFile(identities), error));
  }
});

describe('process arguments', () => {
  it('etcd listens on loopback and skips fsync only when it knows the flag', () => {
    const base = { dataDir: '/d', clientPort: 2379, peerPort: 2380 };
    const args = [
      '--data-dir=/d',
      '--listen-client-urls=http://127.0.0.1:2379',
      '--advertise-client-urls=http://127.0.0.1:2379',
      '--listen-peer-urls=http://127.0.0.1:2380',
    ];
    assert.deepEqual(etcdArgs({ ...base, noFsync: false }), args);
    assert.deepEqual(etcdArgs({ ...base, noFsync: true }), [...args, '--unsafe-no-fsync=true']);
  });

  it('kube-apiserver gets token auth, RBAC, service-account keys and a generated serving cert', () => {
    assert.deepEqual(
      apiServerArgs({
        certDir: '/c',
        etcdUrl: 'http://127.0.0.1:2379',
        securePort: 6443,
        tokenAuthFile: '/t.csv',
        serviceAccountKeyFile: '/sa.pub',
        serviceAccountSigningKeyFile: '/sa.key',
      }),
      [
        '--advertise-address=127.0.0.1',
        '--bind-address=127.0.0.1',
        '--secure-port=6443',
        '--cert-dir=/c',
        '--etcd-servers=http://127.0.0.1:2379',
        '--authorization-mode=RBAC',
        '--token-auth-file=/t.csv',
        '--service-account-issuer=https://127.0.0.1:6443/',
        '--service-account-key-file=/sa.pub',
        '--service-account-signing-key-file=/sa.key',
        '--service-cluster-ip-range=10.0.0.0/24',
        '--allow-privileged=true',
        '--disable-admission-plugins=ServiceAccount',
        '--runtime-config=networking.k8s.io/v1beta1=true',
        '--feature-gates=MultiCIDRServiceAllocator=true',
      ],
    );
  });
});

// Stand-ins for the binaries (node scripts) so the start/wait/stop logic runs here.
// Each records its PID and arguments next to itself.
const FAKE_ETCD = `
import { createServer } from 'node:http';
import { writeFileSync } from 'node:fs';
const args = process.argv.slice(2);
if (args.includes('--help')) { console.log('--unsafe-no-fsync  Disables fsync'); process.exit(0); }
const flag = (n) => args.find((a) => a.startsWith('--' + n + '='))?.slice(n.length + 3);
writeFileSync(new URL('etcd.json', import.meta.url), JSON.stringify({ pid: process.pid, args }));
const port = Number(new URL(flag('listen-client-urls')).port);
createServer((req, res) => { res.writeHead(req.url === '/health' ? 200 : 404); res.end('{"health":"true"}'); }).listen(port, '127.0.0.1');
`;

const FAKE_APISERVER = `
import { createServer } from 'node:https';
import { spawnSync } from 'node:child_process';
import { readFileSync, writeFileSync } from 'node:fs';
const args = process.argv.slice(2);
const flag = (n) => args.find((a) => a.startsWith('--' + n + '='))?.slice(n.length + 3);
const tokens = readFileSync(flag('token-auth-file'), 'utf8');
writeFileSync(new URL('kube-apiserver.json', import.meta.url), JSON.stringify({ pid: process.pid, args, tokens }));
if (process.env.FAKE_APISERVER_FAIL) { console.error('E1122 fake: unknown flag --nope'); process.exit(1); }
// Like kube-apiserver without --tls-cert-file: generate a self-signed serving cert into --cert-dir.
const [crt, key] = [flag('cert-dir') + '/apiserver.crt', flag('cert-dir') + '/apiserver.key'];
spawnSync('openssl', ['req', '-x509', '-newkey', 'ec', '-pkeyopt', 'ec_paramgen_curve:prime256v1', '-nodes', '-days', '1',
  '-subj', '/CN=127.0.0.1', '-addext', 'subjectAltName=IP:127.0.0.1', '-keyout', key, '-out', crt]);
const admin = tokens.split(',')[0];
createServer({ cert: readFileSync(crt), key: readFileSync(key) }, (req, res) => {
  const ok = req.url === '/readyz' && req.headers.authorization === 'Bearer ' + admin;
  res.writeHead(ok ? 200 : 401); res.end(ok ? 'ok' : '');
}).listen(Number(flag('secure-port')), '127.0.0.1');
`;

function isAlive(pid: number): boolean {
  try {
    process.kill(pid, 0);
    return true;
  } catch {
    return false;
  }
}

describe('startEnvtest with stand-in binaries', () => {
  let assets: string;
  const hasOpenssl = spawnSync('openssl', ['version']).status === 0;
  before(() => {
    assets = mkdtempSync(join(tmpdir(), 'ctop-envtest-fake-'));
    for (const [name, body] of [
      ['etcd', FAKE_ETCD],
      ['kube-apiserver', FAKE_APISERVER],
    ] as const) {
      // .mjs twin so node treats the script as ESM; the extension-less name is what envtest runs.
      writeFileSync(join(assets, `${name}.mjs`), body);
      writeFileSync(join(assets, name), `#!/bin/sh\nexec "${process.execPath}" "$0.mjs" "$@"\n`);
      chmodSync(join(assets, name), 0o755);
    }
  });
  after(() => rmSync(assets, { recursive: true, force: true }));
  const recorded = (name: string) => JSON.parse(readFileSync(join(assets, `${name}.json`), 'utf8')) as { pid: number; args: string[]; tokens?: string };

  it('refuses to start without assets', async () => {
    await assert.rejects(startEnvtest({ assetsDir: '' }), /KUBEBUILDER_ASSETS: not set/);
  });

  it(
    'starts both, waits for readiness, and stops exactly what it started',
    { skip: hasOpenssl ? false : 'openssl is not installed: the stand-in kube-apiserver cannot make its serving certificate' },
    async () => {
      const env = await startEnvtest({
        assetsDir: assets,
        identities: [{ token: 'agent-token', user: 'system:serviceaccount:ctop:agent', groups: ['system:serviceaccounts'] }],
      });
      const etcd = recorded('etcd');
      const apiServer = recorded('kube-apiserver');
      const certDir = apiServer.args.find((a) => a.startsWith('--cert-dir='))?.slice('--cert-dir='.length) ?? '';
      try {
        assert.match(env.url, /^https:\/\/127\.0\.0\.1:\d+$/);
        assert.ok(apiServer.args.includes(`--secure-port=${new URL(env.url).port}`));
        assert.ok(etcd.args.includes('--unsafe-no-fsync=true'));
        assert.equal(Buffer.from(env.caData, 'base64').toString(), readFileSync(join(certDir, 'apiserver.crt'), 'utf8'));
        assert.equal(
          apiServer.tokens,
          `${env.adminToken},${ADMIN_USER},${ADMIN_USER},system:masters\nagent-token,system:serviceaccount:ctop:agent,system:serviceaccount:ctop:agent,system:serviceaccounts\n`,
        );
        assert.equal(env.kubectl, undefined);
        assert.ok(isAlive(etcd.pid) && isAlive(apiServer.pid));
      } finally {
        await env.stop();
      }
      assert.ok(!isAlive(etcd.pid) && !isAlive(apiServer.pid), 'both processes are gone after stop()');
      assert.ok(!existsSync(certDir), 'the temp folder is removed');
    },
  );

  it('fails with the output of a binary that exits early, after stopping the rest', async () => {
    process.env.FAKE_APISERVER_FAIL = '1';
    try {
      await assert.rejects(
        startEnvtest({ assetsDir: assets }),
        /kube-apiserver exited before becoming ready; its output ends:\nE1122 fake: unknown flag --nope/,
      );
    } finally {
      delete process.env.FAKE_APISERVER_FAIL;
    }
    const etcd = recorded('etcd');
    assert.ok(!isAlive(etcd.pid), 'etcd was stopped');
    const dataDir = etcd.args.find((a) => a.startsWith('--data-dir='))?.slice('--data-dir='.length) ?? '';
    assert.ok(dataDir && !existsSync(dataDir), 'the temp folder is removed');
  });
});
