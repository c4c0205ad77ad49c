#!/usr/bin/env bash
# Builds the project's image without Docker or any image registry: the Node
# image the Dockerfile's build stages start FROM is assembled by build-base.sh
# (Debian's archive and the npm registry only), then podman builds the
# Dockerfile as it is, with --pull=never, and the image's SBOM is copied out
# beside it.
#   scripts/image/build.sh [--platform linux/amd64|linux/arm64] [--sbom FILE] [TAG]
# TAG defaults to conntrack-operator:<package.json version>, with -<arch>
# appended for an architecture other than this machine's. The SBOM
# (/app/sbom.cdx.json in the image) goes to FILE, by default
# dist/image/<TAG's name and tag>.cdx.json. Prints the tag.
# When NODE_EXTRA_CA_CERTS names a CA bundle (a TLS-inspecting proxy in front
# of the npm registry), the bundle goes to the npm steps as the build secret
# "npmrc" (ca[] lines): mounted for those RUN steps only, never in a layer.
set -euo pipefail
here=$(cd "$(dirname "$0")" && pwd)
root=$(cd "$here/../.." && pwd)

platform='' sbom='' tag=''
while [ $# -gt 0 ]; do
  case $1 in
    --platform) platform=${2:?--platform needs linux/ARCH}; shift 2 ;;
    --sbom) sbom=${2:?--sbom needs a file}; shift 2 ;;
    -*) echo "build.sh: unknown option $1" >&2; exit 1 ;;
    *) tag=$1; shift ;;
  esac
done
native=linux/$(dpkg --print-architecture 2>/dev/null || podman info --format '{{.Host.Arch}}')
platform=${platform:-$native}
[[ $platform =~ ^linux/(amd64|arm64)$ ]] || { echo "build.sh: --platform $platform: linux/amd64 or linux/arm64" >&2; exit 1; }
arch=${platform#linux/}
version=$(node -p 'require(process.argv[1]).version' "$root/package.json")
tag=${tag:-conntrack-operator:$version$([ "$platform" = "$native" ] || echo "-$arch")}
name=${tag##*/}
sbom=${sbom:-$root/dist/image/${name/:/-}.cdx.json}

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

# BUILDPLATFORM: Docker's BuildKit sets it, podman 4.3's buildah does not.
"$here/podman.sh" build --pull=never --platform "$platform" --build-arg "BUILDPLATFORM=$native" --build-arg "VERSION=$version" "${secret[@]}" --tag "$tag" "$root" >&2

# The SBOM beside the image: the image has no shell, so copy it out of a container never started.
mkdir -p "$(dirname "$sbom")"
container=$(podman create --platform "$platform" "$tag")
podman cp "$container:/app/sbom.cdx.json" "$sbom" && podman rm "$container" >/dev/null || { podman rm "$container" >/dev/null; exit 1; }
echo "build.sh: SBOM $sbom" >&2
echo "$tag"
