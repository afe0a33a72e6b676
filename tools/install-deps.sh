#!/bin/sh
# SPDX-License-Identifier: MIT
# Installs exactly the Debian 12 packages nodescore needs that are missing.
# Idempotent: runs apt-get update only when something is missing.
set -eu

PKGS="make gcc clang llvm pkg-config libelf-dev zlib1g-dev libbpf-dev bpftool
libmnl-dev libcjson-dev libnanomsg-dev libxgboost-dev libmicrohttpd-dev
libsodium-dev libcurl4-openssl-dev iproute2 curl wrk gnuplot-nox bc
prometheus prometheus-alertmanager prometheus-node-exporter
python3-numpy python3-xgboost python3-sklearn"

missing=""
for p in $PKGS; do
	st=$(dpkg-query -W -f='${Status}' "$p" 2>/dev/null || true)
	case "$st" in
	*"install ok installed"*) ;;
	*) missing="$missing $p" ;;
	esac
done

if [ -z "$missing" ]; then
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
echo "SUCCESS install-deps: installed$missing"
