#!/bin/sh
# SPDX-License-Identifier: MIT
# Every tracked C source and header matches .clang-format (make format
# rewrites them), so style review is about content, not whitespace. A
# misformatted copy must be caught, so the check itself can fail.
. "$(dirname "$0")/lib.sh"
if ! command -v clang-format >/dev/null 2>&1; then
	skip format_all "clang-format not installed (tools/install-deps.sh installs it)"
	summary
	exit $?
fi
files=$(git ls-files '*.c' '*.h' 2>/dev/null)
[ -n "$files" ] || { skip format_all "not a git checkout: no file list"; summary; exit $?; }
bad=""
for f in $files; do
	clang-format --dry-run -Werror "$f" >/dev/null 2>&1 || bad="$bad $f"
done
if [ -z "$bad" ]; then
	pass format_clean
else
	fail format_clean "differ from .clang-format (run make format):$bad"
fi
printf 'int  main(void){return 0;}\n' >"$NS_TMP/bad.c"
cp .clang-format "$NS_TMP/"
check format_check_catches_misformat sh -c "! clang-format --dry-run -Werror '$NS_TMP/bad.c' >/dev/null 2>&1"
summary
