package main

import (
	"bytes"
	"fmt"
	"io"
	"os"
	"path/filepath"
)

// One command on any machine. gorgonia.org/cu ends a process that starts where there is no NVIDIA driver,
// so the CUDA build (llamago-cuda) cannot be the binary that runs everywhere. The pure-Go build is: for a
// command that runs a model (or lists GPUs), it looks for llamago-cuda beside itself and for an NVIDIA
// driver and card on the machine, and when both are there it hands the whole command over (exec, same
// arguments), saying so in one line; otherwise it runs on the CPU. --backend cpu never hands over,
// --backend cuda always does when the CUDA build is there (and fails, saying what to build, when it is
// not), auto — the default — does when the driver is there.

// cudaBinary is the CUDA build's file name, as `make cuda` writes it beside bin/llamago.
const cudaBinary = "llamago-cuda"

// handedOverEnv marks a process started by a hand-over (the CUDA build never hands over; this guards a
// CUDA binary that is really a pure-Go one, renamed).
const handedOverEnv = "LLAMAGO_HANDED_OVER"

// probeRootEnv, for tests, puts the driver probe's files under another root (a fake /dev and /etc).
const probeRootEnv = "LLAMAGO_GPU_PROBE_ROOT"

// gpuPlan is what the pure-Go build does about a GPU: hand over to cuda (a path) or not, and why.
type gpuPlan struct {
	cuda   string // the CUDA build beside this binary, or ""
	driver bool   // an NVIDIA driver and card were found
	why    string // the driver probe's finding
}

// planGPU looks for the CUDA build beside this executable and for an NVIDIA driver.
func planGPU() gpuPlan {
	var p gpuPlan
	if exe, err := os.Executable(); err == nil {
		if exe, err = filepath.EvalSymlinks(exe); err == nil {
			c := filepath.Join(filepath.Dir(exe), cudaBinary)
			if st, err := os.Stat(c); err == nil && st.Mode().IsRegular() && executable(c) && !sameFile(c, exe) {
				p.cuda = c
			}
		}
	}
	p.driver, p.why = nvidiaDriver(os.Getenv(probeRootEnv))
	return p
}

func sameFile(a, b string) bool {
	sa, errA := os.Stat(a)
	sb, errB := os.Stat(b)
	return errA == nil && errB == nil && os.SameFile(sa, sb)
}

// nvidiaDriver reports whether the machine has an NVIDIA card the driver exposes (a /dev/nvidia* node) and
// the driver's library that the CUDA build links (libcuda.so.1, in the loader's cache or a usual folder).
func nvidiaDriver(root string) (bool, string) {
	nodes, _ := filepath.Glob(filepath.Join(root, "/dev/nvidia[0-9]*"))
	if len(nodes) == 0 {
		return false, "no NVIDIA GPU device (/dev/nvidia0)"
	}
	if cache, err := os.ReadFile(filepath.Join(root, "/etc/ld.so.cache")); err == nil && bytes.Contains(cache, []byte("libcuda.so.1")) {
		return true, "NVIDIA driver found"
	}
	dirs := []string{"/usr/lib/x86_64-linux-gnu", "/usr/lib/aarch64-linux-gnu", "/usr/lib64", "/usr/lib", "/lib/x86_64-linux-gnu",
		"/usr/local/nvidia/lib64", "/usr/local/nvidia/lib"}
	dirs = append(dirs, filepath.SplitList(os.Getenv("LD_LIBRARY_PATH"))...)
	for _, d := range dirs {
		if _, err := os.Stat(filepath.Join(root, d, "libcuda.so.1")); err == nil {
			return true, "NVIDIA driver found"
		}
	}
	return false, "a GPU device but no NVIDIA driver library (libcuda.so.1)"
}

// describe is the plan in one line, for llamago version.
func (p gpuPlan) describe() string {
	switch {
	case p.cuda == "":
		return "GPU: none (this build is CPU-only and no " + cudaBinary + " is installed beside it: 'make cuda' builds bin/" + cudaBinary + ")"
	case p.driver:
		return "GPU: commands that run a model hand over to " + p.cuda + " (" + p.why + ")"
	default:
		return "GPU: none here (" + p.why + "); " + p.cuda + " is used where there is one"
	}
}

// handOverTarget decides, before the command runs, whether the pure-Go build hands args over to the CUDA
// build: the path to exec (or "" to run here), the plan behind it, and whether --backend cuda forced it.
// The command's own flags are parsed (on a command tree of its own), so a prompt that reads "-h" or
// "--backend=cpu" is a prompt. A --backend cuda that cannot be honoured is left to the command, which says
// what to build.
func handOverTarget(args []string) (string, gpuPlan, bool) {
	if gpuBuild || os.Getenv(handedOverEnv) != "" {
		return "", gpuPlan{}, false
	}
	root := newRootCmd()
	cmd, _, err := root.Find(args)
	if err != nil || cmd == root || (cmd.Flags().Lookup("backend") == nil && cmd.Name() != "devices") {
		return "", gpuPlan{}, false
	}
	fixed, err := llamagoArgs(root, args)
	if err != nil {
		return "", gpuPlan{}, false
	}
	if _, rest, err := root.Find(fixed); err != nil || cmd.ParseFlags(rest) != nil {
		return "", gpuPlan{}, false // --help (not a flag until the command runs), or a mistake the command reports
	}
	backend := "auto"
	if f := cmd.Flags().Lookup("backend"); f != nil {
		backend = f.Value.String()
	}
	if backend != "auto" && backend != "cuda" {
		return "", gpuPlan{}, false
	}
	p := planGPU()
	switch {
	case p.cuda == "":
		return "", p, false
	case backend == "cuda":
		return p.cuda, p, true
	case p.driver:
		return p.cuda, p, false
	}
	return "", p, false
}

// handOver replaces this process with the CUDA build running args (see handover_unix.go); it returns
// only when that fails.
func handOver(stderr io.Writer, path string, args []string, p gpuPlan) error {
	if p.driver {
		fmt.Fprintf(stderr, "llamago: %s: running %s\n", p.why, path)
	} else {
		fmt.Fprintf(stderr, "llamago: --backend cuda: running %s (though this machine shows %s)\n", path, p.why)
	}
	env := append(os.Environ(), handedOverEnv+"=1")
	return execv(path, append([]string{path}, args...), env)
}
