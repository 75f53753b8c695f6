package system

import (
	"errors"
	"fmt"
	"io/fs"
	"os"

	"github.com/servagent/servagent/pkg/config"
	"github.com/servagent/servagent/pkg/fsutil"
)

// envHeader starts a .env that install creates.
const envHeader = "# servagent configuration (" + Marker + ").\n" +
	"# Every SERVAGENT_* variable: servagent serve --help. Apply changes: systemctl restart servagent\n"

// installEnv is the installation's .env while a lifecycle command changes
// it: what the file sets now, its typed view through config.Vars, and the
// assignments to write, keyed by config's setting names.
type installEnv struct {
	path string
	raw  map[string]string // the file's assignments (nil: no file yet)
	cur  *config.Config    // raw over the defaults
	set  map[string]string
}

// readInstallEnv reads the .env of layout l; a missing file is an empty one.
// A value the service would refuse is an error now, before anything changes.
func readInstallEnv(l Layout) (*installEnv, error) {
	e := &installEnv{path: l.Path(EnvFile), set: map[string]string{}}
	raw, err := config.ReadEnvFile(e.path)
	if err != nil {
		return nil, err
	}
	if e.cur, err = config.Settings(raw); err != nil {
		return nil, fmt.Errorf("%s: %w", EnvFile, err)
	}
	e.raw = raw
	return e, nil
}

// ReadSettings returns the typed settings of the installed .env.
func ReadSettings(l Layout) (*config.Config, error) {
	e, err := readInstallEnv(l)
	if err != nil {
		return nil, err
	}
	return e.cur, nil
}

// isSet reports whether the file gives name a non-empty value.
func (e *installEnv) isSet(name string) bool { return e.raw[name] != "" }

// setDefault assigns v to name unless the file already sets it.
func (e *installEnv) setDefault(name, v string) {
	if !e.isSet(name) {
		e.set[name] = v
	}
}

// merge adds assignments, later ones winning.
func (e *installEnv) merge(set map[string]string) {
	for k, v := range set {
		e.set[k] = v
	}
}

// write checks the file with the assignments applied, writes it (created
// with a header if missing; every other line kept), makes it 0600 and owned
// by uid:gid, and returns the settings the service will run with.
func (e *installEnv) write(h Host, uid, gid int) (*config.Config, error) {
	merged := map[string]string{}
	for k, v := range e.raw {
		merged[k] = v
	}
	for k, v := range e.set {
		merged[k] = v
	}
	next, err := config.Settings(merged)
	if err != nil {
		return nil, err
	}
	if _, err := os.Stat(e.path); errors.Is(err, fs.ErrNotExist) {
		if err := fsutil.WriteFile(e.path, []byte(envHeader), 0o600); err != nil {
			return nil, err
		}
	}
	if err := config.UpdateEnvFile(e.path, e.set); err != nil {
		return nil, err
	}
	if err := os.Chmod(e.path, 0o600); err != nil {
		return nil, err
	}
	if err := h.Chown(e.path, uid, gid); err != nil {
		return nil, err
	}
	e.raw, e.cur, e.set = merged, next, map[string]string{}
	return next, nil
}
