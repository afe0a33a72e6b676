#!/bin/sh
# SPDX-License-Identifier: MIT
# nodescore-sim on tiny synthetic traces with known answers: a node whose
# background is pinned at 100 % CPU receives pods under the default policy
# (which sees requests only) and none under the load-aware ones; the same
# seed gives the same CSV; bad and truncated traces exit non-zero with the
# file and line named.
# Usage: sh tests/sim_itest.sh BUILD_DIR
. "$(dirname "$0")/lib.sh"
B=${1:-build}
SIM=$B/nodescore-sim
[ -x "$SIM" ] || { skip sim "needs $SIM"; summary; exit 0; }

M=$NS_TMP/machines.csv
T=$NS_TMP/tasks.csv
# m_hot at 100 % CPU, m_cold at 5 %, 3 days at 60 s
awk 'BEGIN { for (t = 0; t < 3 * 86400; t += 60) {
	printf "m_hot,%d,100,40,,,1,1,5\n", t; printf "m_cold,%d,5,40,,,1,1,5\n", t } }' >"$M"
{
	echo "task_create_time,task_end_time,job_id,task_id,number_of_instances,status,cpu,mem"
	i=0
	while [ $i -lt 200 ]; do
		echo "$((i * 300)),$((i * 300 + 1200)),$i,1,4,Terminated,100,0.01"
		i=$((i + 1))
	done
} >"$T"

run() { "$SIM" --machines "$M" --tasks "$T" --nodes 2 --days 1 --seeds 1 --bg-scale 1 --load 0.05 \
	--split all --quiet "$@"; }

mkdir -p "$NS_TMP/a" "$NS_TMP/b"
POL=k8s-default,koordinator,trimaran-tlp,nodescore,nodescore-q,oracle-future

# A Q-table trained on the train half (m_hot only: every state it meets is
# overloaded), next to the shipped forecaster and anomaly model.
mkdir -p "$NS_TMP/models"
ln -s "$PWD/models/forecast-default" "$NS_TMP/models/forecast-default"
ln -s "$PWD/models/iforest-default.nsif" "$NS_TMP/models/iforest-default.nsif"
"$SIM" --machines "$M" --tasks "$T" --nodes 2 --load 0.05 --bg-scale 1 --quiet --train-q 3 \
	--q-out "$NS_TMP/models/qtable-default.nsq" --q-curve "$NS_TMP/curve.csv" 2>"$NS_TMP/q.log"
grep -q "SUCCESS sim: qtable written .*episodes=3 " "$NS_TMP/q.log" && [ -s "$NS_TMP/models/qtable-default.nsq" ] &&
	pass sim_qtable_written || fail sim_qtable_written "$(tail -2 "$NS_TMP/q.log")"
[ "$(wc -l <"$NS_TMP/curve.csv")" = 4 ] && pass sim_qtable_curve || fail sim_qtable_curve
run --policies nodescore-q --models "$NS_TMP/nomodels" >/dev/null 2>"$NS_TMP/noq.log"
[ $? -ne 0 ] && grep -q "no usable Q-table" "$NS_TMP/noq.log" && pass sim_nodescore_q_needs_table ||
	fail sim_nodescore_q_needs_table "$(tail -2 "$NS_TMP/noq.log")"
if run --policies $POL --models "$NS_TMP/models" --out "$NS_TMP/a" >/dev/null 2>"$NS_TMP/a.log"; then
	pass sim_runs
else
	fail sim_runs "$(tail -3 "$NS_TMP/a.log")"
fi
bad() { awk -F, -v p="$1" '$2 == p { print $12 }' "$NS_TMP/a/s1-runs.csv"; }
# column 12 = bad_placements (scenario,policy,seed,mean_util,overload_cpu,...)
head -1 "$NS_TMP/a/s1-runs.csv" | cut -d, -f12 | grep -qx bad_placements &&
	pass sim_csv_columns || fail sim_csv_columns "$(head -1 "$NS_TMP/a/s1-runs.csv")"
[ "$(bad k8s-default)" -gt 0 ] 2>/dev/null && pass sim_default_uses_hot_node ||
	fail sim_default_uses_hot_node "bad=$(bad k8s-default)"
[ "$(bad koordinator)" = 0 ] && pass sim_koordinator_avoids_hot_node ||
	fail sim_koordinator_avoids_hot_node "bad=$(bad koordinator)"
[ "$(bad trimaran-tlp)" = 0 ] && pass sim_tlp_avoids_hot_node ||
	fail sim_tlp_avoids_hot_node "bad=$(bad trimaran-tlp)"
[ "$(bad nodescore)" = 0 ] && pass sim_nodescore_avoids_hot_node ||
	fail sim_nodescore_avoids_hot_node "bad=$(bad nodescore)"
[ "$(bad nodescore-q)" = 0 ] && pass sim_nodescore_q_avoids_hot_node ||
	fail sim_nodescore_q_avoids_hot_node "bad=$(bad nodescore-q)"
[ "$(bad oracle-future)" = 0 ] && pass sim_oracle_future_avoids_hot_node ||
	fail sim_oracle_future_avoids_hot_node "bad=$(bad oracle-future)"

# S3: node 1's agent goes silent 6 h after the warm-up. nodescore lets it
# go stale (TTL: 3 steps) and ranks it neutral, so it keeps receiving pods
# (fail open); Koordinator filters expired metrics and sends it none.
col() { awk -F, -v p="$1" -v c="$2" 'NR == 1 { for (i = 1; i <= NF; i++) if ($i == c) k = i }
	NR > 1 && $2 == p { print $k }' "$NS_TMP/c/s3-runs.csv"; }
mkdir -p "$NS_TMP/c"
run --scenario s3 --policies nodescore,koordinator --models "$NS_TMP/models" --out "$NS_TMP/c" \
	>/dev/null 2>&1
[ "$(col nodescore silent_binds)" -gt 0 ] 2>/dev/null && pass sim_silent_node_neutral ||
	fail sim_silent_node_neutral "silent_binds=$(col nodescore silent_binds)"
[ "$(col koordinator silent_binds)" = 0 ] && pass sim_koordinator_filters_expired ||
	fail sim_koordinator_filters_expired "silent_binds=$(col koordinator silent_binds)"

# One thread and three give the same files (the first run used one per CPU).
run --policies $POL --models "$NS_TMP/models" --out "$NS_TMP/b" --jobs 1 >/dev/null 2>&1
cmp -s "$NS_TMP/a/s1-runs.csv" "$NS_TMP/b/s1-runs.csv" && pass sim_deterministic ||
	fail sim_deterministic
mkdir -p "$NS_TMP/j3"
run --policies $POL --models "$NS_TMP/models" --out "$NS_TMP/j3" --jobs 3 >/dev/null 2>&1
same=1
for f in s1-runs.csv s1-hist.csv s1-overtime.csv s1.md; do
	cmp -s "$NS_TMP/b/$f" "$NS_TMP/j3/$f" || same=0
done
[ "$same" = 1 ] && pass sim_jobs_same_results || fail sim_jobs_same_results

# The AVX-512 fit scan, default plugins and selectHost give what the plain
# loops give, bit for bit: 150 nodes offered 110 % of their CPU in pods of
# 1.6 cores (many identical nodes tie; a third of the searches find none).
if grep -qw avx512f /proc/cpuinfo; then
	sed 's/,100,0.01$/,1600,0.05/' "$T" >"$NS_TMP/big.csv"
	mkdir -p "$NS_TMP/w" "$NS_TMP/p"
	wide() { "$SIM" --machines "$M" --tasks "$NS_TMP/big.csv" --nodes 150 --days 1 --seeds 1 \
		--bg-scale 0.5 --load 1.1 --split all --quiet --policies k8s-default,koordinator "$@"; }
	wide --out "$NS_TMP/w" >/dev/null 2>&1
	NS_SIM_NO_AVX512=1 wide --out "$NS_TMP/p" >/dev/null 2>&1
	f=$(awk -F, '$2 == "k8s-default" { print $15 }' "$NS_TMP/w/s1-runs.csv")
	[ "${f:-0}" -gt 0 ] && cmp -s "$NS_TMP/w/s1-runs.csv" "$NS_TMP/p/s1-runs.csv" &&
		cmp -s "$NS_TMP/w/s1-hist.csv" "$NS_TMP/p/s1-hist.csv" && pass sim_avx512_same_results ||
		fail sim_avx512_same_results "failed=$f $(diff "$NS_TMP/w/s1-runs.csv" "$NS_TMP/p/s1-runs.csv" | head -3)"
else
	skip sim_avx512_same_results "this CPU has no AVX-512: only the plain paths run"
fi

head -c 2000 "$T" >"$NS_TMP/trunc.csv"
echo "1,2,3" >>"$NS_TMP/trunc.csv"
"$SIM" --machines "$M" --tasks "$NS_TMP/trunc.csv" --nodes 2 --days 1 --seeds 1 --quiet \
	>/dev/null 2>"$NS_TMP/e1.log"
rc=$?
[ $rc -ne 0 ] && grep -q "trunc.csv:[0-9]*: malformed row" "$NS_TMP/e1.log" && pass sim_bad_tasks ||
	fail sim_bad_tasks "rc=$rc $(cat "$NS_TMP/e1.log")"
"$SIM" --machines "$NS_TMP/nope.csv" --tasks "$T" --quiet >/dev/null 2>"$NS_TMP/e2.log"
rc=$?
[ $rc -ne 0 ] && grep -q "ERROR sim: .*nope.csv" "$NS_TMP/e2.log" && pass sim_missing_trace ||
	fail sim_missing_trace "rc=$rc $(cat "$NS_TMP/e2.log")"
# Azure VM arrivals: a tiny set in the Huawei layout; token mismatches are errors.
AZ=$NS_TMP/azure
mkdir -p "$AZ/maps" "$AZ/traces"
echo "4,8 a" >"$AZ/maps/flav_map.txt"
printf '0 0\n300 1\n600 2\n' >"$AZ/maps/v1.interval_map.txt"
awk 'BEGIN { for (t = 300; t <= 86400; t += 300) print t, "a,a,|,a" }' >"$AZ/traces/v1.test.txt"
awk 'BEGIN { for (t = 300; t <= 86400; t += 300) print t, "U1,U2,|,C2" }' >"$AZ/traces/v1.test.c2591400.txt"
run --arrivals azure --azure "$AZ" --split test --policies k8s-default --out "$NS_TMP/az" \
	>/dev/null 2>"$NS_TMP/az.log"
[ $? -eq 0 ] && [ "$(awk -F, 'NR == 2 { print ($14 > 0) }' "$NS_TMP/az/s1-runs.csv")" = 1 ] &&
	pass sim_azure_arrivals || fail sim_azure_arrivals "$(tail -2 "$NS_TMP/az.log")"
sed -i '5s/U2/X2/' "$AZ/traces/v1.test.c2591400.txt"
run --arrivals azure --azure "$AZ" --split test --policies k8s-default >/dev/null 2>"$NS_TMP/az2.log"
[ $? -ne 0 ] && grep -q "v1.test.txt:5: bad token" "$NS_TMP/az2.log" && pass sim_azure_bad_token ||
	fail sim_azure_bad_token "$(tail -2 "$NS_TMP/az2.log")"

# Bitbrains VM backgrounds: a hot VM (bursting over its share, clipped to
# 100 %), a cold one, and one that lived an hour (dropped, counted).
BB=$NS_TMP/bitbrains
mkdir -p "$BB"
for vm in 1:250 2:5 3:5; do
	n=${vm%%:*} u=${vm#*:}
	len=$((3 * 86400))
	[ "$n" = 3 ] && len=3600
	awk -v u="$u" -v len="$len" 'BEGIN {
		print "Timestamp [ms];\tCPU cores;\tCPU capacity provisioned [MHZ];\tCPU usage [MHZ];\tCPU usage [%];\tMemory capacity provisioned [KB];\tMemory usage [KB];\tDisk read throughput [KB/s];\tDisk write throughput [KB/s];\tNetwork received throughput [KB/s];\tNetwork transmitted throughput [KB/s]"
		for (t = 0; t < len; t += 300) printf "%d;\t2;\t5000;\t100;\t%d;\t8000000;\t1000000;\t0;\t0;\t0;\t0\n", 1372629600 + t, u }' >"$BB/$n.csv"
done
"$SIM" --background bitbrains --bitbrains "$BB" --tasks "$T" --nodes 2 --days 1 --seeds 1 --bg-scale 1 \
	--load 0.05 --split all --policies k8s-default,trimaran-tlp --out "$NS_TMP/bb" >/dev/null 2>"$NS_TMP/bb.log"
rc=$?
bbcol() { awk -F, -v p="$1" 'NR > 1 && $2 == p { print $12 }' "$NS_TMP/bb/s1-runs.csv"; }
[ $rc -eq 0 ] && grep -q "machines=2 short_dropped=1 .*background=bitbrains" "$NS_TMP/bb.log" &&
	pass sim_bitbrains_background || fail sim_bitbrains_background "rc=$rc $(tail -2 "$NS_TMP/bb.log")"
[ "$(bbcol k8s-default)" -gt 0 ] 2>/dev/null && [ "$(bbcol trimaran-tlp)" = 0 ] &&
	pass sim_bitbrains_hot_vm_avoided ||
	fail sim_bitbrains_hot_vm_avoided "default=$(bbcol k8s-default) tlp=$(bbcol trimaran-tlp)"
"$SIM" --background bitbrains --bitbrains "$M" --tasks "$T" --quiet >/dev/null 2>"$NS_TMP/bb2.log"
[ $? -eq 1 ] && grep -q "not a Bitbrains header" "$NS_TMP/bb2.log" && pass sim_bitbrains_bad_file ||
	fail sim_bitbrains_bad_file "$(tail -2 "$NS_TMP/bb2.log")"
"$SIM" --background nope --quiet >/dev/null 2>&1
[ $? -eq 2 ] && pass sim_bad_background || fail sim_bad_background

"$SIM" --policies k8s-default,trimaran-tpl --quiet >/dev/null 2>"$NS_TMP/pol.log"
[ $? -eq 2 ] && grep -q "unknown policy 'trimaran-tpl'" "$NS_TMP/pol.log" && pass sim_unknown_policy ||
	fail sim_unknown_policy "$(cat "$NS_TMP/pol.log")"
"$SIM" --nodes 1 >/dev/null 2>&1
[ $? -eq 2 ] && pass sim_bad_flag || fail sim_bad_flag
"$SIM" --help | grep -q -- "--scenario" && pass sim_help || fail sim_help

# S4's first-failure sweep: input checks, and on the real traces a load far
# below the first failure places every pod under every policy it names.
FF=tools/sim/first-failure.sh
"$FF" --help | grep -q "first placement failure" && pass sim_ff_help || fail sim_ff_help
"$FF" "$B" "0.4 0.3" k8s-default >"$NS_TMP/ff1.log" 2>&1
[ $? -eq 2 ] && grep -q "loads must rise" "$NS_TMP/ff1.log" && pass sim_ff_rising ||
	fail sim_ff_rising "$(cat "$NS_TMP/ff1.log")"
if [ -r ../shared/data/alibaba-v2017-batch-task/batch_task.csv ] &&
	[ -r ../shared/data/alibaba-v2018-machine-usage-slice/machine_usage.csv ]; then
	"$FF" "$B" "0.05" k8s-default,koordinator >"$NS_TMP/ff2.log" 2>&1
	[ "$(grep -c '| 0.05 | none (max 0.05) | - |' "$NS_TMP/ff2.log")" = 2 ] &&
		pass sim_ff_no_failure_at_low_load || fail sim_ff_no_failure_at_low_load "$(cat "$NS_TMP/ff2.log")"
else
	skip sim_ff_no_failure_at_low_load "no ../shared/data"
fi
summary
