# SPDX-License-Identifier: MIT
# The shipped Alertmanager example passes amtool's own config check, and a
# broken copy of it does not (so the check can fail).
. tests/lib.sh
if ! command -v amtool >/dev/null 2>&1; then
	skip alertmanager_all "amtool not installed (tools/install-deps.sh installs prometheus-alertmanager)"
	finish
fi
check amtool_example_config amtool check-config daemonset/alertmanager-example.yml
sed 's/receiver: nodescore-default/receiver: no-such-receiver/' daemonset/alertmanager-example.yml >"$NS_TMP/bad.yml"
check amtool_rejects_unknown_receiver sh -c "! amtool check-config '$NS_TMP/bad.yml' >/dev/null 2>&1"
summary
