#!/usr/bin/env bash
# callgrind-hotpath.sh: instructions per request of BenchmarkAuthenticatedGET
# (bare, scs, oidcauth), counted by valgrind's callgrind: the same count for
# the same binary whatever else the machine is doing, unlike ns/op. Counted
# inside the benchmark's loop only (--toggle-collect), with GOGC=off and
# GOMAXPROCS=1 so that no collector or other goroutine runs in between: the
# cost of allocating is counted, that of collecting is not. Each case runs
# RUNS times (callgrind now and then loses track of Go's stack switches and
# counts almost nothing); the median is printed.
#
#   bench/callgrind-hotpath.sh          # from the repository root; about 3 minutes
set -euo pipefail
command -v valgrind >/dev/null || { echo "needs valgrind (apt-get install valgrind)" >&2; exit 1; }
runs=${RUNS:-3} n=${N:-2000}
dir=$(mktemp -d)
trap 'rm -rf "$dir"' EXIT
go test -c -o "$dir/t" .

count() {
	GOGC=off GOMAXPROCS=1 GODEBUG=asyncpreemptoff=1 valgrind --tool=callgrind \
		--callgrind-out-file="$dir/cg.out" \
		--toggle-collect='github.com/oidcauth/oidcauth.BenchmarkAuthenticatedGET.func5' \
		"$dir/t" -test.run '^$' -test.bench "^BenchmarkAuthenticatedGET\$/^$1\$" -test.benchtime "${n}x" 2>&1 |
		awk '/I *refs:/ { gsub(",", "", $4); print $4 }'
}

for r in $(seq "$runs"); do
	for c in bare scs oidcauth; do
		echo "$c $(count "$c")" | tee -a "$dir/results" >&2
	done
done
echo "instructions per request, median of $runs runs of ${n} requests:"
for c in bare scs oidcauth; do
	awk -v c="$c" '$1 == c { print $2 }' "$dir/results" | sort -g |
		awk -v c="$c" -v n="$n" '{ v[NR] = $1 } END { m = (NR % 2) ? v[(NR + 1) / 2] : (v[NR / 2] + v[NR / 2 + 1]) / 2;
			printf "%-9s %10.0f\n", c, m / n }'
done | tee "$dir/table"
awk '{ v[$1] = $2 } END { if (v["scs"] > 0) printf "oidcauth - scs: %+.0f instructions (%+.2f%%)\n", v["oidcauth"] - v["scs"], (v["oidcauth"] / v["scs"] - 1) * 100 }' "$dir/table"
