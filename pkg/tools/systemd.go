package tools

import (
	"errors"
	"fmt"
	"time"

	"github.com/servagent/servagent/pkg/systemd"
)

// booted is systemd.Booted with what the model can do instead.
func booted(s systemd.Systemd) error {
	if err := s.Booted(); err != nil {
		return fmt.Errorf("%w: manage services with execute_command and the host's own tool (service, rc-service, supervisorctl, or the process directly via list_processes/kill_process)", err)
	}
	return nil
}

// validateUnit is systemd.ValidateUnit with where to find the right name.
func validateUnit(field, name string) error {
	err := systemd.ValidateUnit(field, name)
	if errors.Is(err, systemd.ErrUnitCharset) {
		return fmt.Errorf("%w; find the exact name with list_processes or `systemctl list-units` via execute_command", err)
	}
	return err
}

// settleDelay is Env.SettleDelay with its default.
func (e *Env) settleDelay() time.Duration {
	if e.SettleDelay <= 0 {
		return time.Second
	}
	return e.SettleDelay
}
