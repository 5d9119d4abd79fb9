# wcos build. cgo compiles llama.cpp + ggml from the ollama module; its headers come from the module
# cache (no third-party source in this repository) and ggml needs -O3 and SIMD flags (27x, engine.md §3).
GO        ?= go
MARCH     ?= x86-64-v3
OLLAMA_DIR = $(shell $(GO) mod download github.com/ollama/ollama >/dev/null 2>&1; $(GO) list -m -f '{{.Dir}}' github.com/ollama/ollama)
export CGO_ENABLED  = 1
export CGO_CPPFLAGS = -I$(OLLAMA_DIR)/llama/llama.cpp/include -I$(OLLAMA_DIR)/ml/backend/ggml/ggml/include
export CGO_CFLAGS   = -O3 -march=$(MARCH)
export CGO_CXXFLAGS = -O3 -march=$(MARCH)
TESTFLAGS ?=

.PHONY: all build test vet fmt bench clean env
all: build

build:
	$(GO) build -o wcos ./cmd/wcos

test: build
	$(GO) vet ./...
	@test -z "$$(gofmt -l $$(git ls-files '*.go' 2>/dev/null || find . -name '*.go'))" || { echo "gofmt needed:"; gofmt -l .; exit 1; }
	$(GO) test $(TESTFLAGS) ./...

bench: build
	$(GO) test -run '^$$' -bench . -benchtime 3x ./...

# Prints the variables for running go commands by hand: eval "$$(make -s env)"
env:
	@echo export CGO_ENABLED=1 CGO_CPPFLAGS=\"$(CGO_CPPFLAGS)\" CGO_CFLAGS=\"$(CGO_CFLAGS)\" CGO_CXXFLAGS=\"$(CGO_CXXFLAGS)\"

clean:
	rm -f wcos
