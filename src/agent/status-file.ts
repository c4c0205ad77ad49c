// The standalone agent's status: the same ConntrackStatus document the API
// would hold, written atomically so a reader never sees half a file.
import { mkdir } from 'node:fs/promises';
import { dirname } from 'node:path';
import { API_GROUP, API_VERSION } from '../policy/schema.js';
import { writeFileAtomic } from '../atomic-file.js';
import { STATUS_KIND, type NodeStatusDoc } from '../report/status-schema.js';

export function statusDocument(nodeName: string, status: NodeStatusDoc) {
  return { apiVersion: `${API_GROUP}/${API_VERSION}`, kind: STATUS_KIND, metadata: { name: nodeName }, status };
}

export async function writeStatusFile(path: string, nodeName: string, status: NodeStatusDoc): Promise<void> {
  await mkdir(dirname(path), { recursive: true });
  await writeFileAtomic(path, `${JSON.stringify(statusDocument(nodeName, status), null, 2)}\n`);
}
