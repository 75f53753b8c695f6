package cli

import (
	"os"
	"path/filepath"

	"github.com/spf13/cobra"

	"github.com/servagent/servagent/pkg/config"
	"github.com/servagent/servagent/pkg/skills"
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

func isDir(p string) bool {
	fi, err := os.Stat(p)
	return err == nil && fi.IsDir()
}

func newSkillsCmd(ios IO) *cobra.Command {
	var dirFlag string
	cmd := &cobra.Command{
		Use:   "skills",
		Short: "Manage the skills added to the MCP instructions",
		Long: `Skills are notes about this server (hosted domains, SMTP relay, where things
live) that servagent adds to the instructions of every new MCP session. Each
skill is <dir>/<name>/SKILL.md; if its first line is not a markdown heading,
"### <name>" is added. Edits apply to the next MCP session, without a restart.`,
		Args: cobra.NoArgs,
	}
	cmd.PersistentFlags().StringVar(&dirFlag, "dir", "",
		"skills directory (default: $SERVAGENT_SKILLS_DIR, else "+installedSkillsDir+" if it exists, else ./skills)")
	// Resolved at run time, so --dir and the environment are read after parsing.
	dir := func() string {
		if dirFlag != "" {
			return absPath(dirFlag)
		}
		return defaultSkillsDir(settingFromEnvOrFile, isDir)
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
