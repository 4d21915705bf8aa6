package main

// The TLS settings and credentials of the commands that talk to a server:
// the flags, their environment variables, which wins, the HTTP and Connect
// clients that carry them, and how a refusal is reported (exit codes 3 and
// 4).

import (
	"crypto/tls"
	"crypto/x509"
	"errors"
	"flag"
	"fmt"
	"io"
	"net"
	"net/http"
	"net/url"
	"strings"
	"syscall"

	"connectrpc.com/connect"

	"github.com/sluicehq/sluice/client/credentials"
	"github.com/sluicehq/sluice/srclient"
)

// Exit codes of a refusal, beside 0 (success), 1 (failure) and 2 (usage).
const (
	// exitUnauthenticated: the server refused the credentials (HTTP 401,
	// Connect Unauthenticated): missing, wrong or expired.
	exitUnauthenticated = 3
	// exitPermissionDenied: the server knows who is asking and refuses
	// the operation (HTTP 403, Connect PermissionDenied: an ACL).
	exitPermissionDenied = 4
)

// authHelp is what command helps say about the TLS and credential flags.
const authHelp = `TLS and credentials (every command that talks to a server): --tls-ca FILE
trusts the CA that signs the server's certificate (https://), --tls-cert FILE
--tls-key FILE present a client certificate (mutual TLS), --user NAME with
--password or $SLUICE_PASSWORD sends HTTP basic auth, --token TOKEN a bearer
token. Each also comes from the environment ($SLUICE_TLS_CA, $SLUICE_TLS_CERT,
$SLUICE_TLS_KEY, $SLUICE_USER, $SLUICE_PASSWORD, $SLUICE_TOKEN); a flag beats
its variable, and a --user or --token flag replaces both variables.
Exit codes: 3 authentication failed (HTTP 401, Connect Unauthenticated),
4 permission denied (HTTP 403, Connect PermissionDenied).
`

// registerAuth adds the TLS and credential flags. Their defaults are empty
// (never the environment's values, which --help would print); validate
// reads the environment for the flags not given.
func (c *clientFlags) registerAuth(fs *flag.FlagSet) {
	fs.StringVar(&c.tlsCA, "tls-ca", "", "trust the server certificates signed by the CA certificates in PEM `FILE` instead of the system's; https:// only (also $SLUICE_TLS_CA)")
	fs.StringVar(&c.tlsCert, "tls-cert", "", "present the client certificate in PEM `FILE` (mutual TLS), with --tls-key (also $SLUICE_TLS_CERT)")
	fs.StringVar(&c.tlsKey, "tls-key", "", "the private key of --tls-cert, PEM `FILE` (also $SLUICE_TLS_KEY)")
	fs.StringVar(&c.user, "user", "", "authenticate as user `NAME` (HTTP basic auth), with --password or $SLUICE_PASSWORD (also $SLUICE_USER)")
	fs.StringVar(&c.password, "password", "", "the `PASSWORD` of --user; $SLUICE_PASSWORD keeps it out of the process list and shell history")
	fs.StringVar(&c.token, "token", "", "authenticate with the API `TOKEN` (Authorization: Bearer; also $SLUICE_TOKEN)")
}

// setting is one resolved setting and where it came from ("--tls-ca" or
// "$SLUICE_TLS_CA"); from is "" when neither gave it.
type setting struct{ value, from string }

// resolveAuth resolves the TLS and credential flags with the environment
// (flags win), loads the TLS files and sets c.base, c.creds and c.tls.
func (c *clientFlags) resolveAuth() error {
	given := map[string]bool{}
	if c.fs != nil {
		c.fs.Visit(func(f *flag.Flag) { given[f.Name] = true })
	}
	env := func(k string) string {
		if c.getenv == nil {
			return ""
		}
		return c.getenv(k)
	}
	pick := func(name, val, envName string) setting {
		if given[name] {
			return setting{val, "--" + name}
		}
		if v := env(envName); v != "" {
			return setting{v, "$" + envName}
		}
		return setting{}
	}

	// TLS: each flag beats its variable; a bare host:port is https://
	// when any is set.
	ca := pick("tls-ca", c.tlsCA, "SLUICE_TLS_CA")
	cert := pick("tls-cert", c.tlsCert, "SLUICE_TLS_CERT")
	key := pick("tls-key", c.tlsKey, "SLUICE_TLS_KEY")
	tlsSet := ca.value != "" || cert.value != "" || key.value != ""
	base, ui, err := serverURL(c.addr, tlsSet)
	if err != nil {
		return fmt.Errorf("--addr: %v", err)
	}
	if strings.HasPrefix(base, "http://") {
		// A TLS flag with an http:// address is a mistake to report; the
		// variables stay for the https:// servers they were set for.
		for _, s := range []setting{ca, cert, key} {
			if strings.HasPrefix(s.from, "--") {
				return fmt.Errorf("%s applies to https:// addresses, and --addr is %s: use https://", s.from, base)
			}
		}
		ca, cert, key = setting{}, setting{}, setting{}
	}
	var cfg *tls.Config
	if ca.value != "" {
		if cfg, err = (credentials.TLSFiles{CA: ca.value}).Config(); err != nil {
			return fmt.Errorf("%s: %v", ca.from, err)
		}
	}
	switch {
	case cert.value != "" && key.value == "":
		return fmt.Errorf("%s needs --tls-key FILE (or $SLUICE_TLS_KEY): the client certificate's private key", cert.from)
	case cert.value == "" && key.value != "":
		return fmt.Errorf("%s needs --tls-cert FILE (or $SLUICE_TLS_CERT): the client certificate", key.from)
	case cert.value != "":
		pair, err := (credentials.TLSFiles{Cert: cert.value, Key: key.value}).Config()
		if err != nil {
			return fmt.Errorf("%s, %s: %v", cert.from, key.from, err)
		}
		if cfg == nil {
			cfg = pair
		} else {
			cfg.Certificates, cfg.GetClientCertificate = pair.Certificates, pair.GetClientCertificate
		}
	}

	// Credentials: credentials in --addr (https://user:secret@host, as
	// Confluent's tools take them) or a --user or --token flag replace
	// both variables.
	var creds credentials.Credentials
	switch {
	case ui != nil && (given["user"] || given["token"] || given["password"]):
		return errors.New("give credentials in --addr or with --user/--password/--token, not both")
	case ui != nil:
		creds.User, c.credsFrom = ui.Username(), "--addr"
		if p, ok := ui.Password(); ok {
			creds.Password = p
		} else {
			creds.Password = env("SLUICE_PASSWORD")
		}
	case given["user"] && given["token"]:
		return errors.New("give --user or --token, not both")
	case given["user"]:
		if c.user == "" {
			return errors.New("--user is empty")
		}
		creds.User, c.credsFrom = c.user, "--user"
	case given["token"]:
		if c.token == "" {
			return errors.New("--token is empty")
		}
		creds.Token, c.credsFrom = c.token, "--token"
	default:
		u, t := env("SLUICE_USER"), env("SLUICE_TOKEN")
		switch {
		case u != "" && t != "":
			return errors.New("$SLUICE_USER and $SLUICE_TOKEN are both set: unset one, or choose with --user or --token")
		case u != "":
			creds.User, c.credsFrom = u, "$SLUICE_USER"
		case t != "":
			creds.Token, c.credsFrom = t, "$SLUICE_TOKEN"
		}
	}
	switch {
	case ui != nil:
	case given["password"] && creds.User == "":
		if creds.Token != "" {
			return fmt.Errorf("--password goes with --user, not with a token (%s)", c.credsFrom)
		}
		return errors.New("--password needs --user NAME (or $SLUICE_USER)")
	case given["password"]:
		creds.Password = c.password
	case creds.User != "":
		creds.Password = env("SLUICE_PASSWORD")
	}
	if creds.User != "" && creds.Password == "" {
		return fmt.Errorf("user %s (%s) has no password: give --password or set $SLUICE_PASSWORD", creds.User, c.credsFrom)
	}
	if err := creds.Validate(); err != nil {
		return fmt.Errorf("%s: %v", c.credsFrom, err)
	}
	c.base, c.creds, c.tls, c.hc = base, creds, cfg, nil
	if w := cleartextWarning(base, creds); w != "" && c.stderr != nil {
		fmt.Fprintln(c.stderr, w)
	}
	return nil
}

// cleartextWarning warns of credentials sent without TLS to a host other
// than this machine, where anyone on the path can read them; "" when
// there is nothing to say.
func cleartextWarning(base string, creds credentials.Credentials) string {
	if creds.IsZero() || !strings.HasPrefix(base, "http://") {
		return ""
	}
	u, err := url.Parse(base)
	if err != nil {
		return ""
	}
	host := u.Hostname()
	if host == "localhost" {
		return ""
	}
	if ip := net.ParseIP(host); ip != nil && ip.IsLoopback() {
		return ""
	}
	return fmt.Sprintf("sluice: warning: sending %s in clear text to %s; use https://", creds, base)
}

// serverURL normalises an address: a bare host:port gets https:// when
// tlsSet, else http://; no trailing slash; credentials in the URL
// (https://user:secret@host, as Confluent's tools accept) are taken out and
// returned. Other schemes are refused.
func serverURL(addr string, tlsSet bool) (string, *url.Userinfo, error) {
	a := strings.TrimRight(addr, "/")
	if !strings.Contains(a, "://") {
		if tlsSet {
			a = "https://" + a
		} else {
			a = "http://" + a
		}
	}
	u, err := url.Parse(a)
	if err != nil {
		return "", nil, fmt.Errorf("address %q: %v", redactURL(addr), err)
	}
	if u.Scheme != "http" && u.Scheme != "https" {
		return "", nil, fmt.Errorf("address %q: want an http:// or https:// URL", u.Redacted())
	}
	if u.Host == "" {
		return "", nil, fmt.Errorf("address %q has no host", u.Redacted())
	}
	ui := u.User
	u.User = nil
	return strings.TrimRight(u.String(), "/"), ui, nil
}

// redactURL hides the password of a URL that does not parse.
func redactURL(s string) string {
	scheme, rest, ok := strings.Cut(s, "://")
	if !ok {
		return s
	}
	if at := strings.LastIndex(rest, "@"); at >= 0 && !strings.Contains(rest[:at], "/") {
		user, _, _ := strings.Cut(rest[:at], ":")
		return scheme + "://" + user + ":xxxxx@" + rest[at+1:]
	}
	return s
}

// registryClient is the REST client of the registry at rawURL, for the
// commands that name one (schema check and diff with --registry, apply with
// --registry): the command's TLS settings, and the first credentials of
// rawURL's userinfo, user and password (--registry-user and
// --registry-password), the command's --user or --token flag,
// $SLUICE_REGISTRY_USER and $SLUICE_REGISTRY_PASSWORD, and the command's
// $SLUICE_USER or $SLUICE_TOKEN.
func (c *clientFlags) registryClient(rawURL, user, password string) (*srclient.Client, error) {
	base, ui, err := serverURL(rawURL, c.tls != nil)
	if err != nil {
		return nil, err
	}
	env := func(k string) string {
		if c.getenv == nil {
			return ""
		}
		return c.getenv(k)
	}
	creds := c.creds
	switch {
	case ui != nil:
		p, _ := ui.Password()
		creds = credentials.Credentials{User: ui.Username(), Password: p}
	case user != "":
		creds = credentials.Credentials{User: user, Password: password}
	case strings.HasPrefix(c.credsFrom, "--"):
	case env("SLUICE_REGISTRY_USER") != "":
		creds = credentials.Credentials{User: env("SLUICE_REGISTRY_USER"), Password: env("SLUICE_REGISTRY_PASSWORD")}
	}
	return &srclient.Client{
		Base: base, HTTP: credentials.HTTPClient(c.tls),
		User: creds.User, Password: creds.Password, Token: creds.Token,
	}, nil
}

// httpClient is the HTTP client of the command: its TLS settings, and its
// credentials on every request to the server (not to other hosts). Any
// Connect or REST client of the command is built over it.
func (c *clientFlags) httpClient() *http.Client {
	if c.hc == nil {
		hc := credentials.HTTPClient(c.tls)
		if !c.creds.IsZero() {
			u, _ := url.Parse(c.baseURL())
			hc.Transport = c.creds.RoundTripper(hc.Transport, u.Host)
		}
		c.hc = hc
	}
	return c.hc
}

// connectOptions are the options of the command's Connect clients: a
// refusal comes back as a *credentials.AuthError naming the user and the
// server.
func (c *clientFlags) connectOptions() []connect.ClientOption {
	return []connect.ClientOption{connect.WithInterceptors(credentials.Interceptor(c.creds, c.baseURL()))}
}

// registry is the REST client of the registry the command talks to (the
// --addr server), with its TLS settings and credentials.
func (c *clientFlags) registry() *srclient.Client {
	return &srclient.Client{
		Base: c.baseURL(), HTTP: c.httpClient(),
		User: c.creds.User, Password: c.creds.Password, Token: c.creds.Token,
	}
}

// authExit reports err when it is a refusal for credentials or permissions
// (an *AuthError, or a Connect Unauthenticated/PermissionDenied error) and
// returns its exit code; ok is false for any other error.
func authExit(w io.Writer, cmd string, err error) (code int, ok bool) {
	var ae *credentials.AuthError
	switch {
	case errors.As(err, &ae):
		fmt.Fprintf(w, "sluice %s: %v\n", cmd, ae)
		if !ae.Denied && (ae.As == "" || ae.As == (credentials.Credentials{}).String()) {
			fmt.Fprintln(w, "  the server wants credentials: --user NAME with --password or $SLUICE_PASSWORD, or --token TOKEN (also $SLUICE_USER, $SLUICE_TOKEN)")
		}
		if ae.Denied {
			return exitPermissionDenied, true
		}
		return exitUnauthenticated, true
	case connect.CodeOf(err) == connect.CodeUnauthenticated:
		var ce *connect.Error
		errors.As(err, &ce)
		fmt.Fprintf(w, "sluice %s: authentication failed: %s\n", cmd, ce.Message())
		return exitUnauthenticated, true
	case connect.CodeOf(err) == connect.CodePermissionDenied:
		var ce *connect.Error
		errors.As(err, &ce)
		fmt.Fprintf(w, "sluice %s: permission denied: %s\n", cmd, ce.Message())
		return exitPermissionDenied, true
	}
	return 0, false
}

// exitCode is the exit code of a command that failed with err:
// exitUnauthenticated or exitPermissionDenied for a refusal, else
// otherwise.
func exitCode(err error, otherwise int) int {
	switch {
	case errors.Is(err, credentials.ErrUnauthenticated), connect.CodeOf(err) == connect.CodeUnauthenticated:
		return exitUnauthenticated
	case errors.Is(err, credentials.ErrPermissionDenied), connect.CodeOf(err) == connect.CodePermissionDenied:
		return exitPermissionDenied
	}
	return otherwise
}

// tlsHint explains a TLS failure in the terms of the flags, or returns "".
func tlsHint(err error) string {
	var (
		ua x509.UnknownAuthorityError
		he x509.HostnameError
		ci x509.CertificateInvalidError
	)
	switch {
	case errors.As(err, &ua):
		return "the server's certificate is not signed by a CA this command trusts: give the CA's certificate with --tls-ca FILE (or $SLUICE_TLS_CA)"
	case errors.As(err, &he):
		return "the server's certificate does not name the host of --addr: use a host name it lists, or have its certificate name this one"
	case errors.As(err, &ci) && ci.Reason == x509.Expired:
		return "the server's certificate has expired or is not valid yet: renew it, or check the clocks"
	case strings.Contains(err.Error(), "server gave HTTP response to HTTPS client"):
		return "the server does not speak TLS there: use an http:// address, or start it with --tls-cert and --tls-key"
	case strings.Contains(err.Error(), "tls: unknown certificate authority"), strings.Contains(err.Error(), "tls: bad certificate"),
		strings.Contains(err.Error(), "tls: certificate expired"):
		return "the server did not accept the client certificate (--tls-cert): it must be signed by a CA the server trusts (its --tls-client-ca) and be valid now"
	case (errors.Is(err, syscall.ECONNRESET) || errors.Is(err, syscall.EPIPE)) && strings.Contains(err.Error(), "https://"):
		// Under TLS 1.3 a client may be sending its request when the server
		// refuses its certificate and closes: it then sees the reset, not
		// the server's alert.
		return "the server closed the connection: a server that requires client certificates (--tls-client-ca) does so when it refuses yours (--tls-cert), which must be signed by a CA it trusts and be valid now"
	case strings.Contains(err.Error(), "tls: certificate required"):
		return "the server wants a client certificate: give --tls-cert FILE and --tls-key FILE"
	case connect.CodeOf(err) == connect.CodeInternal && strings.HasSuffix(err.Error(), ": 400 Bad Request"):
		// What Go's TLS server answers to plain HTTP, among others.
		return "if the server serves TLS on that port, use an https:// address"
	}
	return ""
}
