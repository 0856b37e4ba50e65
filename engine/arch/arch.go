// Package arch describes the model architectures llamago runs. Each one lists its tensors once — name,
// shape as a function of the hyperparameters, whether it may be absent — and everything that needs to know
// them reads that table: the engine binds weights by it, gguf/synth writes synthetic models from it, and
// memory planning and quantization find a tensor's block through BlockIndex.
package arch

import (
	"fmt"
	"sort"
	"strconv"
	"strings"
	"sync"

	"github.com/llamago/llamago/gguf"
)

// Kind is what a tensor is for.
type Kind uint8

const (
	Matrix    Kind = iota // a 2-D weight [rows][cols] = [outputs][inputs]
	Norm                  // a 1-D scale of the embedding width
	Embedding             // the token embedding table [vocab][embd]
	Factors               // 1-D float factors (RoPE frequency factors)
)

// Tensor is one entry of an architecture's table.
type Tensor struct {
	Key   string // the name, without "blk.N." for a per-block tensor: "attn_q.weight"
	Block bool   // one per block, named blk.N.Key
	Kind  Kind
	// Shape gives rows and columns (a 1-D tensor has one row) for a model's hyperparameters.
	Shape func(c *gguf.LlamaConfig) (rows, cols int)
	// Optional tensors may be missing (the output projection of a model with tied embeddings).
	Optional bool
	// Residual marks a matrix whose product is added to the residual stream (synthetic models scale it down).
	Residual bool
}

// Name is the tensor's name in a file: Key, or blk.N.Key for block N.
func (t *Tensor) Name(block int) string {
	if t.Block {
		return "blk." + strconv.Itoa(block) + "." + t.Key
	}
	return t.Key
}

// Arch is an architecture: its general.architecture name and its tensors in the order llama.cpp writes
// them (the global tensors listed before the first per-block one come before the blocks in a file).
type Arch struct {
	Name    string
	Tensors []Tensor
}

// Tensor returns the entry of key; a key the table lacks is a programming error.
func (a *Arch) Tensor(key string) *Tensor {
	for i := range a.Tensors {
		if a.Tensors[i].Key == key {
			return &a.Tensors[i]
		}
	}
	panic(fmt.Sprintf("arch %s: no tensor %q", a.Name, key))
}

// Before, Blocks and After split the table in file order: global tensors before the blocks, the per-block
// tensors, global tensors after them.
func (a *Arch) Before() []Tensor { return a.Tensors[:a.firstBlock()] }
func (a *Arch) Blocks() []Tensor {
	i := a.firstBlock()
	j := i
	for j < len(a.Tensors) && a.Tensors[j].Block {
		j++
	}
	return a.Tensors[i:j]
}
func (a *Arch) After() []Tensor { return a.Tensors[a.firstBlock()+len(a.Blocks()):] }

func (a *Arch) firstBlock() int {
	for i, t := range a.Tensors {
		if t.Block {
			return i
		}
	}
	return len(a.Tensors)
}

var (
	mu       sync.RWMutex
	registry = map[string]*Arch{}
)

// Register adds an architecture (from an init function); a second one of the same name is a programming
// error.
func Register(a *Arch) {
	mu.Lock()
	defer mu.Unlock()
	if _, dup := registry[a.Name]; dup {
		panic("arch: " + a.Name + " registered twice")
	}
	registry[a.Name] = a
}

// Lookup returns the architecture of a general.architecture name.
func Lookup(name string) (*Arch, bool) {
	mu.RLock()
	defer mu.RUnlock()
	a, ok := registry[name]
	return a, ok
}

// Names lists the registered architectures, sorted.
func Names() []string {
	mu.RLock()
	defer mu.RUnlock()
	var n []string
	for k := range registry {
		n = append(n, k)
	}
	sort.Strings(n)
	return n
}

// BlockIndex returns N for a tensor named blk.N.…
func BlockIndex(name string) (int, bool) {
	rest, ok := strings.CutPrefix(name, "blk.")
	if !ok {
		return 0, false
	}
	i := strings.IndexByte(rest, '.')
	if i <= 0 {
		return 0, false
	}
	n, err := strconv.Atoi(rest[:i])
	return n, err == nil && n >= 0
}
