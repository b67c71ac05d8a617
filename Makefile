# Every Go module of the repository; e2e/ is the end-to-end suite (real
# provider, browser, Redis and Postgres) and runs after the others. Each is
# tested, vetted and linted on its own (GOWORK=off), with what its go.mod
# requires; go.work is for `go run ./example` and editors.
MODULES := $(sort $(patsubst ./%,%,$(patsubst %/go.mod,%,$(shell find . -name go.mod -not -path '*/node_modules/*'))))
UNIT_MODULES := $(filter-out e2e,$(MODULES))
FUZZTIME ?= 10s

STATICCHECK_VERSION ?= v0.8.2

.PHONY: test test-unit test-e2e vet lint fuzz bench run vulncheck

## test: vet, lint and race-test every module, then the end-to-end suite.
test: test-unit test-e2e

test-unit: vet lint
	@set -e; for m in $(UNIT_MODULES); do \
		echo "== go test -race $$m"; \
		(cd $$m && GOWORK=off go test -race -count=1 ./...); \
	done

vet:
	@set -e; for m in $(MODULES); do \
		echo "== go vet $$m"; \
		(cd $$m && GOWORK=off go vet ./...); \
	done

## lint: staticcheck over every module (installed at STATICCHECK_VERSION
## into GOPATH/bin when missing).
lint:
	@command -v staticcheck >/dev/null 2>&1 || [ -x "$$(go env GOPATH)/bin/staticcheck" ] || \
		{ echo "== installing staticcheck $(STATICCHECK_VERSION)"; go install honnef.co/go/tools/cmd/staticcheck@$(STATICCHECK_VERSION); }
	@set -e; sc=$$(command -v staticcheck || echo "$$(go env GOPATH)/bin/staticcheck"); \
	for m in $(MODULES); do \
		echo "== staticcheck $$m"; \
		(cd $$m && GOWORK=off $$sc ./...); \
	done

test-e2e:
	@if [ -d e2e ]; then echo "== go test e2e"; cd e2e && GOWORK=off go test -count=1 -timeout 8m ./...; fi

## fuzz: run each fuzz target for FUZZTIME.
fuzz:
	@set -e; for t in $$(go test -list 'Fuzz.*' . | grep ^Fuzz); do \
		echo "== $$t"; go test -run '^$$' -fuzz "^$$t$$" -fuzztime $(FUZZTIME) .; \
	done

## bench: the benchmarks, each beside its baseline.
bench:
	go test -run '^$$' -bench . -benchmem .

## vulncheck: govulncheck over every module.
vulncheck:
	bash .ci/vulncheck.sh

## run: the example with its embedded development provider.
run:
	go run ./example

## bench-load: wrk against the same authenticated GET served bare, behind the
## scs floor (a fresh scs.New() holding a []byte, without and with an idle
## timeout; also with goredisstore: bench/floor), behind oidcauth (the same
## small program with oidcauth: bench/app), by the example's GET
## /api/me (memory and Redis sessions) and by Apache's mod_auth_openidc, each
## server its own process pinned to one CPU and wrk to another; one logged-in
## session, on loopback; requests per server CPU-second, RSS and Redis round
## trips per request. Prints a table, writes bench/out/results.{txt,csv} and,
## with gnuplot, bench/out/load.png. As root it installs what is missing
## (wrk, apache2, libapache2-mod-auth-openidc, gnuplot-nox) with apt-get;
## otherwise a missing Apache or Redis skips its rows with a message.
## LOAD_FLAGS passes flags to bench/load, e.g. LOAD_FLAGS='-rounds 5 -targets floor,example'.
BENCH_LOAD_DEBS := wrk apache2 libapache2-mod-auth-openidc gnuplot-nox
.PHONY: bench-load
bench-load:
	@if [ "$$(id -u)" = 0 ] && command -v apt-get >/dev/null 2>&1; then \
		missing=; for p in $(BENCH_LOAD_DEBS); do dpkg -s $$p >/dev/null 2>&1 || missing="$$missing $$p"; done; \
		if [ -n "$$missing" ]; then \
			echo "== installing$$missing with apt-get"; \
			DEBIAN_FRONTEND=noninteractive apt-get install -y -qq --no-install-recommends $$missing >/dev/null 2>&1 || \
			{ apt-get update -qq && DEBIAN_FRONTEND=noninteractive apt-get install -y -qq --no-install-recommends $$missing; }; \
		fi; fi
	@command -v wrk >/dev/null 2>&1 || { echo "bench-load needs wrk: install it with 'apt-get install wrk' (Debian) and run again" >&2; exit 1; }
	@mkdir -p bench/out
	cd example && go build -o ../bench/out/example .
	cd bench && go build -o out/load ./load && go build -o out/floor ./floor && go build -o out/app ./app
	./bench/out/load -out bench/out -example bench/out/example -floor bench/out/floor -app bench/out/app $(LOAD_FLAGS)
	@if command -v gnuplot >/dev/null 2>&1; then \
		gnuplot -e "outdir='bench/out'" bench/chart.gp && echo "wrote bench/out/load.png"; \
	else echo "no chart: gnuplot is not installed ('apt-get install gnuplot-nox')"; fi
