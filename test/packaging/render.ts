// Renders the chart with real helm for the packaging tests.
import { load, loadAll } from 'js-yaml';
import { join } from 'node:path';
import { runHelm } from '../support/kube/tools.js';

export const CHART_DIR = join(import.meta.dirname, '..', '..', 'charts', 'conntrack-operator');
export const RELEASE = 'ctop';
export const NAMESPACE = 'conntrack-system';

export interface K8sObject {
  apiVersion: string;
  kind: string;
  metadata: { name: string; namespace?: string; labels?: Record<string, string> };
  [field: string]: any;
}

export interface Rendered {
  /** helm template's stdout, multi-document YAML. */
  text: string;
  objects: K8sObject[];
}

/**
 * `helm template` with `--set` pairs (e.g. "agent.privileged=true") of the chart folder or a packaged chart; throws with helm's stderr on failure.
 * What `helm install` creates: the `helm test` hook is left out unless `tests` is set.
 */
export async function renderChart(
  sets: string[] = [],
  extraArgs: string[] = [],
  release = { name: RELEASE, namespace: NAMESPACE },
  { tests = false, chart = CHART_DIR } = {},
): Promise<Rendered> {
  const args = [
    'template',
    release.name,
    chart,
    '--namespace',
    release.namespace,
    ...sets.flatMap((s) => ['--set', s]),
    ...(tests ? [] : ['--skip-tests']),
    ...extraArgs,
  ];
  const result = await runHelm(args);
  if (result.code !== 0) throw new Error(`helm ${args.join(' ')} exited ${result.code}: ${result.stderr}`);
  const objects = loadAll(result.stdout).filter((o): o is K8sObject => o !== null && typeof o === 'object');
  return { text: result.stdout, objects };
}

/** `helm package` of the chart into dir, as a release publishes it; returns the .tgz's path. */
export async function packageChart(dir: string): Promise<string> {
  const result = await runHelm(['package', CHART_DIR, '--destination', dir]);
  const path = /saved it to: (\S+\.tgz)\s*$/.exec(result.stdout)?.[1];
  if (result.code !== 0 || !path) throw new Error(`helm package exited ${result.code}: ${result.stdout}${result.stderr}`);
  return path;
}

export function findObject(objects: K8sObject[], kind: string, name?: string): K8sObject {
  const found = objects.filter((o) => o.kind === kind && (name === undefined || o.metadata.name === name));
  if (found.length !== 1) throw new Error(`expected one ${kind}${name ? ` ${name}` : ''}, found ${found.length}`);
  return found[0]!;
}

/** The one object of a kind that belongs to a component (agent, controller): the names are the release's. */
export function componentObject(objects: K8sObject[], kind: string, component: string): K8sObject {
  const found = objects.filter((o) => o.kind === kind && o.metadata.labels?.['app.kubernetes.io/component'] === component);
  if (found.length !== 1) throw new Error(`expected one ${kind} of the ${component}, found ${found.length}`);
  return found[0]!;
}

/** Parses one YAML document (fixtures, CRD files). */
export function parseYaml(text: string): K8sObject {
  return load(text) as K8sObject;
}
