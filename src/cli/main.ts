#!/usr/bin/env node
// Entry point of the conntrack-operator binary: parse the command line once,
// load and run the one command asked for, map the outcome to an exit code.
// Each command's module is imported only when it runs, so `--help` and the
// host commands never load the Kubernetes client (about 1 s and 100 MB).
// Errors reach the user as one clear line, never a stack trace.
import { hostname } from 'node:os';
import { commandTitle, parseInvocation, UsageError, type Config, type Invocation } from '../config.js';
import { errorText } from '../errors.js';
import { InputError } from './input-error.js';

async function run(config: Config): Promise<number> {
  const isRoot = process.geteuid?.() === 0;
  const host = async () => (await import('../kernel/host.js')).realHost(config, isRoot);
  const logger = async (name: string) => (await import('../logger.js')).createLogger(config.logLevel, name);
  switch (config.command) {
    case 'doctor':
      return (await import('./doctor.js')).runDoctor(config, await host(), process.stdout);
    case 'plan':
      return (await import('./policy-commands.js')).runPlan(config, await host(), process.stdout);
    case 'apply':
      return (await import('./policy-commands.js')).runApply(config, await host(), process.stdout, process.stderr);
    case 'restore':
      return (await import('./policy-commands.js')).runRestore(config, await host(), process.stdout, process.stderr);
    case 'agent':
      return (await import('./agent.js')).runAgent(config, await host(), await logger(config.nodeName), terminated());
    case 'controller':
      return (await import('./controller.js')).runController(config, await logger(config.identity), terminated());
    case 'kubectl status':
      return (await import('./kubectl-status.js')).runKubectlStatus(config, process.stdout);
    case 'kubectl doctor':
      return (await import('./kubectl-doctor.js')).runKubectlDoctor(config, process.stderr);
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
  let invocation: Invocation;
  try {
    invocation = parseInvocation(process.argv.slice(2), process.env, hostname());
  } catch (err) {
    if (!(err instanceof UsageError)) throw err;
    process.stderr.write(`conntrack-operator: ${err.message}\n\n${err.usage}\n`);
    process.exitCode = 1;
    return;
  }
  if ('help' in invocation) return void process.stdout.write(`${invocation.help}\n`);
  if ('version' in invocation) return void process.stdout.write(`conntrack-operator ${(await import('./package-version.js')).packageVersion()}\n`);
  const { config } = invocation;
  try {
    process.exitCode = await run(config);
  } catch (err) {
    // InputError texts are complete; others get the command's name for context.
    const message = errorText(err);
    process.stderr.write(err instanceof InputError ? `${message}\n` : `${commandTitle(config.command)}: ${message}\n`);
    process.exitCode = 1;
  }
}

await main();
