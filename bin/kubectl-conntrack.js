#!/usr/bin/env node
// kubectl's plugin: kubectl runs `kubectl-conntrack ARGS` (found on PATH) for
// `kubectl conntrack ARGS`, which is `conntrack-operator kubectl ARGS`.
process.argv.splice(2, 0, 'kubectl');
await import('../dist/cli/main.js');
