// Package credentials is what a client presents to a secured Sluice node,
// and what it gets back when the node refuses it: the TLS settings (the CA
// that signs the server's certificate, a client certificate for mutual
// TLS), HTTP credentials (basic auth, as Confluent clients send with
// basic.auth.user.info, or a bearer token), and the errors of a refusal,
// ErrUnauthenticated and ErrPermissionDenied, carried by *AuthError.
//
// The typed client (package client), the registry REST client (package
// srclient), the load generator and the sluice CLI share it, so that one
// refusal reads the same everywhere and errors.Is answers alike for a
// Connect call and a REST call:
//
//	if errors.Is(err, credentials.ErrUnauthenticated) { … wrong password … }
//
// It talks to no server itself and holds no secret in an error or a log
// line: Credentials prints as "user alice" or "a bearer token".
package credentials

import (
	"context"
	"crypto/tls"
	"crypto/x509"
	"encoding/base64"
	"encoding/pem"
	"errors"
	"fmt"
	"log/slog"
	"net"
	"net/http"
	"os"
	"strings"
	"time"

	"connectrpc.com/connect"
)

// Credentials are the HTTP credentials a client sends with every request:
// basic auth when User is set, a bearer token when Token is set. The zero
// value sends nothing. String, GoString and LogValue never show the
// password or the token.
type Credentials struct {
	// User and Password are sent as HTTP basic auth when User is not
	// empty (Confluent's basic.auth.user.info is "User:Password").
	User, Password string
	// Token is sent as "Authorization: Bearer Token".
	Token string
}

// Validate reports credentials that cannot be sent: a user and a token at
// once (a request carries one Authorization header), a password without a
// user, and characters that would break the header.
func (c Credentials) Validate() error {
	switch {
	case c.User != "" && c.Token != "":
		return errors.New("credentials: give a user and password or a token, not both")
	case c.User == "" && c.Password != "":
		return errors.New("credentials: a password without a user")
	case strings.Contains(c.User, ":"):
		return errors.New("credentials: a user name may not contain ':' (basic auth separates the user from the password with it)")
	case strings.ContainsAny(c.User+c.Password+c.Token, "\r\n"):
		return errors.New("credentials: a line break in the user, password or token")
	}
	return nil
}

// IsZero reports whether c sends nothing.
func (c Credentials) IsZero() bool { return c.User == "" && c.Token == "" }

// Authorization is the value of the Authorization header c sends, or ""
// for none: "Basic base64(user:password)" or "Bearer token".
func (c Credentials) Authorization() string {
	switch {
	case c.Token != "":
		return "Bearer " + c.Token
	case c.User != "":
		return "Basic " + base64.StdEncoding.EncodeToString([]byte(c.User+":"+c.Password))
	}
	return ""
}

// Set sets the Authorization header of h, when c sends one.
func (c Credentials) Set(h http.Header) {
	if a := c.Authorization(); a != "" {
		h.Set("Authorization", a)
	}
}

// RoundTripper returns next with c's Authorization header added to every
// request for host (the server's host:port, as in a URL); a request to
// another host (after a redirect) goes without it. Requests are cloned,
// never changed. next nil is http.DefaultTransport.
func (c Credentials) RoundTripper(next http.RoundTripper, host string) http.RoundTripper {
	if next == nil {
		next = http.DefaultTransport
	}
	return &authTransport{next: next, auth: c.Authorization(), host: host}
}

type authTransport struct {
	next       http.RoundTripper
	auth, host string
}

func (t *authTransport) RoundTrip(req *http.Request) (*http.Response, error) {
	if t.auth == "" || req.URL.Host != t.host || req.Header.Get("Authorization") != "" {
		return t.next.RoundTrip(req)
	}
	r := req.Clone(req.Context())
	r.Header.Set("Authorization", t.auth)
	return t.next.RoundTrip(r)
}

// String names the credentials without their secret: "user alice", "a
// bearer token" or "no credentials".
func (c Credentials) String() string {
	switch {
	case c.Token != "":
		return "a bearer token"
	case c.User != "":
		return "user " + c.User
	}
	return "no credentials"
}

// GoString is String, so that %#v does not print the secret either.
func (c Credentials) GoString() string { return "credentials.Credentials{" + c.String() + "}" }

// LogValue is String, so that a logged Credentials shows no secret.
func (c Credentials) LogValue() slog.Value { return slog.StringValue(c.String()) }

// ErrUnauthenticated is what a refusal for missing, wrong or expired
// credentials matches with errors.Is: HTTP 401 (Confluent error code 40101),
// Connect Unauthenticated.
var ErrUnauthenticated = errors.New("authentication failed")

// ErrPermissionDenied is what a refusal of an authenticated principal
// matches with errors.Is: HTTP 403 (Confluent error code 40301), Connect
// PermissionDenied (an ACL does not allow the operation).
var ErrPermissionDenied = errors.New("permission denied")

// AuthError is a server's refusal of a request for its credentials. It
// matches ErrUnauthenticated or ErrPermissionDenied with errors.Is, and
// unwraps to the answer as received (a *connect.Error, a *srclient.Error),
// so connect.CodeOf and errors.As on those keep working.
type AuthError struct {
	// Denied is true for a permission refusal (403, PermissionDenied),
	// false for an authentication failure (401, Unauthenticated).
	Denied bool
	// As names what the client presented: Credentials.String.
	As string
	// URL is the server's base URL.
	URL string
	// Reason is the server's message.
	Reason string
	// Err is the answer as received.
	Err error
}

// Error reads "authentication failed for user alice at https://host:
// reason" or "permission denied: reason (user alice at https://host)".
func (e *AuthError) Error() string {
	reason := e.Reason
	if reason == "" && e.Err != nil {
		reason = e.Err.Error()
	}
	// "authentication failed for alice: authentication failed: …" says it
	// twice.
	reason = strings.TrimPrefix(reason, ErrUnauthenticated.Error()+": ")
	reason = strings.TrimPrefix(reason, ErrPermissionDenied.Error()+": ")
	if e.Denied {
		return fmt.Sprintf("permission denied: %s (%s at %s)", reason, e.As, e.URL)
	}
	if e.As == "" || e.As == (Credentials{}).String() {
		return fmt.Sprintf("authentication failed at %s: %s (no credentials were sent)", e.URL, reason)
	}
	return fmt.Sprintf("authentication failed for %s at %s: %s", e.As, e.URL, reason)
}

// Is matches ErrPermissionDenied or ErrUnauthenticated.
func (e *AuthError) Is(target error) bool {
	if e.Denied {
		return target == ErrPermissionDenied
	}
	return target == ErrUnauthenticated
}

// Unwrap returns the answer as received.
func (e *AuthError) Unwrap() error { return e.Err }

// FromConnect returns err as an *AuthError when it is a Connect
// Unauthenticated or PermissionDenied error (and not one already), naming
// c and url; any other error is returned as it is.
func FromConnect(err error, c Credentials, url string) error {
	if err == nil {
		return nil
	}
	var ae *AuthError
	if errors.As(err, &ae) {
		return err
	}
	var ce *connect.Error
	if !errors.As(err, &ce) {
		return err
	}
	switch ce.Code() {
	case connect.CodeUnauthenticated:
		return &AuthError{As: c.String(), URL: url, Reason: ce.Message(), Err: err}
	case connect.CodePermissionDenied:
		return &AuthError{Denied: true, As: c.String(), URL: url, Reason: ce.Message(), Err: err}
	}
	return err
}

// Interceptor returns a Connect client interceptor that sends c with every
// call, unary and streaming, and turns Unauthenticated and PermissionDenied
// answers into *AuthError naming c and url (the server's base URL).
func Interceptor(c Credentials, url string) connect.Interceptor {
	return &interceptor{c: c, url: strings.TrimRight(url, "/")}
}

type interceptor struct {
	c   Credentials
	url string
}

func (i *interceptor) WrapUnary(next connect.UnaryFunc) connect.UnaryFunc {
	return func(ctx context.Context, req connect.AnyRequest) (connect.AnyResponse, error) {
		if req.Spec().IsClient {
			i.c.Set(req.Header())
		}
		res, err := next(ctx, req)
		return res, FromConnect(err, i.c, i.url)
	}
}

func (i *interceptor) WrapStreamingClient(next connect.StreamingClientFunc) connect.StreamingClientFunc {
	return func(ctx context.Context, spec connect.Spec) connect.StreamingClientConn {
		conn := next(ctx, spec)
		i.c.Set(conn.RequestHeader())
		return &streamConn{StreamingClientConn: conn, i: i}
	}
}

func (i *interceptor) WrapStreamingHandler(next connect.StreamingHandlerFunc) connect.StreamingHandlerFunc {
	return next
}

// streamConn maps the refusals a stream reports.
type streamConn struct {
	connect.StreamingClientConn
	i *interceptor
}

func (s *streamConn) Send(m any) error {
	return FromConnect(s.StreamingClientConn.Send(m), s.i.c, s.i.url)
}

func (s *streamConn) Receive(m any) error {
	return FromConnect(s.StreamingClientConn.Receive(m), s.i.c, s.i.url)
}

func (s *streamConn) CloseResponse() error {
	return FromConnect(s.StreamingClientConn.CloseResponse(), s.i.c, s.i.url)
}

// TLSFiles names the PEM files of a client's TLS settings. All are
// optional; Cert and Key go together.
type TLSFiles struct {
	// CA holds the certificates of the authorities that sign the server's
	// certificate; when set they replace the system's roots (as curl's
	// --cacert does).
	CA string
	// Cert and Key are the client certificate and its private key, sent
	// when the server asks for one (mutual TLS: the server names the client
	// by the certificate subject's common name).
	Cert, Key string
}

// IsZero reports whether no file is named.
func (f TLSFiles) IsZero() bool { return f == TLSFiles{} }

// Config loads the files into a TLS client configuration (TLS 1.2 or
// later). Errors name the file and what is wrong with it.
func (f TLSFiles) Config() (*tls.Config, error) {
	cfg := &tls.Config{MinVersion: tls.VersionTLS12}
	if f.CA != "" {
		pool, err := loadCA(f.CA)
		if err != nil {
			return nil, err
		}
		cfg.RootCAs = pool
	}
	switch {
	case f.Cert != "" && f.Key == "":
		return nil, fmt.Errorf("client certificate %s: no private key file given", f.Cert)
	case f.Cert == "" && f.Key != "":
		return nil, fmt.Errorf("client key %s: no certificate file given", f.Key)
	case f.Cert != "":
		cert, err := tls.LoadX509KeyPair(f.Cert, f.Key)
		if err != nil {
			return nil, fmt.Errorf("client certificate %s with key %s: %w", f.Cert, f.Key, err)
		}
		cfg.Certificates = []tls.Certificate{cert}
		// Send it whenever the server asks, as curl does, even when the
		// server names CAs that do not sign it (Go's default would then
		// send none): the server's refusal of the certificate says more
		// than "no credentials".
		cfg.GetClientCertificate = func(*tls.CertificateRequestInfo) (*tls.Certificate, error) { return &cert, nil }
	}
	return cfg, nil
}

// loadCA reads a PEM file of CA certificates into a pool.
func loadCA(file string) (*x509.CertPool, error) {
	data, err := os.ReadFile(file)
	if err != nil {
		return nil, fmt.Errorf("CA file: %w", err)
	}
	pool := x509.NewCertPool()
	n := 0
	for rest := data; ; {
		var b *pem.Block
		b, rest = pem.Decode(rest)
		if b == nil {
			break
		}
		if b.Type != "CERTIFICATE" {
			continue
		}
		c, err := x509.ParseCertificate(b.Bytes)
		if err != nil {
			return nil, fmt.Errorf("CA file %s: certificate %d: %w", file, n+1, err)
		}
		pool.AddCert(c)
		n++
	}
	if n == 0 {
		return nil, fmt.Errorf("CA file %s: no PEM certificate in it (want -----BEGIN CERTIFICATE----- blocks)", file)
	}
	return pool, nil
}

// HTTPClient returns an HTTP client for a Sluice node: HTTP/1.1, HTTP/2
// over TLS (negotiated) and cleartext HTTP/2 (h2c), TLS settings from
// tlsConfig (nil: the system's roots, no client certificate), no overall
// timeout (streams may be long; a caller's ctx bounds a call), a dial and
// TLS handshake timeout so that a missing server is reported quickly.
func HTTPClient(tlsConfig *tls.Config) *http.Client {
	var p http.Protocols
	p.SetHTTP1(true)
	p.SetHTTP2(true)
	p.SetUnencryptedHTTP2(true)
	t := &http.Transport{
		Proxy:                 http.ProxyFromEnvironment,
		DialContext:           (&net.Dialer{Timeout: 30 * time.Second, KeepAlive: 30 * time.Second}).DialContext,
		Protocols:             &p,
		TLSClientConfig:       tlsConfig,
		TLSHandshakeTimeout:   10 * time.Second,
		MaxIdleConns:          100,
		IdleConnTimeout:       90 * time.Second,
		ExpectContinueTimeout: time.Second,
	}
	return &http.Client{Transport: t}
}
