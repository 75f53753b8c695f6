package system

import (
	"context"
	"fmt"
	"os"
	"path/filepath"
	"strings"

	"github.com/servagent/servagent/pkg/fsutil"
)

// SudoersContent is the rule --full-access grants.
func SudoersContent() string {
	return "# " + Marker + " (--full-access). Removed by `servagent uninstall`.\n" +
		ServiceUser + " ALL=(ALL) NOPASSWD: ALL\n"
}

// writeSudoers validates the rule with `visudo -cf` on a temp file in
// /etc/sudoers.d before renaming it into place: a broken file there breaks
// sudo for everyone on the machine. sudo ignores files whose name contains a
// dot, so the temp file is never live.
func writeSudoers(ctx context.Context, l Layout, h Host) error {
	path := l.Path(SudoersPath)
	if err := os.MkdirAll(filepath.Dir(path), 0o750); err != nil {
		return err
	}
	a, err := fsutil.CreateAtomic(path, 0o440)
	if err != nil {
		return fmt.Errorf("writing %s: %w", SudoersPath, err)
	}
	if _, err := a.WriteString(SudoersContent()); err != nil {
		a.Abort()
		return err
	}
	if err := a.Chmod(0o440); err != nil {
		a.Abort()
		return err
	}
	if out, err := h.Run(ctx, "visudo", "-cf", a.Name()); err != nil {
		a.Abort()
		return fmt.Errorf("visudo rejected the sudoers rule (%s): %w", strings.TrimSpace(out), err)
	}
	if err := a.Commit(); err != nil {
		return err
	}
	return os.Chmod(path, 0o440)
}

// ownedFile reports whether path exists and carries Marker, i.e. install wrote it.
func ownedFile(path string) (exists, owned bool) {
	data, err := os.ReadFile(path)
	if err != nil {
		_, serr := os.Lstat(path)
		return serr == nil, false
	}
	return true, strings.Contains(string(data), Marker)
}
