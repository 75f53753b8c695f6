package cli

import (
	"errors"

	"github.com/spf13/cobra"
)

func newSkillsCmd(ios IO) *cobra.Command {
	return &cobra.Command{Use: "skills", Short: "(not available yet)", Hidden: true,
		RunE: func(cmd *cobra.Command, args []string) error { return errors.New("skills is not available in this build yet") }}
}
