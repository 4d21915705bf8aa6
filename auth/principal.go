// Package auth authenticates clients: it reads the auth file (users with password hashes, API tokens,
// superusers), checks credentials in constant time, and carries the authenticated Principal through a
// request's context so that authorization (package acl) and logs see who is asking, whatever the transport
// (REST, Connect or the Kafka listener).
package auth

import "context"

// Principal is an authenticated identity: a user from the auth file (password or API token), or the subject
// CN of a client certificate under mutual TLS.
type Principal struct {
	// Name is the user name, without a "User:" prefix (the Kafka ACL APIs add and strip that prefix).
	Name string
	// Superuser is true for principals listed under superusers in the auth file: they pass every ACL check.
	Superuser bool
	// Method says how the principal proved itself: "basic", "token", "mtls", "sasl-plain",
	// "sasl-scram-sha-256" or "sasl-scram-sha-512".
	Method string
}

type principalKey struct{}

// NewContext returns ctx carrying p.
func NewContext(ctx context.Context, p Principal) context.Context {
	return context.WithValue(ctx, principalKey{}, p)
}

// FromContext returns the principal carried by ctx, and false when the request is anonymous (authentication
// off, or an open endpoint such as /healthz).
func FromContext(ctx context.Context) (Principal, bool) {
	p, ok := ctx.Value(principalKey{}).(Principal)
	return p, ok
}
