# syntax=docker/dockerfile:1
# conntrack-operator: one image for the node agent, the controller and the CLI
# (doctor, plan, apply, restore).
#   docker build -t conntrack-operator .      (without Docker: scripts/image/build.sh)
#   docker run --rm --net=host --cap-add=NET_ADMIN -v /proc:/host/proc:ro conntrack-operator doctor --proc-root /host/proc
ARG NODE_IMAGE=node:22-bookworm-slim

# Build: TypeScript to dist/ with the full (dev) dependency set.
FROM ${NODE_IMAGE} AS build
WORKDIR /src
COPY package.json package-lock.json ./
# An optional build secret "npmrc" is the npm config for these installs (a
# private registry, or the CA bundle of a TLS-inspecting proxy as ca[] lines):
#   --secret id=npmrc,src=$HOME/.npmrc   (scripts/image/build.sh passes one when
# NODE_EXTRA_CA_CERTS is set). It is mounted for the one RUN, never stored.
RUN --mount=type=secret,id=npmrc,target=/root/.npmrc npm ci --ignore-scripts
COPY tsconfig.json tsconfig.build.json ./
COPY src/ src/
RUN npm run build

# Runtime: Node, the netfilter tools the agent runs, production dependencies only.
FROM ${NODE_IMAGE} AS runtime
ARG VERSION=0.1.0
LABEL org.opencontainers.image.title="conntrack-operator" \
      org.opencontainers.image.description="Keeps Linux connection tracking (nf_conntrack) healthy: doctor, policy agent and Kubernetes operator" \
      org.opencontainers.image.version="${VERSION}" \
      org.opencontainers.image.licenses="Apache-2.0" \
      org.opencontainers.image.base.name="${NODE_IMAGE}"
# From Debian: iptables (iptables/ip6tables-{nft,legacy}-{save,restore}),
# nftables (nft) and conntrack (conntrack -L / -S over netlink). The agent
# calls the -nft/-legacy binaries by name, so Debian's alternatives setting
# does not matter.
RUN apt-get update \
 && apt-get install -y --no-install-recommends iptables nftables conntrack \
 && rm -rf /var/lib/apt/lists/*
WORKDIR /app
ENV NODE_ENV=production
COPY package.json package-lock.json ./
RUN --mount=type=secret,id=npmrc,target=/root/.npmrc npm ci --omit=dev --ignore-scripts && npm cache clean --force
COPY --from=build /src/dist/ dist/
COPY crds/ crds/
COPY examples/ examples/
# Root, on purpose: the agent writes root-owned files under /proc/sys/net/netfilter
# and /sys/module/nf_conntrack/parameters and runs iptables/nft, which need
# root's capabilities in the host network namespace. The chart drops every
# capability but NET_ADMIN (+NET_RAW for iptables-legacy) and runs the
# controller, which needs none of this, as the image's "node" user (uid 1000).
USER root
ENTRYPOINT ["node", "/app/dist/cli/main.js"]
CMD ["--help"]
