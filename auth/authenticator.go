package auth

import (
	"bytes"
	"context"
	"crypto/hmac"
	"crypto/rand"
	"crypto/sha256"
	"crypto/subtle"
	"crypto/tls"
	"crypto/x509"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"runtime"
	"sync"
	"sync/atomic"

	"github.com/sluicehq/sluice/internal/reqid"
)

// ErrInvalidCredentials is the error of a failed login, whatever the cause
// (unknown user, wrong password, unknown token): the client is not told
// which; the server's log is.
var ErrInvalidCredentials = errors.New("authentication failed: invalid credentials")

// ErrUnsupportedMechanism is returned by NewSASL for a mechanism Sluice does
// not serve.
var ErrUnsupportedMechanism = errors.New("unsupported SASL mechanism")

// Options configures an Authenticator.
type Options struct {
	// Logger receives one line per failed login at info (the request's
	// identity from its context, package reqid; user, remote
	// address, method, reason; never the secret); nil discards.
	Logger *slog.Logger
	// OnFailure, when set, is called after each failed login (metrics).
	OnFailure func(Failure)
	// MaxConcurrentHashes bounds the password hash checks running at once
	// (each argon2id check takes ~19 MiB and a core for ~20 ms); 0 means
	// 2 × GOMAXPROCS. Further checks wait.
	MaxConcurrentHashes int
}

// FailureKind classifies a failed login for the failed-login metric
// (sluice_auth_failures_total's reason label): a fixed set, unlike
// Failure.Reason, which is written for operators.
type FailureKind uint8

// Failure kinds.
const (
	// FailUnknownUser: no such user (HTTP basic auth, SASL PLAIN, SCRAM).
	FailUnknownUser FailureKind = iota
	// FailWrongPassword: a known user with a wrong password or SCRAM proof,
	// or without credentials for the mechanism tried.
	FailWrongPassword
	// FailUnknownToken: a bearer token the auth file does not list.
	FailUnknownToken
	// FailBadCertificate: a client certificate refused at the TLS
	// handshake (unknown authority, expired or otherwise invalid).
	FailBadCertificate
	// FailMalformed: credentials that do not parse (a malformed
	// Authorization header, an unsupported scheme, an empty token, a
	// SASL message that contradicts itself).
	FailMalformed
	numFailureKinds
)

var failureKindNames = [numFailureKinds]string{"unknown_user", "wrong_password", "unknown_token", "bad_certificate", "malformed"}

// String is the kind's label value: unknown_user, wrong_password,
// unknown_token, bad_certificate or malformed.
func (k FailureKind) String() string {
	if k >= numFailureKinds {
		return "malformed"
	}
	return failureKindNames[k]
}

// FailureKinds lists every kind, in order.
func FailureKinds() []FailureKind {
	out := make([]FailureKind, numFailureKinds)
	for i := range out {
		out[i] = FailureKind(i)
	}
	return out
}

// Failure describes a failed login, for OnFailure.
type Failure struct {
	// Kind classifies it.
	Kind FailureKind
	// Method is the Principal.Method that was tried ("basic", "token",
	// "sasl-plain", ...).
	Method string
	// User is the user name given ("" for a token).
	User string
	// Remote is the client's address.
	Remote string
	// Reason is why the login failed, for operators ("wrong password").
	Reason string
}

// Authenticator checks credentials against an auth file: passwords
// (HTTP basic auth, SASL PLAIN), SCRAM exchanges, API tokens and client
// certificates. It is safe for concurrent use; Reload swaps the file.
type Authenticator struct {
	f         atomic.Pointer[File]
	log       *slog.Logger
	onFailure func(Failure)
	failures  [numFailureKinds]atomic.Uint64
	sem       chan struct{}
	// secret keys the password cache and the made-up SCRAM salts of
	// unknown users; random per process.
	secret [32]byte
	// dummy is checked for unknown users, so that they cost what a known
	// user costs.
	dummy passwordHash

	// verified remembers, per user, an HMAC of the last password that
	// checked out, so that a client sending basic auth on every request
	// pays the slow hash once. Cleared by Reload.
	mu       sync.Mutex
	verified map[string][sha256.Size]byte
}

// New returns an Authenticator over f.
func New(f *File, opts Options) *Authenticator {
	if opts.Logger == nil {
		opts.Logger = slog.New(slog.NewTextHandler(io.Discard, nil))
	}
	if opts.MaxConcurrentHashes <= 0 {
		opts.MaxConcurrentHashes = 2 * runtime.GOMAXPROCS(0)
	}
	a := &Authenticator{
		log:       opts.Logger,
		onFailure: opts.OnFailure,
		sem:       make(chan struct{}, opts.MaxConcurrentHashes),
		verified:  map[string][sha256.Size]byte{},
	}
	rand.Read(a.secret[:])
	salt := make([]byte, argon2SaltLen)
	rand.Read(salt)
	a.dummy = passwordHash{argon: &argon2Params{memory: Argon2Memory, time: Argon2Time, threads: Argon2Threads,
		salt: salt, key: make([]byte, argon2KeyLen)}}
	a.f.Store(f)
	return a
}

// Reload replaces the auth file; logins in progress finish with the old one.
func (a *Authenticator) Reload(f *File) {
	a.f.Store(f)
	a.mu.Lock()
	clear(a.verified)
	a.mu.Unlock()
}

func (a *Authenticator) file() *File { return a.f.Load() }

// Failures is the number of failed logins since New.
func (a *Authenticator) Failures() uint64 {
	var n uint64
	for i := range a.failures {
		n += a.failures[i].Load()
	}
	return n
}

// FailuresOf is the number of failed logins of kind k since New.
func (a *Authenticator) FailuresOf(k FailureKind) uint64 {
	if k >= numFailureKinds {
		return 0
	}
	return a.failures[k].Load()
}

// EachFailureKind calls f with every kind's label value and its count of
// failed logins, zeros included (for the failed-login metric).
func (a *Authenticator) EachFailureKind(f func(reason string, n uint64)) {
	for k := range numFailureKinds {
		f(k.String(), a.failures[k].Load())
	}
}

// principal builds the principal of name.
func (a *Authenticator) principal(name, method string) Principal {
	return Principal{Name: name, Superuser: a.file().IsSuperuser(name), Method: method}
}

// failed counts and logs a failed login and returns ErrInvalidCredentials.
func (a *Authenticator) failed(ctx context.Context, kind FailureKind, method, user, remote, reason string) error {
	if kind >= numFailureKinds {
		kind = FailMalformed
	}
	a.failures[kind].Add(1)
	attrs := append(reqid.Attrs(ctx), // the request: its id, or its Kafka connection and correlation id
		slog.String("method", method), slog.String("user", user), slog.String("remote", remote),
		slog.String("reason", reason), slog.String("kind", kind.String()))
	a.log.LogAttrs(ctx, slog.LevelInfo, "authentication failed", attrs...)
	if a.onFailure != nil {
		a.onFailure(Failure{Kind: kind, Method: method, User: user, Remote: remote, Reason: reason})
	}
	return ErrInvalidCredentials
}

// IsCertificateRefusal reports whether err, from a TLS server handshake,
// is the refusal of the client's certificate (signed by an unknown
// authority, expired or not yet valid, or otherwise invalid): a failed
// login, unlike a client that went away or spoke something else.
func IsCertificateRefusal(err error) bool {
	var unknown x509.UnknownAuthorityError
	var invalid x509.CertificateInvalidError
	var verify *tls.CertificateVerificationError
	return errors.As(err, &unknown) || errors.As(err, &invalid) || errors.As(err, &verify)
}

// CertificateRefused counts and logs a client certificate refused at a
// TLS handshake (method "mtls"; err from the handshake, for the reason);
// ctx names the connection (package reqid). It returns
// ErrInvalidCredentials.
func (a *Authenticator) CertificateRefused(ctx context.Context, remote string, err error) error {
	return a.failed(ctx, FailBadCertificate, "mtls", "", remote, err.Error())
}

// Password checks a user's password (HTTP basic auth, SASL PLAIN); method
// is the Principal.Method to record ("basic", "sasl-plain"). An unknown
// user costs a hash check too, so timing does not tell it from a wrong
// password.
func (a *Authenticator) Password(ctx context.Context, method, name, password, remote string) (Principal, error) {
	u := a.file().users[name]
	mac := a.passwordMAC(name, password)
	if u != nil && u.password != nil {
		a.mu.Lock()
		last, ok := a.verified[name]
		a.mu.Unlock()
		if ok && subtle.ConstantTimeCompare(last[:], mac[:]) == 1 {
			return a.principal(name, method), nil
		}
	}
	h := a.dummy
	if u != nil && u.password != nil {
		h = *u.password
	}
	select {
	case a.sem <- struct{}{}:
	case <-ctx.Done():
		return Principal{}, ctx.Err()
	}
	good := h.check(password)
	<-a.sem
	switch {
	case u == nil:
		return Principal{}, a.failed(ctx, FailUnknownUser, method, name, remote, "unknown user")
	case u.password == nil:
		return Principal{}, a.failed(ctx, FailWrongPassword, method, name, remote, "the user has no password hash (SCRAM only)")
	case !good:
		return Principal{}, a.failed(ctx, FailWrongPassword, method, name, remote, "wrong password")
	}
	a.mu.Lock()
	a.verified[name] = mac
	a.mu.Unlock()
	return a.principal(name, method), nil
}

func (a *Authenticator) passwordMAC(name, password string) [sha256.Size]byte {
	m := hmac.New(sha256.New, a.secret[:])
	m.Write([]byte(name))
	m.Write([]byte{0})
	m.Write([]byte(password))
	return [sha256.Size]byte(m.Sum(nil))
}

// Token checks an API token (HTTP Authorization: Bearer). The file holds
// the tokens' SHA-256, looked up by the hash of what the client sent.
func (a *Authenticator) Token(ctx context.Context, token, remote string) (Principal, error) {
	name, ok := a.file().tokens[sha256.Sum256([]byte(token))]
	if !ok {
		return Principal{}, a.failed(ctx, FailUnknownToken, "token", "", remote, "unknown token")
	}
	return a.principal(name, "token"), nil
}

// Certificate returns the principal of a verified client certificate (the
// leaf's subject common name), and false when the connection has none
// (no client certificate, or one not verified against --tls-client-ca).
func (a *Authenticator) Certificate(cs *tls.ConnectionState) (Principal, bool) {
	if cs == nil || len(cs.VerifiedChains) == 0 || len(cs.VerifiedChains[0]) == 0 {
		return Principal{}, false
	}
	cn := cs.VerifiedChains[0][0].Subject.CommonName
	if checkName(cn) != nil {
		return Principal{}, false
	}
	return a.principal(cn, "mtls"), true
}

// SASL is the server side of one SASL exchange. Step takes each client
// message and returns the server's reply; a non-nil principal means the
// client is authenticated (the reply, if any, is the last message). An
// error ends the exchange: ErrInvalidCredentials for bad credentials,
// another error for a malformed message.
type SASL interface {
	Mechanism() string
	Step(ctx context.Context, msg []byte) (reply []byte, p *Principal, err error)
}

// Mechanisms lists the SASL mechanisms NewSASL serves.
func Mechanisms() []string { return []string{"PLAIN", SCRAMSHA256, SCRAMSHA512} }

// NewSASL starts a SASL exchange with mechanism mech for a client at
// remote; ErrUnsupportedMechanism when mech is not in Mechanisms.
func (a *Authenticator) NewSASL(mech, remote string) (SASL, error) {
	switch mech {
	case "PLAIN":
		return &plainServer{a: a, remote: remote}, nil
	case SCRAMSHA256, SCRAMSHA512:
		h, _ := scramHash(mech)
		return &scramServer{a: a, mech: mech, h: h, remote: remote}, nil
	}
	return nil, fmt.Errorf("%w %q", ErrUnsupportedMechanism, mech)
}

// plainServer serves SASL PLAIN (RFC 4616): one message, authzid NUL user
// NUL password.
type plainServer struct {
	a      *Authenticator
	remote string
	done   bool
}

func (s *plainServer) Mechanism() string { return "PLAIN" }

func (s *plainServer) Step(ctx context.Context, msg []byte) ([]byte, *Principal, error) {
	if s.done {
		return nil, nil, errors.New("SASL PLAIN exchange already finished")
	}
	s.done = true
	authzid, user, password, err := ParsePlain(msg)
	if err != nil {
		s.a.failed(ctx, FailMalformed, "sasl-plain", "", s.remote, err.Error()) // counted and logged; the message is not quoted
		return nil, nil, err
	}
	if authzid != "" && authzid != user {
		return nil, nil, s.a.failed(ctx, FailMalformed, "sasl-plain", user, s.remote, "authzid differs from the user")
	}
	p, err := s.a.Password(ctx, "sasl-plain", user, password, s.remote)
	if err != nil {
		return nil, nil, err
	}
	return nil, &p, nil
}

// ParsePlain splits a SASL PLAIN message (RFC 4616) into its authorization
// identity (often empty), user and password. The error never quotes the
// message, which holds a password.
func ParsePlain(msg []byte) (authzid, user, password string, err error) {
	if len(msg) > 3*255+2 {
		return "", "", "", errors.New("malformed SASL PLAIN message: longer than 767 bytes")
	}
	parts := bytes.Split(msg, []byte{0})
	if len(parts) != 3 {
		return "", "", "", errors.New("malformed SASL PLAIN message: want authzid NUL user NUL password")
	}
	if len(parts[1]) == 0 || len(parts[2]) == 0 {
		return "", "", "", errors.New("malformed SASL PLAIN message: empty user or password")
	}
	return string(parts[0]), string(parts[1]), string(parts[2]), nil
}
