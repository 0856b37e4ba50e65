package main

import (
	"fmt"
	"runtime"
	"runtime/debug"

	"github.com/spf13/cobra"
)

// version is set at build time with -ldflags "-X main.version=…"; otherwise the VCS revision is shown.
var version = "dev"

func versionString() string {
	v := version
	if info, ok := debug.ReadBuildInfo(); ok {
		for _, s := range info.Settings {
			if s.Key == "vcs.revision" && len(s.Value) >= 12 {
				v += " (" + s.Value[:12] + ")"
			}
		}
	}
	return fmt.Sprintf("llamago %s %s/%s %s, backends: %s", v, runtime.GOOS, runtime.GOARCH, runtime.Version(), backendsCompiled())
}

func newVersionCmd() *cobra.Command {
	return &cobra.Command{
		Use:   "version",
		Short: "Print the version, platform and compiled-in backends (and, in the CPU-only build, what a GPU would use)",
		Args:  cobra.NoArgs,
		RunE: func(cmd *cobra.Command, _ []string) error {
			if _, err := fmt.Fprintln(cmd.OutOrStdout(), versionString()); err != nil || gpuBuild {
				return err
			}
			_, err := fmt.Fprintln(cmd.OutOrStdout(), planGPU().describe())
			return err
		},
	}
}
