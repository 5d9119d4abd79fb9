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

.PHONY: all build test vet fmt bench clean env dynamic cuda cuda-host libs-cpu test-dynamic
all: build

build:
	$(GO) build -o wcos ./cmd/wcos

test: build dynamic
	$(GO) vet ./...
	$(GO) vet -tags wcos_dynamic ./bindings
	@test -z "$$(gofmt -l $$(git ls-files '*.go' 2>/dev/null || find . -name '*.go'))" || { echo "gofmt needed:"; gofmt -l .; exit 1; }
	$(GO) test $(TESTFLAGS) ./...
	$(GO) test $(TESTFLAGS) -tags wcos_dynamic -count=1 -run 'Dynamic|GPU' ./bindings

bench: build
	$(GO) test -run '^$$' -bench . -benchtime 3x ./...

# One-ggml shared build (docs/cuda.md): native/cmake builds ggml-base, the loadable CPU backend and
# libllama from the ollama module's sources into build/lib; -tags wcos_dynamic links them (rpath
# $$ORIGIN/lib). Needs cmake (and ninja, else make).
JOBS      ?= $(shell nproc)
CMAKE_GEN  = $(if $(shell command -v ninja),-G Ninja,)
CMAKE_ARGS = -DOLL=$(OLLAMA_DIR) -DWCOS_LIB_DIR=$(CURDIR)/build/lib -DWCOS_MARCH=$(MARCH)

libs-cpu:
	cmake -S native/cmake -B build/cmake $(CMAKE_GEN) $(CMAKE_ARGS) >/dev/null
	cmake --build build/cmake -j $(JOBS)

dynamic: libs-cpu
	$(GO) build -tags wcos_dynamic -o build/wcos-dyn ./cmd/wcos

# Bit-identical CPU results and one libggml-base (bindings/dynamic_test.go).
test-dynamic: dynamic
	$(GO) test $(TESTFLAGS) -tags wcos_dynamic -count=1 -run 'Dynamic|GPU' ./bindings

# CUDA on a machine with nvcc and Go: the same libraries plus libggml-cuda.so.
cuda:
	cmake -S native/cmake -B build/cmake-cuda $(CMAKE_GEN) $(CMAKE_ARGS) -DWCOS_CUDA=ON -DCMAKE_CUDA_ARCHITECTURES=90 >/dev/null
	cmake --build build/cmake-cuda -j $(JOBS)
	$(GO) build -tags wcos_dynamic -o build/wcos-cuda ./cmd/wcos

# For a GPU machine without Go (scripts/gpu-check.sh): the host side built here, packed with ggml's
# sources into .device/wcos-gpu.tar.xz (< 64 MiB; the stripped binaries alone are 77 MB), where
# libggml-cuda.so is built against the carried libggml-base.
GGML_SKIP = ggml-blas ggml-hip ggml-metal ggml-vulkan
# -w without -s: the symbol table stays (+0.4 MB in the archive), so that a pc from WCOS_CRASH_DIAG
# (binary+offset) maps to its function with `go tool nm -n build/wcos-cuda` here afterwards.
cuda-host: libs-cpu
	$(GO) build -tags wcos_dynamic -ldflags=-w -o build/wcos-cuda ./cmd/wcos
	$(GO) test -c -tags wcos_dynamic -ldflags=-w -o build/bindings-dyn.test ./bindings
	rm -rf .device/src && mkdir -p .device/src/ollama/ml/backend/ggml
	cp -r $(OLLAMA_DIR)/ml/backend/ggml/ggml .device/src/ollama/ml/backend/ggml/
	chmod -R u+w .device/src && cd .device/src/ollama/ml/backend/ggml/ggml/src && rm -rf $(GGML_SKIP)
	tar -cf - build/wcos-cuda build/bindings-dyn.test build/lib -C .device src | xz -T0 -6 >.device/wcos-gpu.tar.xz.tmp
	mv .device/wcos-gpu.tar.xz.tmp .device/wcos-gpu.tar.xz && rm -rf .device/src
	@ls -l .device/wcos-gpu.tar.xz

# Prints the variables for running go commands by hand: eval "$$(make -s env)"
env:
	@echo export CGO_ENABLED=1 CGO_CPPFLAGS=\"$(CGO_CPPFLAGS)\" CGO_CFLAGS=\"$(CGO_CFLAGS)\" CGO_CXXFLAGS=\"$(CGO_CXXFLAGS)\"

clean:
	rm -f wcos
	rm -rf build .device/wcos-gpu.tar.xz
