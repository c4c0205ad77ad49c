#!/usr/bin/env node
// Entry point of the conntrack-operator binary: parse the command line once,
// run one command, map the outcome to an exit code. Errors reach the user as
// one clear line, never a stack trace.
import { hostname } from 'node:os';
import { loadConfig, USAGE, UsageError, type Config } from '../config.js';
import { runDoctor } from './doctor.js';
import { realHost } from './host.js';

async function run(config: Config): Promise<number> {
  const isRoot = process.geteuid?.() === 0;
  const host = realHost(config, isRoot);
  switch (config.command) {
    case 'doctor':
      return runDoctor(config, host, process.stdout);
    default:
      throw new UsageError(`command "${config.command}" is not available yet`);
  }
}

async function main(): Promise<void> {
  let config: Config;
  try {
    config = loadConfig(process.argv.slice(2), process.env, hostname());
  } catch (err) {
    if (!(err instanceof UsageError)) throw err;
    if (err.message) process.stderr.write(`conntrack-operator: ${err.message}\n\n`);
    process.stderr.write(`${USAGE}\n`);
    process.exitCode = err.message ? 1 : 0;
    return;
  }
  try {
    process.exitCode = await run(config);
  } catch (err) {
    process.stderr.write(`conntrack-operator ${config.command}: ${err instanceof Error ? err.message : String(err)}\n`);
    process.exitCode = 1;
  }
}

await main();
