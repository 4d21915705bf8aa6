package auth

import (
	"encoding/json"
	"errors"
	"net/http"
	"strings"

	"connectrpc.com/connect"
)

// ErrNoCredentials is the error of a request that carries no credentials
// where they are required.
var ErrNoCredentials = errors.New("authentication required: send HTTP basic auth, a bearer token or a client certificate")

// RESTUnauthorized is the Confluent error code of a 401 (Confluent Schema
// Registry's 40101).
const RESTUnauthorized = 40101

// Authenticate returns the principal of an HTTP request: from its
// Authorization header (Basic user:password, or Bearer token) when it has
// one, else from its verified client certificate. ErrNoCredentials when it
// has neither; ErrInvalidCredentials (logged and counted) when they are
// wrong.
func (a *Authenticator) Authenticate(r *http.Request) (Principal, error) {
	h := r.Header.Get("Authorization")
	if h == "" {
		if p, ok := a.Certificate(r.TLS); ok {
			return p, nil
		}
		return Principal{}, ErrNoCredentials
	}
	if user, password, ok := r.BasicAuth(); ok {
		return a.Password(r.Context(), "basic", user, password, r.RemoteAddr)
	}
	scheme, token, _ := strings.Cut(h, " ")
	if strings.EqualFold(scheme, "Bearer") {
		token = strings.TrimSpace(token)
		if token == "" {
			return Principal{}, a.failed(r.Context(), FailMalformed, "token", "", r.RemoteAddr, "empty bearer token")
		}
		return a.Token(r.Context(), token, r.RemoteAddr)
	}
	if strings.EqualFold(scheme, "Basic") {
		return Principal{}, a.failed(r.Context(), FailMalformed, "basic", "", r.RemoteAddr, "malformed basic auth header")
	}
	return Principal{}, a.failed(r.Context(), FailMalformed, "", "", r.RemoteAddr, "unsupported Authorization scheme")
}

// Require wraps next so that only authenticated requests reach it, with
// their principal in the request's context (FromContext). Others get a 401
// with WWW-Authenticate: Connect and gRPC requests as Connect's
// Unauthenticated error, REST requests with the Confluent body
// {"error_code":40101,"message":...}.
func (a *Authenticator) Require(next http.Handler) http.Handler {
	ew := connect.NewErrorWriter()
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		p, err := a.Authenticate(r)
		if err != nil {
			WriteUnauthorized(w, r, ew, err)
			return
		}
		next.ServeHTTP(w, r.WithContext(NewContext(r.Context(), p)))
	})
}

// WriteUnauthorized answers r with a 401 carrying err's message: as
// Connect's Unauthenticated for a Connect, gRPC or gRPC-Web call (a path
// /package.Service/Method that ew recognises), else as a Confluent REST
// error.
func WriteUnauthorized(w http.ResponseWriter, r *http.Request, ew *connect.ErrorWriter, err error) {
	w.Header().Add("WWW-Authenticate", `Basic realm="sluice", charset="UTF-8"`)
	w.Header().Add("WWW-Authenticate", `Bearer realm="sluice"`)
	if ew != nil && isRPCPath(r.URL.Path) && ew.IsSupported(r) {
		ew.Write(w, r, connect.NewError(connect.CodeUnauthenticated, err))
		return
	}
	w.Header().Set("Content-Type", "application/vnd.schemaregistry.v1+json")
	w.WriteHeader(http.StatusUnauthorized)
	json.NewEncoder(w).Encode(struct {
		Code    int    `json:"error_code"`
		Message string `json:"message"`
	}{RESTUnauthorized, err.Error()})
}

// isRPCPath reports whether path looks like /package.Service/Method: REST
// paths (/subjects/..., /schemas/..., /contexts/...) have no dot in their
// first segment, RPC paths always do.
func isRPCPath(path string) bool {
	first, _, _ := strings.Cut(strings.TrimPrefix(path, "/"), "/")
	return strings.Contains(first, ".")
}
