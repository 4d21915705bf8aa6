package main

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"net/http"
	"net/url"
	"strings"
)

// srClient talks to a Confluent-compatible schema registry over REST, so the
// schema commands work against Sluice and any other such registry alike.
type srClient struct {
	base string // no trailing slash
	hc   *http.Client
	// user and password, when user is set, are sent as HTTP basic auth
	// (Confluent Cloud API keys, registries behind a proxy).
	user, password string
}

// newRegistryClient builds a client for the registry at rawURL. Basic auth
// comes from the URL's userinfo (https://key:secret@host), else from user
// and password, else from $SLUICE_REGISTRY_USER and
// $SLUICE_REGISTRY_PASSWORD. The credentials are taken out of the base URL
// so that error messages never print them.
func newRegistryClient(e *env, rawURL, user, password string) (*srClient, error) {
	a := strings.TrimRight(rawURL, "/")
	if !strings.Contains(a, "://") {
		a = "http://" + a
	}
	u, err := url.Parse(a)
	if err != nil {
		return nil, fmt.Errorf("registry address %q: %v", rawURL, err)
	}
	if u.Host == "" {
		return nil, fmt.Errorf("registry address %q has no host", rawURL)
	}
	c := &srClient{hc: httpClient(), user: user, password: password}
	if u.User != nil {
		c.user = u.User.Username()
		c.password, _ = u.User.Password()
		u.User = nil
	}
	if c.user == "" && e.getenv != nil {
		c.user, c.password = e.getenv("SLUICE_REGISTRY_USER"), e.getenv("SLUICE_REGISTRY_PASSWORD")
	}
	c.base = strings.TrimRight(u.String(), "/")
	return c, nil
}

// srError is an error answer of the registry: the envelope
// {"error_code", "message"} with the HTTP status it came with.
type srError struct {
	Status  int    `json:"-"`
	Code    int    `json:"error_code"`
	Message string `json:"message"`
}

func (e *srError) Error() string {
	return fmt.Sprintf("%s (error code %d)", e.Message, e.Code)
}

// srCode returns the registry error code of err, or 0.
func srCode(err error) int {
	var se *srError
	if errors.As(err, &se) {
		return se.Code
	}
	return 0
}

// subjectPath escapes a subject as one path segment ("/" becomes %2F).
func subjectPath(subject string) string { return url.PathEscape(subject) }

// do sends one request with body encoded as JSON (when not nil) and decodes a
// 2xx answer into out (when not nil); raw answers (the /schema endpoints) go
// into a *[]byte.
func (c *srClient) do(ctx context.Context, method, path string, query url.Values, body, out any) error {
	u := c.base + path
	if len(query) > 0 {
		u += "?" + query.Encode()
	}
	var rd io.Reader
	if body != nil {
		b, err := json.Marshal(body)
		if err != nil {
			return err
		}
		rd = bytes.NewReader(b)
	}
	req, err := http.NewRequestWithContext(ctx, method, u, rd)
	if err != nil {
		return fmt.Errorf("registry address %q: %w", c.base, err)
	}
	req.Header.Set("Accept", "application/vnd.schemaregistry.v1+json")
	if c.user != "" {
		req.SetBasicAuth(c.user, c.password)
	}
	if body != nil {
		req.Header.Set("Content-Type", "application/vnd.schemaregistry.v1+json")
	}
	resp, err := c.hc.Do(req)
	if err != nil {
		var ue *url.Error
		if errors.As(err, &ue) {
			err = ue.Err // the method and URL are said here already
		}
		return fmt.Errorf("cannot reach the registry at %s: %w", c.base, err)
	}
	defer resp.Body.Close()
	data, err := io.ReadAll(resp.Body)
	if err != nil {
		return fmt.Errorf("reading the answer of %s %s: %w", method, path, err)
	}
	if resp.StatusCode/100 != 2 {
		se := &srError{Status: resp.StatusCode}
		if json.Unmarshal(data, se) != nil || se.Message == "" {
			se.Code = resp.StatusCode
			se.Message = fmt.Sprintf("%s %s: HTTP %s: %s", method, path, resp.Status, strings.TrimSpace(string(data)))
		}
		return se
	}
	switch out := out.(type) {
	case nil:
		return nil
	case *[]byte:
		*out = data
		return nil
	default:
		if err := json.Unmarshal(data, out); err != nil {
			return fmt.Errorf("%s %s: unexpected answer from the registry: %w", method, path, err)
		}
		return nil
	}
}

// srReference is a schema reference, as the REST API spells it.
type srReference struct {
	Name    string `json:"name"`
	Subject string `json:"subject"`
	Version int    `json:"version"`
}

// srSchema is a subject version or a schema by id as the REST API returns it.
type srSchema struct {
	Subject    string          `json:"subject,omitempty"`
	Version    int             `json:"version,omitempty"`
	ID         int             `json:"id,omitempty"`
	SchemaType string          `json:"schemaType,omitempty"`
	References []srReference   `json:"references,omitempty"`
	Metadata   json.RawMessage `json:"metadata,omitempty"`
	RuleSet    json.RawMessage `json:"ruleSet,omitempty"`
	Schema     string          `json:"schema"`
}

// typeName is the schema type with the REST API's default filled in.
func (s *srSchema) typeName() string {
	if s.SchemaType == "" {
		return "AVRO"
	}
	return s.SchemaType
}
