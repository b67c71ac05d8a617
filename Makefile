# Every Go module of the repository; e2e/ is the end-to-end suite (real
# provider, browser, Redis and Postgres) and runs after the others.
MODULES := $(sort $(patsubst ./%,%,$(patsubst %/go.mod,%,$(shell find . -name go.mod -not -path '*/node_modules/*'))))
UNIT_MODULES := $(filter-out e2e,$(MODULES))
FUZZTIME ?= 10s

.PHONY: test test-unit test-e2e vet fuzz bench run vulncheck

## test: vet and race-test every module, then the end-to-end suite.
test: test-unit test-e2e

test-unit: vet
	@set -e; for m in $(UNIT_MODULES); do \
		echo "== go test -race $$m"; \
		(cd $$m && go test -race -count=1 ./...); \
	done

vet:
	@set -e; for m in $(MODULES); do \
		echo "== go vet $$m"; \
		(cd $$m && go vet ./...); \
	done

test-e2e:
	@if [ -d e2e ]; then echo "== go test e2e"; cd e2e && go test -count=1 -timeout 8m ./...; fi

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
