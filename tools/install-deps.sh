#!/bin/sh
# SPDX-License-Identifier: MIT
# Installs exactly the Debian 12 packages nodescore needs that are missing.
# Idempotent: runs apt-get update only when something is missing.
set -eu

PKGS="make gcc clang clang-format llvm pkg-config libelf-dev zlib1g-dev libbpf-dev bpftool
libmnl-dev libcjson-dev libnanomsg-dev libxgboost-dev libmicrohttpd-dev libgnutls28-dev
libsodium-dev libcurl4-openssl-dev iproute2 nftables curl openssl wrk gnuplot-nox bc
prometheus prometheus-alertmanager prometheus-node-exporter
python3-numpy python3-xgboost python3-sklearn yamllint python3-yaml
chromium python3-pil faketime"

# Kubernetes OpenAPI models for tools/manifests/check.py (tests/manifests_itest.sh):
# the generated model files of the npm package @kubernetes/client-node, fetched
# with npm pack (the tarball alone, none of the client's dependencies) and
# unpacked under /usr/local. Pinned: a new version is a new directory.
K8S_MODELS_PKG=@kubernetes/client-node@2.0.1
K8S_MODELS_DIR=/usr/local/share/nodescore-test/k8s-client-node-2.0.1
k8s_models() {
	[ -f "$K8S_MODELS_DIR/models/V1PodSpec.js" ] && return 0
	if [ "$(id -u)" != 0 ]; then
		echo "WARNING install-deps: no Kubernetes models in $K8S_MODELS_DIR and not root; manifest schema checks will skip" >&2
		return 0
	fi
	if ! command -v npm >/dev/null 2>&1; then
		DEBIAN_FRONTEND=noninteractive apt-get install -y -q --no-install-recommends npm >/dev/null ||
			{ echo "WARNING install-deps: cannot install npm; manifest schema checks will skip" >&2; return 0; }
	fi
	tmp=$(mktemp -d)
	if (cd "$tmp" && npm pack --silent "$K8S_MODELS_PKG" >/dev/null 2>&1) &&
		tar -xzf "$tmp"/*.tgz -C "$tmp" package/dist/gen/models; then
		mkdir -p "$K8S_MODELS_DIR"
		rm -rf "$K8S_MODELS_DIR/models"
		mv "$tmp/package/dist/gen/models" "$K8S_MODELS_DIR/models"
		echo "INFO install-deps: Kubernetes models from $K8S_MODELS_PKG in $K8S_MODELS_DIR"
	else
		echo "WARNING install-deps: npm pack $K8S_MODELS_PKG failed; manifest schema checks will skip" >&2
	fi
	rm -rf "$tmp"
}

missing=""
for p in $PKGS; do
	st=$(dpkg-query -W -f='${Status}' "$p" 2>/dev/null || true)
	case "$st" in
	*"install ok installed"*) ;;
	*) missing="$missing $p" ;;
	esac
done

if [ -z "$missing" ]; then
	k8s_models
	echo "SUCCESS install-deps: all packages present"
	exit 0
fi

if [ "$(id -u)" != 0 ]; then
	echo "ERROR install-deps: missing packages and not root:$missing" >&2
	echo "ERROR install-deps: run as root or install them: apt-get install -y$missing" >&2
	exit 1
fi

echo "INFO install-deps: installing$missing"
export DEBIAN_FRONTEND=noninteractive
apt-get update -q
# shellcheck disable=SC2086
apt-get install -y -q --no-install-recommends $missing
# Debian starts these services on install; tests start their own on loopback.
for s in prometheus prometheus-alertmanager prometheus-node-exporter; do
	if command -v systemctl >/dev/null 2>&1; then
		systemctl disable --now "$s" >/dev/null 2>&1 || true
	fi
done
k8s_models
echo "SUCCESS install-deps: installed$missing"
