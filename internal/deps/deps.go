// Package deps pins the project's chosen dependencies in go.mod while the
// packages that use them are being written, so `go mod tidy` keeps them.
// Nothing imports it.
package deps

import (
	_ "github.com/charmbracelet/huh"
	_ "github.com/glebarez/sqlite"
	_ "github.com/go-acme/lego/v5/lego"
	_ "github.com/modelcontextprotocol/go-sdk/auth"
	_ "github.com/modelcontextprotocol/go-sdk/mcp"
	_ "github.com/modelcontextprotocol/go-sdk/oauthex"
	_ "github.com/shirou/gopsutil/v4/process"
	_ "github.com/spf13/cobra"
	_ "github.com/spf13/cobra/doc"
	_ "golang.org/x/oauth2"
	_ "gorm.io/gorm"
)
