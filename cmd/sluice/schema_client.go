package main

import (
	"context"
	"net/url"

	"github.com/sluicehq/sluice/serde"
	"github.com/sluicehq/sluice/srclient"
)

// The schema commands, topic, produce and consume reach the registry
// through package srclient. The names below are the CLI's handles on it:
// srClient is a srclient.Client (clientFlags.registry builds one for the
// server a command talks to), srSchema adds the CLI's typeName, and
// srReader caches what one command fetched.

// srClient is the CLI's handle on a registry: a srclient.Client (address,
// HTTP client, optional basic auth or token) under the name the commands
// use.
type srClient struct{ *srclient.Client }

// registryAt is a client of the registry at base (no trailing slash, no
// credentials) over an HTTP client without TLS settings or credentials
// (tests). Commands build theirs with clientFlags.registry and
// clientFlags.registryClient (client_auth.go), which carry --tls-* and the
// credentials.
func registryAt(base string) *srClient {
	return &srClient{&srclient.Client{Base: base, HTTP: httpClient()}}
}

// rest is c's srclient.Client.
func (c *srClient) rest() *srclient.Client { return c.Client }

// do is srclient.Client.Do.
func (c *srClient) do(ctx context.Context, method, path string, query url.Values, body, out any) error {
	return c.rest().Do(ctx, method, path, query, body, out)
}

// srError is an error answer of the registry.
type srError = srclient.Error

// srReference is a schema reference, as the REST API spells it.
type srReference = srclient.Reference

// srSchema is a subject version or a schema by id as the REST API returns it.
type srSchema srclient.Schema

// typeName is the schema type with the REST API's default filled in.
func (s *srSchema) typeName() string { return (*srclient.Schema)(s).TypeName() }

// srCode returns the registry error code of err, or 0.
func srCode(err error) int { return srclient.Code(err) }

// subjectPath escapes a subject as one path segment ("/" becomes %2F).
func subjectPath(subject string) string { return srclient.SubjectPath(subject) }

// srReader reads subjects from a registry and remembers what it fetched.
type srReader struct {
	c *srClient
	r *srclient.Reader
}

func newSRReader(c *srClient) *srReader {
	return &srReader{c: c, r: srclient.NewReader(c.rest())}
}

// config returns the subject's effective level and policy.
func (r *srReader) config(ctx context.Context, subject string) (srclient.SubjectConfig, error) {
	return r.r.Config(ctx, subject)
}

// versions lists the subject's live versions, oldest first; nil when the
// registry does not know the subject.
func (r *srReader) versions(ctx context.Context, subject string) ([]int, error) {
	return r.r.Versions(ctx, subject)
}

// version fetches one version ("latest" or a number) of subject.
func (r *srReader) version(ctx context.Context, subject, version string) (*srSchema, error) {
	s, err := r.r.Version(ctx, subject, version)
	return (*srSchema)(s), err
}

// references returns the transitive references of s, dependencies first.
func (r *srReader) references(ctx context.Context, s *srSchema) ([]serde.Referenced, error) {
	return r.r.References(ctx, (*srclient.Schema)(s))
}

// parseSchemaText parses text of a REST schema type (AVRO, PROTOBUF, JSON).
func parseSchemaText(typ, text string, refs []serde.Referenced) (serde.Schema, error) {
	return srclient.ParseSchema(typ, text, refs)
}

// restType is the REST API's name of a format.
func restType(f serde.Format) string { return srclient.TypeOf(f) }
