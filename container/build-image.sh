#!/usr/bin/env bash
# Builds the project's container image from the project's Dockerfile with podman, no Docker and no
# registry: the Dockerfile's base (BASE_IMAGE, eclipse-temurin:17-jre for users) is replaced by a
# local base image made here, a debootstrapped Debian minbase with a headless Java 17 runtime.
#
#   container/build-image.sh [--jar PATH] [--tag IMAGE] [--print-base]
#
#   --jar PATH     the jar to put in the image, relative to the repository (default: the
#                  Dockerfile's JAR build argument, target/xenvbd-node.jar); build it first
#   --tag IMAGE    the image to make (default localhost/xenvbd:<the chart's appVersion>)
#   --print-base   make (or reuse) the base image only and print its name
#
# The base image is made once per recipe: its tag is a hash of everything that goes into it
# (suite, variant, Containerfile.base, the slimming rules), so a second run finds it with
# `podman image exists` and skips debootstrap. Scratch space is under $XENVBD_CACHE (default
# $HOME/.cache/xenvbd), never in the repository. The last line printed is the image's name.
# Needs root and the Debian packages podman, runc and debootstrap (podman builds with buildah's library:
# the buildah command is not needed).
set -euo pipefail

here="$(cd "$(dirname "$0")" && pwd)"
repo="$(dirname "$here")"
export CONTAINERS_CONF="${CONTAINERS_CONF:-$here/containers.conf}"
cache="${XENVBD_CACHE:-${HOME:-/root}/.cache/xenvbd}"

jar=""
tag=""
base_only=false
while [ $# -gt 0 ]; do
  case "$1" in
    --jar) jar="$2"; shift 2 ;;
    --tag) tag="$2"; shift 2 ;;
    --print-base) base_only=true; shift ;;
    *) echo "build-image.sh: unknown argument '$1'; use --jar PATH, --tag IMAGE or --print-base" >&2; exit 2 ;;
  esac
done

for tool in podman:podman runc:runc debootstrap:debootstrap; do
  command -v "${tool%%:*}" >/dev/null 2>&1 || {
    echo "build-image.sh: '${tool%%:*}' is missing: install the Debian packages podman runc debootstrap" >&2
    exit 1
  }
done

suite=bookworm
variant=minbase
# Like Debian's slim images: no manuals, info pages, translations or documentation but the
# copyright files, in the base and in every package the Dockerfile installs on it.
slim_rules='path-exclude /usr/share/doc/*
path-include /usr/share/doc/*/copyright
path-exclude /usr/share/man/*
path-exclude /usr/share/info/*
path-exclude /usr/share/locale/*
path-include /usr/share/locale/locale.alias
path-exclude /usr/share/lintian/*'

root=""
# debootstrap mounts /proc and /sys in the target while it installs; make sure nothing stays.
cleanup() {
  [ -n "$root" ] || return 0
  for m in proc sys; do ! mountpoint -q "$root/$m" || umount "$root/$m"; done
  rm -rf --one-file-system "$root"
  root=""
}
trap cleanup EXIT

make_minbase() {
  mkdir -p "$cache"
  root="$(mktemp -d "$cache/rootfs.XXXXXX")"
  echo "build-image.sh: debootstrap --variant=$variant $suite (a few minutes, once per recipe)" >&2
  debootstrap --variant="$variant" "$suite" "$root" >"$cache/debootstrap.log" 2>&1 || {
    echo "build-image.sh: debootstrap failed; see $cache/debootstrap.log" >&2
    return 1
  }
  printf '%s\n' "$slim_rules" >"$root/etc/dpkg/dpkg.cfg.d/xenvbd-slim"
  # Like Debian's own images: apt keeps no downloaded packages, caches or translations in a layer.
  cat >"$root/etc/apt/apt.conf.d/xenvbd-clean" <<'APT'
DPkg::Post-Invoke { "rm -f /var/cache/apt/archives/*.deb /var/cache/apt/archives/partial/*.deb /var/cache/apt/*.bin || true"; };
APT::Update::Post-Invoke { "rm -f /var/cache/apt/archives/*.deb /var/cache/apt/archives/partial/*.deb /var/cache/apt/*.bin || true"; };
Dir::Cache::pkgcache "";
Dir::Cache::srcpkgcache "";
Acquire::Languages "none";
APT
  rm -rf "$root"/var/cache/apt/* "$root"/var/lib/apt/lists/* "$root"/var/log/*.log "$root"/var/log/apt/*
  # Files only: update-alternatives needs the man directories to exist (a JRE's postinst links there).
  find "$root/usr/share/man" "$root/usr/share/info" "$root/usr/share/lintian" -not -type d -delete
  find "$root/usr/share/locale" -mindepth 1 -not -type d -not -name locale.alias -delete
  find "$root/usr/share/doc" -mindepth 1 -not -type d -not -name copyright -delete
  tar --numeric-owner -C "$root" -c . | podman import --message "debootstrap --variant=$variant $suite" - "$minbase" >/dev/null
  cleanup
}

# Version keys: what makes the minbase (this script's recipe for it), and that plus Containerfile.base.
minbase_key="$( { echo "$suite $variant"; echo "$slim_rules"; declare -f make_minbase; } | sha256sum | cut -c1-12)"
minbase="localhost/xenvbd-minbase:$suite-$minbase_key"
base_key="$( { echo "$minbase"; cat "$here/Containerfile.base"; } | sha256sum | cut -c1-12)"
base="localhost/xenvbd-base:$suite-jre17-$base_key"

if podman image exists "$base"; then
  echo "build-image.sh: reusing the base image $base" >&2
else
  podman image exists "$minbase" || make_minbase
  # The JRE comes from Debian's mirror: the build needs the host's network.
  podman build --network host --build-arg "MINBASE=$minbase" -t "$base" -f "$here/Containerfile.base" "$here" >&2
  # Base images of older recipes are of no further use.
  podman image ls --format '{{.Repository}}:{{.Tag}}' | grep -E '^localhost/xenvbd-(min)?base:' \
    | grep -v -x -e "$base" -e "$minbase" | xargs -r podman rmi >/dev/null 2>&1 || true
fi
if $base_only; then
  echo "$base"
  exit 0
fi

if [ -z "$tag" ]; then
  version="$(sed -n 's/^appVersion: *"\{0,1\}\([^"]*\)"\{0,1\} *$/\1/p' "$repo/helm/xenvbd/Chart.yaml")"
  tag="localhost/xenvbd:$version"
fi
jar_arg=()
if [ -n "$jar" ]; then
  [ -f "$repo/$jar" ] || { echo "build-image.sh: no $jar in $repo: run mvn -B package first" >&2; exit 1; }
  jar_arg=(--build-arg "JAR=$jar")
fi
# The Dockerfile's apt-get install step needs the host's network too; podman keeps its layer, so a
# rebuild with a new jar repeats only the COPY.
previous="$(podman image inspect --format '{{.Id}}' "$tag" 2>/dev/null || true)"
podman build --network host --build-arg "BASE_IMAGE=$base" "${jar_arg[@]}" -t "$tag" -f "$repo/Dockerfile" "$repo" >&2
# The image the tag named before, if no name is left on it, is of no further use (unless a container
# still runs it: then rmi refuses, and it stays).
if [ -n "$previous" ] && [ "$previous" != "$(podman image inspect --format '{{.Id}}' "$tag")" ] \
   && [ "$(podman image inspect --format '{{len .RepoTags}}' "$previous" 2>/dev/null)" = 0 ]; then
  podman rmi "$previous" >/dev/null 2>&1 || true
fi
echo "$tag"
