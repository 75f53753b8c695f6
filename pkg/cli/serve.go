package cli

import (
	"errors"

	"github.com/spf13/cobra"
)

type ServeOptions struct{ IO IO }

func newServeCmd(ios IO, runF func(*ServeOptions) error) *cobra.Command {
	return &cobra.Command{Use: "serve", RunE: func(cmd *cobra.Command, args []string) error { return errors.New("wip") }}
}
