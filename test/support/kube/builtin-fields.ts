// Unknown-field detection for built-in kinds. kube-apiserver decodes built-ins into Go
// structs, dropping unknown fields (a 299 warning) or refusing them under
// fieldValidation=Strict, and refusing a wrong JSON type in a string or bool field as Go's
// decoder does (400, first error in document order). The field lists come from @kubernetes/client-node's generated
// models (attributeTypeMap), which mirror the Go structs of a recent Kubernetes release.
// Only the model files reachable from our kinds are loaded (the package index is slow).
import { readdirSync } from 'node:fs';
import { createRequire } from 'node:module';
import { dirname, join } from 'node:path';
import type { ResourceInfo } from './resources.js';
import { childPath, indexPath, isObject, type Json, type JsonObject } from './schema-walk.js';
import { badRequest } from './status-errors.js';

/** The client-node model of each built-in resource we serve. */
const MODEL_OF: Record<string, string> = {
  '/namespaces': 'V1Namespace',
  '/nodes': 'V1Node',
  '/events': 'CoreV1Event',
  '/configmaps': 'V1ConfigMap',
  '/secrets': 'V1Secret',
  '/serviceaccounts': 'V1ServiceAccount',
  '/services': 'V1Service',
  '/pods': 'V1Pod',
  'apps/daemonsets': 'V1DaemonSet',
  'apps/deployments': 'V1Deployment',
  'coordination.k8s.io/leases': 'V1Lease',
  'networking.k8s.io/ingressclasses': 'V1IngressClass',
  'networking.k8s.io/ingresses': 'V1Ingress',
  'networking.k8s.io/networkpolicies': 'V1NetworkPolicy',
  'networking.k8s.io/ipaddresses': 'V1beta1IPAddress',
  'networking.k8s.io/servicecidrs': 'V1beta1ServiceCIDR',
  'events.k8s.io/events': 'EventsV1Event',
  'rbac.authorization.k8s.io/clusterroles': 'V1ClusterRole',
  'rbac.authorization.k8s.io/clusterrolebindings': 'V1ClusterRoleBinding',
  'rbac.authorization.k8s.io/roles': 'V1Role',
  'rbac.authorization.k8s.io/rolebindings': 'V1RoleBinding',
  'admissionregistration.k8s.io/validatingadmissionpolicies': 'V1ValidatingAdmissionPolicy',
  'admissionregistration.k8s.io/validatingadmissionpolicybindings': 'V1ValidatingAdmissionPolicyBinding',
  'scheduling.k8s.io/priorityclasses': 'V1PriorityClass',
  'policy/poddisruptionbudgets': 'V1PodDisruptionBudget',
  'apiextensions.k8s.io/customresourcedefinitions': 'V1CustomResourceDefinition',
  'authorization.k8s.io/selfsubjectaccessreviews': 'V1SelfSubjectAccessReview',
  'authorization.k8s.io/subjectaccessreviews': 'V1SubjectAccessReview',
  'authentication.k8s.io/tokenreviews': 'V1TokenReview',
};

/** Go types of the client-node scalar types whose decoding we check. */
const GO_SCALAR: Record<string, string> = { string: 'string', boolean: 'bool' };
/** resource.Quantity fields: strings in the models, but Go decodes numbers into them too. */
const QUANTITY_FIELDS = new Set(['limits', 'requests', 'capacity', 'allocatable', 'overhead', 'sizeLimit', 'hard', 'used']);

/** The Go struct a model stands for: V1Container -> Container, CoreV1Event -> Event. */
const goStruct = (model: string) => model.replace(/^([A-Z][a-z]+)?V\d+((alpha|beta)\d+)?/, '');

function jsonKind(value: Json): string {
  if (Array.isArray(value)) return 'array';
  if (typeof value === 'boolean') return 'bool';
  return typeof value === 'object' ? 'object' : typeof value;
}

/** The struct field being decoded, as Go's UnmarshalTypeError names it: `Container.spec.template.spec.containers.image`. */
interface GoField {
  struct: string;
  path: string;
}

const ARRAY = /^Array<(.*)>$/;
const MAP = /^\{ \[key: string\]: (.*); \}$/;

/** The model a type string names, unwrapping Array<...> and maps; undefined for scalars. */
function modelName(type: string): string | undefined {
  let inner = type;
  for (let m = ARRAY.exec(inner) ?? MAP.exec(inner); m; m = ARRAY.exec(inner) ?? MAP.exec(inner)) inner = m[1]!;
  return /^(V\d|[A-Z][a-z]+V\d)/.test(inner) ? inner : undefined;
}

export class BuiltinFields {
  private constructor(private readonly models: Map<string, Map<string, string>>) {}

  /** Loads the models reachable from the served built-in kinds. */
  static async load(): Promise<BuiltinFields> {
    const dir = join(dirname(createRequire(import.meta.url).resolve('@kubernetes/client-node/package.json')), 'dist', 'gen', 'models');
    // Type names without a model file (V1MicroTime) are scalars on the wire.
    const available = new Set(
      readdirSync(dir)
        .filter((f) => f.endsWith('.js'))
        .map((f) => f.slice(0, -3)),
    );
    const models = new Map<string, Map<string, string>>();
    const pending = new Set<string>();
    const visit = async (name: string): Promise<void> => {
      if (models.has(name) || pending.has(name) || !available.has(name)) return;
      pending.add(name);
      const mod = (await import(`@kubernetes/client-node/dist/gen/models/${name}.js`)) as Record<
        string,
        { getAttributeTypeMap?: () => { baseName: string; type: string }[] }
      >;
      const attributes = mod[name]?.getAttributeTypeMap?.();
      if (!attributes) return;
      const fields = new Map(attributes.map((a) => [a.baseName, a.type]));
      models.set(name, fields);
      await Promise.all(
        [...fields.values()]
          .map(modelName)
          .filter((n): n is string => n !== undefined)
          .map(visit),
      );
    };
    await Promise.all(Object.values(MODEL_OF).map(visit));
    return new BuiltinFields(models);
  }

  /**
   * Prunes unknown fields of a built-in object in place and returns their paths
   * (`spec.template.spec.containers[0].imagee`); a wrong type in a string or bool field is a 400.
   */
  prune(info: ResourceInfo, obj: JsonObject): string[] {
    const model = MODEL_OF[`${info.group}/${info.resource}`];
    const unknown: string[] = [];
    try {
      if (model) this.pruneValue(obj, model, '', unknown, undefined);
    } catch (err) {
      if (!(err instanceof TypeMismatch)) throw err;
      throw badRequest(`${info.kind} in version "${info.version}" cannot be handled as a ${info.kind}: ${err.message}`);
    }
    return unknown;
  }

  private pruneValue(value: Json, type: string, path: string, unknown: string[], field: GoField | undefined): void {
    const array = ARRAY.exec(type);
    if (array) {
      if (Array.isArray(value)) value.forEach((item, i) => this.pruneValue(item, array[1]!, indexPath(path, i), unknown, field));
      return;
    }
    const map = MAP.exec(type);
    if (map) {
      if (isObject(value)) for (const [key, item] of Object.entries(value)) this.pruneValue(item, map[1]!, childPath(path, key), unknown, field);
      return;
    }
    const scalar = GO_SCALAR[type];
    if (scalar && field && value !== null && jsonKind(value) !== scalar) {
      throw new TypeMismatch(`json: cannot unmarshal ${jsonKind(value)} into Go struct field ${field.struct}.${field.path} of type ${scalar}`);
    }
    const fields = this.models.get(type);
    if (!fields || !isObject(value)) return;
    for (const key of Object.keys(value)) {
      const fieldType = fields.get(key);
      if (fieldType === undefined) {
        unknown.push(childPath(path, key));
        delete value[key];
        continue;
      }
      const next = QUANTITY_FIELDS.has(key) ? undefined : { struct: goStruct(type), path: field ? `${field.path}.${key}` : key };
      this.pruneValue(value[key] as Json, fieldType, childPath(path, key), unknown, next);
    }
  }
}

class TypeMismatch extends Error {}
