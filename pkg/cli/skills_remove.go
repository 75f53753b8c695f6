package cli

import (
	"context"
	"errors"
	"fmt"
	"io/fs"
	"os"
	"path/filepath"

	"github.com/spf13/cobra"

	"github.com/servagent/servagent/pkg/skills"
)

type skillsRemoveOptions struct {
	IO   IO
	Dir  string
	Name string
}

func newSkillsRemoveCmd(ios IO, dir func() string) *cobra.Command {
	opts := &skillsRemoveOptions{IO: ios}
	return &cobra.Command{
		Use:               "remove NAME",
		Aliases:           []string{"rm"},
		Short:             "Delete a skill's directory",
		Args:              cobra.ExactArgs(1),
		ValidArgsFunction: completeSkillNames(dir),
		RunE: func(cmd *cobra.Command, args []string) error {
			opts.Dir, opts.Name = dir(), args[0]
			return runSkillsRemove(cmd.Context(), opts)
		},
	}
}

func runSkillsRemove(_ context.Context, opts *skillsRemoveOptions) error {
	if err := checkName(opts.Name); err != nil {
		return err
	}
	skillDir := filepath.Join(opts.Dir, opts.Name)
	fi, err := os.Lstat(skillDir)
	if errors.Is(err, fs.ErrNotExist) {
		return failf("no skill %q in %s", opts.Name, opts.Dir)
	}
	if err != nil {
		return failf("cannot inspect %s: %w", skillDir, err)
	}
	// Lstat on the SKILL.md through a linked directory is fine: it only
	// proves the target is a skill; only the link itself is then removed.
	if _, err := os.Lstat(filepath.Join(skillDir, skills.FileName)); err != nil {
		return failf("%s is not a skill (no %s); not removing it", skillDir, skills.FileName)
	}
	if fi.Mode()&os.ModeSymlink != 0 {
		if err := os.Remove(skillDir); err != nil {
			return failf("cannot remove %s: %w", skillDir, err)
		}
		fmt.Fprintf(opts.IO.Out, "Removed skill %q (the link %s; its target was left alone).\n", opts.Name, skillDir)
		return nil
	}
	if !fi.IsDir() {
		return failf("%s is not a skill directory; not removing it", skillDir)
	}
	if err := os.RemoveAll(skillDir); err != nil {
		return failf("cannot remove %s: %w", skillDir, err)
	}
	fmt.Fprintf(opts.IO.Out, "Removed skill %q (%s).\n", opts.Name, skillDir)
	return nil
}
