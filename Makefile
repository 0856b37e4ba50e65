# llamago — see README.md. Every target works on a fresh Debian machine with Go installed.
GO      ?= go
BIN     := bin
MODELS  := models
DEMO_OUT ?= attention-demo
FUZZTIME ?= 5m
# what llamago version prints: the commit (git describe), "-dirty" with uncommitted changes; dev without git
VERSION ?= $(shell git describe --always --dirty 2>/dev/null || echo dev)

CUDA_ENV = eval "$$(kernels/cuda-deps.sh)" &&
NVCC_FLAGS = -ccbin g++-12 -allow-unsupported-compiler -ptx -arch=compute_80 -O3
KERNELS = $(basename $(notdir $(wildcard kernels/*.cu)))

.PHONY: all build test test-arm64 lint demo screenshot bench fuzz clean cuda kernels cuda-check cuda-emu deploy-check

all: build

## build: the llamago binary (pure Go, CPU backend)
build:
	$(GO) build -trimpath -ldflags "-X main.version=$(VERSION)" -o $(BIN)/llamago ./cmd/llamago

## test: lint, the whole test suite (AVX-512 where the CPU has it, AVX2 with and without AVX-VNNI, and
## pure-Go kernels), the race detector on the format packages, chat templates and the server
test: lint
	$(GO) test ./...
	LLAMAGO_CPU=avx2 $(GO) test -count=1 ./cpu/... ./engine/...
	LLAMAGO_CPU=avx2-novnni $(GO) test -count=1 ./cpu/...
	$(GO) test -tags noasm ./cpu/... ./engine/...
	$(GO) test -race ./gguf/... ./internal/... ./cpu/... ./chat/... ./server/...

## test-arm64: the cpu, engine and gguf suites built for arm64 (the NEON kernels Apple-silicon and other
## arm64 laptops run, SDOT and SMMLA included: qemu's CPU has the dot product and i8mm) and run under
## qemu-aarch64 (Debian's qemu-user); then the arm64 CLI's greedy text from synthetic Q4_0, Q8_0, Q4_K and
## Q6_K models, at 16- and 8-bit activations, must be what this machine's build generates.
test-arm64: build
	@command -v qemu-aarch64 >/dev/null || { echo "test-arm64 needs qemu-aarch64 (apt-get install qemu-user)"; exit 1; }
	@set -e; tmp=$$(mktemp -d); trap 'rm -rf $$tmp' EXIT; \
	for p in cpu engine gguf; do \
		GOARCH=arm64 CGO_ENABLED=0 $(GO) test -c -o $$tmp/$$p.test ./$$p; \
		(cd $$p && qemu-aarch64 $$tmp/$$p.test -test.count=1 -test.timeout=20m >$$tmp/$$p.log 2>&1) || { cat $$tmp/$$p.log; exit 1; }; \
		echo "ok  arm64 $$p (qemu)"; \
	done; \
	GOARCH=arm64 CGO_ENABLED=0 $(GO) build -o $$tmp/llamago-arm64 ./cmd/llamago; \
	for ty in Q4_0 Q8_0 Q4_K Q6_K; do \
		$(BIN)/llamago synth --preset tiny --layers 4 --type $$ty -o $$tmp/$$ty.gguf -q; \
		for a in 16 8; do \
			run() { "$$@" run -m $$tmp/$$ty.gguf -p "Once upon a time" -n 24 --temp 0 --activations $$a 2>/dev/null; }; \
			run qemu-aarch64 $$tmp/llamago-arm64 > $$tmp/arm64.txt; run $(BIN)/llamago > $$tmp/here.txt; \
			cmp $$tmp/arm64.txt $$tmp/here.txt || { echo "arm64 CLI: $$ty at $$a bits generates other text than here"; exit 1; }; \
		done; \
	done; \
	echo "ok  arm64 CLI (qemu): greedy text from Q4_0, Q8_0, Q4_K, Q6_K at 16 and 8 bits as here"

## lint: gofmt and go vet
lint:
	@unformatted=$$(gofmt -l $$(git ls-files '*.go' 2>/dev/null || find . -name '*.go')); \
	if [ -n "$$unformatted" ]; then echo "gofmt needed on: $$unformatted"; exit 1; fi
	$(GO) vet ./...

## demo: the exercise llamago is for, offline, in seconds: a greedy story from "Once upon a time", then what
## every attention head looks at in "The cat sat on the mat" (views written to $(DEMO_OUT)/). The model is the
## first real one in $(MODELS)/ when there is one, else the stories260K model built into llamago.
demo: build
	@set -e; model=$$(ls $(MODELS)/*.gguf 2>/dev/null | grep -v synth | head -n 1 || true); \
	if [ -n "$$model" ]; then m="-m $$model"; echo "== model: $$model"; \
	else m=""; echo "== model: stories260K, built into llamago (put a GGUF file in $(MODELS)/ to use it instead)"; fi; \
	echo; echo '== llamago run -p "Once upon a time" -n 96 --temp 0      (greedy: the most likely token each time)'; \
	$(BIN)/llamago run $$m -p "Once upon a time" -n 96 --temp 0 -q; \
	echo; echo '== llamago attention -p "The cat sat on the mat" -o $(DEMO_OUT) --brief'; \
	$(BIN)/llamago attention $$m -p "The cat sat on the mat" -o $(DEMO_OUT) --brief; \
	echo; echo "== the per-layer tables: $(BIN)/llamago attention$${m:+ $$m} -p \"The cat sat on the mat\" -o $(DEMO_OUT)"; \
	echo "== chat with it and see its attention in the browser: $(BIN)/llamago serve$${m:+ $$m}, then open http://127.0.0.1:8080/"

## screenshot: docs/head-view.png, the README's picture of the head view, taken by headless Chromium from
## the demo's page (apt-get install chromium)
screenshot: build
	@command -v chromium >/dev/null || { echo "screenshot needs chromium (apt-get install chromium)"; exit 1; }
	@set -e; tmp=$$(mktemp -d); trap 'rm -rf $$tmp' EXIT; \
	$(BIN)/llamago attention -p "The cat sat on the mat" -o $$tmp/attn -q 2>/dev/null; \
	chromium --headless --no-sandbox --disable-gpu --no-first-run --disable-background-networking --disable-sync \
		--user-data-dir=$$tmp/profile --virtual-time-budget=5000 --hide-scrollbars --window-size=1000,800 \
		--screenshot=$$tmp/shot.png "file://$$tmp/attn/index.html" 2>/dev/null; \
	mkdir -p docs; cp $$tmp/shot.png docs/head-view.png; echo "wrote docs/head-view.png"

## bench: Go benchmarks of the kernels and formats
bench:
	$(GO) test -run '^$$' -bench . -benchmem ./...

## fuzz: fuzz the GGUF reader, then loading a fuzzed model through the configuration checks, tokenizer,
## binding and a first forward pass (FUZZTIME=5m each); new crashers land in */testdata/fuzz
fuzz:
	$(GO) test ./gguf -run '^$$' -fuzz FuzzParse -fuzztime $(FUZZTIME)
	$(GO) test ./engine -run '^$$' -fuzz FuzzLoad -fuzztime $(FUZZTIME)

## kernels: compile kernels/*.cu to PTX for compute_80 (kernels/ptx, committed; needs kernels/cuda-deps.sh)
kernels:
	@$(CUDA_ENV) for k in $(KERNELS); do \
		echo "nvcc kernels/$$k.cu"; \
		$$NVCC $(NVCC_FLAGS) -Ikernels kernels/$$k.cu -o kernels/ptx/$$k.ptx.tmp || exit 1; \
		{ echo "// Code generated by make kernels from kernels/$$k.cu with nvcc $(NVCC_FLAGS); DO NOT EDIT."; \
		  cat kernels/ptx/$$k.ptx.tmp; } > kernels/ptx/$$k.ptx; rm kernels/ptx/$$k.ptx.tmp; \
	done

## cuda: bin/llamago-cuda with the CUDA backend (cgo against the stub libcuda; runs where a driver is)
cuda:
	@$(CUDA_ENV) $(GO) build -tags cuda -trimpath -ldflags "-X main.version=$(VERSION)" -o $(BIN)/llamago-cuda ./cmd/llamago

## cuda-check: vet and compile everything under the cuda tag, assemble the PTX for sm_80 and sm_90, and
## fail if the committed PTX is stale. CI runs it; no GPU needed.
cuda-check:
	@$(CUDA_ENV) set -e; \
	$(GO) vet -tags cuda ./...; \
	for p in $$($(GO) list -tags cuda ./...); do $(GO) test -tags cuda -c -o /dev/null $$p; done; \
	for f in kernels/ptx/*.ptx; do $$PTXAS -arch=sm_80 $$f -o /dev/null; $$PTXAS -arch=sm_90 $$f -o /dev/null; done; \
	tmp=$$(mktemp -d); for k in $(KERNELS); do \
		$$NVCC $(NVCC_FLAGS) -Ikernels kernels/$$k.cu -o $$tmp/$$k.ptx; \
		if ! tail -n +2 kernels/ptx/$$k.ptx | cmp -s - $$tmp/$$k.ptx; then \
			echo "kernels/ptx/$$k.ptx is stale: run make kernels and commit it"; exit 1; fi; \
	done; rm -rf $$tmp; echo "cuda-check: vet, test binaries, ptxas sm_80/sm_90 and PTX freshness OK"

clean:
	rm -rf $(BIN)

## deploy-check: validate deploy/ offline (deploy/check, a module of its own: no Kubernetes code in llamago's):
## the Dockerfiles through BuildKit's parser (Go version = go.mod's, pinned bases, non-root runtime), every
## kustomize overlay rendered with the kustomize API and decoded strictly into the k8s.io/api types, plus
## selector, port, probe, volume, GPU and HPA cross-checks, and the prometheus-adapter rule; its tests break
## each file on purpose and expect the check to fail.
deploy-check:
	cd deploy/check && $(GO) vet ./... && $(GO) test -count=1 ./... && $(GO) run . ../..

## cuda-emu: run the CUDA backend — host code and kernels — on the CPU emulator of kernels/emu (needs g++
## with C++20, no GPU, no CUDA toolkit): the conformance suite, end-to-end logits and greedy generation.
## Then the CLI on it: greedy text from a synthetic Q4_0 model must be the same on the CPU, with
## --backend cuda, with --gpu-layers 1 (partial offload), with --unfused (no fused kernels), with CUDA graphs
## off and on for every pass, and split across two emulated GPUs (--device 0,1), then two GPUs and the CPU;
## and with a half-precision KV cache (--kv-type f16), whole and with the CPU.
cuda-emu: build
	$(GO) vet -tags cudaemu ./engine/cuda/ ./cmd/...
	$(GO) test -tags cudaemu -count=1 ./engine/cuda/
	$(GO) build -tags cudaemu -o $(BIN)/llamago-emu ./cmd/llamago
	@set -e; tmp=$$(mktemp -d); trap 'rm -rf $$tmp' EXIT; \
	$(BIN)/llamago synth --preset tiny --layers 4 --type Q4_0 -o $$tmp/m.gguf -q; \
	run() { "$$@" -m $$tmp/m.gguf -p "Once upon a time" -n 24 --temp 0 2>/dev/null; }; \
	run $(BIN)/llamago run --backend cpu > $$tmp/cpu.txt; \
	run $(BIN)/llamago-emu run --backend cuda > $$tmp/gpu.txt; \
	run $(BIN)/llamago-emu run --backend cuda --gpu-layers 1 > $$tmp/split.txt; \
	run $(BIN)/llamago-emu run --backend cuda --unfused > $$tmp/unfused.txt; \
	LLAMAGO_CUDA_GRAPHS=off run $(BIN)/llamago-emu run --backend cuda > $$tmp/nographs.txt; \
	LLAMAGO_CUDA_GRAPHS=on run $(BIN)/llamago-emu run --backend cuda > $$tmp/allgraphs.txt; \
	LLAMAGO_CUDA_EMU_DEVICES=2 run $(BIN)/llamago-emu run --backend cuda --device 0,1 > $$tmp/two.txt; \
	LLAMAGO_CUDA_EMU_DEVICES=2 run $(BIN)/llamago-emu run --backend cuda --device 1,0 -ts 1,2 --gpu-layers 3 > $$tmp/two-cpu.txt; \
	for f in gpu split unfused nographs allgraphs two two-cpu; do cmp $$tmp/cpu.txt $$tmp/$$f.txt; done; \
	run $(BIN)/llamago run --backend cpu --kv-type f16 > $$tmp/cpu16.txt; \
	run $(BIN)/llamago-emu run --backend cuda --kv-type f16 > $$tmp/gpu16.txt; \
	run $(BIN)/llamago-emu run --backend cuda --kv-type f16 --gpu-layers 2 > $$tmp/split16.txt; \
	for f in gpu16 split16; do cmp $$tmp/cpu16.txt $$tmp/$$f.txt; done; \
	echo "cuda-emu: the CLI on the emulated GPU (whole, partial offload, unfused, two GPUs, two GPUs and the CPU; a half-precision KV cache whole and split) generates what the CPU does, with CUDA graphs (by default, for every pass) and without"
