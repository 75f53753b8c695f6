package cli

import (
	"errors"
	"testing"
)

// TestUpdateFindsTheBinaryThroughTheFactory: with no installed copy, update
// replaces the running binary as the Factory's Executable names it, and
// stops on its error before anything is fetched.
func TestUpdateFindsTheBinaryThroughTheFactory(t *testing.T) {
	ios, out, _ := lcIO()
	d, h := lcDeps(t, 0)
	noBinary := errors.New("no running binary")
	f := &Factory{IO: ios, Lifecycle: d, Executable: func() (string, error) { return "", noBinary }}
	var opts *UpdateOptions
	cmd := newUpdateCmd(f, func(o *UpdateOptions) error { opts = o; return nil })
	cmd.SetArgs([]string{})
	if err := cmd.Execute(); err != nil {
		t.Fatal(err)
	}
	opts.BaseURL = "http://127.0.0.1:1" // never reached
	if err := runUpdate(t.Context(), opts); !errors.Is(err, noBinary) {
		t.Errorf("update with no installed copy and no running binary: %v, want %v", err, noBinary)
	}
	if len(h.cmds) != 0 || out.Len() != 0 {
		t.Errorf("update did something: %v %q", h.cmds, out.String())
	}
}
