package server

import (
	"net/http"

	"github.com/sluicehq/sluice/console"
)

// newConsole builds the web console (package console) served at
// console.Prefix. It reaches the node's Connect and REST APIs in process
// through api, the mux they are mounted on, inside the authentication
// middleware: a console request carries its principal in its context to
// the API handlers, which check it as for any client.
func (s *Server) newConsole(api http.Handler) http.Handler {
	c, err := console.New(console.Config{API: api, Logger: s.cfg.Logger.With("component", "console")})
	if err != nil {
		// The templates are embedded and tested; this is a build defect.
		s.cfg.Logger.Error("console disabled", "err", err)
		return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
			http.Error(w, "console unavailable: "+err.Error(), http.StatusInternalServerError)
		})
	}
	return c
}

// consolePath is where routes mounts the console.
const consolePath = console.Prefix
