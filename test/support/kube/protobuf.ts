// Request bodies in the Kubernetes protobuf encoding, which typed client-go clients send:
// helm's release Secrets, `kubectl create namespace|configmap|secret`, `kubectl auth can-i`,
// typed deletes (DeleteOptions). Decoded to JSON for a handful of kinds; others get 415.
// Wire format: "k8s\0" + runtime.Unknown{typeMeta, raw}, raw being the object's message.
import type { Json, JsonObject } from './schema-walk.js';
import { unsupportedMediaType } from './status-errors.js';

export const PROTOBUF = 'application/vnd.kubernetes.protobuf';

type FieldType = 'string' | 'bytes' | 'int' | 'bool' | 'time' | 'stringMap' | 'bytesMap' | Message;
interface Field {
  name: string;
  type: FieldType;
  repeated?: boolean;
}
interface Message {
  [fieldNumber: number]: Field;
}

const f = (name: string, type: FieldType, repeated = false): Field => ({ name, type, repeated });

const TYPE_META: Message = { 1: f('apiVersion', 'string'), 2: f('kind', 'string') };
const UNKNOWN: Message = { 1: f('typeMeta', TYPE_META), 2: f('raw', 'bytes'), 3: f('contentEncoding', 'string'), 4: f('contentType', 'string') };
const OWNER_REFERENCE: Message = {
  1: f('kind', 'string'),
  3: f('name', 'string'),
  4: f('uid', 'string'),
  5: f('apiVersion', 'string'),
  6: f('controller', 'bool'),
  7: f('blockOwnerDeletion', 'bool'),
};
const OBJECT_META: Message = {
  1: f('name', 'string'),
  2: f('generateName', 'string'),
  3: f('namespace', 'string'),
  5: f('uid', 'string'),
  6: f('resourceVersion', 'string'),
  7: f('generation', 'int'),
  8: f('creationTimestamp', 'time'),
  9: f('deletionTimestamp', 'time'),
  10: f('deletionGracePeriodSeconds', 'int'),
  11: f('labels', 'stringMap'),
  12: f('annotations', 'stringMap'),
  13: f('ownerReferences', OWNER_REFERENCE, true),
  14: f('finalizers', 'string', true),
};
const RESOURCE_ATTRIBUTES: Message = {
  1: f('namespace', 'string'),
  2: f('verb', 'string'),
  3: f('group', 'string'),
  4: f('version', 'string'),
  5: f('resource', 'string'),
  6: f('subresource', 'string'),
  7: f('name', 'string'),
};

/** Message layouts from k8s.io/api generated.proto, by "apiVersion/kind". */
const KINDS: Record<string, Message> = {
  'v1/Secret': { 1: f('metadata', OBJECT_META), 2: f('data', 'bytesMap'), 3: f('type', 'string'), 4: f('stringData', 'stringMap'), 5: f('immutable', 'bool') },
  'v1/ConfigMap': { 1: f('metadata', OBJECT_META), 2: f('data', 'stringMap'), 3: f('binaryData', 'bytesMap'), 4: f('immutable', 'bool') },
  'v1/Namespace': { 1: f('metadata', OBJECT_META), 2: f('spec', { 1: f('finalizers', 'string', true) }), 3: f('status', { 1: f('phase', 'string') }) },
  'v1/ServiceAccount': { 1: f('metadata', OBJECT_META), 4: f('automountServiceAccountToken', 'bool') },
  'v1/DeleteOptions': {
    1: f('gracePeriodSeconds', 'int'),
    2: f('preconditions', { 1: f('uid', 'string'), 2: f('resourceVersion', 'string') }),
    3: f('orphanDependents', 'bool'),
    4: f('propagationPolicy', 'string'),
    5: f('dryRun', 'string', true),
  },
  'authorization.k8s.io/v1/SelfSubjectAccessReview': {
    1: f('metadata', OBJECT_META),
    2: f('spec', { 1: f('resourceAttributes', RESOURCE_ATTRIBUTES), 2: f('nonResourceAttributes', { 1: f('path', 'string'), 2: f('verb', 'string') }) }),
  },
};

class Reader {
  private pos = 0;
  constructor(private readonly buf: Buffer) {}
  done(): boolean {
    return this.pos >= this.buf.length;
  }
  varint(): bigint {
    let result = 0n;
    for (let shift = 0n; ; shift += 7n) {
      const byte = this.buf[this.pos++];
      if (byte === undefined) throw new Error('truncated varint');
      result |= BigInt(byte & 0x7f) << shift;
      if ((byte & 0x80) === 0) return result;
    }
  }
  bytes(): Buffer {
    const length = Number(this.varint());
    const out = this.buf.subarray(this.pos, this.pos + length);
    this.pos += length;
    return out;
  }
  skip(wireType: number): void {
    if (wireType === 0) this.varint();
    else if (wireType === 2) this.bytes();
    else if (wireType === 1) this.pos += 8;
    else if (wireType === 5) this.pos += 4;
    else throw new Error(`unsupported wire type ${wireType}`);
  }
}

function decodeValue(reader: Reader, type: FieldType): Json {
  switch (type) {
    case 'string':
      return reader.bytes().toString('utf8');
    case 'bytes':
      return reader.bytes().toString('base64');
    case 'int':
      return Number(BigInt.asIntN(64, reader.varint()));
    case 'bool':
      return reader.varint() !== 0n;
    case 'time': {
      const time = decodeMessage(reader.bytes(), { 1: f('seconds', 'int'), 2: f('nanos', 'int') });
      return new Date(Number(time.seconds ?? 0) * 1000).toISOString().replace(/\.\d{3}Z$/, 'Z');
    }
    case 'stringMap':
    case 'bytesMap': {
      const entry = decodeMessage(reader.bytes(), { 1: f('key', 'string'), 2: f('value', type === 'stringMap' ? 'string' : 'bytes') });
      return { [String(entry.key ?? '')]: entry.value ?? '' };
    }
    default:
      return decodeMessage(reader.bytes(), type);
  }
}

function decodeMessage(buf: Buffer, layout: Message): JsonObject {
  const reader = new Reader(buf);
  const out: JsonObject = {};
  while (!reader.done()) {
    const key = Number(reader.varint());
    const field = layout[key >> 3];
    if (!field) {
      reader.skip(key & 7);
      continue;
    }
    const value = decodeValue(reader, field.type);
    if (field.type === 'stringMap' || field.type === 'bytesMap') out[field.name] = { ...((out[field.name] as JsonObject) ?? {}), ...(value as JsonObject) };
    else if (field.repeated) out[field.name] = [...((out[field.name] as Json[]) ?? []), value];
    else out[field.name] = value;
  }
  return out;
}

const MAGIC = Buffer.from([0x6b, 0x38, 0x73, 0x00]);

/** Decodes a protobuf request body of a supported kind into its JSON form. */
export function decodeProtobuf(body: Buffer): JsonObject {
  const refuse = () => unsupportedMediaType(PROTOBUF, ['application/json', 'application/yaml']);
  if (!body.subarray(0, 4).equals(MAGIC)) throw refuse();
  const unknown = decodeMessage(body.subarray(4), UNKNOWN);
  const typeMeta = (unknown.typeMeta ?? {}) as { apiVersion?: string; kind?: string };
  const layout = KINDS[`${typeMeta.apiVersion}/${typeMeta.kind}`];
  if (!layout || typeof unknown.raw !== 'string') throw refuse();
  return { apiVersion: typeMeta.apiVersion ?? '', kind: typeMeta.kind ?? '', ...decodeMessage(Buffer.from(unknown.raw, 'base64'), layout) };
}
