# Sourced by the image scripts: how podman runs containers on this host.
# - runc where installed: crun refuses hosts with cgroups in hybrid mode (v1
#   controllers plus an empty v2 hierarchy), which runc handles.
# - Ulimits no higher than this shell's own: without CAP_SYS_RESOURCE, podman's
#   defaults (nofile 1048576) make the runtime's setrlimit fail with EPERM.
PODMAN=(podman)
if command -v runc >/dev/null; then PODMAN+=(--runtime "$(command -v runc)"); fi
ULIMITS=(--ulimit "nofile=$(ulimit -Hn):$(ulimit -Hn)" --ulimit "nproc=4096:4096")
