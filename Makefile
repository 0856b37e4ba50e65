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

## demo: the main job, offline: generate text with a real model if one is here, else a synthetic one
demo: build
	@model=$$(ls $(MODELS)/*.gguf 2>/dev/null | grep -v synth | head -n 1); \
	if [ -z "$$model" ] && [ -f "$(SHARED)/models/stories260K.gguf" ]; then model=$(SHARED)/models/stories260K.gguf; fi; \
	if [ -z "$$model" ]; then \
		model=$(MODELS)/demo-synth-tiny-q4_0.gguf; mkdir -p $(MODELS); \
		echo "== no real model in $(MODELS)/ or $(SHARED)/models: using a synthetic model (random weights, so the text is gibberish)"; \
		[ -f $$model ] || $(BIN)/llamago synth --preset tiny --type Q4_0 -o $$model; \
	fi; \
	echo "== $$model"; \
	$(BIN)/llamago inspect $$model --no-tensors | head -n 16; echo; \
	echo '== llamago tokenize "The cat sat on the mat"'; \
	$(BIN)/llamago tokenize -m $$model "The cat sat on the mat"; echo; \
	echo '== llamago run -p "Once upon a time" -n 96 --temp 0'; \
	$(BIN)/llamago run -m $$model -p "Once upon a time" -n 96 --temp 0

## bench: Go benchmarks of the kernels and formats
bench:
	$(GO) test -run '^$$' -bench . -benchmem ./...

## fuzz: fuzz the GGUF reader (FUZZTIME=5m); new crashers land in gguf/testdata/fuzz
fuzz:
	$(GO) test ./gguf -run '^$$' -fuzz FuzzParse -fuzztime $(FUZZTIME)

clean:
	rm -rf $(BIN)
