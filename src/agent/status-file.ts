// The standalone agent's status: the same ConntrackStatus document the API
// would hold, written atomically so a reader never sees half a file.
import { mkdir } from 'node:fs/promises';
import { dirname } from 'node:path';
import { GROUP_VERSION, STATUS_RESOURCE } from '../api/v1alpha1/names.js';
import { writeFileAtomic } from '../atomic-file.js';
import type { NodeStatusDoc } from '../api/v1alpha1/status.js';

function statusDocument(nodeName: string, status: NodeStatusDoc) {
  return { apiVersion: GROUP_VERSION, kind: STATUS_RESOURCE.kind, metadata: { name: nodeName }, status };
}

export async function writeStatusFile(path: string, nodeName: string, status: NodeStatusDoc): Promise<void> {
  await mkdir(dirname(path), { recursive: true });
  await writeFileAtomic(path, `${JSON.stringify(statusDocument(nodeName, status), null, 2)}\n`);
}
