// A Log that drops every line, with the levels a test wants to see replaced:
// silentLog({ warn: (_o, m) => void warnings.push(m) }).
import type { Log } from '../../src/logger.js';

export function silentLog(over: Partial<Log> = {}): Log {
  return { debug() {}, info() {}, warn() {}, error() {}, ...over };
}
