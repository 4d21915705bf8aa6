// Package rest serves the registry over the Confluent Schema Registry REST API
// (shared/spec/registry-api.md), so that existing Confluent clients work
// unchanged.
package rest

import (
	"log/slog"
	"net/http"

	"github.com/sluicehq/sluice/registry"
)

// Config configures the REST handler.
type Config struct {
	// Logger receives one Error line per request that failed inside the
	// server; nil discards.
	Logger *slog.Logger
	// MaxBodyBytes limits request bodies; 0 means 2 MiB.
	MaxBodyBytes int64
}

// NewHandler returns the REST API as an http.Handler, meant to be mounted at "/".
func NewHandler(reg *registry.Registry, cfg Config) http.Handler {
	return http.NotFoundHandler() // TODO(rest helper)
}
