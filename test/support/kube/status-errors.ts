// Errors as kube-apiserver reports them: a metav1.Status body with reason, code and details.
// Message formats follow the captures in kube-wire/ (NotFound 94/83, AlreadyExists 21,
// Conflict 40, Invalid 22/23/62, Forbidden 70, Expired 51).

export interface StatusCause {
  reason?: string;
  message: string;
  field?: string;
}

export interface StatusDetails {
  name?: string;
  group?: string;
  kind?: string;
  causes?: StatusCause[];
  retryAfterSeconds?: number;
}

export interface StatusBody {
  kind: 'Status';
  apiVersion: 'v1';
  metadata: Record<string, never>;
  status: 'Failure';
  message: string;
  reason: string;
  details?: StatusDetails;
  code: number;
}

/** A request failure carrying the Status body to send and optional response headers. */
export class ApiError extends Error {
  constructor(
    readonly status: StatusBody,
    readonly headers: Record<string, string> = {},
  ) {
    super(status.message);
  }
  get code(): number {
    return this.status.code;
  }
}

/**
 * A path no API handler serves: Go's http.NotFound text for an unknown group or path, an
 * empty body for an unknown OpenAPI document; never a Status (kube-apiserver 1.32).
 */
export class PageNotFound extends ApiError {
  constructor(readonly text = '404 page not found\n') {
    super(statusBody(404, 'NotFound', text.trim()));
  }
}

/** The group/resource pair a message names: "gadgets.wire.example" or "nodes". */
export interface GroupResource {
  group: string;
  resource: string;
}

export function qualified(gr: GroupResource): string {
  return gr.group ? `${gr.resource}.${gr.group}` : gr.resource;
}

export function statusBody(code: number, reason: string, message: string, details?: StatusDetails): StatusBody {
  // Field order as kube-apiserver writes it: details come before code.
  return { kind: 'Status', apiVersion: 'v1', metadata: {}, status: 'Failure', message, reason, ...(details ? { details } : {}), code };
}

function grDetails(gr: GroupResource, name?: string): StatusDetails {
  const details: StatusDetails = {};
  if (name) details.name = name;
  if (gr.group) details.group = gr.group;
  details.kind = gr.resource;
  return details;
}

export function notFound(gr: GroupResource, name: string): ApiError {
  return new ApiError(statusBody(404, 'NotFound', `${qualified(gr)} "${name}" not found`, grDetails(gr, name)));
}

export function alreadyExists(gr: GroupResource, name: string): ApiError {
  return new ApiError(statusBody(409, 'AlreadyExists', `${qualified(gr)} "${name}" already exists`, grDetails(gr, name)));
}

export function conflict(gr: GroupResource, name: string, detail: string): ApiError {
  return new ApiError(statusBody(409, 'Conflict', `Operation cannot be fulfilled on ${qualified(gr)} "${name}": ${detail}`, grDetails(gr, name)));
}

export const STALE_OBJECT = 'the object has been modified; please apply your changes to the latest version and try again';

/** The NamespaceLifecycle admission plugin's refusal to create in a terminating namespace. */
export function namespaceTerminating(gr: GroupResource, name: string, namespace: string): ApiError {
  const reason = `unable to create new content in namespace ${namespace} because it is being terminated`;
  return new ApiError(
    statusBody(403, 'Forbidden', `${qualified(gr)} "${name}" is forbidden: ${reason}`, {
      ...grDetails(gr, name),
      causes: [{ reason: 'NamespaceTerminating', message: `namespace ${namespace} is being terminated`, field: 'metadata.namespace' }],
    }),
  );
}

export function badRequest(message: string): ApiError {
  return new ApiError(statusBody(400, 'BadRequest', message));
}

export function methodNotAllowed(): ApiError {
  return new ApiError(statusBody(405, 'MethodNotAllowed', 'the server does not allow this method on the requested resource', {}));
}

export function unsupportedMediaType(contentType: string, accepted: string[]): ApiError {
  return new ApiError(
    statusBody(415, 'UnsupportedMediaType', `the body of the request was in an unknown format - accepted media types include: ${accepted.join(', ')}`, {
      causes: [{ reason: 'UnexpectedHeader', message: `unsupported content type "${contentType}"`, field: 'Content-Type' }],
    }),
  );
}

export function unauthorized(): ApiError {
  return new ApiError(statusBody(401, 'Unauthorized', 'Unauthorized'));
}

/** kube-apiserver's "too old resource version" (watch cache) Status. */
export function expired(message: string): StatusBody {
  return statusBody(410, 'Expired', message);
}

export function resourceExpired(message: string): ApiError {
  return new ApiError(expired(message));
}

/** A field-level validation error, rendered like k8s.io/apimachinery field.Error. */
export interface FieldError {
  type:
    | 'FieldValueInvalid'
    | 'FieldValueNotSupported'
    | 'FieldValueTooMany'
    | 'FieldValueTooLong'
    | 'FieldValueRequired'
    | 'FieldValueForbidden'
    | 'FieldValueTypeInvalid'
    | 'FieldValueDuplicate';
  field: string;
  message: string;
}

/** Go's %v/%q rendering of a bad value inside field error messages. */
export function renderValue(value: unknown): string {
  if (value === null || value === undefined) return '"null"';
  if (typeof value === 'string') return JSON.stringify(value);
  if (typeof value === 'number' || typeof value === 'boolean' || typeof value === 'bigint') return String(value);
  return JSON.stringify(JSON.stringify(value));
}

export const fieldErrors = {
  invalid: (field: string, value: unknown, detail: string): FieldError => ({
    type: 'FieldValueInvalid',
    field,
    message: `Invalid value: ${renderValue(value)}: ${detail}`,
  }),
  typeInvalid: (field: string, value: unknown, detail: string): FieldError => ({
    type: 'FieldValueTypeInvalid',
    field,
    message: `Invalid value: ${renderValue(value)}: ${detail}`,
  }),
  notSupported: (field: string, value: unknown, supported: unknown[]): FieldError => ({
    type: 'FieldValueNotSupported',
    field,
    message: `Unsupported value: ${renderValue(value)}: supported values: ${supported.map((v) => renderValue(v)).join(', ')}`,
  }),
  tooMany: (field: string, actual: number, max: number): FieldError => ({
    type: 'FieldValueTooMany',
    field,
    message: `Too many: ${actual}: must have at most ${max} items`,
  }),
  /** field.TooLong as apiextensions 1.32 reports maxLength: no value, "bytes" although it counts characters. */
  tooLong: (field: string, max: number): FieldError => ({
    type: 'FieldValueTooLong',
    field,
    message: `Too long: may not be more than ${max} bytes`,
  }),
  required: (field: string, detail = ''): FieldError => ({
    type: 'FieldValueRequired',
    field,
    message: detail ? `Required value: ${detail}` : 'Required value',
  }),
  forbidden: (field: string, detail: string): FieldError => ({
    type: 'FieldValueForbidden',
    field,
    message: `Forbidden: ${detail}`,
  }),
  duplicate: (field: string, value: unknown): FieldError => ({
    type: 'FieldValueDuplicate',
    field,
    message: `Duplicate value: ${renderValue(value)}`,
  }),
};

/** 422 Invalid: `Kind.group "name" is invalid: <one error>` or `[e1, e2]` for several. */
export function invalid(qualifiedKind: { kind: string; group: string }, name: string, errors: FieldError[]): ApiError {
  const rendered = errors.map((e) => `${e.field}: ${e.message}`);
  const list = rendered.length === 1 ? rendered[0] : `[${rendered.join(', ')}]`;
  const kindName = qualifiedKind.group ? `${qualifiedKind.kind}.${qualifiedKind.group}` : qualifiedKind.kind;
  // Go omits an empty name (ListOptions errors have none).
  const details: StatusDetails = name ? { name } : {};
  if (qualifiedKind.group) details.group = qualifiedKind.group;
  details.kind = qualifiedKind.kind;
  details.causes = errors.map((e) => ({ reason: e.type, message: e.message, field: e.field }));
  return new ApiError(statusBody(422, 'Invalid', `${kindName} "${name}" is invalid: ${list}`, details));
}
