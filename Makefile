# llamago — see README.md. Every target works on a fresh Debian machine with Go installed.
GO      ?= go
BIN     := bin
MODELS  := models
SHARED  ?= $(firstword $(wildcard ../shared) $(wildcard ../../shared))
FUZZTIME ?= 5m

.PHONY: all build test test-short lint demo bench fuzz clean

all: build

## build: the llamago binary (pure Go, CPU backend)
build:
	$(GO) build -trimpath -o $(BIN)/llamago ./cmd/llamago

## test: lint, the whole test suite, and the race detector on the file-format packages
test: lint
	$(GO) test ./...
	$(GO) test -race ./gguf/... ./internal/...

## lint: gofmt and go vet
lint:
	@unformatted=$$(gofmt -l $$(git ls-files '*.go' 2>/dev/null || find . -name '*.go')); \
	if [ -n "$$unformatted" ]; then echo "gofmt needed on: $$unformatted"; exit 1; fi
	$(GO) vet ./...

## demo: the main job, offline: make a model and show what is inside it
demo: build
	@mkdir -p $(MODELS)
	@if [ ! -f $(MODELS)/demo-tiny-q4_0.gguf ]; then \
		echo "== making a synthetic tiny LLaMA (Q4_0) with llamago synth"; \
		$(BIN)/llamago synth --preset tiny --type Q4_0 -o $(MODELS)/demo-tiny-q4_0.gguf; fi
	$(BIN)/llamago inspect $(MODELS)/demo-tiny-q4_0.gguf --no-tensors
	@if [ -f "$(SHARED)/models/stories260K.gguf" ]; then \
		echo; echo "== a real trained model from $(SHARED)/models"; \
		$(BIN)/llamago inspect $(SHARED)/models/stories260K.gguf --no-tensors; \
	else echo "(no ../shared/models here: showed the synthetic model only)"; fi

## bench: Go benchmarks of the kernels and formats
bench:
	$(GO) test -run '^$$' -bench . -benchmem ./...

## fuzz: fuzz the GGUF reader (FUZZTIME=5m); new crashers land in gguf/testdata/fuzz
fuzz:
	$(GO) test ./gguf -run '^$$' -fuzz FuzzParse -fuzztime $(FUZZTIME)

clean:
	rm -rf $(BIN)
