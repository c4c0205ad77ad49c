// What an event should say, before anyone records it: the pure report side
// decides this, src/kube/event-recorder.ts writes it to the API.

/** A Kubernetes event's type (core/v1 Event.type). */
export type EventType = 'Normal' | 'Warning';

export interface NodeEventIntent {
  type: EventType;
  reason:
    | 'ConntrackPolicyApplied'
    | 'ConntrackPolicyFailed'
    | 'ConntrackDriftDetected'
    | 'ConntrackTablePressure'
    | 'ConntrackTableFull'
    | 'ConntrackInsertionRace'
    | 'ConntrackTableFillingUp'
    | 'ConntrackRestored'
    | 'ConntrackPressureResponseStarted'
    | 'ConntrackPressureResponseEnded'
    | 'ConntrackNotrackWithheld';
  message: string;
}

/** An event about a pod's namespace, to be recorded on that Pod. */
export interface PodEventIntent extends NodeEventIntent {
  pod: { namespace: string; name: string; uid: string };
}
