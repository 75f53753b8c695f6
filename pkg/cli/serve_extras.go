package cli

import (
	"context"
	"log/slog"

	"github.com/servagent/servagent/pkg/config"
	"github.com/servagent/servagent/pkg/server"
)

// startExtras starts OAuth and ACME renewal when configured.
func startExtras(ctx context.Context, cfg *config.Config, logger *slog.Logger, sopts *server.Options) (*extras, error) {
	return &extras{}, nil
}
