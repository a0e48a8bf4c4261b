#!/usr/bin/env bash
# The project's test command, on a fresh Debian machine too: installs the disk tools, bubblewrap,
# the JDK and Maven that are missing, builds (once, cached) the real kube-apiserver, etcd and
# kubectl the Kubernetes tests run against, then runs every test. Arguments go to Maven:
#   ./test.sh                              everything
#   ./test.sh -Dtest=CrdsOnRealApiServerTest -Dsurefire.failIfNoSpecifiedTests=false
set -euo pipefail
cd "$(dirname "$0")"

need_pkgs=()
for tool in mke2fs:e2fsprogs mkfs.xfs:xfsprogs xfs_growfs:xfsprogs losetup:mount blkid:util-linux \
            tar:tar bwrap:bubblewrap zstd:zstd xz:xz-utils gzip:gzip bzip2:bzip2 openssl:openssl \
            fallocate:util-linux debugfs:e2fsprogs \
            qemu-system-x86_64:qemu-system-x86 busybox:busybox-static cpio:cpio \
            podman:podman runc:runc debootstrap:debootstrap; do
  command -v "${tool%%:*}" >/dev/null 2>&1 || need_pkgs+=("${tool##*:}")
done
command -v mvn >/dev/null 2>&1 || need_pkgs+=(maven)
command -v javac >/dev/null 2>&1 || need_pkgs+=(openjdk-17-jdk-headless)
if [ ${#need_pkgs[@]} -gt 0 ]; then
  pkgs=$(printf '%s\n' "${need_pkgs[@]}" | sort -u | tr '\n' ' ')
  if [ "$(id -u)" -ne 0 ]; then
    echo "test.sh: these Debian packages are missing: $pkgs; install them (as root: apt-get install $pkgs) and run again" >&2
    exit 1
  fi
  echo "test.sh: installing $pkgs"
  export DEBIAN_FRONTEND=noninteractive
  apt-get update -qq
  # shellcheck disable=SC2086
  apt-get install -y -qq --no-install-recommends $pkgs >/dev/null
fi
if ! command -v kubectl >/dev/null 2>&1; then
  echo "test.sh: kubectl is missing (expected at /usr/bin/kubectl on this kind of machine); the end-to-end tests need it" >&2
  exit 1
fi
# Loop devices: the disk tests need the loop module and /dev/loop-control.
[ -e /dev/loop-control ] || modprobe loop 2>/dev/null || true

# The real kube-apiserver, etcd and kubectl (built from Go modules on the first run, then cached).
kube_dir=$(tools/kube/build.sh | tail -n 1)

exec mvn -B verify -Dxenvbd.kubeBinDir="$kube_dir" "$@"
