package cli

import (
	"errors"

	"github.com/spf13/cobra"
)

// Placeholder until the lifecycle commands land; owned by the install work.
type InstallOptions struct{ IO IO }

func newInstallCmd(ios IO, runF func(*InstallOptions) error) *cobra.Command {
	return &cobra.Command{Use: "install", Short: "(not available yet)", Hidden: true,
		RunE: func(cmd *cobra.Command, args []string) error { return errors.New("install is not available in this build yet") }}
}
