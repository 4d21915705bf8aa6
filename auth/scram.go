package auth

import (
	"context"
	"crypto/hmac"
	"crypto/pbkdf2"
	"crypto/rand"
	"crypto/sha256"
	"crypto/sha512"
	"crypto/subtle"
	"encoding/base64"
	"errors"
	"fmt"
	"hash"
	"strconv"
	"strings"
)

// SCRAM mechanisms, as named in SASL and Kafka.
const (
	SCRAMSHA256 = "SCRAM-SHA-256"
	SCRAMSHA512 = "SCRAM-SHA-512"
)

// SCRAM iteration counts: RFC 7677 asks for at least 4096.
const (
	MinSCRAMIterations     = 4096
	DefaultSCRAMIterations = 8192
	maxSCRAMIterations     = 1 << 20
)

// SCRAMCredential is what a server stores to check a SCRAM login (RFC 5802
// §3): the salt and iteration count given to the client, StoredKey =
// H(HMAC(SaltedPassword, "Client Key")) and ServerKey =
// HMAC(SaltedPassword, "Server Key"). The password cannot be recovered
// from it.
type SCRAMCredential struct {
	Iterations           int
	Salt                 []byte
	StoredKey, ServerKey []byte
}

func scramHash(mech string) (func() hash.Hash, bool) {
	switch mech {
	case SCRAMSHA256:
		return sha256.New, true
	case SCRAMSHA512:
		return sha512.New, true
	}
	return nil, false
}

// NewSCRAMCredential derives the stored credential of password for mech
// (SCRAMSHA256 or SCRAMSHA512) with a fresh salt.
func NewSCRAMCredential(mech, password string, iterations int) (SCRAMCredential, error) {
	h, ok := scramHash(mech)
	if !ok {
		return SCRAMCredential{}, fmt.Errorf("unknown SCRAM mechanism %q", mech)
	}
	if iterations < MinSCRAMIterations || iterations > maxSCRAMIterations {
		return SCRAMCredential{}, fmt.Errorf("SCRAM iterations %d: want %d to %d", iterations, MinSCRAMIterations, maxSCRAMIterations)
	}
	salt := make([]byte, 16)
	rand.Read(salt)
	salted, err := pbkdf2.Key(h, password, salt, iterations, h().Size())
	if err != nil {
		return SCRAMCredential{}, err
	}
	clientKey := hmacSum(h, salted, []byte("Client Key"))
	stored := h()
	stored.Write(clientKey)
	return SCRAMCredential{
		Iterations: iterations,
		Salt:       salt,
		StoredKey:  stored.Sum(nil),
		ServerKey:  hmacSum(h, salted, []byte("Server Key")),
	}, nil
}

func hmacSum(h func() hash.Hash, key, msg []byte) []byte {
	m := hmac.New(h, key)
	m.Write(msg)
	return m.Sum(nil)
}

// credential checks and decodes an auth file's SCRAM entry.
func (r *rawSCRAM) credential(mech string) (SCRAMCredential, error) {
	h, _ := scramHash(mech)
	size := h().Size()
	c := SCRAMCredential{Iterations: r.Iterations}
	if r.Iterations < MinSCRAMIterations || r.Iterations > maxSCRAMIterations {
		return c, fmt.Errorf("iterations %d: want %d to %d", r.Iterations, MinSCRAMIterations, maxSCRAMIterations)
	}
	var err error
	if c.Salt, err = base64.StdEncoding.DecodeString(r.Salt); err != nil || len(c.Salt) < 8 {
		return c, errors.New("salt: want at least 8 bytes in base64")
	}
	if c.StoredKey, err = base64.StdEncoding.DecodeString(r.StoredKey); err != nil || len(c.StoredKey) != size {
		return c, fmt.Errorf("stored-key: want %d bytes in base64", size)
	}
	if c.ServerKey, err = base64.StdEncoding.DecodeString(r.ServerKey); err != nil || len(c.ServerKey) != size {
		return c, fmt.Errorf("server-key: want %d bytes in base64", size)
	}
	return c, nil
}

// scramServer is the server side of one SCRAM exchange (RFC 5802 §5): the
// client-first message gets the server-first (salt, iterations, nonce), the
// client-final message's proof is checked against StoredKey and answered
// with the server signature.
type scramServer struct {
	a      *Authenticator
	mech   string
	h      func() hash.Hash
	remote string
	step   int

	user      string
	cred      SCRAMCredential
	reason    string      // why the login must fail whatever the proof ("" when the user has this credential)
	kind      FailureKind // reason's kind
	gs2Header string
	first     string // client-first-message-bare
	server    string // server-first-message
	cnonce    string // the client's nonce
	nonce     string // the combined nonce
}

// maxSCRAMMessage bounds a client message.
const maxSCRAMMessage = 4096

func (s *scramServer) Mechanism() string { return s.mech }

// Step runs one step. A message that does not parse, or contradicts the
// exchange, fails the login as malformed (counted and logged; the error
// says what is wrong, and never quotes the proof).
func (s *scramServer) Step(ctx context.Context, msg []byte) ([]byte, *Principal, error) {
	reply, p, err := s.step1or2(ctx, msg)
	if err != nil && !errors.Is(err, ErrInvalidCredentials) {
		s.a.failed(ctx, FailMalformed, "sasl-"+strings.ToLower(s.mech), s.user, s.remote, err.Error())
	}
	return reply, p, err
}

func (s *scramServer) step1or2(ctx context.Context, msg []byte) ([]byte, *Principal, error) {
	s.step++
	switch s.step {
	case 1:
		return s.clientFirst(msg)
	case 2:
		return s.clientFinal(ctx, msg)
	}
	return nil, nil, errors.New("SCRAM exchange already finished")
}

func (s *scramServer) clientFirst(msg []byte) ([]byte, *Principal, error) {
	cf, err := parseSCRAMClientFirst(msg)
	if err != nil {
		return nil, nil, err
	}
	s.user, s.gs2Header, s.first = cf.user, cf.gs2Header, cf.bare
	var snonce [18]byte
	rand.Read(snonce[:])
	s.cnonce = cf.nonce
	s.nonce = cf.nonce + base64.RawStdEncoding.EncodeToString(snonce[:])
	u := s.a.file().users[s.user]
	switch {
	case u == nil:
		s.reason, s.kind = "unknown user", FailUnknownUser
	case len(u.scram[s.mech].StoredKey) == 0:
		s.reason, s.kind = "the user has no "+s.mech+" credentials in the auth file", FailWrongPassword
	default:
		s.cred = u.scram[s.mech]
	}
	if s.reason != "" {
		// A made-up but stable salt: the answer must not tell an unknown
		// user from a wrong password (RFC 5802 §5.1).
		s.cred = SCRAMCredential{Iterations: DefaultSCRAMIterations,
			Salt: hmacSum(sha256.New, s.a.secret[:], []byte("scram-salt\x00"+s.mech+"\x00"+s.user))[:16]}
	}
	s.server = "r=" + s.nonce + ",s=" + base64.StdEncoding.EncodeToString(s.cred.Salt) + ",i=" + strconv.Itoa(s.cred.Iterations)
	return []byte(s.server), nil, nil
}

func (s *scramServer) clientFinal(ctx context.Context, msg []byte) ([]byte, *Principal, error) {
	cf, err := parseSCRAMClientFinal(msg)
	if err != nil {
		return nil, nil, err
	}
	if cf.channelBinding != base64.StdEncoding.EncodeToString([]byte(s.gs2Header)) {
		return nil, nil, errors.New("malformed SCRAM client-final message: the channel binding does not repeat the GS2 header")
	}
	// librdkafka (kcat, confluent-kafka-*) sends the client nonce again
	// before the combined one; Kafka accepts it, and so do we.
	if cf.nonce != s.nonce && cf.nonce != s.cnonce+s.nonce {
		return nil, nil, errors.New("malformed SCRAM client-final message: the nonce is not the one the server sent")
	}
	method := "sasl-" + strings.ToLower(s.mech)
	if len(cf.proof) != s.h().Size() {
		return nil, nil, s.a.failed(ctx, FailMalformed, method, s.user, s.remote, "proof of the wrong size")
	}
	authMessage := []byte(s.first + "," + s.server + "," + cf.withoutProof)
	ok := s.reason == ""
	if ok {
		sig := hmacSum(s.h, s.cred.StoredKey, authMessage)
		clientKey := make([]byte, len(sig))
		subtle.XORBytes(clientKey, cf.proof, sig)
		stored := s.h()
		stored.Write(clientKey)
		ok = subtle.ConstantTimeCompare(stored.Sum(nil), s.cred.StoredKey) == 1
		if !ok {
			s.reason, s.kind = "wrong password", FailWrongPassword
		}
	}
	if !ok {
		return nil, nil, s.a.failed(ctx, s.kind, method, s.user, s.remote, s.reason)
	}
	p := s.a.principal(s.user, method)
	return []byte("v=" + base64.StdEncoding.EncodeToString(hmacSum(s.h, s.cred.ServerKey, authMessage))), &p, nil
}

// scramClientFirst is a parsed client-first-message.
type scramClientFirst struct {
	gs2Header string // "n,," or "y,," with the authzid
	bare      string // client-first-message-bare
	user      string
	nonce     string
}

// parseSCRAMClientFirst reads gs2-header client-first-message-bare: "n,,"
// or "y,," (an optional a=authzid, which must be the user), then
// "n=user,r=nonce" and optional extensions. Channel binding ("p=") and
// mandatory extensions ("m=") are refused.
func parseSCRAMClientFirst(msg []byte) (scramClientFirst, error) {
	var cf scramClientFirst
	bad := func(why string) error { return errors.New("malformed SCRAM client-first message: " + why) }
	if len(msg) > maxSCRAMMessage {
		return cf, bad("too long")
	}
	s := string(msg)
	flag, rest, ok := strings.Cut(s, ",")
	if !ok {
		return cf, bad("no GS2 header")
	}
	switch {
	case flag == "n", flag == "y":
	case strings.HasPrefix(flag, "p="):
		return cf, errors.New("SCRAM channel binding (-PLUS) is not supported")
	default:
		return cf, bad("bad GS2 channel binding flag")
	}
	authz, bare, ok := strings.Cut(rest, ",")
	if !ok {
		return cf, bad("no GS2 header")
	}
	var authzid string
	if authz != "" {
		v, ok := strings.CutPrefix(authz, "a=")
		if !ok {
			return cf, bad("bad GS2 authzid")
		}
		var err error
		if authzid, err = scramUnescape(v); err != nil {
			return cf, bad("authzid: " + err.Error())
		}
	}
	cf.gs2Header = s[:len(s)-len(bare)]
	cf.bare = bare
	attrs := strings.Split(bare, ",")
	if len(attrs) < 2 {
		return cf, bad("want n=user,r=nonce")
	}
	if strings.HasPrefix(attrs[0], "m=") {
		return cf, errors.New("SCRAM mandatory extensions are not supported")
	}
	u, ok := strings.CutPrefix(attrs[0], "n=")
	if !ok {
		return cf, bad("want n=user first")
	}
	var err error
	if cf.user, err = scramUnescape(u); err != nil || cf.user == "" {
		return cf, bad("bad user name")
	}
	if cf.nonce, ok = strings.CutPrefix(attrs[1], "r="); !ok || !validNonce(cf.nonce) {
		return cf, bad("want r=nonce (printable, no comma) after the user")
	}
	for _, a := range attrs[2:] {
		if len(a) < 2 || a[1] != '=' {
			return cf, bad("bad extension")
		}
	}
	if authzid != "" && authzid != cf.user {
		return cf, errors.New("SCRAM authzid differs from the user: acting as another user is not supported")
	}
	return cf, nil
}

// scramClientFinal is a parsed client-final-message.
type scramClientFinal struct {
	channelBinding string // c=, base64
	nonce          string
	proof          []byte
	withoutProof   string
}

// parseSCRAMClientFinal reads "c=...,r=...[,extensions],p=proof".
func parseSCRAMClientFinal(msg []byte) (scramClientFinal, error) {
	var cf scramClientFinal
	bad := func(why string) error { return errors.New("malformed SCRAM client-final message: " + why) }
	if len(msg) > maxSCRAMMessage {
		return cf, bad("too long")
	}
	s := string(msg)
	i := strings.LastIndex(s, ",p=")
	if i < 0 {
		return cf, bad("no proof (p=)")
	}
	cf.withoutProof = s[:i]
	var err error
	if cf.proof, err = base64.StdEncoding.DecodeString(s[i+3:]); err != nil {
		return cf, bad("proof is not base64")
	}
	attrs := strings.Split(cf.withoutProof, ",")
	if len(attrs) < 2 {
		return cf, bad("want c=...,r=...,p=...")
	}
	var ok bool
	if cf.channelBinding, ok = strings.CutPrefix(attrs[0], "c="); !ok {
		return cf, bad("want c= first")
	}
	if cf.nonce, ok = strings.CutPrefix(attrs[1], "r="); !ok || !validNonce(cf.nonce) {
		return cf, bad("want r=nonce second")
	}
	return cf, nil
}

// scramUnescape decodes a saslname: "=2C" is ',', "=3D" is '='.
func scramUnescape(s string) (string, error) {
	if !strings.Contains(s, "=") {
		return s, nil
	}
	var b strings.Builder
	for i := 0; i < len(s); i++ {
		if s[i] != '=' {
			b.WriteByte(s[i])
			continue
		}
		switch {
		case strings.HasPrefix(s[i:], "=2C"):
			b.WriteByte(',')
		case strings.HasPrefix(s[i:], "=3D"):
			b.WriteByte('=')
		default:
			return "", errors.New("bad escape in name ('=' must be =2C or =3D)")
		}
		i += 2
	}
	return b.String(), nil
}

func validNonce(n string) bool {
	if n == "" {
		return false
	}
	for i := 0; i < len(n); i++ {
		if n[i] < 0x21 || n[i] > 0x7e || n[i] == ',' {
			return false
		}
	}
	return true
}
