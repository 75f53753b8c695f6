package cli

import (
	"bufio"
	"context"
	"errors"
	"fmt"
	"io"
	"io/fs"
	"os"
	"path/filepath"
	"strings"
	"text/tabwriter"

	"github.com/spf13/cobra"

	"github.com/servagent/servagent/pkg/skills"
	"github.com/servagent/servagent/pkg/textutil"
)

type skillsListOptions struct {
	IO  IO
	Dir string
}

func newSkillsListCmd(ios IO, dir func() string) *cobra.Command {
	opts := &skillsListOptions{IO: ios}
	return &cobra.Command{
		Use:     "list",
		Aliases: []string{"ls"},
		Short:   "List skills with their title and size",
		Args:    cobra.NoArgs,
		RunE: func(cmd *cobra.Command, args []string) error {
			opts.Dir = dir()
			return runSkillsList(cmd.Context(), opts)
		},
	}
}

func runSkillsList(_ context.Context, opts *skillsListOptions) error {
	names, err := skills.Names(opts.Dir)
	if errors.Is(err, fs.ErrNotExist) {
		fmt.Fprintf(opts.IO.ErrOut, "No skills: %s does not exist.\n", opts.Dir)
		return nil
	}
	if err != nil {
		return failf("cannot list skills: %w", err)
	}
	if len(names) == 0 {
		fmt.Fprintf(opts.IO.ErrOut, "No skills in %s.\n", opts.Dir)
		return nil
	}
	tw := tabwriter.NewWriter(opts.IO.Out, 0, 4, 2, ' ', 0)
	fmt.Fprintln(tw, "NAME\tSIZE\tTITLE")
	for _, name := range names {
		size, title := skillSummary(filepath.Join(opts.Dir, name, skills.FileName))
		fmt.Fprintf(tw, "%s\t%s\t%s\n", name, size, title)
	}
	return tw.Flush()
}

// skillSummary returns a file's size and first non-blank line, or a marker
// saying why the skill is not used.
func skillSummary(path string) (size, title string) {
	fi, err := os.Stat(path)
	if err != nil {
		return "-", "(unreadable: " + textutil.OneLine(err.Error()) + ")"
	}
	if !fi.Mode().IsRegular() {
		return "-", "(unreadable: not a regular file)"
	}
	size = humanSize(fi.Size())
	f, err := os.Open(path)
	if err != nil {
		return size, "(unreadable: " + textutil.OneLine(err.Error()) + ")"
	}
	defer f.Close()
	sc := bufio.NewScanner(io.LimitReader(f, skills.MaxSkillBytes))
	sc.Buffer(make([]byte, 0, 4096), skills.MaxSkillBytes)
	for sc.Scan() {
		if line := strings.TrimSpace(sc.Text()); line != "" {
			title = textutil.Clip(line, 60)
			if fi.Size() > skills.MaxSkillBytes {
				title += fmt.Sprintf(" (only the first %d KiB are used)", skills.MaxSkillBytes>>10)
			}
			return size, title
		}
	}
	return size, "(empty, not used)"
}

func humanSize(n int64) string {
	switch {
	case n < 1<<10:
		return fmt.Sprintf("%d B", n)
	case n < 1<<20:
		return fmt.Sprintf("%.1f KiB", float64(n)/(1<<10))
	default:
		return fmt.Sprintf("%.1f MiB", float64(n)/(1<<20))
	}
}

type skillsShowOptions struct {
	IO   IO
	Dir  string
	Name string
}

func newSkillsShowCmd(ios IO, dir func() string) *cobra.Command {
	opts := &skillsShowOptions{IO: ios}
	return &cobra.Command{
		Use:               "show NAME",
		Short:             "Print a skill's SKILL.md as stored",
		Args:              cobra.ExactArgs(1),
		ValidArgsFunction: completeSkillNames(dir),
		RunE: func(cmd *cobra.Command, args []string) error {
			opts.Dir, opts.Name = dir(), args[0]
			return runSkillsShow(cmd.Context(), opts)
		},
	}
}

func runSkillsShow(_ context.Context, opts *skillsShowOptions) error {
	if err := checkName(opts.Name); err != nil {
		return err
	}
	path := filepath.Join(opts.Dir, opts.Name, skills.FileName)
	data, err := os.ReadFile(path)
	if errors.Is(err, fs.ErrNotExist) {
		return failf("no skill %q in %s", opts.Name, opts.Dir)
	}
	if err != nil {
		return failf("cannot read skill %q: %w", opts.Name, err)
	}
	_, err = opts.IO.Out.Write(data)
	return err
}

type skillsPathOptions struct {
	IO  IO
	Dir string
}

func newSkillsPathCmd(ios IO, dir func() string) *cobra.Command {
	opts := &skillsPathOptions{IO: ios}
	return &cobra.Command{
		Use:   "path",
		Short: "Print the skills directory in use",
		Args:  cobra.NoArgs,
		RunE: func(cmd *cobra.Command, args []string) error {
			opts.Dir = dir()
			return runSkillsPath(cmd.Context(), opts)
		},
	}
}

func runSkillsPath(_ context.Context, opts *skillsPathOptions) error {
	_, err := fmt.Fprintln(opts.IO.Out, opts.Dir)
	return err
}
