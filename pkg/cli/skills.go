package cli

import (
	"bufio"
	"context"
	"errors"
	"fmt"
	"io"
	"io/fs"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"text/tabwriter"

	"github.com/spf13/cobra"

	"github.com/servagent/servagent/pkg/config"
	"github.com/servagent/servagent/pkg/fsutil"
	"github.com/servagent/servagent/pkg/skills"
	"github.com/servagent/servagent/pkg/textutil"
)

// installedSkillsDir is the skills directory of the installed layout.
const installedSkillsDir = "/opt/servagent/skills"

// maxSkillInput bounds what `skills add` reads, so a runaway pipe cannot fill
// memory; only skills.MaxSkillBytes of it reaches the AI anyway.
const maxSkillInput = 8 << 20

// defaultSkillsDir resolves the skills directory without loading the whole
// config: $SERVAGENT_SKILLS_DIR, else the installed layout's directory if it
// exists, else ./skills. Relative paths are made absolute, as pkg/config does.
func defaultSkillsDir(getenv func(string) string, isDir func(string) bool) string {
	if v := getenv(config.VarSkillsDir); v != "" {
		return absPath(v)
	}
	if isDir(installedSkillsDir) {
		return installedSkillsDir
	}
	return absPath("skills")
}

// settingFromEnvOrFile reads a setting the way serve does, without the rest
// of the configuration: the environment first, then the .env file serve
// would read by default (./.env, else /opt/servagent/.env).
func settingFromEnvOrFile(name string) string {
	if v, ok := os.LookupEnv(name); ok {
		return v
	}
	for _, f := range config.DefaultEnvFiles {
		if m, err := config.ReadEnvFile(f); err == nil && m != nil {
			return m[name]
		}
	}
	return ""
}

func absPath(p string) string {
	if abs, err := filepath.Abs(p); err == nil {
		return abs
	}
	return p
}

func newSkillsCmd(f *Factory) *cobra.Command {
	ios := f.IO
	var dirFlag string
	cmd := &cobra.Command{
		Use:   "skills",
		Short: "Manage the skills added to the MCP instructions",
		Long: `Skills are notes about this server (hosted domains, SMTP relay, where things
live) that servagent adds to the instructions of every new MCP session. Each
skill is <dir>/<name>/SKILL.md; if its first line is not a markdown heading,
"### <name>" is added. Edits apply to the next MCP session, without a restart.`,
		Args: cobra.NoArgs,
		RunE: func(cmd *cobra.Command, args []string) error { return cmd.Help() },
	}
	cmd.PersistentFlags().StringVar(&dirFlag, "dir", "",
		"skills directory (default: $SERVAGENT_SKILLS_DIR, else "+installedSkillsDir+" if it exists, else ./skills)")
	// Resolved at run time, so --dir and the environment are read after parsing.
	dir := func() string {
		if dirFlag != "" {
			return absPath(dirFlag)
		}
		return defaultSkillsDir(settingFromEnvOrFile, fsutil.IsDir)
	}
	cmd.AddCommand(
		newSkillsListCmd(ios, dir),
		newSkillsShowCmd(ios, dir),
		newSkillsAddCmd(ios, dir),
		newSkillsRemoveCmd(ios, dir),
		newSkillsPathCmd(ios, dir),
	)
	return cmd
}

// completeSkillNames offers existing skill names for the first argument.
func completeSkillNames(dir func() string) cobra.CompletionFunc {
	return func(cmd *cobra.Command, args []string, toComplete string) ([]cobra.Completion, cobra.ShellCompDirective) {
		if len(args) > 0 {
			return nil, cobra.ShellCompDirectiveNoFileComp
		}
		names, _ := skills.Names(dir())
		return names, cobra.ShellCompDirectiveNoFileComp
	}
}

// checkName turns an invalid name into a usage error (exit 2).
func checkName(name string) error {
	if err := skills.ValidName(name); err != nil {
		return usagef("%w", err)
	}
	return nil
}

// skillsOptions are the inputs of list, show, remove and path: the resolved
// skills directory and, for show and remove, the skill's NAME.
type skillsOptions struct {
	IO   IO
	Dir  string
	Name string
}

// skillsSubcmd sets cmd's RunE: resolve the directory, and NAME when cmd
// takes an argument, then call run.
func skillsSubcmd(ios IO, dir func() string, cmd *cobra.Command, run func(context.Context, *skillsOptions) error) *cobra.Command {
	cmd.RunE = func(cmd *cobra.Command, args []string) error {
		opts := &skillsOptions{IO: ios, Dir: dir()}
		if len(args) > 0 {
			opts.Name = args[0]
		}
		return run(cmd.Context(), opts)
	}
	return cmd
}

func newSkillsListCmd(ios IO, dir func() string) *cobra.Command {
	return skillsSubcmd(ios, dir, &cobra.Command{
		Use:     "list",
		Aliases: []string{"ls"},
		Short:   "List skills with their title and size",
		Args:    cobra.NoArgs,
	}, runSkillsList)
}

func runSkillsList(_ context.Context, opts *skillsOptions) error {
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

func newSkillsShowCmd(ios IO, dir func() string) *cobra.Command {
	return skillsSubcmd(ios, dir, &cobra.Command{
		Use:               "show NAME",
		Short:             "Print a skill's SKILL.md as stored",
		Args:              cobra.ExactArgs(1),
		ValidArgsFunction: completeSkillNames(dir),
	}, runSkillsShow)
}

func runSkillsShow(_ context.Context, opts *skillsOptions) error {
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

func newSkillsPathCmd(ios IO, dir func() string) *cobra.Command {
	return skillsSubcmd(ios, dir, &cobra.Command{
		Use:   "path",
		Short: "Print the skills directory in use",
		Args:  cobra.NoArgs,
	}, runSkillsPath)
}

func runSkillsPath(_ context.Context, opts *skillsOptions) error {
	_, err := fmt.Fprintln(opts.IO.Out, opts.Dir)
	return err
}

func newSkillsRemoveCmd(ios IO, dir func() string) *cobra.Command {
	return skillsSubcmd(ios, dir, &cobra.Command{
		Use:               "remove NAME",
		Aliases:           []string{"rm"},
		Short:             "Delete a skill's directory",
		Args:              cobra.ExactArgs(1),
		ValidArgsFunction: completeSkillNames(dir),
	}, runSkillsRemove)
}

func runSkillsRemove(_ context.Context, opts *skillsOptions) error {
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
