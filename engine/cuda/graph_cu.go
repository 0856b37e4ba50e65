//go:build cuda

package cuda

// The driver calls gorgonia.org/cu does not wrap: CUDA graphs (cuGraphCreate, cuGraphAddKernelNode,
// cuGraphInstantiateWithFlags, cuGraphExecKernelNodeSetParams, cuGraphLaunch), and a kernel launch that
// builds its parameter array on the C stack instead of two C allocations per launch. The symbols are those
// of CUDA 11.8's cuda.h, which every later driver still exports.

/*
#cgo LDFLAGS: -lcuda
#include <cuda.h>
#include <stdint.h>
#include <string.h>

// llamago_node_params fills p for a 1-D launch of f; args holds n 8-byte arguments, slots n pointers to them.
static void llamago_node_params(CUDA_KERNEL_NODE_PARAMS* p, CUfunction f, unsigned grid, unsigned block,
                                unsigned shared, uint64_t* args, int n, void** slots) {
	for (int i = 0; i < n; i++) slots[i] = &args[i];
	memset(p, 0, sizeof *p);
	p->func = f;
	p->gridDimX = grid; p->gridDimY = 1; p->gridDimZ = 1;
	p->blockDimX = block; p->blockDimY = 1; p->blockDimZ = 1;
	p->sharedMemBytes = shared;
	p->kernelParams = slots;
}

enum { llamago_max_args = 64 };

// The graph calls copy the parameters they are given, so the arrays may live on this stack.
static CUresult llamago_add_kernel(CUgraph g, CUgraphNode* node, CUgraphNode* prev, CUfunction f, unsigned grid,
                                   unsigned block, unsigned shared, uint64_t* args, int n) {
	void* slots[llamago_max_args];
	CUDA_KERNEL_NODE_PARAMS p;
	if (n > llamago_max_args) return CUDA_ERROR_INVALID_VALUE;
	llamago_node_params(&p, f, grid, block, shared, args, n, slots);
	return cuGraphAddKernelNode(node, g, prev, prev ? 1 : 0, &p);
}

static CUresult llamago_set_kernel(CUgraphExec e, CUgraphNode node, CUfunction f, unsigned grid, unsigned block,
                                   unsigned shared, uint64_t* args, int n) {
	void* slots[llamago_max_args];
	CUDA_KERNEL_NODE_PARAMS p;
	if (n > llamago_max_args) return CUDA_ERROR_INVALID_VALUE;
	llamago_node_params(&p, f, grid, block, shared, args, n, slots);
	return cuGraphExecKernelNodeSetParams(e, node, &p);
}

static CUresult llamago_launch(CUfunction f, unsigned grid, unsigned block, unsigned shared, CUstream s,
                               uint64_t* args, int n) {
	void* slots[llamago_max_args];
	if (n > llamago_max_args) return CUDA_ERROR_INVALID_VALUE;
	for (int i = 0; i < n; i++) slots[i] = &args[i];
	return cuLaunchKernel(f, grid, 1, 1, block, 1, 1, shared, s, slots, NULL);
}
*/
import "C"

import (
	"fmt"
	"reflect"
	"unsafe"

	"gorgonia.org/cu"
)

// cuError is the driver's result code as gorgonia.org/cu's error (its type is unexported), so that
// errors.Is against cu's values (sticky) holds for these calls too.
func cuError(r C.CUresult) error {
	if r == C.CUDA_SUCCESS {
		return nil
	}
	v := reflect.New(reflect.TypeOf(cu.IllegalAddress)).Elem()
	v.SetInt(int64(r))
	return v.Interface().(error)
}

// cFunction and cStream are the C handles inside gorgonia.org/cu's Function and Stream, which are one C
// pointer each: checked here at compile time, so that a version of the module that changes them fails to
// build instead of handing the driver something else.
var (
	_ = [1]struct{}{}[unsafe.Sizeof(cu.Function{})-unsafe.Sizeof(uintptr(0))]
	_ = [1]struct{}{}[unsafe.Sizeof(cu.Stream{})-unsafe.Sizeof(uintptr(0))]
)

// cFunction and cStream are the C handles inside gorgonia.org/cu's Function and Stream (one pointer each).
func cFunction(f cu.Function) C.CUfunction { return *(*C.CUfunction)(unsafe.Pointer(&f)) }
func cStream(s cu.Stream) C.CUstream       { return *(*C.CUstream)(unsafe.Pointer(&s)) }

// argPtr is the C view of a launch's argument words (none: nil).
func argPtr(args []uint64) *C.uint64_t {
	if len(args) == 0 {
		return nil
	}
	return (*C.uint64_t)(unsafe.Pointer(&args[0]))
}

func (d *cuDriver) launch(name string, grid, block, shared int, args []uint64) error {
	fn, ok := d.fns[name]
	if !ok {
		return fmt.Errorf("cuda: no kernel %s", name)
	}
	return cuError(C.llamago_launch(cFunction(fn), C.uint(grid), C.uint(block), C.uint(shared), cStream(d.stream),
		argPtr(args), C.int(len(args))))
}

// cuGraph is an instantiated graph on the GPU and the nodes of the graph it was made from (set names them).
type cuGraph struct {
	d     *cuDriver
	graph C.CUgraph
	exec  C.CUgraphExec
	nodes []C.CUgraphNode
}

func (d *cuDriver) newGraph(recs []launchRec, words []uint64) (graphExec, error) {
	g := &cuGraph{d: d, nodes: make([]C.CUgraphNode, len(recs))}
	if err := cuError(C.cuGraphCreate(&g.graph, 0)); err != nil {
		return nil, fmt.Errorf("cuGraphCreate: %w", err)
	}
	for i, l := range recs {
		fn, ok := d.fns[l.name]
		if !ok {
			g.destroy()
			return nil, fmt.Errorf("no kernel %s", l.name)
		}
		var prev *C.CUgraphNode
		if i > 0 {
			prev = &g.nodes[i-1]
		}
		args := words[l.at : l.at+l.n]
		if err := cuError(C.llamago_add_kernel(g.graph, &g.nodes[i], prev, cFunction(fn), C.uint(l.grid), C.uint(l.block),
			C.uint(l.shared), argPtr(args), C.int(len(args)))); err != nil {
			g.destroy()
			return nil, fmt.Errorf("adding %s (node %d) to a graph: %w", l.name, i, err)
		}
	}
	if err := cuError(C.cuGraphInstantiateWithFlags(&g.exec, g.graph, 0)); err != nil {
		g.destroy()
		return nil, fmt.Errorf("instantiating a graph of %d kernels: %w", len(recs), err)
	}
	return g, nil
}

func (g *cuGraph) set(i int, l launchRec, args []uint64) error {
	fn, ok := g.d.fns[l.name]
	if !ok {
		return fmt.Errorf("no kernel %s", l.name)
	}
	return cuError(C.llamago_set_kernel(g.exec, g.nodes[i], cFunction(fn), C.uint(l.grid), C.uint(l.block),
		C.uint(l.shared), argPtr(args), C.int(len(args))))
}

func (g *cuGraph) launch() error { return cuError(C.cuGraphLaunch(g.exec, cStream(g.d.stream))) }

func (g *cuGraph) destroy() {
	if g.exec != nil {
		C.cuGraphExecDestroy(g.exec)
		g.exec = nil
	}
	if g.graph != nil {
		C.cuGraphDestroy(g.graph)
		g.graph = nil
	}
}
