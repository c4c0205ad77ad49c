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
 * `helm template` with `--set` pairs (e.g. "agent.privileged=true"); throws with helm's stderr on failure.
 * What `helm install` creates: the `helm test` hook is left out unless `tests` is set.
 */
export async function renderChart(
  sets: string[] = [],
  extraArgs: string[] = [],
  release = { name: RELEASE, namespace: NAMESPACE },
  { tests = false } = {},
): Promise<Rendered> {
  const args = [
    'template',
    release.name,
    CHART_DIR,
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
