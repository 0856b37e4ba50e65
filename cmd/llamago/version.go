package main

import (
	"encoding/json"
	"fmt"
	"runtime"
	"runtime/debug"
	"strings"

	"github.com/llamago/llamago/cpu"
	"github.com/llamago/llamago/engine"
	"github.com/spf13/cobra"
)

// version is set at build time with -ldflags "-X main.version=…" (make build stamps git describe);
// otherwise "dev", with the VCS revision Go records where it can.
var version = "dev"

// buildRevision is the VCS revision Go recorded at build time ("" where it did not: -buildvcs=false, or
// no git), with "-dirty" when the tree had changes.
func buildRevision() string {
	info, ok := debug.ReadBuildInfo()
	if !ok {
		return ""
	}
	rev, dirty := "", false
	for _, s := range info.Settings {
		switch s.Key {
		case "vcs.revision":
			rev = s.Value
		case "vcs.modified":
			dirty = s.Value == "true"
		}
	}
	if rev != "" && dirty {
		rev += "-dirty"
	}
	return rev
}

// shortRevision is a revision's first 12 hex digits, keeping a "-dirty" suffix.
func shortRevision(rev string) string {
	hash, dirty := strings.CutSuffix(rev, "-dirty")
	hash = hash[:min(12, len(hash))]
	if dirty {
		hash += "-dirty"
	}
	return hash
}

func versionString() string {
	v := version
	if rev := buildRevision(); rev != "" && version == "dev" {
		v += " (" + shortRevision(rev) + ")"
	}
	return fmt.Sprintf("llamago %s %s/%s %s, backends: %s", v, runtime.GOOS, runtime.GOARCH, runtime.Version(), backendsCompiled())
}

// versionInfo is version --json.
type versionInfo struct {
	Version  string   `json:"version"`
	Revision string   `json:"revision,omitempty"`
	Go       string   `json:"go"`
	OS       string   `json:"os"`
	Arch     string   `json:"arch"`
	Backends []string `json:"backends"`
	Kernels  string   `json:"cpu_kernels"`                // what `version` names in "cpu (… kernels"
	Packed   string   `json:"cpu_packed_reads,omitempty"` // how decoding reads packed rows
	GPU      string   `json:"gpu,omitempty"`              // the CPU-only build's line about a GPU
}

func newVersionCmd() *cobra.Command {
	var asJSON bool
	cmd := &cobra.Command{
		Use:   "version",
		Short: "Print the version, platform and compiled-in backends (and, in the CPU-only build, what a GPU would use)",
		Args:  cobra.NoArgs,
		RunE: func(cmd *cobra.Command, _ []string) error {
			out := cmd.OutOrStdout()
			if asJSON {
				v := versionInfo{Version: version, Revision: buildRevision(), Go: runtime.Version(), OS: runtime.GOOS,
					Arch: runtime.GOARCH, Backends: engine.Backends(), Kernels: cpu.Kernels(), Packed: cpu.PackedReads()}
				if !gpuBuild {
					v.GPU = planGPU().describe()
				}
				b, err := json.MarshalIndent(v, "", "  ")
				if err == nil {
					_, err = fmt.Fprintln(out, string(b))
				}
				return err
			}
			if _, err := fmt.Fprintln(out, versionString()); err != nil || gpuBuild {
				return err
			}
			_, err := fmt.Fprintln(out, planGPU().describe())
			return err
		},
	}
	cmd.Flags().BoolVar(&asJSON, "json", false, "print the same as one JSON object (for scripts and bug reports)")
	return cmd
}
