#!/bin/sh
# SPDX-License-Identifier: MIT
# The extender's status page, live on 127.0.0.1 with nodes published by
# nodescore-pub (random walk + a CSV with an anomalous, a degraded and a
# model-fallback node, + one that goes stale):
#   - HTML content: the breakdown columns, each node's row, plain-words
#     reasons, "n/a (...)" instead of stand-ins, no NaN, no UINT32_MAX, the
#     "prio 0..10" column equal to what a real /prioritize answers;
#   - escaping: request-supplied names that reach the page (shadow mode's last
#     prioritize) are not echoed as markup; hostile node names never reach
#     the table (nodescore-pub refuses them at the source), which is why the
#     escaping function itself is pinned by tests/statuspage_test.c;
#   - a screenshot in headless Chromium (skipped when chromium is absent):
#     PNG of the expected size, not blank.
# Usage: sh tests/statuspage_itest.sh BUILD_DIR
. "$(dirname "$0")/lib.sh"
B=${1:-build}
PY=/usr/bin/python3
EXT=$B/nodescore-extender
PUB=$B/nodescore-pub
for b in "$EXT" "$PUB"; do
	[ -x "$b" ] || { fail binaries "missing $b"; finish; }
done
for b in curl "$PY"; do
	command -v "$b" >/dev/null 2>&1 || { skip statuspage_all "$b not installed"; finish; }
done
make_key "$NS_TMP/key"

SP=$(free_port)
start_extender "$EXT" "$NS_TMP/ext.log" --listen-scores "tcp://127.0.0.1:$SP" --key-file "$NS_TMP/key" \
	--publish-interval 1s
U=$EXT_URL
if [ -n "$U" ] && wait_for 10 curl -sf "$U/healthz"; then pass extender_up; else
	fail extender_up "$(cat "$NS_TMP/ext.log")"; finish; fi

cat >"$NS_TMP/nodes.csv" <<'CSV'
node,score,flags,anomaly,cpu_now,mem_now,cpu_peak_fc,mem_peak_fc,free_millicores,free_mib,pods,rtt_p99_us
sp-web-1,850,0,50,120,300,200,350,12800,42000,12,180
sp-db-1.example,420,1,912,700,800,900,850,1600,9800,30,2500
sp-batch-7,610,4,10,400,200,400,200,9600,52000,8,0
sp-edge-3,500,2,0,500,500,500,500,4294967295,4294967295,0,0
CSV
"$PUB" --connect "tcp://127.0.0.1:$SP" --key-file "$NS_TMP/key" --nodes 12 --prefix sp-walk- \
	--interval 1s --seed 3 2>"$NS_TMP/pub1.log" &
NS_PIDS="$NS_PIDS $!"
"$PUB" --connect "tcp://127.0.0.1:$SP" --key-file "$NS_TMP/key" --replay "$NS_TMP/nodes.csv" \
	--interval 1s 2>"$NS_TMP/pub2.log" &
NS_PIDS="$NS_PIDS $!"
# One node that sends two rounds and falls silent: stale after the 3 s TTL.
"$PUB" --connect "tcp://127.0.0.1:$SP" --key-file "$NS_TMP/key" --nodes 1 --prefix sp-gone- \
	--rounds 2 --interval 200ms 2>"$NS_TMP/pub3.log"
# A hostile name is refused before it is ever sent.
check pub_refuses_html_name sh -c '! "$1" --connect "tcp://127.0.0.1:$2" --key-file "$3" --nodes 1 \
	--prefix "<b>x" --rounds 1 2>/dev/null' _ "$PUB" "$SP" "$NS_TMP/key"

page() { curl -sf --max-time 5 "$U/" >"$NS_TMP/page.html"; }
all_in() { page && grep -q '<td>sp-walk-11</td>' "$NS_TMP/page.html" &&
	grep -q '<td>sp-edge-3</td>' "$NS_TMP/page.html" && grep '<td>sp-gone-0</td>' "$NS_TMP/page.html" | grep -q 'class="stale"'; }
check nodes_published_one_stale wait_for 15 all_in
H=$NS_TMP/page.html

for col in '<th>score</th>' '<th>prio 0..10</th>' '<th>flags and reasons</th>' '<th>cpu now</th>' \
	'<th>cpu peak (forecast)</th>' '<th>mem now</th>' '<th>mem peak (forecast)</th>' \
	'<th>headroom at peak</th>' '<th>free mCPU</th>' '<th>free MiB</th>' '<th>anomaly</th>'; do
	check "column_$(echo "$col" | sed 's/<[^>]*>//g; s/[^a-z0-9]/_/g')" grep -qF "$col" "$H"
done
check legend_explains_score grep -q 'How the ranking is made' "$H"
# Rows: the name cell then the score cell (other tests grep that), the
# breakdown of the CSV node in numbers, the reason in words.
check row_web grep -q '<td>sp-web-1</td><td>850</td><td>10</td><td><span class="ok">ok</span></td><td>12.0%</td><td>20.0%</td><td>30.0%</td><td>35.0%</td><td>65.0%</td><td>12800</td><td>42000</td><td>0.050</td><td>180</td><td>12</td>' "$H"
check row_anomaly sh -c 'grep "<td>sp-db-1.example</td>" "$1" | grep "class=\"anomaly\"" | grep -q "(filtered).*anomaly flagged</b> by the node.*/filter removes it.*0.912 <b>flagged</b>"' _ "$H"
check row_degraded_na sh -c 'grep "<td>sp-edge-3</td>" "$1" | grep -q "CPU and memory not measured, so the agent sends the neutral score 500.*n/a (CPU not measured).*n/a (memory not measured)"' _ "$H"
check row_fallback sh -c 'grep "<td>sp-batch-7</td>" "$1" | grep "class=\"fallback\"" | grep -q "model fallback: a model output is missing.*n/a (no TCP)"' _ "$H"
check row_stale sh -c 'grep "<td>sp-gone-0</td>" "$1" | grep -q "5 <span class=\"na\">(stale)</span></td><td>stale: silent [0-9.]* s &gt; TTL 3.0 s"' _ "$H"
check no_nan sh -c '! grep -qiw nan "$1"' _ "$H"
check no_uint32_max sh -c '! grep -q 4294967295 "$1"' _ "$H"
check nodes_counted grep -q '<p>17 nodes, 1 stale' "$H"

# The prio column is what a real /prioritize gives when every fresh node is
# a candidate (the table may move between the two reads: retried).
prio_matches() {
	page || return 1
	"$PY" - "$H" "$U" <<'PY'
import json, re, sys, urllib.request
html = open(sys.argv[1]).read()
rows = re.findall(r'<tr class="([a-z]*)"><td>\d+</td><td>([^<]+)</td><td>\d+</td><td>(\d+)', html)
fresh = {n: int(p) for c, n, p in rows if c != "stale"}
body = json.dumps({"Pod": {"metadata": {"name": "t"}}, "NodeNames": sorted(fresh)}).encode()
req = urllib.request.Request(sys.argv[2] + "/prioritize", body, {"Content-Type": "application/json"})
got = {h["Host"]: h["Score"] for h in json.load(urllib.request.urlopen(req, timeout=5))}
bad = {n: (p, got.get(n)) for n, p in fresh.items() if got.get(n) != p}
if len(fresh) < 16 or bad:
    print("page vs /prioritize:", bad, file=sys.stderr)
    sys.exit(1)
PY
}
check prio_column_equals_prioritize wait_for 10 prio_matches

# --- shadow mode: request names reach the page (last prioritize) ----------
SSP=$(free_port)
start_extender "$EXT" "$NS_TMP/shadow.log" --listen-scores "tcp://127.0.0.1:$SSP" --key-file "$NS_TMP/key" \
	--publish-interval 1s --shadow
SU=$EXT_URL
check shadow_extender_up wait_for 10 curl -sf "$SU/healthz"
"$PUB" --connect "tcp://127.0.0.1:$SSP" --key-file "$NS_TMP/key" --replay "$NS_TMP/nodes.csv" \
	--interval 1s 2>"$NS_TMP/pub4.log" &
NS_PIDS="$NS_PIDS $!"
check shadow_nodes_in wait_for 10 sh -c 'curl -sf "$1/" | grep -q "<td>sp-web-1</td>"' _ "$SU"
cat >"$NS_TMP/evil.json" <<'JSON'
{"Pod":{"metadata":{"name":"<script>alert(1)</script>","namespace":"a&b\"c"}},"NodeNames":["sp-web-1","<img src=x onerror=alert(2)>","sp-batch-7"]}
JSON
check shadow_prioritize_200 sh -c 'curl -s -o /dev/null -w "%{http_code}" -X POST -H "Content-Type: application/json" \
	--data-binary @"$2" "$1/prioritize" | grep -qx 200' _ "$SU" "$NS_TMP/evil.json"
curl -sf --max-time 5 "$SU/" >"$NS_TMP/shadow.html"
check shadow_section_kept grep -q '<h2>Shadow mode</h2>' "$NS_TMP/shadow.html"
check shadow_last_pod_shown grep -q 'Last prioritize: pod ' "$NS_TMP/shadow.html"
check shadow_no_raw_markup sh -c '! grep -qiE "<script|<img|onerror=alert\(2\)>|a&b\"c" "$1"' _ "$NS_TMP/shadow.html"
check shadow_breakdown_too grep -qF '<th>flags and reasons</th>' "$NS_TMP/shadow.html"

# --- screenshot -------------------------------------------------------------
CHROME=$(command -v chromium || command -v chromium-browser || true)
if [ -z "$CHROME" ]; then
	skip screenshot "chromium not installed (tools/install-deps.sh installs the Debian package chromium)"
else
	PNG=$NS_TMP/status.png
	# Chromium as root needs --no-sandbox; its profile stays in the temp dir.
	timeout 45 "$CHROME" --headless --no-sandbox --disable-gpu --hide-scrollbars --no-first-run \
		--user-data-dir="$NS_TMP/chrome" --screenshot="$PNG" --window-size=1280,900 "$U/" \
		>"$NS_TMP/chrome.log" 2>&1
	check screenshot_written test -s "$PNG"
	dims=$("$PY" -c '
import struct, sys
d = open(sys.argv[1], "rb").read(24)
if d[:8] != b"\x89PNG\r\n\x1a\n" or d[12:16] != b"IHDR":
    sys.exit(1)
print("%dx%d" % struct.unpack(">II", d[16:24]))' "$PNG" 2>/dev/null)
	check screenshot_is_1280x900_png [ "$dims" = 1280x900 ]
	if "$PY" -c 'import PIL' 2>/dev/null; then
		# Not blank: many colours (text, the anomaly row's red, the header's
		# blue, the reasons' brown and green) and a fair share of ink.
		stats=$("$PY" -c '
import sys
from PIL import Image
im = Image.open(sys.argv[1]).convert("RGB")
px = list(im.getdata())
colours = len(set(px))
ink = sum(1 for p in px if sum(p) < 600) / len(px)
tinted = {p for p in px if max(p) - min(p) > 40}
print(colours, int(ink * 1000), len(tinted))' "$PNG")
		set -- $stats
		echo "  screenshot: $1 colours, ink $2 per mille, $3 tinted colours" >&2
		check screenshot_not_blank [ "${1:-0}" -ge 50 ] && [ "${2:-0}" -ge 20 ]
		check screenshot_has_colour_rows [ "${3:-0}" -ge 5 ]
	else
		size=$(wc -c <"$PNG")
		echo "  screenshot: $size bytes (python3-pil missing: size bound only)" >&2
		check screenshot_not_blank [ "$size" -ge 30000 ]
	fi
fi
summary
