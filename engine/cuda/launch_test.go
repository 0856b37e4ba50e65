//go:build cuda || cudaemu

package cuda

import (
	"reflect"
	"regexp"
	"strings"
	"testing"

	"github.com/llamago/llamago/kernels"
	"github.com/stretchr/testify/require"
)

// ptxEntries lists the kernels of a PTX module with the types of their parameters (u64, f64, …).
func ptxEntries(src string) map[string][]string {
	out := map[string][]string{}
	entry := regexp.MustCompile(`\.entry\s+(\w+)\s*\(([^)]*)\)`)
	param := regexp.MustCompile(`\.param\s+\.(\w+)\s+\w+`)
	for _, m := range entry.FindAllStringSubmatch(src, -1) {
		var types []string
		for _, p := range param.FindAllStringSubmatch(m[2], -1) {
			types = append(types, p[1])
		}
		out[m[1]] = types
	}
	return out
}

// TestKernelSignatures: every kernel the backend launches has an argument struct (kernelArgs) whose fields
// match the kernel's parameters in the compiled PTX one for one — as many, in order, each 8 bytes, integer
// (devPtr, int) where the kernel takes a 64-bit integer or pointer, float64 where it takes a double.
func TestKernelSignatures(t *testing.T) {
	n := 0
	for _, fam := range kernels.Families {
		src, err := kernels.PTX(fam)
		require.NoError(t, err)
		entries := ptxEntries(src)
		require.NotEmpty(t, entries, fam)
		for _, name := range kernels.Names[fam] {
			params, ok := entries[name]
			require.True(t, ok, "kernel %s is not in %s.ptx", name, fam)
			typ := kernelArgs(name)
			require.NotNil(t, typ, "kernel %s has no argument struct in kernelArgs", name)
			require.Equal(t, len(params), typ.NumField(), "%s: %d parameters in the PTX, %d fields in %v", name, len(params), typ.NumField(), typ)
			require.EqualValues(t, 8*len(params), typ.Size(), "%v: every field 8 bytes", typ)
			for i := range typ.NumField() {
				f := typ.Field(i)
				want := map[reflect.Kind]string{reflect.Uintptr: "u64", reflect.Int: "u64", reflect.Float64: "f64"}[f.Type.Kind()]
				require.NotEmpty(t, want, "%v.%s: a %v is not a kernel argument (devPtr, int or float64)", typ, f.Name, f.Type)
				require.Equal(t, want, strings.Replace(params[i], "s64", "u64", 1), "%s parameter %d (%v.%s)", name, i, typ, f.Name)
			}
			n++
		}
	}
	t.Logf("%d kernels checked against their PTX", n)
}

// TestLaunchRefusesOtherArguments: a kernel launched with another kernel's struct is refused before the
// driver sees it.
func TestLaunchRefusesOtherArguments(t *testing.T) {
	b := openGPU(t)
	defer b.Close()
	err := launch(b, "add_f32", 1, 256, 0, swigluArgs{})
	require.ErrorContains(t, err, "kernel add_f32 takes cuda.addArgs, not cuda.swigluArgs")
	require.ErrorContains(t, launch(b, "no_such_kernel", 1, 256, 0, addArgs{}), "takes <nil>")
}
