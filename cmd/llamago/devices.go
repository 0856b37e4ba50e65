package main

import (
	"github.com/spf13/cobra"
)

func newDevicesCmd() *cobra.Command {
	var bandwidth, asJSON bool
	cmd := &cobra.Command{
		Use:   "devices",
		Short: "List the GPUs this llamago can use (and measure their copy bandwidth)",
		Long: `Devices lists the NVIDIA GPUs the CUDA driver sees: index (for --device), name, memory, compute
capability and multiprocessors. --bandwidth also measures device-to-device copy bandwidth, the ceiling
decode speed is compared against. A llamago built without CUDA (the default) has none.`,
		Example: `  llamago-cuda devices --bandwidth`,
		Args:    cobra.NoArgs,
		RunE: func(cmd *cobra.Command, _ []string) error {
			return listDevices(cmd.OutOrStdout(), cmd.ErrOrStderr(), bandwidth, asJSON)
		},
	}
	cmd.Flags().BoolVar(&bandwidth, "bandwidth", false, "measure device-to-device copy bandwidth")
	cmd.Flags().BoolVar(&asJSON, "json", false, "print JSON")
	return cmd
}
