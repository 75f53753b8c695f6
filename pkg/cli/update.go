package cli

import (
	"errors"

	"github.com/spf13/cobra"
)

// Placeholder until the lifecycle commands land; owned by the install work.
type UpdateOptions struct{ IO IO }

func newUpdateCmd(ios IO, runF func(*UpdateOptions) error) *cobra.Command {
	return &cobra.Command{Use: "update", Short: "(not available yet)", Hidden: true,
		RunE: func(cmd *cobra.Command, args []string) error { return errors.New("update is not available in this build yet") }}
}
