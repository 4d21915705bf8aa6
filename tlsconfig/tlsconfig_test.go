package tlsconfig_test

import (
	"bufio"
	"crypto/tls"
	"io"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/sluicehq/sluice/tlsconfig"
	"github.com/sluicehq/sluice/tlsconfig/tlsconfigtest"
)

// echoServer serves TLS with cfg on 127.0.0.1, echoing lines.
func echoServer(t *testing.T, cfg *tls.Config) string {
	t.Helper()
	ln, err := tls.Listen("tcp", "127.0.0.1:0", cfg)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { ln.Close() })
	go func() {
		for {
			c, err := ln.Accept()
			if err != nil {
				return
			}
			go func() {
				defer c.Close()
				r := bufio.NewReader(c)
				for {
					line, err := r.ReadString('\n')
					if err != nil {
						return
					}
					// Tell the client who it is.
					name := "-"
					if cs := c.(*tls.Conn).ConnectionState(); len(cs.VerifiedChains) > 0 {
						name = cs.VerifiedChains[0][0].Subject.CommonName
					}
					io.WriteString(c, name+" "+line)
				}
			}()
		}
	}()
	return ln.Addr().String()
}

func echo(t *testing.T, c *tls.Conn, msg string) string {
	t.Helper()
	if _, err := io.WriteString(c, msg+"\n"); err != nil {
		t.Fatal(err)
	}
	line, err := bufio.NewReader(c).ReadString('\n')
	if err != nil {
		t.Fatal(err)
	}
	return strings.TrimSpace(line)
}

// TestReload: after Reload, a connection made before keeps working with the
// old certificate and a new one sees the new certificate.
func TestReload(t *testing.T) {
	dir := t.TempDir()
	ca := tlsconfigtest.NewCA(t, "test CA")
	first := ca.Server(t, "first")
	certFile, keyFile := first.Write(t, dir, "server")
	r, err := tlsconfig.Load(tlsconfig.Files{Cert: certFile, Key: keyFile})
	if err != nil {
		t.Fatal(err)
	}
	addr := echoServer(t, r.ServerConfig())
	client := &tls.Config{RootCAs: ca.Pool(), ServerName: "127.0.0.1"}
	old, err := tls.Dial("tcp", addr, client)
	if err != nil {
		t.Fatal(err)
	}
	defer old.Close()
	if cn := old.ConnectionState().PeerCertificates[0].Subject.CommonName; cn != "first" {
		t.Fatalf("server certificate %q, want first", cn)
	}
	echo(t, old, "hello")

	ca.Server(t, "second").Write(t, dir, "server")
	if err := r.Reload(); err != nil {
		t.Fatal(err)
	}
	if got := echo(t, old, "still there"); got != "- still there" {
		t.Fatalf("old connection after reload: %q", got)
	}
	fresh, err := tls.Dial("tcp", addr, client)
	if err != nil {
		t.Fatal(err)
	}
	defer fresh.Close()
	if cn := fresh.ConnectionState().PeerCertificates[0].Subject.CommonName; cn != "second" {
		t.Fatalf("new connection's server certificate %q, want second", cn)
	}
	if r.Leaf().Subject.CommonName != "second" {
		t.Errorf("Leaf %q", r.Leaf().Subject.CommonName)
	}

	// A broken file keeps the material in use.
	os.WriteFile(keyFile, []byte("not a key"), 0o600)
	if err := r.Reload(); err == nil || !strings.Contains(err.Error(), keyFile) {
		t.Fatalf("Reload with a bad key: %v", err)
	}
	again, err := tls.Dial("tcp", addr, client)
	if err != nil {
		t.Fatalf("after a failed reload: %v", err)
	}
	again.Close()
}

// TestClientCA: a client certificate from the client CA is verified (its
// CN reaches the server), one from another CA fails the handshake, none is
// allowed; reloading the CA file changes which CA is trusted.
func TestClientCA(t *testing.T) {
	dir := t.TempDir()
	serverCA := tlsconfigtest.NewCA(t, "server CA")
	clientCA := tlsconfigtest.NewCA(t, "client CA")
	otherCA := tlsconfigtest.NewCA(t, "other CA")
	certFile, keyFile := serverCA.Server(t, "srv").Write(t, dir, "server")
	caFile := clientCA.Write(t, dir, "clients")
	r, err := tlsconfig.Load(tlsconfig.Files{Cert: certFile, Key: keyFile, ClientCA: caFile})
	if err != nil {
		t.Fatal(err)
	}
	if !r.MutualTLS() {
		t.Fatal("MutualTLS false")
	}
	addr := echoServer(t, r.ServerConfig())
	dial := func(cert *tlsconfigtest.Issued) (*tls.Conn, error) {
		cfg := &tls.Config{RootCAs: serverCA.Pool(), ServerName: "localhost"}
		if cert != nil {
			// Sent whatever CAs the server names (a Go client would
			// otherwise send none that does not match).
			cfg.GetClientCertificate = func(*tls.CertificateRequestInfo) (*tls.Certificate, error) { return &cert.TLS, nil }
		}
		c, err := tls.Dial("tcp", addr, cfg)
		if err != nil {
			return nil, err
		}
		// TLS 1.3 reports a refused client certificate on the first read.
		if _, err := io.WriteString(c, "x\n"); err != nil {
			return nil, err
		}
		if _, err := bufio.NewReader(c).ReadString('\n'); err != nil {
			c.Close()
			return nil, err
		}
		return c, nil
	}
	c, err := dial(clientCA.Client(t, "alice"))
	if err != nil {
		t.Fatal(err)
	}
	if got := echo(t, c, "hi"); got != "alice hi" {
		t.Errorf("with alice's certificate: %q", got)
	}
	c.Close()
	if c, err = dial(nil); err != nil {
		t.Fatalf("without a certificate: %v", err)
	}
	c.Close()
	if _, err := dial(otherCA.Client(t, "mallory")); err == nil {
		t.Fatal("a certificate from another CA was accepted")
	}
	if _, err := dial(clientCA.ExpiredClient(t, "old")); err == nil {
		t.Fatal("an expired certificate was accepted")
	}

	otherCA.Write(t, dir, "clients")
	if err := r.Reload(); err != nil {
		t.Fatal(err)
	}
	if _, err := dial(otherCA.Client(t, "mallory")); err != nil {
		t.Fatalf("after trusting the other CA: %v", err)
	}
	if _, err := dial(clientCA.Client(t, "alice")); err == nil {
		t.Fatal("the old client CA is still trusted after reload")
	}
}

func TestLoadErrors(t *testing.T) {
	dir := t.TempDir()
	ca := tlsconfigtest.NewCA(t, "ca")
	certFile, keyFile := ca.Server(t, "s").Write(t, dir, "s")
	notPEM := filepath.Join(dir, "x.pem")
	os.WriteFile(notPEM, []byte("hello"), 0o600)
	for _, tt := range []struct {
		files tlsconfig.Files
		want  string
	}{
		{tlsconfig.Files{Cert: certFile}, "--tls-key"},
		{tlsconfig.Files{Cert: filepath.Join(dir, "none.pem"), Key: keyFile}, "none.pem"},
		{tlsconfig.Files{Cert: certFile, Key: keyFile, ClientCA: notPEM}, "no PEM certificate"},
		{tlsconfig.Files{Cert: certFile, Key: keyFile, ClientCA: filepath.Join(dir, "nope.pem")}, "nope.pem"},
	} {
		if _, err := tlsconfig.Load(tt.files); err == nil || !strings.Contains(err.Error(), tt.want) {
			t.Errorf("%+v: %v, want %q", tt.files, err, tt.want)
		}
	}
}
