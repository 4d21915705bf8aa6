package auth

import (
	"bytes"
	"context"
	"crypto/x509"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"net/http"
	"strings"
	"sync"
	"testing"

	"github.com/twmb/franz-go/pkg/sasl"
	"github.com/twmb/franz-go/pkg/sasl/plain"
	"github.com/twmb/franz-go/pkg/sasl/scram"
)

// testFile is an auth file with alice (argon2id, SCRAM, superuser), bob
// (bcrypt, no SCRAM), scrammy (SCRAM only) and a token for ci.
var testFile = sync.OnceValues(func() (string, string) {
	alice, err := UserEntry("alice", "alice-pw", false)
	if err != nil {
		panic(err)
	}
	bob, err := UserEntry("bob", "bob-pw", true)
	if err != nil {
		panic(err)
	}
	bob = bob[:strings.Index(bob, "  scram")] // password only
	scrammy, err := UserEntry("scrammy", "s-pw", false)
	if err != nil {
		panic(err)
	}
	scrammy = strings.Replace(scrammy, scrammy[strings.Index(scrammy, "  password"):strings.Index(scrammy, "  scram")], "", 1)
	token, tokEntry, err := NewToken("ci", "CI pipeline")
	if err != nil {
		panic(err)
	}
	return "users:\n" + indent(alice) + indent(bob) + indent(scrammy) + "tokens:\n" + indent(tokEntry) + "superusers: [alice]\n", token
})

func newTestAuth(t testing.TB) (*Authenticator, string, *bytes.Buffer, *[]Failure) {
	yaml, token := testFile()
	f, err := ParseFile("test", []byte(yaml))
	if err != nil {
		t.Fatalf("%v\n%s", err, yaml)
	}
	var logs bytes.Buffer
	var mu sync.Mutex
	var fails []Failure
	a := New(f, Options{
		Logger:    slog.New(slog.NewTextHandler(&logs, nil)),
		OnFailure: func(fl Failure) { mu.Lock(); fails = append(fails, fl); mu.Unlock() },
	})
	return a, token, &logs, &fails
}

func TestPassword(t *testing.T) {
	a, _, logs, fails := newTestAuth(t)
	ctx := context.Background()
	for _, tt := range []struct {
		user, password string
		ok             bool
		super          bool
		reason         string
	}{
		{"alice", "alice-pw", true, true, ""},
		{"alice", "alice-pw", true, true, ""}, // from the cache
		{"bob", "bob-pw", true, false, ""},
		{"alice", "wrong", false, false, "wrong password"},
		{"alice", "alice-pw", true, true, ""},
		{"nobody", "alice-pw", false, false, "unknown user"},
		{"scrammy", "s-pw", false, false, "no password hash"},
	} {
		p, err := a.Password(ctx, "basic", tt.user, tt.password, "10.0.0.1:5")
		if tt.ok {
			if err != nil || p.Name != tt.user || p.Superuser != tt.super || p.Method != "basic" {
				t.Errorf("%s/%s: %+v, %v", tt.user, tt.password, p, err)
			}
			continue
		}
		if !errors.Is(err, ErrInvalidCredentials) {
			t.Errorf("%s/%s: err %v, want ErrInvalidCredentials", tt.user, tt.password, err)
		}
		last := (*fails)[len(*fails)-1]
		if last.User != tt.user || !strings.Contains(last.Reason, tt.reason) || last.Remote != "10.0.0.1:5" {
			t.Errorf("%s/%s: failure %+v, want reason %q", tt.user, tt.password, last, tt.reason)
		}
	}
	if a.Failures() != 3 || len(*fails) != 3 {
		t.Errorf("Failures() = %d, callbacks %d; want 3", a.Failures(), len(*fails))
	}
	if !strings.Contains(logs.String(), "authentication failed") || !strings.Contains(logs.String(), "user=nobody") {
		t.Errorf("logs lack the failure:\n%s", logs)
	}
	if strings.Contains(logs.String(), "-pw") || strings.Contains(logs.String(), "wrong") && !strings.Contains(logs.String(), "reason=\"wrong password\"") {
		t.Errorf("logs show a password:\n%s", logs)
	}
}

func TestToken(t *testing.T) {
	a, token, _, _ := newTestAuth(t)
	p, err := a.Token(context.Background(), token, "r")
	if err != nil || p.Name != "ci" || p.Method != "token" || p.Superuser {
		t.Fatalf("Token: %+v, %v", p, err)
	}
	if _, err := a.Token(context.Background(), token+"x", "r"); !errors.Is(err, ErrInvalidCredentials) {
		t.Fatalf("wrong token: %v", err)
	}
}

// exchange runs a franz-go SASL client mechanism against a server session.
func exchange(t *testing.T, a *Authenticator, m sasl.Mechanism) (*Principal, error) {
	t.Helper()
	s, err := a.NewSASL(m.Name(), "127.0.0.1:1")
	if err != nil {
		t.Fatal(err)
	}
	sess, msg, err := m.Authenticate(context.Background(), "host:9092")
	if err != nil {
		t.Fatal(err)
	}
	for range 5 {
		reply, p, err := s.Step(context.Background(), msg)
		if err != nil {
			return nil, err
		}
		done, next, cerr := sess.Challenge(reply)
		if cerr != nil {
			t.Fatalf("client refused the server's message: %v", cerr)
		}
		if p != nil {
			if !done {
				t.Fatal("server authenticated, client not done")
			}
			return p, nil
		}
		if done {
			t.Fatal("client done, server not")
		}
		msg = next
	}
	t.Fatal("exchange did not end")
	return nil, nil
}

func TestSASL(t *testing.T) {
	a, _, logs, _ := newTestAuth(t)
	for _, tt := range []struct {
		name   string
		m      sasl.Mechanism
		user   string // "" means failure
		method string
	}{
		{"plain", plain.Auth{User: "alice", Pass: "alice-pw"}.AsMechanism(), "alice", "sasl-plain"},
		{"plain bcrypt", plain.Auth{User: "bob", Pass: "bob-pw"}.AsMechanism(), "bob", "sasl-plain"},
		{"plain wrong", plain.Auth{User: "alice", Pass: "nope"}.AsMechanism(), "", ""},
		{"plain authzid other", plain.Auth{Zid: "bob", User: "alice", Pass: "alice-pw"}.AsMechanism(), "", ""},
		{"scram-256", scram.Auth{User: "alice", Pass: "alice-pw"}.AsSha256Mechanism(), "alice", "sasl-scram-sha-256"},
		{"scram-512", scram.Auth{User: "alice", Pass: "alice-pw"}.AsSha512Mechanism(), "alice", "sasl-scram-sha-512"},
		{"scram only user", scram.Auth{User: "scrammy", Pass: "s-pw"}.AsSha512Mechanism(), "scrammy", "sasl-scram-sha-512"},
		{"scram wrong", scram.Auth{User: "alice", Pass: "nope"}.AsSha256Mechanism(), "", ""},
		{"scram unknown", scram.Auth{User: "nobody", Pass: "alice-pw"}.AsSha256Mechanism(), "", ""},
		{"scram no credentials", scram.Auth{User: "bob", Pass: "bob-pw"}.AsSha256Mechanism(), "", ""},
		{"scram escaped name", scram.Auth{User: "a,=b", Pass: "x"}.AsSha256Mechanism(), "", ""},
	} {
		t.Run(tt.name, func(t *testing.T) {
			p, err := exchange(t, a, tt.m)
			if tt.user == "" {
				if !errors.Is(err, ErrInvalidCredentials) {
					t.Fatalf("err %v, want ErrInvalidCredentials", err)
				}
				return
			}
			if err != nil || p.Name != tt.user || p.Method != tt.method {
				t.Fatalf("got %+v, %v", p, err)
			}
		})
	}
	if strings.Contains(logs.String(), "-pw") || strings.Contains(logs.String(), "nope") {
		t.Errorf("logs show a password:\n%s", logs)
	}
	if !strings.Contains(logs.String(), `user="a,=b"`) {
		t.Errorf("the escaped SCRAM name is not decoded in the log:\n%s", logs)
	}
	if _, err := a.NewSASL("GSSAPI", ""); !errors.Is(err, ErrUnsupportedMechanism) {
		t.Errorf("GSSAPI: %v", err)
	}
}

// TestSCRAMUnknownUserLooksKnown: the server-first message of an unknown
// user has the shape of a known one's and a stable salt.
func TestSCRAMUnknownUserLooksKnown(t *testing.T) {
	a, _, _, _ := newTestAuth(t)
	first := func(user string) string {
		s, _ := a.NewSASL(SCRAMSHA256, "")
		reply, _, err := s.Step(context.Background(), []byte("n,,n="+user+",r=abcdef"))
		if err != nil {
			t.Fatal(err)
		}
		_, rest, _ := strings.Cut(string(reply), ",s=")
		return rest
	}
	if a, b := first("ghost"), first("ghost"); a != b {
		t.Errorf("unknown user's salt changes: %q then %q", a, b)
	}
	if g, k := first("ghost"), first("alice"); len(g) != len(k) {
		t.Errorf("unknown %q and known %q server-first differ in shape", g, k)
	}
}

func TestSCRAMMalformed(t *testing.T) {
	a, _, _, _ := newTestAuth(t)
	for _, tt := range []struct{ first, final, want string }{
		{"n,,n=alice", "", "want n=user,r=nonce"},
		{"p=tls-unique,,n=alice,r=x", "", "channel binding"},
		{"n,,m=x,n=alice,r=x", "", "mandatory extensions"},
		{"n,a=bob,n=alice,r=x", "", "authzid differs"},
		{"n,,n=al=ice,r=x", "", "bad user name"},
		{"x,,n=alice,r=x", "", "channel binding flag"},
		{"n,,n=alice,r=x", "c=biws,r=x,p=AAAA", "nonce is not the one"},
		{"n,,n=alice,r=x", "c=biws,r=xx,p=AAAA", "nonce is not the one"},
		{"n,,n=alice,r=x", "c=eSws,r=x,p=AAAA", "channel binding does not repeat"},
		{"n,,n=alice,r=x", "c=biws,r=xyz", "no proof"},
		{"n,,n=alice,r=x", "c=biws,r=xyz,p=!!", "not base64"},
	} {
		s, _ := a.NewSASL(SCRAMSHA256, "")
		_, _, err := s.Step(context.Background(), []byte(tt.first))
		if tt.final != "" && err == nil {
			_, _, err = s.Step(context.Background(), []byte(tt.final))
		}
		if err == nil || !strings.Contains(err.Error(), tt.want) {
			t.Errorf("%q then %q: err %v, want %q", tt.first, tt.final, err, tt.want)
		}
	}
	// Each is a failed login, counted as malformed.
	if n := a.FailuresOf(FailMalformed); n != 11 {
		t.Errorf("%d malformed failures counted, want 11", n)
	}
}

func FuzzParsePlain(f *testing.F) {
	f.Add([]byte("\x00alice\x00pw"))
	f.Add([]byte("z\x00a\x00"))
	f.Fuzz(func(t *testing.T, msg []byte) {
		z, u, p, err := ParsePlain(msg)
		if err == nil && (u == "" || p == "" || len(z)+len(u)+len(p)+2 != len(msg)) {
			t.Fatalf("accepted %q as %q %q %q", msg, z, u, p)
		}
		if err != nil && (strings.Contains(err.Error(), string(msg)) && len(msg) > 3) {
			t.Fatalf("error quotes the message: %v", err)
		}
	})
}

func FuzzSCRAMClientFirst(f *testing.F) {
	f.Add([]byte("n,,n=user,r=fyko+d2lbbFgONRv9qkxdawL"))
	f.Add([]byte("y,a=user,n=user,r=abc,ext=1"))
	f.Add([]byte("n,,n=us=2Cer,r=x"))
	f.Fuzz(func(t *testing.T, msg []byte) {
		cf, err := parseSCRAMClientFirst(msg)
		if err != nil {
			return
		}
		if cf.user == "" || cf.nonce == "" || cf.gs2Header+cf.bare != string(msg) {
			t.Fatalf("accepted %q as %+v", msg, cf)
		}
	})
}

func FuzzSCRAMClientFinal(f *testing.F) {
	f.Add([]byte("c=biws,r=fyko+d2lbbFgONRv9qkxdawL3rfcNHYJY1ZVvWVs7j,p=v0X8v3Bz2T0CJGbJQyF0X+HI4Ts="))
	f.Add([]byte("c=biws,r=x,e=1,p="))
	f.Fuzz(func(t *testing.T, msg []byte) {
		cf, err := parseSCRAMClientFinal(msg)
		if err != nil {
			return
		}
		if cf.nonce == "" || !strings.HasPrefix(string(msg), cf.withoutProof+",p=") {
			t.Fatalf("accepted %q as %+v", msg, cf)
		}
	})
}

// TestSCRAMFullExchange drives a whole session through the Step interface:
// a third Step fails.
func TestSCRAMStepAfterDone(t *testing.T) {
	a, _, _, _ := newTestAuth(t)
	m := scram.Auth{User: "alice", Pass: "alice-pw"}.AsSha256Mechanism()
	s, _ := a.NewSASL(m.Name(), "")
	sess, msg, _ := m.Authenticate(context.Background(), "")
	reply, _, err := s.Step(context.Background(), msg)
	if err != nil {
		t.Fatal(err)
	}
	_, final, _ := sess.Challenge(reply)
	if _, p, err := s.Step(context.Background(), final); err != nil || p == nil {
		t.Fatalf("final: %v %v", p, err)
	}
	if _, _, err := s.Step(context.Background(), final); err == nil {
		t.Fatal("a third step passed")
	}
}

// TestFailureKinds: each failed login is counted under its kind (the
// failed-login metric's reason), whatever the transport.
func TestFailureKinds(t *testing.T) {
	a, _, _, fails := newTestAuth(t)
	ctx := context.Background()
	bearer := func(h string) error {
		r, _ := http.NewRequest("GET", "/", nil)
		r.Header.Set("Authorization", h)
		_, err := a.Authenticate(r)
		return err
	}
	for _, tt := range []struct {
		name string
		fail func() error
		want FailureKind
	}{
		{"unknown user", func() error { _, err := a.Password(ctx, "basic", "nobody", "x", "r"); return err }, FailUnknownUser},
		{"wrong password", func() error { _, err := a.Password(ctx, "basic", "alice", "x", "r"); return err }, FailWrongPassword},
		{"SCRAM only", func() error { _, err := a.Password(ctx, "sasl-plain", "scrammy", "x", "r"); return err }, FailWrongPassword},
		{"unknown token", func() error { _, err := a.Token(ctx, "nope", "r"); return err }, FailUnknownToken},
		{"empty bearer", func() error { return bearer("Bearer ") }, FailMalformed},
		{"odd scheme", func() error { return bearer("Digest x") }, FailMalformed},
		{"certificate", func() error { return a.CertificateRefused(ctx, "r", x509.UnknownAuthorityError{}) }, FailBadCertificate},
		{"malformed PLAIN", func() error {
			s, _ := a.NewSASL("PLAIN", "r")
			if _, _, err := s.Step(ctx, []byte("no-nul")); err == nil || errors.Is(err, ErrInvalidCredentials) {
				return fmt.Errorf("malformed PLAIN: %v, want the parse error", err)
			}
			return ErrInvalidCredentials
		}, FailMalformed},
	} {
		before := a.FailuresOf(tt.want)
		total := a.Failures()
		if err := tt.fail(); !errors.Is(err, ErrInvalidCredentials) {
			t.Errorf("%s: %v, want ErrInvalidCredentials", tt.name, err)
		}
		if a.FailuresOf(tt.want) != before+1 || a.Failures() != total+1 {
			t.Errorf("%s: %s count %d -> %d (total %d -> %d), want one more of each", tt.name, tt.want, before, a.FailuresOf(tt.want), total, a.Failures())
		}
		if last := (*fails)[len(*fails)-1]; last.Kind != tt.want {
			t.Errorf("%s: failure kind %s, want %s", tt.name, last.Kind, tt.want)
		}
	}
	seen := map[string]uint64{}
	a.EachFailureKind(func(reason string, n uint64) { seen[reason] = n })
	if len(seen) != 5 || seen["wrong_password"] != 2 || seen["malformed"] != 3 {
		t.Errorf("EachFailureKind: %v", seen)
	}
	if !IsCertificateRefusal(fmt.Errorf("wrapped: %w", x509.CertificateInvalidError{Reason: x509.Expired})) || IsCertificateRefusal(io.EOF) {
		t.Error("IsCertificateRefusal misjudges an expired certificate or EOF")
	}
}
