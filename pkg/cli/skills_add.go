package cli

import (
	"context"
	"errors"
	"fmt"
	"io"
	"io/fs"
	"os"
	"os/exec"
	"path/filepath"
	"strings"

	"github.com/spf13/cobra"

	"github.com/servagent/servagent/pkg/skills"
)

type skillsAddOptions struct {
	IO   IO
	Dir  string
	Name string
	// File is where to read the content from; "-" means stdin.
	File string
	// StdinTTY says stdin is a terminal: with no --file, the editor is opened
	// instead of reading stdin.
	StdinTTY bool
	// Editor is the command line to edit with; "" means $EDITOR, else vi.
	Editor string
}

func newSkillsAddCmd(ios IO, dir func() string) *cobra.Command {
	opts := &skillsAddOptions{IO: ios}
	cmd := &cobra.Command{
		Use:   "add NAME",
		Short: "Create or replace a skill from a file, stdin or $EDITOR",
		Long: `Write <dir>/NAME/SKILL.md. The content comes from --file (- for stdin), else
from stdin when it is not a terminal, else from $EDITOR (default vi), opened on
the current content when the skill exists. An existing skill is replaced.`,
		Example: `  servagent skills add smtp --file smtp.md
  printf '# smtp\nRelay: smtp.example.com:587\n' | servagent skills add smtp
  servagent skills add webserver`,
		Args:              cobra.ExactArgs(1),
		ValidArgsFunction: completeSkillNames(dir),
		RunE: func(cmd *cobra.Command, args []string) error {
			opts.Dir, opts.Name = dir(), args[0]
			opts.StdinTTY = isTerminal(ios.In)
			return runSkillsAdd(cmd.Context(), opts)
		},
	}
	cmd.Flags().StringVarP(&opts.File, "file", "f", "", "read the skill from `FILE` (- for stdin)")
	return cmd
}

func runSkillsAdd(ctx context.Context, opts *skillsAddOptions) error {
	if err := checkName(opts.Name); err != nil {
		return err
	}
	path := filepath.Join(opts.Dir, opts.Name, skills.FileName)
	old, oldErr := os.ReadFile(path)
	exists := oldErr == nil
	if oldErr != nil && !errors.Is(oldErr, fs.ErrNotExist) {
		return failf("cannot read existing skill %q: %w", opts.Name, oldErr)
	}

	var data []byte
	var err error
	switch {
	case opts.File == "-" || (opts.File == "" && !opts.StdinTTY):
		data, err = readBounded(opts.IO.In, "stdin")
	case opts.File != "":
		var f *os.File
		if f, err = os.Open(opts.File); err == nil {
			data, err = readBounded(f, opts.File)
			f.Close()
		}
	default:
		data, err = editSkill(ctx, opts, old)
	}
	if err != nil {
		return err
	}
	if strings.TrimSpace(string(data)) == "" {
		return failf("refusing to save an empty skill %q; nothing written", opts.Name)
	}
	if exists && string(data) == string(old) {
		fmt.Fprintf(opts.IO.Out, "Skill %q unchanged (%s).\n", opts.Name, path)
		return nil
	}
	if len(data) > skills.MaxSkillBytes {
		fmt.Fprintf(opts.IO.ErrOut, "warning: the skill is %s; only the first %d KiB are sent to the AI.\n",
			humanSize(int64(len(data))), skills.MaxSkillBytes>>10)
	}
	if _, err := skills.Write(opts.Dir, opts.Name, data); err != nil {
		return failf("cannot write %s: %w", path, err)
	}
	verb := "Added"
	if exists {
		verb = "Replaced existing"
	}
	fmt.Fprintf(opts.IO.Out, "%s skill %q (%s); new MCP sessions will use it.\n", verb, opts.Name, path)
	return nil
}

// readBounded reads all of r, refusing more than maxSkillInput bytes.
func readBounded(r io.Reader, what string) ([]byte, error) {
	if r == nil {
		return nil, failf("cannot read %s: no input", what)
	}
	data, err := io.ReadAll(io.LimitReader(r, maxSkillInput+1))
	if err != nil {
		return nil, failf("cannot read %s: %w", what, err)
	}
	if len(data) > maxSkillInput {
		return nil, failf("%s is larger than %d MiB; not a plausible skill", what, maxSkillInput>>20)
	}
	return data, nil
}

// editSkill opens the editor on a temp file holding the current content and
// returns what was saved. The editor line is split with strings.Fields and run
// directly (no shell), so "code -w" works and nothing is interpreted.
func editSkill(ctx context.Context, opts *skillsAddOptions, current []byte) ([]byte, error) {
	editor := opts.Editor
	if editor == "" {
		editor = os.Getenv("EDITOR")
	}
	argv := strings.Fields(editor)
	if len(argv) == 0 {
		argv = []string{"vi"}
	}
	tmp, err := os.CreateTemp("", "servagent-skill-"+opts.Name+"-*.md")
	if err != nil {
		return nil, failf("cannot create a temp file to edit: %w", err)
	}
	defer os.Remove(tmp.Name())
	_, err = tmp.Write(current)
	if cerr := tmp.Close(); err == nil {
		err = cerr
	}
	if err != nil {
		return nil, failf("cannot write temp file %s: %w", tmp.Name(), err)
	}
	c := exec.CommandContext(ctx, argv[0], append(argv[1:], tmp.Name())...)
	c.Stdin, c.Stdout, c.Stderr = opts.IO.In, opts.IO.Out, opts.IO.ErrOut
	if err := c.Run(); err != nil {
		return nil, failf("editor %q failed: %w; nothing written", editor, err)
	}
	f, err := os.Open(tmp.Name())
	if err != nil {
		return nil, failf("cannot read back %s: %w", tmp.Name(), err)
	}
	defer f.Close()
	return readBounded(f, tmp.Name())
}
