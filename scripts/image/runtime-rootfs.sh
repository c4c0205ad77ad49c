#!/usr/bin/env bash
# The runtime image's root filesystem, distroless-style: the named Debian
# packages of one architecture and everything they depend on, unpacked (never
# configured: no maintainer script runs, so nothing of the target
# architecture executes and one build host makes every architecture), with a
# dpkg status file naming each (image scanners and the SBOM read it), and the
# few files a package's maintainer scripts or the base system would add.
#   runtime-rootfs.sh ARCH OUT PACKAGE...      e.g. arm64 /rootfs iptables nftables
# Runs on Debian (the Dockerfile's build platform), with the release and
# mirrors of this system's own apt sources.
set -euo pipefail
arch=${1:?usage: runtime-rootfs.sh ARCH OUT PACKAGE...}
out=${2:?usage: runtime-rootfs.sh ARCH OUT PACKAGE...}
shift 2
[ $# -gt 0 ] || { echo "runtime-rootfs: no package named" >&2; exit 1; }

# apt with its own state: an empty status (nothing installed, so every
# dependency down to libc6 is fetched), lists and cache of its own, one architecture.
work=$(mktemp -d)
trap 'rm -rf "$work"' EXIT
chmod 0755 "$work" # apt downloads as its unprivileged user _apt
mkdir -p "$work/lists/partial" "$work/cache/archives/partial" "$work/alone"
: >"$work/status"
apt=(apt-get -qq -o "APT::Architecture=$arch" -o "APT::Architectures::=$arch" -o "Dir::State::status=$work/status"
  -o "Dir::State::Lists=$work/lists" -o "Dir::Cache=$work/cache" -o Debug::NoLocking=1)
"${apt[@]}" update
"${apt[@]}" install --download-only --no-install-recommends --yes "$@" >/dev/null
# base-files gives /etc/os-release (how scanners tell the distribution); its
# one dependency, awk, only serves its maintainer scripts.
chown _apt "$work/alone"
(cd "$work/alone" && "${apt[@]}" download "base-files:$arch")

# Merged /usr, as Debian 12 installs it: packages that ship /lib or /sbin paths land in /usr.
mkdir -p "$out/usr/bin" "$out/usr/sbin" "$out/usr/lib" "$out/usr/lib64" "$out/var/lib/dpkg" "$out/etc"
for d in bin sbin lib lib64; do ln -sfn "usr/$d" "$out/$d"; done
status=$out/var/lib/dpkg/status
: >"$status"
for deb in "$work"/cache/archives/*.deb "$work"/alone/*.deb; do
  dpkg-deb --fsys-tarfile "$deb" | tar -x --keep-directory-symlink -C "$out"
  # The control fields, marked installed, as dpkg would record them.
  dpkg-deb --field "$deb" | sed '1a Status: install ok installed' >>"$status"
  echo >>"$status"
done

# What the image needs of a base system: its users (root; "node", uid 1000,
# that the chart runs the controller as, with no home: nothing writes there),
# name lookups from files first, /tmp.
cat >"$out/etc/passwd" <<'EOF'
root:x:0:0:root:/root:/usr/sbin/nologin
node:x:1000:1000:node:/nonexistent:/usr/sbin/nologin
EOF
cat >"$out/etc/group" <<'EOF'
root:x:0:
node:x:1000:
EOF
printf 'passwd: files\ngroup: files\nhosts: files dns\n' >"$out/etc/nsswitch.conf"
mkdir -p "$out/root" "$out/tmp"
chmod 0700 "$out/root"
chmod 1777 "$out/tmp"
# What nothing here uses, as dpkg's path-exclude would leave it out: documentation,
# manuals, translations (the licences, copyright files, stay), and glibc's
# iconv modules (gconv: 8 MB, 20 MB on arm64's 64 KiB-aligned files; node
# converts with its own ICU, the netfilter tools convert nothing).
find "$out/usr/share/doc" -mindepth 1 ! -type d ! -name copyright -delete
find "$out/usr/share/doc" -mindepth 1 -type d -empty -delete
rm -rf "$out/usr/share/man" "$out/usr/share/info" "$out/usr/share/locale" "$out/usr/share/lintian" "$out/usr/share/bug" "$out"/usr/lib/*-linux-gnu/gconv
