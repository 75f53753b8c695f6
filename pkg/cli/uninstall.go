package cli

import (
	"errors"

	"github.com/spf13/cobra"
)

// Placeholder until the lifecycle commands land; owned by the install work.
type UninstallOptions struct{ IO IO }

func newUninstallCmd(ios IO, runF func(*UninstallOptions) error) *cobra.Command {
	return &cobra.Command{Use: "uninstall", Short: "(not available yet)", Hidden: true,
		RunE: func(cmd *cobra.Command, args []string) error { return errors.New("uninstall is not available in this build yet") }}
}
