// Command servagent turns a Linux server into an MCP server.
package main

import (
	"os"

	"github.com/servagent/servagent/pkg/cli"
)

func main() {
	os.Exit(cli.Main(os.Args[1:]))
}
