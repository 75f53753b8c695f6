#!/usr/bin/env bash
# bench/run.sh — servagent benchmarks over real loopback HTTP, each figure
# paired with a floor server measured in the same run. Prints a table of
# ratios. Environment:
#   BENCH_QUICK=1          fewer iterations (smoke run, ~1 min)
#   BENCH_BIG_MB=1024      size of the big upload run (0 skips it)
#   BENCH_OUT=dir          keep the raw output and binaries there
#   BENCH_PROFILE=1        also write cpu/mem profiles of the round-trip
#                          benchmarks into $BENCH_OUT
set -euo pipefail
cd "$(dirname "$0")/.."

OUT=${BENCH_OUT:-$(mktemp -d -t servagent-bench-XXXXXX)}
mkdir -p "$OUT"
RAW="$OUT/raw.txt"
: >"$RAW"

echo "== building servagent, floor and the benchmark binary into $OUT" >&2
# Both binaries as the release builds them (Makefile, .goreleaser.yaml).
export CGO_ENABLED=${CGO_ENABLED:-0}
go build -trimpath -ldflags '-s -w' -o "$OUT/servagent" ./cmd/servagent
go build -trimpath -ldflags '-s -w' -o "$OUT/floor" ./bench/floor
go test -c -o "$OUT/bench.test" ./bench/
go test -c -o "$OUT/jobs.test" ./pkg/jobs/
go test -c -o "$OUT/server.test" ./pkg/server/

export SERVAGENT_BENCH=1
export SERVAGENT_BENCH_BIN="$OUT/servagent"
export SERVAGENT_BENCH_FLOOR_BIN="$OUT/floor"

if [[ ${BENCH_QUICK:-0} == 1 ]]; then
	N1=100x N16=640x NNOEXEC=300x NSESS=50x NUP=1x NRSS=3x NCOLD=5x NDOWN=2x
else
	N1=600x N16=4800x NNOEXEC=3000x NSESS=300x NUP=3x NRSS=5x NCOLD=11x NDOWN=5x
fi
BIG=${BENCH_BIG_MB:-1024}
FAILED=0

run() { # pattern benchtime [extra args...]
	local pat=$1 bt=$2
	shift 2
	echo "== $pat ($bt)" >&2
	(cd bench && "$OUT/bench.test" -test.run '^$' -test.bench "$pat" -test.benchtime "$bt" -test.count 1 "$@") >"$OUT/last.txt" || {
		echo "!! $pat failed" >&2
		FAILED=1
	}
	cat "$OUT/last.txt" >&2
	# RENAME=Name files the result lines under another benchmark name.
	if [[ -n ${RENAME:-} ]]; then
		sed "s/^Benchmark[A-Za-z0-9]*-/$RENAME/" "$OUT/last.txt" >>"$RAW"
	else
		cat "$OUT/last.txt" >>"$RAW"
	fi
}

prof() { # name: profile flags when BENCH_PROFILE=1
	[[ ${BENCH_PROFILE:-0} == 1 ]] && echo "-test.cpuprofile=$OUT/$1.cpu -test.memprofile=$OUT/$1.mem" || true
}

# shellcheck disable=SC2046
run '^BenchmarkEchoHi$' "$N1" $(prof echo1)
# shellcheck disable=SC2046
run '^BenchmarkEchoHi16$' "$N16" $(prof echo16)
# shellcheck disable=SC2046
run '^BenchmarkNoExec$' "$NNOEXEC" $(prof noexec)
# shellcheck disable=SC2046
run '^BenchmarkProtocolEcho$' "$N1" $(prof protocol)
run '^BenchmarkProtocolEchoSDK$' "$N1"
run '^BenchmarkProtocolEchoProcess$' "$N1"
# shellcheck disable=SC2046
run '^BenchmarkSessionSetup$' "$NSESS" $(prof session)
run '^BenchmarkIdleRSS$' "$NRSS"
run '^BenchmarkColdStart$' "$NCOLD"
SERVAGENT_BENCH_UPLOAD_MB=256 run '^BenchmarkUpload$' "$NUP"
if [[ $BIG != 0 ]]; then
	# Filed as BenchmarkUploadBig so the summary can tell the sizes apart.
	SERVAGENT_BENCH_UPLOAD_MB=$BIG RENAME=BenchmarkUploadBig- run '^BenchmarkUpload$' 1x
	SERVAGENT_BENCH_DOWNLOAD_MB=$BIG run '^BenchmarkDownload$' "$NDOWN"
fi
# Jobs: output-to-waiting-read latency (pkg/jobs, and read_job_output over
# MCP in pkg/server), memory of 16 chatty jobs.
echo "== jobs" >&2
if "$OUT/jobs.test" -test.run '^$' -test.bench '^BenchmarkReadLatency$' -test.benchtime "$N1" >"$OUT/last.txt" &&
	"$OUT/jobs.test" -test.run '^$' -test.bench '^BenchmarkMemory16Jobs$' -test.benchtime 1x >>"$OUT/last.txt" &&
	(cd pkg/server && "$OUT/server.test" -test.run '^$' -test.bench '^BenchmarkReadJobOutputLatency$' -test.benchtime "$N1") >>"$OUT/last.txt"; then
	cat "$OUT/last.txt" >&2
	cat "$OUT/last.txt" >>"$RAW"
else
	echo "!! jobs benchmarks failed" >&2
	FAILED=1
fi

echo
awk -v big="$BIG" '
function get(b, m) { return ((b, m) in v) ? v[b, m] : "" }
function row(metric, b, sa, fl, ratio, target, ok,   r) {
	if (get(b, sa) == "" && sa != "-") return
	r = (ratio == "") ? "" : get(b, ratio)
	printf "%-34s %12s %12s %8s  %-22s %s\n", metric, (sa == "-" ? "-" : get(b, sa)), (fl == "-" ? "-" : get(b, fl)), r, target, ok
}
function verdict(x, lim) { return (x == "") ? "?" : ((x + 0 <= lim) ? "PASS" : "MISS") }
/^Benchmark/ {
	name = $1; sub(/-[0-9]+$/, "", name)
	for (i = 3; i < NF; i += 2) v[name, $(i + 1)] = $i
}
END {
	printf "%-34s %12s %12s %8s  %-22s %s\n", "metric", "servagent", "floor", "ratio", "target", "result"
	printf "%-34s %12s %12s %8s  %-22s %s\n", "------", "---------", "-----", "-----", "------", "------"
	b = "BenchmarkEchoHi"
	row("echo hi, 1 session, p50 ms", b, "sa-p50-ms", "floor-p50-ms", "ratio-p50", "<= 1.10x floor", verdict(get(b, "ratio-p50"), 1.10))
	row("echo hi, 1 session, p95 ms", b, "sa-p95-ms", "floor-p95-ms", "ratio-p95", "(info)", "")
	b = "BenchmarkEchoHi16"
	row("echo hi, 16 sessions, p50 ms", b, "sa-p50-ms", "floor-p50-ms", "ratio-p50", "<= 1.10x floor", verdict(get(b, "ratio-p50"), 1.10))
	row("echo hi, 16 sessions, p95 ms", b, "sa-p95-ms", "floor-p95-ms", "ratio-p95", "(info)", "")
	row("echo hi, 16 sessions, calls/s", b, "sa-calls/s", "floor-calls/s", "ratio-tput", "<= 1.10x (floor/sa)", verdict(get(b, "ratio-tput"), 1.10))
	b = "BenchmarkNoExec"
	row("no-exec call (read_file), p50 ms", b, "sa-p50-ms", "floor-p50-ms", "ratio-p50", "<= 1.3x floor noop", verdict(get(b, "ratio-p50"), 1.3))
	row("no-exec call (read_file), p95 ms", b, "sa-p95-ms", "floor-p95-ms", "ratio-p95", "(info)", "")
	b = "BenchmarkProtocolEcho"
	row("echo hi 2026-07-28 vs legacy, p50", b, "sa-p50-ms", "floor-p50-ms", "ratio-p50", "<= 1.10x legacy session", verdict(get(b, "ratio-p50"), 1.10))
	b = "BenchmarkProtocolEchoSDK"
	row("  same pair on a bare go-sdk, p50", b, "sa-p50-ms", "floor-p50-ms", "ratio-p50", "(info: SDK share)", "")
	b = "BenchmarkProtocolEchoProcess"
	row("  same pair, release binary, p50", b, "sa-p50-ms", "floor-p50-ms", "ratio-p50", "(info: own process)", "")
	b = "BenchmarkSessionSetup"
	row("new session (init+close), p50 ms", b, "sa-p50-ms", "floor-p50-ms", "ratio-p50", "(info)", "")
	b = "BenchmarkIdleRSS"
	row("idle RSS MiB (1 session open)", b, "sa-rss-MiB", "floor-rss-MiB", "ratio-rss", "<= 20 MiB", verdict(get(b, "sa-rss-MiB"), 20))
	b = "BenchmarkColdStart"
	row("cold start to initialize, ms", b, "sa-ms", "floor-ms", "ratio-p50", "<= 1.5x floor", verdict(get(b, "ratio-p50"), 1.5))
	row("cold start to listening, ms", b, "sa-listen-ms", "floor-listen-ms", "", "(info)", "")
	b = "BenchmarkReadLatency"
	row("job line to waiting read, p50 ms", b, "p50-ms", "-", "", "<= 20 ms", verdict(get(b, "p50-ms"), 20))
	row("job line to waiting read, p95 ms", b, "p95-ms", "-", "", "(info)", "")
	b = "BenchmarkReadJobOutputLatency"
	row("job line to read_job_output (MCP), p50", b, "p50-ms", "-", "", "<= 20 ms", verdict(get(b, "p50-ms"), 20))
	row("job line to read_job_output (MCP), p95", b, "p95-ms", "-", "", "(info)", "")
	b = "BenchmarkMemory16Jobs"
	row("16 jobs x 10 MB output, heap MiB", b, "retained-heap-MiB", "-", "", "<= 24 MiB (16 x 1 MB)", verdict(get(b, "retained-heap-MiB"), 24))
	row("16 jobs x 10 MB, peak heap MiB", b, "peak-heap-MiB", "-", "", "(info)", "")
	b = "BenchmarkUpload"
	row("upload 256 MiB, MiB/s", b, "sa-MB/s", "floor-MB/s", "ratio-time", "(info, floor/sa)", "")
	row("upload 256 MiB, RSS growth MiB", b, "sa-rss-growth-MiB", "floor-rss-growth-MiB", "", "<= 16 MiB", verdict(get(b, "sa-rss-growth-MiB"), 16))
	b = "BenchmarkUploadBig"
	row("upload " big " MiB, MiB/s", b, "sa-MB/s", "floor-MB/s", "ratio-time", "<= 1.25 (>= 0.8x floor)", verdict(get(b, "ratio-time"), 1.25))
	row("upload " big " MiB, CPU s/GiB", b, "sa-cpu-s/GiB", "floor-cpu-s/GiB", "", "(info)", "")
	row("upload " big " MiB, RSS growth MiB", b, "sa-rss-growth-MiB", "floor-rss-growth-MiB", "", "<= 16 MiB", verdict(get(b, "sa-rss-growth-MiB"), 16))
	b = "BenchmarkDownload"
	row("download " big " MiB, MiB/s", b, "sa-MB/s", "floor-MB/s", "ratio-time", "<= 1.11 (>= 0.9x floor)", verdict(get(b, "ratio-time"), 1.11))
	row("cat of the file to /dev/null, MiB/s", b, "cat-MB/s", "-", "", "(info)", "")
	row("download " big " MiB, RSS growth MiB", b, "sa-rss-growth-MiB", "-", "", "<= 16 MiB", verdict(get(b, "sa-rss-growth-MiB"), 16))
}' "$RAW" | tee "$OUT/summary.txt"
echo
echo "ratio = servagent / floor (for calls/s and MiB/s: floor / servagent), so above 1 is worse. Raw output: $RAW" >&2
exit "$FAILED"
