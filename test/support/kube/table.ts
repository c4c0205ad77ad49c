// meta.k8s.io/v1 Table output (capture 30): a Name column, the CRD's printer columns or a
// built-in's default columns, null cells for missing paths, rows with PartialObjectMetadata.
import type { PrinterColumn, ResourceInfo } from './resources.js';
import { isObject, type Json, type JsonObject } from './schema-walk.js';
import { metaOf } from './store.js';
import { orderedMeta } from './wire-format.js';

const NAME_DESCRIPTION =
  'Name must be unique within a namespace. Is required when creating resources, although some resources may allow a client to request the generation of an appropriate name automatically. Name is primarily intended for creation idempotence and configuration definition. Cannot be updated. More info: https://kubernetes.io/docs/concepts/overview/working-with-objects/names#names';

interface ColumnDefinition {
  name: string;
  type: string;
  format: string;
  description: string;
  priority: number;
}

interface Column {
  definition: ColumnDefinition;
  cell: (obj: JsonObject, now: Date) => Json;
}

/** k8s.io/apimachinery/pkg/util/duration.HumanDuration. */
export function humanDuration(ms: number): string {
  const seconds = Math.floor(ms / 1000);
  if (seconds < -1) return '<invalid>';
  if (seconds < 0) return '0s';
  if (seconds < 120) return `${seconds}s`;
  const minutes = Math.floor(seconds / 60);
  if (minutes < 10) return seconds % 60 === 0 ? `${minutes}m` : `${minutes}m${seconds % 60}s`;
  if (minutes < 180) return `${minutes}m`;
  const hours = Math.floor(minutes / 60);
  if (hours < 8) return minutes % 60 === 0 ? `${hours}h` : `${hours}h${minutes % 60}m`;
  if (hours < 48) return `${hours}h`;
  const days = Math.floor(hours / 24);
  if (hours < 192) return hours % 24 === 0 ? `${days}d` : `${days}d${hours % 24}h`;
  if (days < 730) return `${days}d`;
  const years = Math.floor(days / 365);
  if (years < 8) return days % 365 === 0 ? `${years}y` : `${years}y${days % 365}d`;
  return `${years}y`;
}

/** The JSONPath subset printer columns use: .a.b, [n], [*], [?(@.k=="v")]. */
export function evalJsonPath(obj: Json, path: string): Json[] {
  const tokens = path.replace(/^\{|\}$/g, '').match(/\.[^.[]+|\[[^\]]*\]/g) ?? [];
  let current: Json[] = [obj];
  for (const token of tokens) {
    const next: Json[] = [];
    for (const value of current) {
      if (token.startsWith('.')) {
        if (isObject(value) && value[token.slice(1)] !== undefined) next.push(value[token.slice(1)] as Json);
        continue;
      }
      if (!Array.isArray(value)) continue;
      const inner = token.slice(1, -1);
      const filter = /^\?\(@\.([\w.-]+)\s*==\s*["']([^"']*)["']\)$/.exec(inner);
      if (inner === '*') next.push(...value);
      else if (filter) next.push(...value.filter((v) => isObject(v) && String(v[filter[1]!]) === filter[2]));
      else if (/^-?\d+$/.test(inner)) {
        const item = value.at(Number(inner));
        if (item !== undefined) next.push(item);
      }
    }
    current = next;
  }
  return current;
}

function crdCell(column: PrinterColumn, obj: JsonObject, now: Date): Json {
  const values = evalJsonPath(obj, column.jsonPath);
  if (values.length === 0) return null;
  const value = values[0] as Json;
  if (column.type === 'date' && typeof value === 'string') return humanDuration(now.getTime() - Date.parse(value));
  if (values.length > 1) return values.map((v) => (typeof v === 'object' ? JSON.stringify(v) : String(v))).join(',');
  if (column.type === 'string' && typeof value === 'object' && value !== null) return JSON.stringify(value);
  return value;
}

function ageCell(obj: JsonObject, now: Date): Json {
  const created = metaOf(obj).creationTimestamp;
  return created ? humanDuration(now.getTime() - Date.parse(created)) : '<unknown>';
}

const column = (name: string, type: string, description: string, cell: Column['cell'], priority = 0, format = ''): Column => ({
  definition: { name, type, format, description, priority },
  cell,
});

const nameColumn = column('Name', 'string', NAME_DESCRIPTION, (o) => metaOf(o).name, 0, 'name');
const AGE_DESCRIPTION =
  'CreationTimestamp is a timestamp representing the server time when this object was created. It is not guaranteed to be set in happens-before order across separate operations. Clients may not set this value. It is represented in RFC3339 form and is in UTC.\n\nPopulated by the system. Read-only. Null for lists. More info: https://git.k8s.io/community/contributors/devel/sig-architecture/api-conventions.md#metadata';
const ageColumn = column('Age', 'string', AGE_DESCRIPTION, ageCell);

function nodeStatus(obj: JsonObject): string {
  const conditions = ((obj.status as Record<string, any> | undefined)?.conditions ?? []) as Record<string, string>[];
  const ready = conditions.find((c) => c.type === 'Ready');
  const parts = [ready?.status === 'True' ? 'Ready' : ready ? 'NotReady' : 'Unknown'];
  if ((obj.spec as Record<string, unknown> | undefined)?.unschedulable) parts.push('SchedulingDisabled');
  return parts.join(',');
}

function nodeRoles(obj: JsonObject): string {
  const labels = (metaOf(obj).labels ?? {}) as Record<string, string>;
  const roles = Object.keys(labels)
    .filter((k) => k.startsWith('node-role.kubernetes.io/'))
    .map((k) => k.slice('node-role.kubernetes.io/'.length))
    .filter((r) => r !== '');
  if (labels['kubernetes.io/role']) roles.push(labels['kubernetes.io/role']);
  return roles.length > 0 ? roles.sort().join(',') : '<none>';
}

const nodeInfo = (o: JsonObject, key: string): Json => ((o.status as Record<string, any> | undefined)?.nodeInfo?.[key] ?? '') as Json;

const statusNumber = (o: JsonObject, field: string): number => Number((o.status as Record<string, unknown> | undefined)?.[field] ?? 0);

function selectorText(selector: Record<string, string> | undefined): string {
  const entries = Object.entries(selector ?? {});
  return entries.length > 0 ? entries.map(([k, v]) => `${k}=${v}`).join(',') : '<none>';
}

/** metav1.FormatLabelSelector: matchLabels then matchExpressions, comma-joined. */
function labelSelectorText(selector: Record<string, any> | undefined): string {
  const labels = Object.entries((selector?.matchLabels ?? {}) as Record<string, string>)
    .sort(([a], [b]) => a.localeCompare(b))
    .map(([k, v]) => `${k}=${v}`);
  const expressions = ((selector?.matchExpressions ?? []) as Record<string, any>[]).map(({ key, operator, values = [] }) => {
    if (operator === 'Exists') return key;
    if (operator === 'DoesNotExist') return `!${key}`;
    return `${key} ${String(operator).toLowerCase()} (${[...values].sort().join(',')})`;
  });
  const all = [...labels, ...expressions];
  return all.length > 0 ? all.join(',') : '<none>';
}

/** The wide (priority 1) columns DaemonSets and Deployments share: the pod template's containers and the selector. */
function templateColumns(selectorDescription: string): Column[] {
  const containers = (o: JsonObject) => ((o.spec as any)?.template?.spec?.containers ?? []) as Record<string, string>[];
  return [
    column(
      'Containers',
      'string',
      'Names of each container in the template.',
      (o) =>
        containers(o)
          .map((c) => c.name)
          .join(','),
      1,
    ),
    column(
      'Images',
      'string',
      'Images referenced by each container in the template.',
      (o) =>
        containers(o)
          .map((c) => c.image)
          .join(','),
      1,
    ),
    column('Selector', 'string', selectorDescription, (o) => labelSelectorText((o.spec as any)?.selector), 1),
  ];
}

/** Default columns of the built-ins whose printers kubectl users look at most. */
const BUILTIN_COLUMNS: Record<string, Column[]> = {
  '/nodes': [
    nameColumn,
    column('Status', 'string', 'The status of the node', nodeStatus),
    column('Roles', 'string', 'The roles of the node', nodeRoles),
    ageColumn,
    column('Version', 'string', 'Kubelet Version reported by the node.', (o) => nodeInfo(o, 'kubeletVersion')),
    column('OS-Image', 'string', 'OS Image reported by the node from /etc/os-release (e.g. Debian GNU/Linux 7 (wheezy)).', (o) => nodeInfo(o, 'osImage'), 1),
    column(
      'Kernel-Version',
      'string',
      "Kernel Version reported by the node from 'uname -r' (e.g. 3.16.0-0.bpo.4-amd64).",
      (o) => nodeInfo(o, 'kernelVersion'),
      1,
    ),
  ],
  '/namespaces': [
    nameColumn,
    column('Status', 'string', 'The status of the namespace', (o) => (o.status as Record<string, any> | undefined)?.phase ?? ''),
    ageColumn,
  ],
  'apiextensions.k8s.io/customresourcedefinitions': [nameColumn, column('Created At', 'date', AGE_DESCRIPTION, (o) => metaOf(o).creationTimestamp ?? null)],
  'apps/daemonsets': [
    nameColumn,
    ...(['Desired', 'Current', 'Ready', 'Up-to-date', 'Available'] as const).map((name, i) => {
      const field = ['desiredNumberScheduled', 'currentNumberScheduled', 'numberReady', 'updatedNumberScheduled', 'numberAvailable'][i]!;
      return column(name, 'integer', `${name} pods of the daemon set.`, (o) => statusNumber(o, field));
    }),
    column('Node Selector', 'string', 'NodeSelector is a selector which must be true for the pod to fit on a node.', (o) =>
      selectorText((o.spec as any)?.template?.spec?.nodeSelector),
    ),
    ageColumn,
    ...templateColumns(
      'A label query over pods that are managed by the daemon set. Must match in order to be controlled. If empty, defaulted to labels on Pod template. More info: https://kubernetes.io/docs/concepts/overview/working-with-objects/labels/#label-selectors',
    ),
  ],
  'apps/deployments': [
    nameColumn,
    column('Ready', 'string', 'Number of the pod with ready state', (o) => `${statusNumber(o, 'readyReplicas')}/${(o.spec as any)?.replicas ?? 1}`),
    column('Up-to-date', 'integer', 'Total number of non-terminated pods targeted by this deployment that have the desired template spec.', (o) =>
      statusNumber(o, 'updatedReplicas'),
    ),
    column('Available', 'integer', 'Total number of available pods (ready for at least minReadySeconds) targeted by this deployment.', (o) =>
      statusNumber(o, 'availableReplicas'),
    ),
    ageColumn,
    ...templateColumns('Label selector for pods. Existing ReplicaSets whose pods are selected by this will be the ones affected by this deployment.'),
  ],
  '/serviceaccounts': [
    nameColumn,
    column(
      'Secrets',
      'string',
      'Secrets is a list of the secrets in the same namespace that pods running using this ServiceAccount are allowed to use.',
      (o) => ((o.secrets as unknown[]) ?? []).length,
    ),
    ageColumn,
  ],
  '/secrets': [
    nameColumn,
    column('Type', 'string', 'The type of the secret', (o) => (o.type as string | undefined) ?? 'Opaque'),
    column('Data', 'string', 'The number of entries in Data and StringData', (o) => Object.keys((o.data as object) ?? {}).length),
    ageColumn,
  ],
  '/configmaps': [
    nameColumn,
    column(
      'Data',
      'string',
      'Data contains the configuration data.',
      (o) => Object.keys((o.data as object) ?? {}).length + Object.keys((o.binaryData as object) ?? {}).length,
    ),
    ageColumn,
  ],
};

function columnsFor(info: ResourceInfo): Column[] {
  if (info.custom) {
    const custom = (info.printerColumns ?? []).map((c) =>
      column(
        c.name,
        c.type,
        c.description ?? `Custom resource definition column (in JSONPath format): ${c.jsonPath}`,
        (o, now) => crdCell(c, o, now),
        c.priority ?? 0,
        c.format ?? '',
      ),
    );
    return custom.length > 0 ? [nameColumn, ...custom] : [nameColumn, ageColumn];
  }
  return BUILTIN_COLUMNS[`${info.group}/${info.resource}`] ?? [nameColumn, ageColumn];
}

/** includeObject=Metadata (the default) embeds PartialObjectMetadata; Object the object; None nothing. */
function rowObject(obj: JsonObject, include: string): Json {
  if (include === 'None') return null;
  if (include === 'Object') return obj;
  return { kind: 'PartialObjectMetadata', apiVersion: 'meta.k8s.io/v1', metadata: orderedMeta(metaOf(obj)) };
}

export function toTable(info: ResourceInfo, objects: JsonObject[], listMeta: JsonObject, include: string, now = new Date()): JsonObject {
  const columns = columnsFor(info);
  return {
    kind: 'Table',
    apiVersion: 'meta.k8s.io/v1',
    metadata: listMeta,
    columnDefinitions: columns.map((c) => c.definition) as unknown as Json,
    rows: objects.map((o) => ({ cells: columns.map((c) => c.cell(o, now)), object: rowObject(o, include) })),
  };
}

export function wantsTable(accept: string | undefined): boolean {
  return (accept ?? '').split(',').some((part) => /as=Table/.test(part) && /g=meta\.k8s\.io/.test(part));
}
