#!/usr/bin/env bash
# cpu-per-op.sh: CPU time (user+sys, every thread of the process: handlers,
# provider, GC) per iteration of Go benchmarks, for a machine too busy for
# wall-clock ns/op to mean much. Each benchmark runs at two fixed iteration
# counts; the difference in the process's CPU time, divided by the
# difference in iterations, cancels the set-up (provider start, RSA keys,
# login). Runs are interleaved over ROUNDS rounds; the median is printed.
#
#   bench/cpu-per-op.sh 'BenchmarkLogin/oidcauth=100,500' 'BenchmarkLogin/hand-written=100,500'
#
# Each argument is BENCHMARK/SUB=N1,N2. Run from the repository root.
set -euo pipefail
rounds=${ROUNDS:-5}
dir=$(mktemp -d)
trap 'rm -rf "$dir"' EXIT
go test -c -o "$dir/t" .

cpu() { # cpu PATTERN N: seconds of user+sys CPU of one run
	local TIMEFORMAT='%3U %3S' out
	out=$({ time "$dir/t" -test.run '^$' -test.bench "$1" -test.benchtime "${2}x" >"$dir/log" 2>&1; } 2>&1) ||
		{ cat "$dir/log" >&2; return 1; }
	grep -q '^PASS' "$dir/log" || { cat "$dir/log" >&2; return 1; }
	awk '{ print $1 + $2 }' <<<"$out"
}

for r in $(seq "$rounds"); do
	for spec in "$@"; do
		name=${spec%%=*} ns=${spec#*=}
		n1=${ns%%,*} n2=${ns#*,}
		pattern="^${name%%/*}\$/^${name#*/}\$"
		c1=$(cpu "$pattern" "$n1")
		c2=$(cpu "$pattern" "$n2")
		awk -v n="$name" -v c1="$c1" -v c2="$c2" -v n1="$n1" -v n2="$n2" \
			'BEGIN { printf "%s %.2f\n", n, (c2 - c1) / (n2 - n1) * 1e6 }' | tee -a "$dir/results" >&2
	done
done

echo "CPU µs per iteration, median of $rounds rounds (user+sys of the whole process):"
for spec in "$@"; do
	name=${spec%%=*}
	awk -v n="$name" '$1 == n { print $2 }' "$dir/results" | sort -g |
		awk -v n="$name" '{ v[NR] = $1 } END { m = (NR % 2) ? v[(NR + 1) / 2] : (v[NR / 2] + v[NR / 2 + 1]) / 2;
			printf "%-32s %10.2f   (min %.2f, max %.2f)\n", n, m, v[1], v[NR] }'
done
