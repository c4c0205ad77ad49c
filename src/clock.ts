// The one shape of time every part is handed: the epoch milliseconds now. A
// test hands in its own; the commands wire systemClock, the only read of the
// wall clock. Code that needs a Date (an ISO stamp) builds it from the number,
// so a fake clock stamps exactly what it says.

/** Milliseconds since the epoch, now. */
export type Clock = () => number;

export const systemClock: Clock = () => Date.now();
