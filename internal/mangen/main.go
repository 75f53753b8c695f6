// Command mangen writes servagent's man pages (make man). It lives outside
// the servagent binary so the markdown renderer behind cobra/doc is not
// linked into (and initialised by) every servagent process.
package main

import (
	"fmt"
	"os"

	"github.com/spf13/cobra/doc"

	"github.com/servagent/servagent/pkg/cli"
)

func main() {
	if len(os.Args) != 2 {
		fmt.Fprintln(os.Stderr, "usage: mangen DIR")
		os.Exit(2)
	}
	dir := os.Args[1]
	if err := os.MkdirAll(dir, 0o755); err != nil {
		fmt.Fprintln(os.Stderr, err)
		os.Exit(1)
	}
	root := cli.NewRootCmd(cli.NewFactory(cli.StdIO()))
	root.DisableAutoGenTag = true
	if err := doc.GenManTree(root, &doc.GenManHeader{Title: "SERVAGENT", Section: "1", Source: "servagent"}, dir); err != nil {
		fmt.Fprintln(os.Stderr, err)
		os.Exit(1)
	}
}
