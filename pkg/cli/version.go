package cli

import (
	"fmt"
	"runtime"

	"github.com/spf13/cobra"

	"github.com/servagent/servagent/pkg/buildinfo"
)

func newVersionCmd(f *Factory) *cobra.Command {
	return &cobra.Command{
		Use:   "version",
		Short: "Print the version, commit and build date",
		Args:  cobra.NoArgs,
		RunE: func(cmd *cobra.Command, args []string) error {
			fmt.Fprintf(f.IO.Out, "servagent %s (commit %s, built %s, %s %s/%s)\n",
				f.Version, buildinfo.Commit, buildinfo.Date, runtime.Version(), runtime.GOOS, runtime.GOARCH)
			return nil
		},
	}
}
