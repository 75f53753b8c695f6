package systemd

import (
	"errors"
	"fmt"
	"regexp"
	"strings"
)

// unitNameRE is the systemd unit-name charset (see systemd.unit(5)).
var unitNameRE = regexp.MustCompile(`^[A-Za-z0-9:_.\\@-]+$`)

// ErrUnitCharset is wrapped by ValidateUnit's error for a name with a
// character systemd does not allow, so callers can add where to find the
// right name.
var ErrUnitCharset = errors.New("only letters, digits and : _ . \\ @ - are allowed (no spaces, slashes, quotes or shell syntax)")

// ValidateUnit checks a unit name before it goes anywhere near an argv;
// field names the argument in the error. The Python version pasted the name
// into a shell string.
func ValidateUnit(field, name string) error {
	switch {
	case name == "":
		return fmt.Errorf("%s is empty: pass a systemd unit name such as nginx or nginx.service", field)
	case len(name) > 256:
		return fmt.Errorf("%s is %d characters long; systemd unit names are at most 256", field, len(name))
	case strings.HasPrefix(name, "-"):
		return fmt.Errorf("%s %q starts with '-', which would be read as an option: pass the bare unit name such as nginx", field, name)
	case strings.HasPrefix(name, "."):
		return fmt.Errorf("%s %q starts with '.': pass a unit name such as nginx or nginx.service", field, name)
	case !unitNameRE.MatchString(name):
		return fmt.Errorf("%s %q is not a valid systemd unit name: %w", field, name, ErrUnitCharset)
	}
	return nil
}
