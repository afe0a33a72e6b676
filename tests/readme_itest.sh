# SPDX-License-Identifier: MIT
# Docs match the code: the configuration reference in README.md is exactly
# the --help of the binaries built now (regenerate: tools/readme-flags.sh BUILD --update),
# and every binary answers --help with exit status 0.
. tests/lib.sh
BUILD=${1:-build}

for d in agent/main.c extender/main.c tools/*/main.c; do
	b=${d%/main.c}
	b=${b#tools/}
	check "help_$b" "$BUILD/nodescore-$b" --help >/dev/null 2>&1
done
sh tools/readme-flags.sh "$BUILD" >"$NS_TMP/want" 2>&1
awk '/<!-- BEGIN FLAGS -->/{on=1;next} /<!-- END FLAGS -->/{on=0} on' README.md >"$NS_TMP/have"
if cmp -s "$NS_TMP/want" "$NS_TMP/have"; then
	pass readme_flags_match_help
else
	fail readme_flags_match_help "README.md reference differs from --help; run tools/readme-flags.sh $BUILD --update"
	diff "$NS_TMP/have" "$NS_TMP/want" | head -20
fi
summary
