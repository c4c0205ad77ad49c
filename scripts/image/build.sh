#!/usr/bin/env bash
# Builds the project's image without Docker or any image registry: the Node
# base image the Dockerfile's FROM names is assembled by build-base.sh (Debian's
# archive and the npm registry only), then podman builds the Dockerfile as it
# is, with --pull=never.
#   scripts/image/build.sh [TAG]      default conntrack-operator:dev
# When NODE_EXTRA_CA_CERTS names a CA bundle (a TLS-inspecting proxy in front
# of the npm registry), the bundle goes to the npm installs as the build secret
# "npmrc" (ca[] lines): mounted for those RUN steps only, never in a layer.
set -euo pipefail
here=$(cd "$(dirname "$0")" && pwd)
root=$(cd "$here/../.." && pwd)
tag=${1:-conntrack-operator:dev}

"$here/build-base.sh" "$root/Dockerfile" >/dev/null

secret=()
if [ -n "${NODE_EXTRA_CA_CERTS:-}" ]; then
  npmrc=$(mktemp)
  trap 'rm -f "$npmrc"' EXIT
  node -e '
    const pem = require("fs").readFileSync(process.argv[1], "utf8");
    const certs = pem.match(/-----BEGIN CERTIFICATE-----[\s\S]+?-----END CERTIFICATE-----/g) ?? [];
    if (!certs.length) { console.error(`${process.argv[1]}: no PEM certificate`); process.exit(1); }
    process.stdout.write(certs.map((c) => `ca[]="${c.replace(/\r?\n/g, "\\n")}"\n`).join(""));
  ' "$NODE_EXTRA_CA_CERTS" >"$npmrc"
  secret=(--secret "id=npmrc,src=$npmrc")
fi

"$here/podman.sh" build --pull=never "${secret[@]}" --tag "$tag" "$root" >&2
echo "$tag"
