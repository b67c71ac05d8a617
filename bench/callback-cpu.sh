#!/usr/bin/env bash
# callback-cpu.sh: CPU per login of the callback handler alone, oidcauth's
# ((*Auth).handleCallback) beside the hand-written x/oauth2 + go-oidc one
# ((*handWritten).callback), from CPU profiles of BenchmarkLogin: the
# provider's work (signing the id_token, in other goroutines) and the rest
# of the login are left out. Runs are interleaved over ROUNDS rounds of N
# logins each; it prints each round's numbers and ratio, and the medians.
# The profiles sample at 100 Hz: N × ROUNDS should be some thousands.
# By default each round is one run of BenchmarkLogin/side-by-side, a login
# of each in turn, so that both callbacks are sampled under the same
# conditions of the machine (on a shared virtual machine, separate runs
# differ by up to 2x in the CPU time of the same code); BENCH names
# another of BenchmarkLogin's cases to run it and hand-written apart.
#
#   bench/callback-cpu.sh                 # from the repository root
#   ROUNDS=5 N=4000 BENCH=oidcauth-100-sessions bench/callback-cpu.sh
set -euo pipefail
rounds=${ROUNDS:-5} n=${N:-3000} bench=${BENCH:-side-by-side}
dir=$(mktemp -d)
trap 'rm -rf "$dir"' EXIT
go test -c -o "$dir/t" .

# us FOCUS PROFILE: µs of CPU per login in the functions FOCUS matches
us() {
	go tool pprof -top -focus "$1" "$dir/t" "$2" 2>/dev/null |
		awk -v n="$n" '/Showing nodes accounting for/ { v = $5; sub(/,$/, "", v); u = 1;
			if (v ~ /ms$/) { u = 1e-3; sub(/ms$/, "", v) } else if (v ~ /us$/) { u = 1e-6; sub(/us$/, "", v) } else sub(/s$/, "", v);
			printf "%.1f\n", v * u / n * 1e6; found = 1 } END { if (!found) print 0 }'
}

for r in $(seq "$rounds"); do
	if [ "$bench" = side-by-side ]; then
		# Both callbacks in one run, a login of each in turn: one profile.
		"$dir/t" -test.run '^$' -test.bench '^BenchmarkLogin$/^side-by-side$' -test.benchtime "${n}x" \
			-test.cpuprofile "$dir/both-$r.prof" >"$dir/log" 2>&1 || { cat "$dir/log" >&2; exit 1; }
		o=$(us 'oidcauth\.\(\*Auth\)\.handleCallback$' "$dir/both-$r.prof")
		h=$(us 'oidcauth\.\(\*handWritten\)\.callback$' "$dir/both-$r.prof")
	else
		for b in "$bench" hand-written; do
			"$dir/t" -test.run '^$' -test.bench "^BenchmarkLogin\$/^$b\$" -test.benchtime "${n}x" \
				-test.cpuprofile "$dir/$b-$r.prof" >"$dir/log" 2>&1 || { cat "$dir/log" >&2; exit 1; }
		done
		o=$(us 'oidcauth\.\(\*Auth\)\.handleCallback$' "$dir/$bench-$r.prof")
		h=$(us 'oidcauth\.\(\*handWritten\)\.callback$' "$dir/hand-written-$r.prof")
	fi
	echo "$r $o $h" | tee -a "$dir/results" | awk '{ printf "round %d: oidcauth %s µs, hand-written %s µs, ratio %.2f\n", $1, $2, $3, $2 / $3 }' >&2
done
awk '{ o[NR] = $2; h[NR] = $3; q[NR] = $2 / $3 }
	function med(a, n,   i, j, t) { for (i = 1; i <= n; i++) for (j = i + 1; j <= n; j++) if (a[j] < a[i]) { t = a[i]; a[i] = a[j]; a[j] = t }
		return (n % 2) ? a[(n + 1) / 2] : (a[n / 2] + a[n / 2 + 1]) / 2 }
	END { printf "callback handler CPU per login, median of %d rounds of %d logins: oidcauth (%s) %.1f µs, hand-written %.1f µs; ratio %.2f (median of the rounds'"'"' ratios)\n",
		NR, '"$n"', "'"$bench"'", med(o, NR), med(h, NR), med(q, NR) }' "$dir/results"
