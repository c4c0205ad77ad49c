// The resources' names: the one place the group, the version, the kinds and
// the plural and short names are spelled (the CRDs, the client calls and the
// documents we write all take them from here).
export const API_GROUP = 'conntrack.io';
export const API_VERSION = 'v1alpha1';
export const GROUP_VERSION = `${API_GROUP}/${API_VERSION}`;

export interface ResourceNames {
  kind: string;
  plural: string;
  singular: string;
  shortName: string;
}

export const POLICY_RESOURCE = {
  kind: 'ConntrackPolicy',
  plural: 'conntrackpolicies',
  singular: 'conntrackpolicy',
  shortName: 'ctpol',
} as const satisfies ResourceNames;
export const STATUS_RESOURCE = {
  kind: 'ConntrackStatus',
  plural: 'conntrackstatuses',
  singular: 'conntrackstatus',
  shortName: 'ctst',
} as const satisfies ResourceNames;
