#!/bin/sh
# SPDX-License-Identifier: MIT
# The placement issue's targets against the measured means of a make sim
# run (docs/sim-results): Markdown on stdout. A peer counts as "best" only
# with guards equal to nodescore's (pods placed within 0.5 %).
#   tools/sim/targets.sh docs/sim-results [policy]
set -eu
dir=${1:-docs/sim-results}
ns=${2:-nodescore}
means() { # csv -> "policy overload slatah herd placed" per policy, means over seeds
	awk -F, 'NR > 1 { n[$2]++; o[$2] += $5; s[$2] += $7; h[$2] += $13; p[$2] += $14 }
		END { for (k in n) printf "%s %.6f %.6f %.2f %.1f\n", k, o[k] / n[k], s[k] / n[k], h[k] / n[k], p[k] / n[k] }' "$1"
}
row() { # scenario target measured verdict
	printf '| %s | %s | %s | %s |\n' "$1" "$2" "$3" "$4"
}
echo "| scenario | target | measured ($ns) | met |"
echo "|---|---|---|---|"
for sc in s1 s2 s3 s4; do
	f=$dir/$sc-runs.csv
	[ -s "$f" ] || continue
	means "$f" | awk -v sc="$sc" -v ns="$ns" '
	{ o[$1] = $2; sl[$1] = $3; h[$1] = $4; p[$1] = $5 }
	END {
		if (!(ns in o)) exit
		best = ""; split("trimaran-tlp trimaran-lvrb crane koordinator", peers, " ")
		for (i in peers) { q = peers[i]
			if (!(q in o) || p[q] < p[ns] * 0.995 || p[q] > p[ns] * 1.005) continue
			if (best == "" || o[q] < o[best]) best = q }
		bs = ""; for (i in peers) { q = peers[i]
			if (!(q in o) || p[q] < p[ns] * 0.995 || p[q] > p[ns] * 1.005) continue
			if (bs == "" || sl[q] < sl[bs]) bs = q }
		d = o["k8s-default"]
		rel = d > 0 ? 100 * (o[ns] - d) / d : 0
		if (sc == "s1")
			printf "| %s | CPU overload >= 30 %% below k8s-default | %.4f vs %.4f (%+.0f %%) | %s |\n", sc, o[ns], d, rel, rel <= -30 ? "yes" : "no"
		if (best != "") {
			rb = o[best] > 0 ? 100 * (o[ns] - o[best]) / o[best] : 0
			want = sc == "s2" ? -50 : -15
			printf "| %s | CPU overload >= %d %% below the best peer with equal guards | %.4f vs %.4f %s (%+.0f %%) | %s |\n", sc, -want, o[ns], o[best], best, rb, rb <= want ? "yes" : "no"
		} else
			printf "| %s | CPU overload below the best peer | no peer with equal guards (within 0.5 %% pods placed) | n/a |\n", sc
		if (sc == "s2" && best != "")
			printf "| %s | herd <= half the best peer | %.1f vs %.1f %s | %s |\n", sc, h[ns], h[best], best, h[ns] <= h[best] / 2 ? "yes" : "no"
		printf "| %s | SLATAH <= 0.3 %% | %.3f %% | %s |\n", sc, 100 * sl[ns], sl[ns] <= 0.003 ? "yes" : "no"
		if (bs != "")
			printf "| %s | SLATAH <= half the best peer | %.5f vs %.5f %s | %s |\n", sc, sl[ns], sl[bs], bs, sl[ns] <= sl[bs] / 2 ? "yes" : "no"
		r = o["random"]
		if (r > 0)
			printf "| %s | (seeds: +34 %% vs random) | overload %+.0f %% vs random | %s |\n", sc, 100 * (o[ns] - r) / r, o[ns] <= r * 0.66 ? "yes" : "no"
	}'
done
