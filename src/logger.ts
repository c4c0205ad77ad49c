// pino JSON logs, one event per line; every line carries the node, and the
// policy where one applies (child loggers add it).
import { pino, type Logger } from 'pino';

export type { Logger };

export function createLogger(level: string, node: string, destination: NodeJS.WritableStream = process.stderr): Logger {
  return pino({ level, base: { node }, timestamp: pino.stdTimeFunctions.isoTime }, destination as pino.DestinationStream);
}
