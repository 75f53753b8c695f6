package cli

import (
	"errors"

	"github.com/spf13/cobra"
)

func newTLSCmd(ios IO) *cobra.Command {
	return &cobra.Command{Use: "tls", Short: "(not available yet)", Hidden: true,
		RunE: func(cmd *cobra.Command, args []string) error { return errors.New("tls is not available in this build yet") }}
}
