package cli

import (
	"io"
	"os"
	"path/filepath"

	"github.com/charmbracelet/huh"

	"github.com/servagent/servagent/pkg/buildinfo"
	"github.com/servagent/servagent/pkg/system"
	"github.com/servagent/servagent/pkg/systemd"
)

// Factory builds, once, every dependency the commands share: the streams,
// the machine the lifecycle commands act on, the running binary and its
// version, the certificate obtainer. NewFactory gives the real ones; tests
// build a Factory (or a command's Options) with their own.
type Factory struct {
	IO        IO
	Version   string
	Lifecycle lifecycleDeps
	Obtainer  system.CertObtainer
	// Executable returns the running binary's path, symlinks resolved.
	Executable func() (string, error)
}

// NewFactory returns the dependencies of a real run on ios.
func NewFactory(ios IO) *Factory {
	return &Factory{
		IO:        ios,
		Version:   buildinfo.Version,
		Lifecycle: defaultLifecycleDeps(ios),
		Obtainer:  system.ACMEObtainer{Logger: newLogger(ios, "WARNING").With("component", "acme")},
		Executable: func() (string, error) {
			exe, err := os.Executable()
			if err != nil {
				return "", err
			}
			return filepath.EvalSymlinks(exe)
		},
	}
}

// lifecycleDeps are what install, uninstall, update and tls setup need from
// the machine, so tests can run them without root.
type lifecycleDeps struct {
	Geteuid  func() int
	IsTTY    func() bool // stdin and stdout are a terminal: prompts allowed
	Confirm  func(title, description string, def bool) (bool, error)
	Layout   system.Layout
	Host     system.Host
	Systemd  systemd.Systemd
	Progress io.Writer // update's progress bar: set only on a terminal
}

func defaultLifecycleDeps(ios IO) lifecycleDeps {
	tty := func() bool { return isTerminal(ios.In) && isTerminal(ios.Out) }
	d := lifecycleDeps{
		Geteuid: os.Geteuid,
		IsTTY:   tty,
		Host:    system.RealHost{},
		Systemd: systemd.Host(),
		Confirm: func(title, desc string, def bool) (bool, error) {
			v := def
			f := huh.NewForm(huh.NewGroup(huh.NewConfirm().Title(title).Description(desc).
				Affirmative("Yes").Negative("No").Value(&v))).WithInput(ios.In).WithOutput(ios.ErrOut)
			return v, f.Run()
		},
	}
	if isTerminal(ios.ErrOut) {
		d.Progress = ios.ErrOut
	}
	return d
}

// requireRoot is the one-line refusal every lifecycle command gives.
func requireRoot(d lifecycleDeps, what string) error {
	if d.Geteuid() != 0 {
		return failf("%s needs root: run it with sudo", what)
	}
	return nil
}

// isTerminal reports whether s is a terminal: a character device other than
// /dev/null, which is enough to tell an interactive stream from a pipe, a
// file or a service's /dev/null.
func isTerminal(s any) bool {
	f, ok := s.(*os.File)
	if !ok {
		return false
	}
	fi, err := f.Stat()
	if err != nil || fi.Mode()&os.ModeCharDevice == 0 {
		return false
	}
	if null, err := os.Stat(os.DevNull); err == nil && os.SameFile(fi, null) {
		return false
	}
	return true
}
