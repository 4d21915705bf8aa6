package main

import (
	"errors"
	"fmt"
	"net"
	"os"
	"strings"
	"syscall"
	"testing"
)

// TestTLSHintReset: a request to an https:// node cut by a reset or a
// broken pipe (how a refused client certificate can reach a TLS 1.3
// client) gets the client-certificate hint; the same over http:// or
// another error gets none.
func TestTLSHintReset(t *testing.T) {
	cut := func(url string, errno syscall.Errno) error {
		return fmt.Errorf("canceled: Post %q: %w", url, &net.OpError{Op: "write", Net: "tcp", Err: os.NewSyscallError("write", errno)})
	}
	for _, tc := range []struct {
		name string
		err  error
		want string
	}{
		{"reset over https", cut("https://127.0.0.1:1/x", syscall.ECONNRESET), "--tls-cert"},
		{"broken pipe over https", cut("https://127.0.0.1:1/x", syscall.EPIPE), "--tls-cert"},
		{"reset over http", cut("http://127.0.0.1:1/x", syscall.ECONNRESET), ""},
		{"refused over https", cut("https://127.0.0.1:1/x", syscall.ECONNREFUSED), ""},
		{"other", errors.New("boom"), ""},
	} {
		got := tlsHint(tc.err)
		if tc.want == "" && got != "" || tc.want != "" && !strings.Contains(got, tc.want) {
			t.Errorf("%s: hint %q, want one with %q", tc.name, got, tc.want)
		}
	}
}
