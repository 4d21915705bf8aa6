package main

import (
	"context"
	"errors"
	"flag"
	"fmt"
	"log/slog"
	"net"
	"os"
	"os/signal"
	"syscall"

	"github.com/sluicehq/sluice/auth"
	"github.com/sluicehq/sluice/tlsconfig"
)

// securityFlags are sluice serve's authentication and TLS flags.
type securityFlags struct {
	authFile, tlsCert, tlsKey, tlsClientCA *string
	insecure, metricsAuth                  *bool
}

func addSecurityFlags(fs *flag.FlagSet) *securityFlags {
	return &securityFlags{
		authFile:    fs.String("auth-file", "", "YAML `file` of users (argon2id or bcrypt password hashes, SCRAM credentials), API token hashes and superusers; turns authentication on for HTTP (basic auth, bearer tokens) and Kafka (SASL PLAIN, SCRAM-SHA-256/512). See docs/security.md; sluice auth hash-password and new-token make its entries. Reloaded on SIGHUP"),
		tlsCert:     fs.String("tls-cert", "", "PEM `file` of the server certificate chain: serve TLS on both listeners (with --tls-key); reloaded on SIGHUP"),
		tlsKey:      fs.String("tls-key", "", "PEM `file` of the server's private key (with --tls-cert)"),
		tlsClientCA: fs.String("tls-client-ca", "", "PEM `file` of the CA that client certificates are verified against (mutual TLS): a verified certificate authenticates as its subject CN; turns authentication on. Reloaded on SIGHUP"),
		insecure:    fs.Bool("insecure", false, "serve on a non-loopback address without authentication (anyone who reaches the ports can read and write everything)"),
		metricsAuth: fs.Bool("metrics-auth", false, "require authentication on /metrics too (by default it is open to scrapers, like /healthz and /readyz)"),
	}
}

// load reads the auth file and the TLS material. The Authenticator is nil
// when authentication is off (no auth file, no client CA), the Reloader
// when TLS is.
func (f *securityFlags) load(logger *slog.Logger) (*auth.Authenticator, *tlsconfig.Reloader, error) {
	var rl *tlsconfig.Reloader
	switch {
	case *f.tlsCert != "" || *f.tlsKey != "":
		var err error
		rl, err = tlsconfig.Load(tlsconfig.Files{Cert: *f.tlsCert, Key: *f.tlsKey, ClientCA: *f.tlsClientCA})
		if err != nil {
			return nil, nil, err
		}
	case *f.tlsClientCA != "":
		return nil, nil, errors.New("--tls-client-ca needs TLS: give --tls-cert and --tls-key too")
	}
	if *f.authFile == "" && *f.tlsClientCA == "" {
		return nil, rl, nil
	}
	file, err := auth.ParseFile("(none)", nil) // client certificates only
	if *f.authFile != "" {
		file, err = auth.LoadFile(*f.authFile)
	}
	if err != nil {
		return nil, nil, err
	}
	if rl == nil {
		logger.Warn("authentication without TLS: passwords (HTTP basic auth, SASL PLAIN) and tokens cross the network in clear text; give --tls-cert and --tls-key")
	}
	a := auth.New(file, auth.Options{Logger: logger.With("component", "auth")})
	logger.Info("authentication on", "auth_file", *f.authFile, "users", file.Users(), "tokens", file.Tokens(),
		"client_certificates", *f.tlsClientCA != "", "metrics_auth", *f.metricsAuth)
	return a, rl, nil
}

// checkExposure refuses listeners that other machines can reach when
// authentication is off, unless --insecure.
func checkExposure(authOn, insecure bool, lns ...net.Listener) error {
	if authOn || insecure {
		return nil
	}
	for _, ln := range lns {
		if ln == nil {
			continue
		}
		if tcp, ok := ln.Addr().(*net.TCPAddr); ok && !tcp.IP.IsLoopback() {
			return fmt.Errorf("refusing to serve on %v without authentication: it is not a loopback address, and anyone who reaches it could read, write and delete everything. "+
				"Give --auth-file FILE (users and tokens; see docs/security.md, and sluice auth hash-password), or --tls-client-ca FILE for client certificates; "+
				"or --insecure to serve without authentication anyway", ln.Addr())
		}
	}
	return nil
}

// reloadOnSIGHUP reloads the auth file and the TLS material on each SIGHUP
// until ctx ends; a file that fails to load is logged and the old one kept.
// Connections already open keep their certificate and principal.
func reloadOnSIGHUP(ctx context.Context, logger *slog.Logger, authFile string, a *auth.Authenticator, rl *tlsconfig.Reloader) (stop func()) {
	hup := make(chan os.Signal, 1)
	signal.Notify(hup, syscall.SIGHUP)
	done, quit := make(chan struct{}), make(chan struct{})
	go func() {
		defer close(done)
		for {
			select {
			case <-ctx.Done():
				return
			case <-quit:
				return
			case <-hup:
			}
			if rl != nil {
				if err := rl.Reload(); err != nil {
					logger.Error("SIGHUP: TLS material not reloaded; keeping the old one", "err", err)
				} else {
					logger.Info("SIGHUP: TLS certificate reloaded", "subject", rl.Leaf().Subject.String(), "not_after", rl.Leaf().NotAfter)
				}
			}
			if a != nil && authFile != "" {
				if f, err := auth.LoadFile(authFile); err != nil {
					logger.Error("SIGHUP: auth file not reloaded; keeping the old one", "err", err)
				} else {
					a.Reload(f)
					logger.Info("SIGHUP: auth file reloaded", "users", f.Users(), "tokens", f.Tokens())
				}
			}
		}
	}()
	return func() {
		signal.Stop(hup)
		close(quit)
		<-done
	}
}
