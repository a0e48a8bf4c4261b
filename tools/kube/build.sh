#!/usr/bin/env bash
# Builds kube-apiserver, etcd and kubectl of the Kubernetes release pinned in go.mod beside this
# script, from the Go module proxy, into a cache keyed by version; does nothing when the cache has
# them already. Prints the binaries' directory on its last line of output.
#
#   tools/kube/build.sh          build if needed, print the directory
#   XENVBD_CACHE=/some/dir ...   cache root (default: $HOME/.cache/xenvbd)
#
# The layout, <cache>/kube/k8s/<version>-linux-<arch>/{etcd,kube-apiserver,kubectl}, is the one
# fabric8's kube-api-test looks for too. A stamp of go.mod, go.sum and the build flags sits next to
# the binaries, so a change of any of them rebuilds instead of silently keeping old binaries.
set -euo pipefail

here=$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)
version=$(awk '$1 == "k8s.io/kubernetes" && $2 ~ /^v/ { sub(/^v/, "", $2); print $2; exit }' "$here/go.mod")
if [[ -z "$version" ]]; then
    echo "tools/kube/go.mod names no k8s.io/kubernetes version; restore its require line." >&2
    exit 1
fi
# Go's usual place on these machines, for a PATH that lacks it.
command -v go >/dev/null || PATH="$PATH:/usr/local/go/bin"
if ! command -v go >/dev/null; then
    echo "Go is needed to build kube-apiserver, etcd and kubectl $version; install Go 1.24 or later." >&2
    exit 1
fi
arch=$(go env GOARCH)
out="${XENVBD_CACHE:-$HOME/.cache/xenvbd}/kube/k8s/$version-linux-$arch"

IFS=. read -r major minor _ <<<"$version"
ldflags="-s -w"
for pkg in k8s.io/component-base/version k8s.io/client-go/pkg/version; do
    ldflags+=" -X $pkg.gitVersion=v$version -X $pkg.gitMajor=$major -X $pkg.gitMinor=$minor"
    ldflags+=" -X $pkg.gitTreeState=clean -X $pkg.buildDate=1970-01-01T00:00:00Z"
done
# What the binaries are made from: the module graph and the flags (not this script's comments).
stamp=$( { cat "$here/go.mod" "$here/go.sum"; echo "CGO_ENABLED=0 -trimpath $ldflags"; } | sha256sum | cut -d' ' -f1)

if [[ -x "$out/etcd" && -x "$out/kube-apiserver" && -x "$out/kubectl" \
      && "$(cat "$out/.stamp" 2>/dev/null)" == "$stamp" ]]; then
    echo "$out"
    exit 0
fi

mkdir -p "$(dirname "$out")"
tmp=$(mktemp -d "$(dirname "$out")/.build-XXXXXX")
chmod 755 "$tmp"
trap 'rm -rf "$tmp"' EXIT
echo "Building kube-apiserver, kubectl and etcd for Kubernetes $version (cold: about 10 minutes on 2 idle cores, far longer on a busy machine; then cached)..." >&2
started=$SECONDS
(
    cd "$here"
    export CGO_ENABLED=0 GOFLAGS="-mod=readonly -buildvcs=false"
    go build -trimpath -ldflags "$ldflags" -o "$tmp/" k8s.io/kubernetes/cmd/kube-apiserver k8s.io/kubernetes/cmd/kubectl
    go build -trimpath -ldflags "-s -w" -o "$tmp/etcd" go.etcd.io/etcd/server/v3
)
"$tmp/kube-apiserver" --version | grep -qx "Kubernetes v$version" || {
    echo "The built kube-apiserver reports '$("$tmp/kube-apiserver" --version)', not v$version." >&2
    exit 1
}
echo "$stamp" >"$tmp/.stamp"
rm -rf "$out"
mv "$tmp" "$out"
trap - EXIT
echo "Built in $((SECONDS - started)) s." >&2
echo "$out"
