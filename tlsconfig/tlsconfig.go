// Package tlsconfig loads a server's TLS material (certificate and key, and
// the CA that client certificates must chain to for mutual TLS) and reloads
// it on demand (sluice serve does on SIGHUP): every new handshake uses the
// latest material, connections already open keep theirs.
package tlsconfig

import (
	"crypto/tls"
	"crypto/x509"
	"errors"
	"fmt"
	"os"
	"sync/atomic"
)

// Files names the PEM files of a server's TLS material.
type Files struct {
	// Cert and Key are the server's certificate chain and private key.
	// Required.
	Cert, Key string
	// ClientCA, when set, holds the CA certificates that client
	// certificates are verified against (mutual TLS). A client may still
	// connect without one (it then authenticates otherwise); one that does
	// not verify fails the handshake.
	ClientCA string
}

// Reloader holds the current TLS material. It is safe for concurrent use.
type Reloader struct {
	files Files
	cur   atomic.Pointer[material]
}

type material struct {
	cert *tls.Certificate
	cas  *x509.CertPool // nil without a client CA
}

// Load reads files and returns a Reloader serving them.
func Load(files Files) (*Reloader, error) {
	if files.Cert == "" || files.Key == "" {
		return nil, errors.New("TLS needs both a certificate (--tls-cert) and a key (--tls-key)")
	}
	r := &Reloader{files: files}
	if err := r.Reload(); err != nil {
		return nil, err
	}
	return r, nil
}

// Reload reads the files again; on error the material in use is kept.
func (r *Reloader) Reload() error {
	cert, err := tls.LoadX509KeyPair(r.files.Cert, r.files.Key)
	if err != nil {
		return fmt.Errorf("TLS certificate %s and key %s: %w", r.files.Cert, r.files.Key, err)
	}
	m := &material{cert: &cert}
	if r.files.ClientCA != "" {
		pem, err := os.ReadFile(r.files.ClientCA)
		if err != nil {
			return fmt.Errorf("TLS client CA: %w", err)
		}
		m.cas = x509.NewCertPool()
		if !m.cas.AppendCertsFromPEM(pem) {
			return fmt.Errorf("TLS client CA %s: no PEM certificate in it", r.files.ClientCA)
		}
	}
	r.cur.Store(m)
	return nil
}

// MutualTLS reports whether client certificates are verified.
func (r *Reloader) MutualTLS() bool { return r.files.ClientCA != "" }

// Leaf is the current server certificate, parsed.
func (r *Reloader) Leaf() *x509.Certificate {
	c := r.cur.Load().cert
	if c.Leaf != nil {
		return c.Leaf
	}
	leaf, _ := x509.ParseCertificate(c.Certificate[0])
	return leaf
}

// ServerConfig returns a TLS server configuration that uses the material
// current at each handshake, offering nextProtos in ALPN ("h2",
// "http/1.1" for HTTP; none for Kafka).
func (r *Reloader) ServerConfig(nextProtos ...string) *tls.Config {
	base := &tls.Config{MinVersion: tls.VersionTLS12, NextProtos: nextProtos}
	out := base.Clone()
	out.GetConfigForClient = func(*tls.ClientHelloInfo) (*tls.Config, error) {
		m := r.cur.Load()
		c := base.Clone()
		c.Certificates = []tls.Certificate{*m.cert}
		if m.cas != nil {
			c.ClientCAs = m.cas
			c.ClientAuth = tls.VerifyClientCertIfGiven
		}
		return c, nil
	}
	// http.Server checks that a configuration has a certificate source.
	out.GetCertificate = func(*tls.ClientHelloInfo) (*tls.Certificate, error) { return r.cur.Load().cert, nil }
	return out
}
