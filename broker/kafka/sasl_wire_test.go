package kafka

import (
	"context"
	"encoding/binary"
	"io"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/twmb/franz-go/pkg/kerr"
	"github.com/twmb/franz-go/pkg/kmsg"
	"github.com/twmb/franz-go/pkg/sasl/scram"

	"github.com/sluicehq/sluice/auth"
)

// testAuthenticator has alice (password "alice-pw", SCRAM too, superuser)
// and bob ("bob-pw"); made once, hashing is slow on purpose.
var testAuthFile = sync.OnceValue(func() *auth.File {
	alice, err := auth.UserEntry("alice", "alice-pw", false)
	if err != nil {
		panic(err)
	}
	bob, err := auth.UserEntry("bob", "bob-pw", false)
	if err != nil {
		panic(err)
	}
	ind := func(s string) string {
		return "  " + strings.ReplaceAll(strings.TrimSuffix(s, "\n"), "\n", "\n  ") + "\n"
	}
	f, err := auth.ParseFile("test", []byte("users:\n"+ind(alice)+ind(bob)+"superusers: [alice]\n"))
	if err != nil {
		panic(err)
	}
	return f
})

func newAuthServer(t *testing.T) (*Server, string) {
	return newTestServer(t, Config{Auth: auth.New(testAuthFile(), auth.Options{})})
}

func handshake(mech string, v int16) *kmsg.SASLHandshakeRequest {
	r := kmsg.NewPtrSASLHandshakeRequest()
	r.Version, r.Mechanism = v, mech
	return r
}

func authenticate(v int16, msg string) *kmsg.SASLAuthenticateRequest {
	r := kmsg.NewPtrSASLAuthenticateRequest()
	r.Version, r.SASLAuthBytes = v, []byte(msg)
	return r
}

func metadataReq() *kmsg.MetadataRequest {
	r := kmsg.NewPtrMetadataRequest()
	r.Version = 9
	return r
}

// TestSASLGate: before authenticating only ApiVersions and SASL are served;
// anything else closes the connection.
func TestSASLGate(t *testing.T) {
	_, addr := newAuthServer(t)
	c := dialRaw(t, addr)
	av := kmsg.NewPtrApiVersionsRequest()
	av.Version = 3
	av.ClientSoftwareName, av.ClientSoftwareVersion = "test", "1"
	resp := c.roundTrip(av, 1).(*kmsg.ApiVersionsResponse)
	var sasl int
	for _, k := range resp.ApiKeys {
		if k.ApiKey == int16(kmsg.SASLHandshake) && k.MaxVersion == 1 || k.ApiKey == int16(kmsg.SASLAuthenticate) && k.MaxVersion == 2 {
			sasl++
		}
	}
	if sasl != 2 {
		t.Errorf("ApiVersions lacks SaslHandshake v1 / SaslAuthenticate v2: %+v", resp.ApiKeys)
	}
	c.send(metadataReq(), 2)
	c.expectClosed()
}

// TestSASLPlainV1: a wrong password is SASL_AUTHENTICATION_FAILED with a
// message and the connection closes; the right one lets Metadata through,
// with the principal in the connection's context.
func TestSASLPlainV1(t *testing.T) {
	s, addr := newAuthServer(t)
	c := dialRaw(t, addr)
	hs := c.roundTrip(handshake("PLAIN", 1), 1).(*kmsg.SASLHandshakeResponse)
	if hs.ErrorCode != 0 || strings.Join(hs.SupportedMechanisms, ",") != "PLAIN,SCRAM-SHA-256,SCRAM-SHA-512" {
		t.Fatalf("handshake: %+v", hs)
	}
	ar := c.roundTrip(authenticate(2, "\x00alice\x00nope"), 2).(*kmsg.SASLAuthenticateResponse)
	if ar.ErrorCode != kerr.SaslAuthenticationFailed.Code || ar.ErrorMessage == nil || !strings.Contains(*ar.ErrorMessage, "invalid credentials") {
		t.Fatalf("wrong password: code %d message %v", ar.ErrorCode, ar.ErrorMessage)
	}
	if strings.Contains(*ar.ErrorMessage, "nope") {
		t.Errorf("the message shows the password: %q", *ar.ErrorMessage)
	}
	c.expectClosed()

	c = dialRaw(t, addr)
	c.roundTrip(handshake("PLAIN", 1), 1)
	ar = c.roundTrip(authenticate(1, "\x00alice\x00alice-pw"), 2).(*kmsg.SASLAuthenticateResponse)
	if ar.ErrorCode != 0 || ar.SessionLifetimeMillis != 0 {
		t.Fatalf("right password: %+v", ar)
	}
	md := c.roundTrip(metadataReq(), 3).(*kmsg.MetadataResponse)
	if len(md.Brokers) != 1 {
		t.Fatalf("Metadata after authenticating: %+v", md)
	}
	p, ok := connPrincipal(t, s)
	if !ok || p != (auth.Principal{Name: "alice", Superuser: true, Method: "sasl-plain"}) {
		t.Errorf("connection principal %+v %v", p, ok)
	}
	// A second handshake is ILLEGAL_SASL_STATE and closes.
	hs = c.roundTrip(handshake("PLAIN", 1), 4).(*kmsg.SASLHandshakeResponse)
	if hs.ErrorCode != kerr.IllegalSaslState.Code {
		t.Errorf("second handshake: code %d", hs.ErrorCode)
	}
	c.expectClosed()
}

// connPrincipal is the principal of the server's only connection.
func connPrincipal(t *testing.T, s *Server) (auth.Principal, bool) {
	t.Helper()
	s.mu.Lock()
	defer s.mu.Unlock()
	if len(s.conns) != 1 {
		t.Fatalf("%d connections, want 1", len(s.conns))
	}
	for c := range s.conns {
		return auth.FromContext(c.Context())
	}
	return auth.Principal{}, false
}

func TestSASLStates(t *testing.T) {
	_, addr := newAuthServer(t)
	c := dialRaw(t, addr)
	hs := c.roundTrip(handshake("GSSAPI", 1), 1).(*kmsg.SASLHandshakeResponse)
	if hs.ErrorCode != kerr.UnsupportedSaslMechanism.Code || len(hs.SupportedMechanisms) != 3 {
		t.Fatalf("GSSAPI: %+v", hs)
	}
	c.expectClosed()

	c = dialRaw(t, addr)
	ar := c.roundTrip(authenticate(0, "\x00alice\x00alice-pw"), 1).(*kmsg.SASLAuthenticateResponse)
	if ar.ErrorCode != kerr.IllegalSaslState.Code || ar.ErrorMessage == nil {
		t.Fatalf("authenticate without handshake: %+v", ar)
	}
	c.expectClosed()

	c = dialRaw(t, addr)
	c.roundTrip(handshake("PLAIN", 1), 1)
	ar = c.roundTrip(authenticate(0, "garbage"), 2).(*kmsg.SASLAuthenticateResponse)
	if ar.ErrorCode != kerr.SaslAuthenticationFailed.Code || ar.ErrorMessage == nil || !strings.Contains(*ar.ErrorMessage, "malformed SASL PLAIN") {
		t.Fatalf("malformed PLAIN: %+v", ar)
	}
	c.expectClosed()
}

// TestSASLHandshakeV0: after a v0 handshake the SASL messages are bare
// frames (clients before Kafka 1.0).
func TestSASLHandshakeV0(t *testing.T) {
	s, addr := newAuthServer(t)
	c := dialRaw(t, addr)
	c.roundTrip(handshake("PLAIN", 0), 1)
	rawSend(t, c, []byte("\x00bob\x00bob-pw"))
	if reply := rawRecv(t, c); len(reply) != 0 {
		t.Fatalf("PLAIN reply %q, want empty", reply)
	}
	if md := c.roundTrip(metadataReq(), 2).(*kmsg.MetadataResponse); len(md.Brokers) != 1 {
		t.Fatal("Metadata after a v0 PLAIN login")
	}
	if p, _ := connPrincipal(t, s); p.Name != "bob" || p.Superuser {
		t.Errorf("principal %+v", p)
	}
	c.nc.Close()

	// A wrong password closes the connection without an answer.
	c = dialRaw(t, addr)
	c.roundTrip(handshake("PLAIN", 0), 1)
	rawSend(t, c, []byte("\x00bob\x00alice-pw"))
	c.expectClosed()
}

func rawSend(t *testing.T, c *rawConn, msg []byte) {
	t.Helper()
	frame := binary.BigEndian.AppendUint32(nil, uint32(len(msg)))
	frame = append(frame, msg...)
	if _, err := c.nc.Write(frame); err != nil {
		t.Fatal(err)
	}
}

func rawRecv(t *testing.T, c *rawConn) []byte {
	t.Helper()
	var size [4]byte
	c.nc.SetReadDeadline(time.Now().Add(10 * time.Second))
	if _, err := io.ReadFull(c.nc, size[:]); err != nil {
		t.Fatal(err)
	}
	b := make([]byte, binary.BigEndian.Uint32(size[:]))
	if _, err := io.ReadFull(c.nc, b); err != nil {
		t.Fatal(err)
	}
	return b
}

// TestSASLOff: with authentication off, requests need no login and a SASL
// handshake is UNSUPPORTED_SASL_MECHANISM with no mechanisms.
func TestSASLOff(t *testing.T) {
	s, addr := newTestServer(t, Config{})
	c := dialRaw(t, addr)
	c.roundTrip(metadataReq(), 1)
	if _, ok := connPrincipal(t, s); ok {
		t.Error("a principal without authentication")
	}
	hs := c.roundTrip(handshake("PLAIN", 1), 2).(*kmsg.SASLHandshakeResponse)
	if hs.ErrorCode != kerr.UnsupportedSaslMechanism.Code || len(hs.SupportedMechanisms) != 0 {
		t.Fatalf("handshake with auth off: %+v", hs)
	}
}

// TestSASLHandshakeV0SCRAM: a whole SCRAM-SHA-512 exchange in bare frames
// after a v0 handshake, driven by franz-go's SCRAM client, which checks the
// server's signature.
func TestSASLHandshakeV0SCRAM(t *testing.T) {
	s, addr := newAuthServer(t)
	c := dialRaw(t, addr)
	if hs := c.roundTrip(handshake(auth.SCRAMSHA512, 0), 1).(*kmsg.SASLHandshakeResponse); hs.ErrorCode != 0 {
		t.Fatalf("handshake: %d", hs.ErrorCode)
	}
	m := scram.Auth{User: "alice", Pass: "alice-pw"}.AsSha512Mechanism()
	sess, msg, err := m.Authenticate(context.Background(), addr)
	if err != nil {
		t.Fatal(err)
	}
	for done := false; !done; {
		rawSend(t, c, msg)
		if done, msg, err = sess.Challenge(rawRecv(t, c)); err != nil {
			t.Fatalf("client: %v", err)
		}
	}
	if md := c.roundTrip(metadataReq(), 2).(*kmsg.MetadataResponse); len(md.Brokers) != 1 {
		t.Fatal("Metadata after a v0 SCRAM login")
	}
	if p, _ := connPrincipal(t, s); p != (auth.Principal{Name: "alice", Superuser: true, Method: "sasl-scram-sha-512"}) {
		t.Errorf("principal %+v", p)
	}
}
