// Package srclient is a client of the Confluent Schema Registry REST API:
// requests with the registry's media type and basic auth, its error
// envelope as a typed error, and a Reader that fetches what compatibility
// checks need (a subject's versions, its effective level and policy, stored
// schemas parsed with their references). It works against Sluice and any
// other Confluent-compatible registry alike, so the CLI, the schema
// evolution engine (package evolution) and the load generator (package
// loadgen) share it.
//
// A registry that wants credentials gets them from User and Password (HTTP
// basic auth, Confluent's basic.auth.user.info) or Token (a bearer token);
// TLS settings go in the HTTP client (credentials.HTTPClient). A 401 or
// 403 answer is a *credentials.AuthError wrapping the registry's *Error, so
// errors.Is(err, credentials.ErrUnauthenticated) works as for the typed
// client.
//
// It talks HTTP only: it imports neither the registry nor the broker.
package srclient

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

	"github.com/sluicehq/sluice/client/credentials"
)

// Client sends requests to one registry. The zero value is not usable: set
// Base, or build it with New. A Client is safe for concurrent use.
type Client struct {
	// Base is the registry's URL, without a trailing slash and without
	// credentials (so that error messages never print them).
	Base string
	// HTTP sends the requests; nil uses DefaultHTTPClient.
	HTTP *http.Client
	// User and Password, when User is set, are sent as HTTP basic auth
	// (Confluent Cloud API keys, registries behind a proxy, a Sluice node's
	// --auth-file users).
	User, Password string
	// Token, when set, is sent as "Authorization: Bearer Token" instead.
	Token string
}

// credentials are what c sends.
func (c *Client) credentials() credentials.Credentials {
	return credentials.Credentials{User: c.User, Password: c.Password, Token: c.Token}
}

// New builds a client for the registry at rawURL (a bare host:port gets
// http://). Basic auth comes from the URL's userinfo
// (https://key:secret@host), else from user and password; the credentials
// are taken out of Base.
func New(rawURL, user, password string) (*Client, error) {
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
	c := &Client{User: user, Password: password}
	if u.User != nil {
		c.User = u.User.Username()
		c.Password, _ = u.User.Password()
		u.User = nil
	}
	c.Base = strings.TrimRight(u.String(), "/")
	return c, nil
}

// DefaultHTTPClient returns the HTTP client that a Client with no HTTP
// uses: HTTP/1.1, HTTP/2 over TLS and h2c, the system's CA roots, no
// overall timeout (a caller's ctx bounds a request), a dial timeout so that
// a missing registry is reported quickly. credentials.HTTPClient builds one
// with other TLS settings (a private CA, a client certificate).
func DefaultHTTPClient() *http.Client { return credentials.HTTPClient(nil) }

var defaultHTTP = DefaultHTTPClient()

// Error is an error answer of the registry: the envelope
// {"error_code", "message"} with the HTTP status it came with. An answer
// without the envelope gets the HTTP status as its Code.
type Error struct {
	Status  int    `json:"-"`
	Code    int    `json:"error_code"`
	Message string `json:"message"`
}

// Error is the registry's message and code.
func (e *Error) Error() string {
	return fmt.Sprintf("%s (error code %d)", e.Message, e.Code)
}

// Code returns the registry error code of err (an *Error it wraps), or 0.
func Code(err error) int {
	var se *Error
	if errors.As(err, &se) {
		return se.Code
	}
	return 0
}

// SubjectPath escapes a subject as one path segment ("/" becomes %2F).
func SubjectPath(subject string) string { return url.PathEscape(subject) }

// Do sends one request to path (below Base) with query, and body encoded as
// JSON when not nil, and decodes a 2xx answer into out when not nil; raw
// answers (the /schema endpoints) go into a *[]byte. A non-2xx answer is an
// *Error; a registry that cannot be reached is an error naming Base.
func (c *Client) Do(ctx context.Context, method, path string, query url.Values, body, out any) error {
	u := c.Base + path
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
		return fmt.Errorf("registry address %q: %w", c.Base, err)
	}
	req.Header.Set("Accept", "application/vnd.schemaregistry.v1+json")
	c.credentials().Set(req.Header)
	if body != nil {
		req.Header.Set("Content-Type", "application/vnd.schemaregistry.v1+json")
	}
	hc := c.HTTP
	if hc == nil {
		hc = defaultHTTP
	}
	resp, err := hc.Do(req)
	if err != nil {
		var ue *url.Error
		if errors.As(err, &ue) {
			err = ue.Err // the method and URL are said here already
		}
		return fmt.Errorf("cannot reach the registry at %s: %w", c.Base, err)
	}
	defer resp.Body.Close()
	data, err := io.ReadAll(resp.Body)
	if err != nil {
		return fmt.Errorf("reading the answer of %s %s: %w", method, path, err)
	}
	if resp.StatusCode/100 != 2 {
		se := &Error{Status: resp.StatusCode}
		if json.Unmarshal(data, se) != nil || se.Message == "" {
			se.Code = resp.StatusCode
			se.Message = fmt.Sprintf("%s %s: HTTP %s: %s", method, path, resp.Status, errorBody(data))
		} else if se.Code == 0 {
			// A message without a code (a proxy's or another API's error
			// envelope): the HTTP status is the code.
			se.Code = resp.StatusCode
		}
		if resp.StatusCode == http.StatusUnauthorized || resp.StatusCode == http.StatusForbidden {
			return &credentials.AuthError{
				Denied: resp.StatusCode == http.StatusForbidden,
				As:     c.credentials().String(),
				URL:    c.Base,
				Reason: se.Error(),
				Err:    se,
			}
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

// maxErrorBody bounds how much of an answer that is not the registry's
// JSON error (a proxy's HTML page) an Error's message quotes.
const maxErrorBody = 512

// errorBody is the start of such an answer, for a message.
func errorBody(data []byte) string {
	s := strings.TrimSpace(string(data))
	if len(s) <= maxErrorBody {
		return s
	}
	// A rune cut in two becomes invalid UTF-8: drop it.
	return strings.ToValidUTF8(s[:maxErrorBody], "") + fmt.Sprintf("... (%d bytes)", len(data))
}

// Reference is a schema reference, as the REST API spells it. Version -1
// is the latest.
type Reference struct {
	Name    string `json:"name"`
	Subject string `json:"subject"`
	Version int    `json:"version"`
}

// Schema is a subject version or a schema by id as the REST API returns it,
// and the body of a registration or lookup.
type Schema struct {
	Subject    string          `json:"subject,omitempty"`
	Version    int             `json:"version,omitempty"`
	ID         int             `json:"id,omitempty"`
	SchemaType string          `json:"schemaType,omitempty"`
	References []Reference     `json:"references,omitempty"`
	Metadata   json.RawMessage `json:"metadata,omitempty"`
	RuleSet    json.RawMessage `json:"ruleSet,omitempty"`
	Schema     string          `json:"schema"`
}

// TypeName is the schema type with the REST API's default (AVRO) filled in.
func (s *Schema) TypeName() string {
	if s.SchemaType == "" {
		return "AVRO"
	}
	return s.SchemaType
}
