// Package rpc serves the registry as sluice.registry.v1.RegistryService over
// Connect, gRPC and gRPC-Web.
package rpc

import (
	"net/http"

	"connectrpc.com/connect"

	"github.com/sluicehq/sluice/registry"
)

// Mount registers the RegistryService handler on mux.
func Mount(mux *http.ServeMux, reg *registry.Registry, opts ...connect.HandlerOption) {
	// TODO(rest helper)
}
