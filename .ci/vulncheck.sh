#!/usr/bin/env bash
# govulncheck over every module: fails when a called function has a known
# vulnerability. When the vulnerability database cannot be reached (a
# machine without access to it), it says so loudly and does not fail: no
# check ran, and that is not a finding.
set -uo pipefail
cd "$(dirname "$0")/.."
export PATH="$(go env GOPATH)/bin:$PATH"
if ! command -v govulncheck >/dev/null; then
	go install golang.org/x/vuln/cmd/govulncheck@v1.8.0 || { echo "vulncheck: cannot install govulncheck"; exit 1; }
fi
status=0
for mod in $(find . -name go.mod -not -path '*/node_modules/*' | sort); do
	dir=$(dirname "$mod")
	echo "== govulncheck $dir"
	out=$(cd "$dir" && govulncheck ./... 2>&1)
	rc=$?
	echo "$out" | tail -n 40
	if [ $rc -ne 0 ]; then
		if echo "$out" | grep -q "fetching vulnerabilities"; then
			echo "vulncheck: WARNING: the Go vulnerability database is unreachable from this machine; $dir was NOT checked"
		else
			status=1
		fi
	fi
done
exit $status
