#!/usr/bin/env bash
# podman as this project's image scripts and tests run it:
# - runc where installed: crun refuses hosts with cgroups in hybrid mode (v1
#   controllers plus an empty v2 hierarchy), which runc handles;
# - for run/create/build, ulimits no higher than this shell's own: without
#   CAP_SYS_RESOURCE, podman's defaults (nofile 1048576) make the runtime's
#   setrlimit fail with EPERM (nproc at the shell's own hard limit was
#   refused the same way here, so a fixed 4096).
#   scripts/image/podman.sh run --rm IMAGE ...
set -euo pipefail
podman=(podman)
if command -v runc >/dev/null; then podman+=(--runtime "$(command -v runc)"); fi
cmd=${1:?usage: podman.sh COMMAND [ARGS...]}
shift
case $cmd in
  run | create | build) exec "${podman[@]}" "$cmd" --ulimit "nofile=$(ulimit -Hn):$(ulimit -Hn)" --ulimit nproc=4096:4096 "$@" ;;
  *) exec "${podman[@]}" "$cmd" "$@" ;;
esac
