package main

import (
	"bytes"
	"context"
	"crypto/tls"
	"net"
	"net/http"
	"net/http/httptrace"
	"os"
	"path/filepath"
	"strings"
	"syscall"
	"testing"
	"time"

	"github.com/sluicehq/sluice/auth"
	"github.com/sluicehq/sluice/tlsconfig/tlsconfigtest"
)

// runCmd runs the sluice command line args with stdin and returns the exit
// code, stdout and stderr.
func runCmd(t *testing.T, stdin string, args ...string) (int, string, string) {
	t.Helper()
	var out, errb bytes.Buffer
	code := run(context.Background(), args, strings.NewReader(stdin), &out, &errb)
	return code, out.String(), errb.String()
}

func TestServeRefusesNonLoopbackWithoutAuth(t *testing.T) {
	for _, tt := range []struct {
		name string
		args []string
	}{
		{"http on every interface", []string{"--addr", "0.0.0.0:0", "--kafka-addr", ""}},
		{"kafka on every interface", []string{"--addr", "127.0.0.1:0", "--kafka-addr", ":0"}},
	} {
		t.Run(tt.name, func(t *testing.T) {
			dir := filepath.Join(t.TempDir(), "data")
			code, _, stderr := runCmd(t, "", append([]string{"serve", "--data-dir", dir}, tt.args...)...)
			if code != 2 {
				t.Fatalf("exit %d, want 2; stderr:\n%s", code, stderr)
			}
			for _, want := range []string{"refusing to serve on", "without authentication", "--auth-file", "--insecure", "docs/security.md"} {
				if !strings.Contains(stderr, want) {
					t.Errorf("stderr lacks %q:\n%s", want, stderr)
				}
			}
			if _, err := os.Stat(dir); !os.IsNotExist(err) {
				t.Errorf("the data directory was created (%v): the refusal must come first", err)
			}
		})
	}
}

func TestServeNonLoopbackWithAuthOrInsecure(t *testing.T) {
	authFile := filepath.Join(t.TempDir(), "auth.yaml")
	code, entry, stderr := runCmd(t, "pw\n", "auth", "hash-password", "--user", "alice")
	if code != 0 {
		t.Fatalf("hash-password: %d %s", code, stderr)
	}
	if err := os.WriteFile(authFile, []byte("users:\n"+indentYAML(entry)+"superusers: [alice]\n"), 0o600); err != nil {
		t.Fatal(err)
	}
	for _, tt := range []struct {
		name string
		args []string
		want int // status of GET /subjects without credentials
	}{
		{"insecure", []string{"--insecure"}, 200},
		{"auth file", []string{"--auth-file", authFile}, 401},
	} {
		t.Run(tt.name, func(t *testing.T) {
			ctx, cancel := context.WithCancel(context.Background())
			addr, done, stderr := startServe(t, ctx, append([]string{"--addr", "0.0.0.0:0", "--data-dir", t.TempDir()}, tt.args...)...)
			_, port, err := net.SplitHostPort(addr)
			if err != nil {
				t.Fatal(err)
			}
			resp, err := http.Get("http://127.0.0.1:" + port + "/subjects")
			if err != nil {
				t.Fatal(err)
			}
			resp.Body.Close()
			if resp.StatusCode != tt.want {
				t.Errorf("GET /subjects: %d, want %d", resp.StatusCode, tt.want)
			}
			if tt.want == 401 {
				req, _ := http.NewRequest("GET", "http://127.0.0.1:"+port+"/subjects", nil)
				req.SetBasicAuth("alice", "pw")
				resp, err := http.DefaultClient.Do(req)
				if err != nil {
					t.Fatal(err)
				}
				resp.Body.Close()
				if resp.StatusCode != 200 {
					t.Errorf("GET /subjects as alice: %d", resp.StatusCode)
				}
			}
			cancel()
			if code := <-done; code != 0 {
				t.Errorf("serve exited %d:\n%s", code, stderr)
			}
		})
	}
}

func TestServeSecurityFlagErrors(t *testing.T) {
	dir := t.TempDir()
	bad := filepath.Join(dir, "bad.yaml")
	os.WriteFile(bad, []byte("users:\n  - name: alice\n    password: hunter2\n"), 0o600)
	for _, tt := range []struct {
		args []string
		want string
	}{
		{[]string{"--auth-file", filepath.Join(dir, "missing.yaml")}, "missing.yaml"},
		{[]string{"--auth-file", bad}, `line 2: user "alice": password: not an argon2id`},
		{[]string{"--tls-cert", filepath.Join(dir, "c.pem")}, "--tls-key"},
		{[]string{"--tls-client-ca", filepath.Join(dir, "ca.pem")}, "--tls-client-ca needs TLS"},
	} {
		code, _, stderr := runCmd(t, "", append([]string{"serve", "--data-dir", filepath.Join(dir, "d"), "--addr", "127.0.0.1:0", "--kafka-addr", ""}, tt.args...)...)
		if code != 2 || !strings.Contains(stderr, tt.want) {
			t.Errorf("%v: exit %d, stderr %q; want 2 and %q", tt.args, code, stderr, tt.want)
		}
	}
}

func TestAuthHashPassword(t *testing.T) {
	code, out, stderr := runCmd(t, "s3cret\n", "auth", "hash-password")
	if code != 0 || !strings.HasPrefix(out, "$argon2id$v=19$m=19456,t=2,p=1$") || strings.Count(out, "\n") != 1 {
		t.Fatalf("hash-password: %d %q %s", code, out, stderr)
	}
	code, out, _ = runCmd(t, "s3cret\r\n", "auth", "hash-password", "--bcrypt")
	if code != 0 || !strings.HasPrefix(out, "$2a$12$") {
		t.Fatalf("hash-password --bcrypt: %d %q", code, out)
	}
	code, out, _ = runCmd(t, "s3cret", "auth", "hash-password", "--user", "bob")
	if code != 0 || strings.Contains(out, "s3cret") {
		t.Fatalf("hash-password --user: %d %q", code, out)
	}
	f, err := auth.ParseFile("out", []byte("users:\n"+indentYAML(out)))
	if err != nil {
		t.Fatalf("the entry does not parse: %v\n%s", err, out)
	}
	a := auth.New(f, auth.Options{})
	if _, err := a.Password(context.Background(), "basic", "bob", "s3cret", ""); err != nil {
		t.Errorf("the hashed password does not check: %v", err)
	}
	for _, want := range []string{"scram-sha-256: {iterations: 8192", "scram-sha-512: {iterations: 8192"} {
		if !strings.Contains(out, want) {
			t.Errorf("entry lacks %q:\n%s", want, out)
		}
	}
	if code, _, stderr := runCmd(t, "", "auth", "hash-password"); code != 1 || !strings.Contains(stderr, "no password on stdin") {
		t.Errorf("empty stdin: %d %s", code, stderr)
	}
	if code, _, stderr := runCmd(t, "x\n", "auth", "hash-password", "hunter2"); code != 2 || !strings.Contains(stderr, "never from the command line") {
		t.Errorf("password as argument: %d %s", code, stderr)
	}
}

func TestAuthNewToken(t *testing.T) {
	code, out, stderr := runCmd(t, "", "auth", "new-token", "--principal", "ci", "--description", "CI job")
	if code != 0 {
		t.Fatalf("new-token: %d %s", code, stderr)
	}
	first, entry, _ := strings.Cut(out, "\n")
	token, ok := strings.CutPrefix(first, "token: ")
	if !ok || !strings.HasPrefix(token, auth.TokenPrefix) {
		t.Fatalf("first line %q", first)
	}
	if strings.Contains(entry, token) {
		t.Fatal("the entry holds the token itself")
	}
	f, err := auth.ParseFile("out", []byte("tokens:\n"+indentYAML(entry)))
	if err != nil {
		t.Fatalf("%v\n%s", err, entry)
	}
	p, err := auth.New(f, auth.Options{}).Token(context.Background(), token, "")
	if err != nil || p.Name != "ci" {
		t.Fatalf("token: %+v %v", p, err)
	}
	if code, _, _ := runCmd(t, "", "auth", "new-token"); code != 2 {
		t.Errorf("no principal: %d", code)
	}
}

// indentYAML indents every line but comments by two spaces.
func indentYAML(s string) string {
	var b strings.Builder
	for _, l := range strings.SplitAfter(s, "\n") {
		if l != "" && !strings.HasPrefix(l, "#") {
			b.WriteString("  " + l)
		}
	}
	return b.String()
}

// TestServeSIGHUPReload: SIGHUP reloads the certificate and the auth file:
// a connection made before keeps working (same connection, old
// certificate), a new one sees the new certificate, and a user added to the
// auth file can log in.
func TestServeSIGHUPReload(t *testing.T) {
	dir := t.TempDir()
	ca := tlsconfigtest.NewCA(t, "test CA")
	cert, key := ca.Server(t, "first").Write(t, dir, "server")
	authFile := filepath.Join(dir, "auth.yaml")
	entry := func(name, pw string) string {
		code, out, stderr := runCmd(t, pw+"\n", "auth", "hash-password", "--user", name)
		if code != 0 {
			t.Fatalf("hash-password: %s", stderr)
		}
		return indentYAML(out)
	}
	alice := entry("alice", "alice-pw")
	if err := os.WriteFile(authFile, []byte("users:\n"+alice+"superusers: [alice]\n"), 0o600); err != nil {
		t.Fatal(err)
	}
	ctx, cancel := context.WithCancel(context.Background())
	defer cancel()
	addr, done, stderr := startServe(t, ctx, "--addr", "127.0.0.1:0", "--data-dir", filepath.Join(dir, "data"),
		"--tls-cert", cert, "--tls-key", key, "--auth-file", authFile)
	url := "https://" + addr + "/subjects"
	newClient := func() *http.Client {
		return &http.Client{Transport: &http.Transport{TLSClientConfig: &tls.Config{RootCAs: ca.Pool()}, ForceAttemptHTTP2: true}}
	}
	// get returns the status, the server certificate's CN and whether the
	// connection was reused.
	get := func(c *http.Client, user, pw string) (int, string, bool) {
		t.Helper()
		var reused bool
		req, _ := http.NewRequest("GET", url, nil)
		req = req.WithContext(httptrace.WithClientTrace(req.Context(), &httptrace.ClientTrace{
			GotConn: func(i httptrace.GotConnInfo) { reused = i.Reused },
		}))
		req.SetBasicAuth(user, pw)
		resp, err := c.Do(req)
		if err != nil {
			t.Fatal(err)
		}
		resp.Body.Close()
		return resp.StatusCode, resp.TLS.PeerCertificates[0].Subject.CommonName, reused
	}
	old := newClient()
	if code, cn, _ := get(old, "alice", "alice-pw"); code != 200 || cn != "first" {
		t.Fatalf("before reload: %d %s", code, cn)
	}
	if code, _, _ := get(old, "carol", "carol-pw"); code != 401 {
		t.Fatalf("carol before reload: %d", code)
	}

	ca.Server(t, "second").Write(t, dir, "server")
	if err := os.WriteFile(authFile, []byte("users:\n"+alice+entry("carol", "carol-pw")+"superusers: [alice]\n"), 0o600); err != nil {
		t.Fatal(err)
	}
	if err := syscall.Kill(os.Getpid(), syscall.SIGHUP); err != nil {
		t.Fatal(err)
	}
	for deadline := time.Now().Add(10 * time.Second); !strings.Contains(stderr.String(), "SIGHUP: auth file reloaded"); {
		if time.Now().After(deadline) {
			t.Fatalf("no reload logged:\n%s", stderr)
		}
		time.Sleep(10 * time.Millisecond)
	}
	if !strings.Contains(stderr.String(), "SIGHUP: TLS certificate reloaded") {
		t.Fatalf("TLS reload not logged:\n%s", stderr)
	}
	if code, cn, reused := get(old, "alice", "alice-pw"); code != 200 || cn != "first" || !reused {
		t.Errorf("the connection made before the reload: %d, certificate %s, reused %v; want 200, first, true", code, cn, reused)
	}
	if code, cn, reused := get(newClient(), "carol", "carol-pw"); code != 200 || cn != "second" || reused {
		t.Errorf("a new connection after the reload: %d, certificate %s, reused %v; want 200 as carol, second, false", code, cn, reused)
	}

	// A broken auth file is logged and the old one kept.
	os.WriteFile(authFile, []byte("users: [\n"), 0o600)
	syscall.Kill(os.Getpid(), syscall.SIGHUP)
	for deadline := time.Now().Add(10 * time.Second); !strings.Contains(stderr.String(), "auth file not reloaded"); {
		if time.Now().After(deadline) {
			t.Fatalf("the broken file's reload was not logged:\n%s", stderr)
		}
		time.Sleep(10 * time.Millisecond)
	}
	if code, _, _ := get(newClient(), "carol", "carol-pw"); code != 200 {
		t.Errorf("after a failed reload carol gets %d, want the old file kept", code)
	}
	cancel()
	if code := <-done; code != 0 {
		t.Errorf("serve exited %d:\n%s", code, stderr)
	}
}
