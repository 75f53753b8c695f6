package cli

import (
	"errors"

	"github.com/spf13/cobra"
)

func newOAuthCmd(ios IO) *cobra.Command {
	return &cobra.Command{Use: "oauth", Short: "(not available yet)", Hidden: true,
		RunE: func(cmd *cobra.Command, args []string) error { return errors.New("oauth is not available in this build yet") }}
}
