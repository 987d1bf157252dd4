# The two commands a new machine needs: `make demo` and `make test`.
.PHONY: demo test build deps bench chaos clean

deps:
	@scripts/install-deps.sh

build: deps
	swift build

test: deps
	scripts/test.sh

demo: deps
	scripts/demo.sh

# Figures, not pass/fail: see docs/operations.md.
bench: deps
	scripts/bench-cluster.sh
	scripts/bench-media.sh
	scripts/bench-sip.sh
	scripts/bench-calls.sh
	scripts/bench-providers.sh
	scripts/bench-console.sh

chaos: deps
	scripts/chaos-run.sh

clean:
	rm -rf .build out
