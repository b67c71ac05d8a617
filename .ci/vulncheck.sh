#!/usr/bin/env bash
# govulncheck over every module of the repository. It fails when code a
# module calls (its own, a dependency's or the standard library's) has a
# known vulnerability; advisories in code that is imported or required but
# never called are reported and do not fail.
#
# The database: the live Go vulnerability database when it answers a quick
# probe, else the dated snapshot in ../shared/vulndb (beside the repository;
# VULNCHECK_SNAPSHOT overrides the path). The output says which one was used
# and how old it is. With neither, the check fails under CI=true and warns
# loudly elsewhere.
#
# The standard library is checked as the release each module's go line
# names (the oldest Go its users may build with), not as the Go that runs
# this script: a vulnerability fixed only in a later patch release fails the
# check until the go line is raised past it. (govulncheck takes that
# version from GOVERSION in its environment, as its own tests do; were a
# later govulncheck to ignore it, the check would fall back to the running
# Go, which is never older than the go line.)
#
# govulncheck reads the snapshot, a bare folder of OSV files, as it is: with
# no index/ in it, it builds the index in memory. .ci/vulndb.go only probes
# the live database and dates the snapshot; nothing is written to it.
set -uo pipefail
cd "$(dirname "$0")/.."

GOVULNCHECK_VERSION=v1.8.0
LIVE_DB=${VULNCHECK_LIVE_DB:-https://vuln.go.dev}
SNAPSHOT=${VULNCHECK_SNAPSHOT:-../shared/vulndb}
PROBE_TIMEOUT=${VULNCHECK_PROBE_TIMEOUT:-5s}

say() { echo "vulncheck: $*"; }
banner() {
	echo "vulncheck: ################################################################"
	echo "vulncheck: $*"
	echo "vulncheck: ################################################################"
}

export PATH="$(go env GOPATH)/bin:$PATH"
# Each module with what its own go.mod requires, not the workspace's
# (go.work) versions.
export GOWORK=off
if ! govulncheck -version 2>/dev/null | grep -q "govulncheck@$GOVULNCHECK_VERSION\$"; then
	go install "golang.org/x/vuln/cmd/govulncheck@$GOVULNCHECK_VERSION" ||
		{ say "cannot install govulncheck $GOVULNCHECK_VERSION"; exit 1; }
fi

tmp=$(mktemp -d)
trap 'rm -rf "$tmp"' EXIT
go build -o "$tmp/vulndb" .ci/vulndb.go || { say "cannot build .ci/vulndb.go"; exit 1; }

days_old() { echo $((($(date -u +%s) - $(date -u -d "$1" +%s)) / 86400)); }

# Choose the database.
db="" snapshot_db="" what=""
if info=$("$tmp/vulndb" -timeout "$PROBE_TIMEOUT" probe "$LIVE_DB" 2>"$tmp/probe.err"); then
	date=${info%% *}
	db=$LIVE_DB
	what="live database $LIVE_DB (updated $date, $(days_old "$date") days ago)"
else
	say "live database $LIVE_DB not usable (probe, timeout $PROBE_TIMEOUT): $(cat "$tmp/probe.err")"
fi
if [ -d "$SNAPSHOT" ] && info=$("$tmp/vulndb" local "$SNAPSHOT" 2>"$tmp/local.err"); then
	date=${info%% *}
	snapshot_db="file://$(cd "$SNAPSHOT" && pwd)"
	age=$(days_old "$date")
	snapshot_what="snapshot $SNAPSHOT (dated $date from ${info#* }; $age days old; advisories published after $date are not in it)"
	if [ -z "$db" ]; then
		db=$snapshot_db
		what=$snapshot_what
	fi
elif [ -z "$db" ]; then
	if [ -d "$SNAPSHOT" ]; then
		say "snapshot $SNAPSHOT is not usable: $(cat "$tmp/local.err")"
	else
		say "no snapshot at $SNAPSHOT"
	fi
fi
if [ -z "$db" ]; then
	if [ "${CI:-}" = true ]; then
		say "FAIL: no vulnerability database (neither $LIVE_DB nor $SNAPSHOT): nothing was checked"
		exit 1
	fi
	banner "WARNING: no vulnerability database (neither $LIVE_DB nor $SNAPSHOT): NOTHING WAS CHECKED"
	exit 0
fi
say "database: $what"
if [ "$db" = "$snapshot_db" ] && [ "$age" -gt 60 ]; then
	say "NOTE: the snapshot is $age days old; refresh it from the data/osv folder of golang/vulndb"
fi

# scan DIR DB: govulncheck over one module; prints its output to $tmp/out.
scan() {
	local dir=$1 db=$2 gover flags=()
	gover=$(awk '$1 == "go" { print "go" $2 }' "$dir/go.mod")
	[ -n "$gover" ] || gover=$(go env GOVERSION)
	# A module whose code is all in tests (e2e; routers, whose package is a
	# doc.go beside its examples) imports nothing outside them: check its
	# tests, or nothing would be checked.
	if [ -z "$(cd "$dir" && go list -f '{{join .Imports ""}}' ./... 2>/dev/null)" ]; then
		flags+=(-test)
	fi
	label="$dir (${flags[*]:+${flags[*]}, }standard library as $gover)"
	echo "== govulncheck $label" >"$tmp/out"
	(cd "$dir" && GOVERSION="$gover" govulncheck -db "$db" "${flags[@]}" ./...) >>"$tmp/out" 2>&1
}

status=0 checked=0 failed=() label=""
for mod in $(find . -name go.mod -not -path '*/node_modules/*' | sort); do
	dir=$(dirname "$mod")
	scan "$dir" "$db"
	rc=$?
	# The live database answered the probe but failed govulncheck: the
	# snapshot for this module and the rest.
	if [ $rc -ne 0 ] && [ $rc -ne 3 ] && [ "$db" = "$LIVE_DB" ] && [ -n "$snapshot_db" ]; then
		tail -n 5 "$tmp/out"
		say "$dir: govulncheck failed with the live database (exit $rc); the snapshot from here on"
		db=$snapshot_db
		what="$what for the modules before $dir, then the $snapshot_what"
		scan "$dir" "$db"
		rc=$?
	fi
	checked=$((checked + 1))
	case $rc in
	0)
		say "ok       $label: no vulnerability in called code"
		notcalled=$(tr '\n' ' ' <"$tmp/out" | grep -oE 'This scan also found [^.]*\.' | sed 's/  */ /g; s/This scan also found //; s/, but your code.*//')
		[ -z "$notcalled" ] || say "           not called, not failing: $notcalled (-show verbose lists them)"
		;;
	3)
		cat "$tmp/out"
		say "FINDING  $label: $(grep -oE '^Vulnerability #[0-9]+: GO-[0-9]+-[0-9]+' "$tmp/out" | sed 's/.*: //' | paste -sd ' ')"
		status=1 failed+=("$dir")
		;;
	*)
		cat "$tmp/out"
		say "ERROR    $label: govulncheck exited $rc"
		status=1 failed+=("$dir")
		;;
	esac
done
if [ $status -eq 0 ]; then
	say "PASS: $checked modules, no vulnerability in called code; database: $what"
else
	say "FAIL: ${failed[*]}: see above; database: $what"
fi
exit $status
