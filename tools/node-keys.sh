#!/bin/sh
# SPDX-License-Identifier: MIT
# Writes each node's own HMAC key (nodescore-extender --derive-key NODE) to
# OUT/NODE.key, mode 0400, for daemonset/components/node-keys: the node
# bootstrap installs it as /etc/nodescore/node.key (root, 0400) and the agent
# reads it with --node-key-file, so no node holds the master key.
# README "Key file" has the whole flow (generate, install, enable, rotate).
set -u
# Names are never globbed: an argument such as '*' is refused, not expanded.
set -f

usage() {
	cat <<'EOF'
Usage: tools/node-keys.sh --key-file MASTER --out DIR [options] [NODE...]

Writes DIR/NODE.key (mode 0400) for every NODE: that node's own key, derived
from the master key by nodescore-extender --derive-key. Without NODE
arguments the names are read from stdin, one a line; a "node/" prefix is
dropped, so this works:
  kubectl get nodes -o name | tools/node-keys.sh --key-file nodescore.key --out keys

Options:
  --key-file FILE    the extenders' master key (must not be group- or
                     world-readable: chmod 600)
  --out DIR          output directory, created 0700 if missing
  --force            replace existing DIR/NODE.key files (rotation); without
                     it an existing file is an error and nothing is written
  --print-install    after writing, print a shell loop that installs each key
                     as /etc/nodescore/node.key (root, 0400) over ssh
  --extender PATH    nodescore-extender to derive with (default: $NODESCORE_EXTENDER,
                     else nodescore-extender on PATH, else build/ of this tree)
  --help             this text

Node names must be DNS-1123 subdomains of 1..63 characters (what the agents'
messages carry). Every name, the master key and the output files are checked
before anything is written. Each file is written to a temporary name in DIR
and renamed into place, so no reader sees a partial key.
Exit status: 0 written, 1 refused or failed (an ERROR line says why), 2 bad usage.
EOF
}

err() { echo "ERROR node-keys: $*" >&2; }
bad_usage() {
	err "$*"
	echo "Try: tools/node-keys.sh --help" >&2
	exit 2
}

master='' out='' force=0 print_install=0 ext=${NODESCORE_EXTENDER:-}
while [ $# -gt 0 ]; do
	case $1 in
	--help | -h) usage; exit 0 ;;
	--key-file) [ $# -ge 2 ] || bad_usage "--key-file needs a file"; master=$2; shift ;;
	--key-file=*) master=${1#*=} ;;
	--out) [ $# -ge 2 ] || bad_usage "--out needs a directory"; out=$2; shift ;;
	--out=*) out=${1#*=} ;;
	--extender) [ $# -ge 2 ] || bad_usage "--extender needs a path"; ext=$2; shift ;;
	--extender=*) ext=${1#*=} ;;
	--force) force=1 ;;
	--print-install) print_install=1 ;;
	--) shift; break ;;
	-*) bad_usage "unknown option $1" ;;
	*) break ;;
	esac
	shift
done
[ -n "$master" ] || bad_usage "--key-file MASTER is required"
[ -n "$out" ] || bad_usage "--out DIR is required"

if [ -z "$ext" ]; then
	ext=$(command -v nodescore-extender 2>/dev/null) ||
		ext=$(dirname "$0")/../build/nodescore-extender
fi
if [ ! -x "$ext" ]; then
	err "no nodescore-extender at $ext (make, or --extender PATH)"
	exit 1
fi

# --- the master key: a regular file only its owner can read
if [ ! -f "$master" ]; then
	err "master key $master is not a file"
	exit 1
fi
if [ ! -r "$master" ]; then
	err "master key $master is not readable by uid $(id -u)"
	exit 1
fi
mode=$(stat -L -c %a "$master") || exit 1
case $mode in
*[0-7][1-7][0-7] | *[0-7][0-7][1-7])
	err "master key $master has mode $mode: group or others have access (chmod 600 $master)"
	exit 1
	;;
esac

# --- node names: arguments, else stdin; one a line in $names from here on
NL='
'
names=
if [ $# -gt 0 ]; then
	for n in "$@"; do names="$names${n#node/}$NL"; done
	from=arguments
else
	if [ -t 0 ]; then
		bad_usage "no node names: give them as arguments or on stdin (kubectl get nodes -o name | ...)"
	fi
	while IFS= read -r line || [ -n "$line" ]; do
		# Surrounding blanks and a CR go; blanks inside a name make it invalid.
		line=$(printf '%s' "$line" | sed 's/^[[:space:]]*//; s/[[:space:]]*$//')
		[ -n "$line" ] && names="$names${line#node/}$NL"
	done
	from=stdin
fi
IFS=$NL
# DNS-1123 subdomain as ns_wire_name_valid (lib/wire.c) accepts it: labels of
# [a-z0-9-] not starting or ending in '-', joined by '.', 63 bytes at most.
label='[a-z0-9]([a-z0-9-]*[a-z0-9])?'
valid() {
	[ "${#1}" -le 63 ] && printf '%s\n' "$1" | grep -Eqx "$label(\\.$label)*"
}
count=0 bad=0 seen=" "
for n in $names; do
	[ -n "$n" ] || continue
	if ! valid "$n"; then
		err "node name '$n' is not a DNS-1123 subdomain of 1..63 characters (lowercase letters, digits, '-', '.')"
		bad=1
		continue
	fi
	case $seen in *" $n "*)
		err "node $n is named twice"
		bad=1
		continue
		;;
	esac
	seen="$seen$n "
	count=$((count + 1))
done
if [ "$bad" -ne 0 ]; then
	err "nothing written"
	exit 1
fi
if [ "$count" -eq 0 ]; then
	err "no node names on $from"
	exit 1
fi

# --- the output directory and files
umask 077
if [ ! -d "$out" ]; then
	mkdir -p "$out" || { err "cannot create $out"; exit 1; }
	chmod 0700 "$out"
fi
if [ "$force" -eq 0 ]; then
	for n in $names; do
		if [ -e "$out/$n.key" ] || [ -L "$out/$n.key" ]; then
			err "$out/$n.key exists (--force replaces it); nothing written"
			bad=1
		fi
	done
	[ "$bad" -eq 0 ] || exit 1
fi

tmp=
# shellcheck disable=SC2317 # the EXIT trap runs it
cleanup() { if [ -n "$tmp" ]; then rm -f "$tmp"; fi; }
trap cleanup EXIT
trap 'exit 130' HUP INT TERM

written=0
for n in $names; do
	tmp=$(mktemp "$out/.$n.key.XXXXXX") || { err "cannot create a file in $out"; exit 1; }
	if ! "$ext" --log-level error --key-file "$master" --derive-key "$n" >"$tmp"; then
		err "nodescore-extender --derive-key $n failed (its ERROR line is above); $written of $count written"
		exit 1
	fi
	if [ "$(wc -c <"$tmp")" -ne 32 ]; then
		err "nodescore-extender --derive-key $n wrote $(wc -c <"$tmp") bytes, not 32; $written of $count written"
		exit 1
	fi
	chmod 0400 "$tmp" || exit 1
	if [ "$force" -eq 1 ]; then
		mv -f "$tmp" "$out/$n.key" || { err "cannot rename to $out/$n.key"; exit 1; }
	else
		# A hard link never replaces a file that appeared since the check.
		if ! ln "$tmp" "$out/$n.key" 2>/dev/null; then
			err "cannot create $out/$n.key (it exists now?); $written of $count written"
			exit 1
		fi
		rm -f "$tmp"
	fi
	tmp=
	written=$((written + 1))
done
echo "SUCCESS node-keys: wrote $written node keys to $out (mode 0400)" >&2

if [ "$print_install" -eq 1 ]; then
	dir=$(cd "$out" && pwd)
	list=$(printf '%s' "$names" | tr '\n' ' ')
	# shell-quoted for the printed script
	qdir=\'$(printf '%s' "$dir" | sed "s/'/'\\\\''/g")\'
	cat <<EOF
#!/bin/sh
# Installs each node's key as /etc/nodescore/node.key (root, 0400) over ssh
# (tools/node-keys.sh --print-install). \$SSH reaches the host named like the
# node: edit host= below if your ssh names differ. \$SUDO (default sudo,
# password-less; SUDO= when logging in as root) runs the remote part.
# The key goes over ssh's stdin, so no copy is left in a temporary file, and
# it is written under another name and renamed, so it is never partial.
SSH=\${SSH:-ssh}
SUDO=\${SUDO-sudo}
REMOTE='umask 077 && mkdir -p /etc/nodescore && chmod 0700 /etc/nodescore && cat >/etc/nodescore/.node.key.new && chown root:root /etc/nodescore/.node.key.new && chmod 0400 /etc/nodescore/.node.key.new && mv -f /etc/nodescore/.node.key.new /etc/nodescore/node.key'
set -e
for n in $list; do
	host=\$n
	\$SSH "\$host" "\$SUDO sh -c '\$REMOTE'" <$qdir/"\$n.key"
	echo "installed \$n"
done
EOF
fi
exit 0
