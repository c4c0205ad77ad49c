// What the agent's /readyz means, stated once: the agent is enforcing what it
// should. Ready when a reconcile pass has finished, the last pass could read
// and reconcile the host, and the policies in force are known: read from the
// policy file, listed from the API server, or — while the API server cannot
// be reached — the copy an earlier run stored in the state dir. Not ready while
// it cannot tell which policies apply (a fresh install whose API calls are all
// refused or time out): "no policy" and "not known" must not look the same.
export interface ReadinessInputs {
  passesDone: number;
  /** The policy source can tell "no policy" from "not loaded yet". */
  policiesKnown: boolean;
  /** The last pass's error (host unreadable, an unexpected failure), or null. */
  lastPassError: string | null;
}

/** null = ready; otherwise why not, for the /readyz body. */
export function readinessProblem(r: ReadinessInputs): string | null {
  if (r.passesDone === 0) return 'the first reconcile pass has not finished';
  if (!r.policiesKnown) return 'the policies are not known: the API server has not listed them (refused or unreachable) and the state dir holds no stored copy';
  if (r.lastPassError !== null) return `the last reconcile pass failed: ${r.lastPassError}`;
  return null;
}
