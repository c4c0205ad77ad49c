#!/usr/bin/env node
// Entry point of the conntrack-operator binary: parse the command line once,
// run one command, map the outcome to an exit code. Errors reach the user as
// one clear line, never a stack trace.
import { hostname } from 'node:os';
import { loadConfig, USAGE, UsageError, type Config } from '../config.js';
import { createLogger } from '../logger.js';
import { runAgent } from './agent.js';
import { runController } from './controller.js';
import { runDoctor } from './doctor.js';
import { realHost } from './host.js';
import { InputError, runApply, runPlan, runRestore } from './policy-commands.js';
import { errorText } from '../errors.js';

async function run(config: Config): Promise<number> {
  const isRoot = process.geteuid?.() === 0;
  const host = realHost(config, isRoot);
  switch (config.command) {
    case 'doctor':
      return runDoctor(config, host, process.stdout);
    case 'plan':
      return runPlan(config, host, process.stdout);
    case 'apply':
      return runApply(config, host, process.stdout, process.stderr);
    case 'restore':
      return runRestore(config, host, process.stdout, process.stderr);
    case 'agent':
      return runAgent(config, host, createLogger(config.logLevel, config.nodeName), terminated());
    case 'controller':
      return runController(config, createLogger(config.logLevel, config.identity), terminated());
  }
}

/** Resolves on the first SIGTERM or SIGINT. */
function terminated(): Promise<NodeJS.Signals> {
  return new Promise((resolve) => {
    process.once('SIGTERM', resolve);
    process.once('SIGINT', resolve);
  });
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
    // InputError texts are complete; others get the command's name for context.
    const message = errorText(err);
    process.stderr.write(err instanceof InputError ? `${message}\n` : `conntrack-operator ${config.command}: ${message}\n`);
    process.exitCode = 1;
  }
}

await main();
