// pino JSON logs, one event per line; every line carries the node, and the
// policy where one applies (child loggers add it).
import { pino, type Logger } from 'pino';

export type { Logger };

/** What a component logs through: the four levels it uses of pino's Logger (which fits), so a test passes a plain recorder. */
export interface Log {
  debug(fields: object, msg: string): void;
  info(fields: object, msg: string): void;
  warn(fields: object, msg: string): void;
  error(fields: object, msg: string): void;
}

export function createLogger(level: string, node: string, destination: NodeJS.WritableStream = process.stderr): Logger {
  return pino({ level, base: { node }, timestamp: pino.stdTimeFunctions.isoTime }, destination as pino.DestinationStream);
}
