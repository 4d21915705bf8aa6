package server

import (
	"context"
	"crypto/tls"
	"io"
	"log/slog"
	"net/http"
	"os/exec"
	"strings"
	"testing"
	"time"

	"connectrpc.com/connect"
	"github.com/prometheus/common/expfmt"
	"github.com/prometheus/common/model"

	"github.com/sluicehq/sluice/auth"
	"github.com/sluicehq/sluice/internal/logcapture"
	registryv1 "github.com/sluicehq/sluice/proto/gen/sluice/registry/v1"
	"github.com/sluicehq/sluice/proto/gen/sluice/registry/v1/registryv1connect"
	"github.com/sluicehq/sluice/tlsconfig"
	"github.com/sluicehq/sluice/tlsconfig/tlsconfigtest"
)

// tlsNode runs a node with TLS, a client CA and authentication.
type tlsNode struct {
	url              string
	dir              string
	serverCA, client *tlsconfigtest.CA
}

func startTLSNode(t *testing.T) *tlsNode {
	t.Helper()
	a, _, _ := newTestAuthenticator(t)
	n := &tlsNode{dir: t.TempDir(), serverCA: tlsconfigtest.NewCA(t, "server CA"), client: tlsconfigtest.NewCA(t, "client CA")}
	cert, key := n.serverCA.Server(t, "sluice").Write(t, n.dir, "server")
	rl, err := tlsconfig.Load(tlsconfig.Files{Cert: cert, Key: key, ClientCA: n.client.Write(t, n.dir, "clients")})
	if err != nil {
		t.Fatal(err)
	}
	n.url = startAuthNode(t, Config{Auth: a, TLS: rl})
	if !strings.HasPrefix(n.url, "https://") {
		t.Fatalf("base URL %q is not https", n.url)
	}
	return n
}

// httpClient trusts the server CA and sends cert (nil: none).
func (n *tlsNode) httpClient(cert *tlsconfigtest.Issued) *http.Client {
	cfg := &tls.Config{RootCAs: n.serverCA.Pool()}
	if cert != nil {
		cfg.GetClientCertificate = func(*tls.CertificateRequestInfo) (*tls.Certificate, error) { return &cert.TLS, nil }
	}
	return &http.Client{Transport: &http.Transport{TLSClientConfig: cfg, ForceAttemptHTTP2: true}, Timeout: 10 * time.Second}
}

// TestHTTPSAndMutualTLS: Go's HTTP client over TLS (HTTP/2 by ALPN):
// without credentials 401; a client certificate from the client CA is its
// CN's principal; basic auth works over TLS; a certificate from another CA
// or an expired one fails the handshake; gRPC over TLS works.
func TestHTTPSAndMutualTLS(t *testing.T) {
	n := startTLSNode(t)
	get := func(c *http.Client, set func(*http.Request)) (int, string, error) {
		req, _ := http.NewRequest("GET", n.url+"/subjects", nil)
		if set != nil {
			set(req)
		}
		resp, err := c.Do(req)
		if err != nil {
			return 0, "", err
		}
		defer resp.Body.Close()
		io.Copy(io.Discard, resp.Body)
		return resp.StatusCode, resp.Proto, nil
	}
	if code, proto, err := get(n.httpClient(nil), nil); err != nil || code != 401 || proto != "HTTP/2.0" {
		t.Fatalf("no credentials: %d %s %v; want 401 over HTTP/2.0", code, proto, err)
	}
	if code, _, err := get(n.httpClient(nil), func(r *http.Request) { r.SetBasicAuth("alice", "alice-pw") }); err != nil || code != 200 {
		t.Fatalf("basic auth over TLS: %d %v", code, err)
	}
	if code, _, err := get(n.httpClient(n.client.Client(t, "alice")), nil); err != nil || code != 200 {
		t.Fatalf("alice's certificate: %d %v", code, err)
	}
	// A header wins over the certificate: a wrong password is refused.
	if code, _, err := get(n.httpClient(n.client.Client(t, "alice")), func(r *http.Request) { r.SetBasicAuth("alice", "nope") }); err != nil || code != 401 {
		t.Fatalf("certificate and a wrong password: %d %v", code, err)
	}
	other := tlsconfigtest.NewCA(t, "other")
	for name, cert := range map[string]*tlsconfigtest.Issued{"other CA": other.Client(t, "alice"), "expired": n.client.ExpiredClient(t, "alice")} {
		// The handshake fails; with TLS 1.3 the client may learn it only
		// as a failed first read ("http2: client conn could not be
		// established").
		if code, _, err := get(n.httpClient(cert), nil); err == nil {
			t.Errorf("%s certificate: %d, want the TLS handshake refused", name, code)
		}
	}
	// Plain HTTP to the TLS port does not get through.
	if resp, err := http.Get("http" + strings.TrimPrefix(n.url, "https") + "/subjects"); err == nil {
		resp.Body.Close()
		if resp.StatusCode == 200 {
			t.Error("plain HTTP answered 200 on the TLS port")
		}
	}
	// gRPC over TLS with a client certificate.
	rc := registryv1connect.NewRegistryServiceClient(n.httpClient(n.client.Client(t, "alice")), n.url, connect.WithGRPC())
	if _, err := rc.ListSubjects(context.Background(), connect.NewRequest(&registryv1.ListSubjectsRequest{})); err != nil {
		t.Fatalf("gRPC over mTLS: %v", err)
	}
}

// TestCurlMutualTLS: curl with --cacert, with and without a client
// certificate and with basic auth.
func TestCurlMutualTLS(t *testing.T) {
	curl, err := exec.LookPath("curl")
	if err != nil {
		t.Skip("curl is not installed (apt-get install curl); skipping the curl TLS test")
	}
	n := startTLSNode(t)
	ca := n.serverCA.Write(t, n.dir, "server-ca")
	cert, key := n.client.Client(t, "alice").Write(t, n.dir, "alice")
	run := func(args ...string) string {
		out, err := exec.Command(curl, append([]string{"-sS", "-o", "/dev/null", "-w", "%{http_code}", "--cacert", ca}, args...)...).CombinedOutput()
		if err != nil {
			return "error: " + strings.TrimSpace(string(out))
		}
		return string(out)
	}
	for _, tt := range []struct {
		args []string
		want string
	}{
		{[]string{n.url + "/subjects"}, "401"},
		{[]string{"--cert", cert, "--key", key, n.url + "/subjects"}, "200"},
		{[]string{"-u", "bob:bob-pw", n.url + "/subjects"}, "200"},
		{[]string{"-u", "bob:wrong", n.url + "/subjects"}, "401"},
		{[]string{n.url + "/healthz"}, "200"},
	} {
		if got := run(tt.args...); got != tt.want {
			t.Errorf("curl %v: %s, want %s", tt.args, got, tt.want)
		}
	}
}

// TestBadClientCertificateCountsAsFailedLogin: a client certificate from
// an unknown CA and an expired one, refused at the HTTPS handshake, are
// each one failed login: sluice_auth_failures_total{reason="bad_certificate"}
// moves by exactly 2 (parsed with expfmt), and each is logged at info with
// the remote address and a request id.
func TestBadClientCertificateCountsAsFailedLogin(t *testing.T) {
	var rec logcapture.Recorder
	yaml, _ := testAuthFile()
	f, err := auth.ParseFile("test", []byte(yaml))
	if err != nil {
		t.Fatal(err)
	}
	a := auth.New(f, auth.Options{Logger: rec.Logger(slog.LevelInfo)})
	n := &tlsNode{dir: t.TempDir(), serverCA: tlsconfigtest.NewCA(t, "server CA"), client: tlsconfigtest.NewCA(t, "client CA")}
	cert, key := n.serverCA.Server(t, "sluice").Write(t, n.dir, "server")
	rl, err := tlsconfig.Load(tlsconfig.Files{Cert: cert, Key: key, ClientCA: n.client.Write(t, n.dir, "clients")})
	if err != nil {
		t.Fatal(err)
	}
	n.url = startAuthNode(t, Config{Auth: a, TLS: rl})

	failures := func() map[string]float64 {
		t.Helper()
		resp, err := n.httpClient(nil).Get(n.url + "/metrics")
		if err != nil {
			t.Fatal(err)
		}
		defer resp.Body.Close()
		parser := expfmt.NewTextParser(model.UTF8Validation)
		mfs, err := parser.TextToMetricFamilies(resp.Body)
		if err != nil {
			t.Fatalf("/metrics does not parse: %v", err)
		}
		out := map[string]float64{}
		for _, m := range mfs["sluice_auth_failures_total"].GetMetric() {
			for _, l := range m.GetLabel() {
				if l.GetName() == "reason" {
					out[l.GetValue()] = m.GetCounter().GetValue()
				}
			}
		}
		return out
	}
	before := failures()
	if len(before) != 5 || before["bad_certificate"] != 0 {
		t.Fatalf("before: %v, want the five reasons at 0", before)
	}
	other := tlsconfigtest.NewCA(t, "other")
	for _, c := range []*tlsconfigtest.Issued{other.Client(t, "alice"), n.client.ExpiredClient(t, "alice")} {
		if resp, err := n.httpClient(c).Get(n.url + "/subjects"); err == nil {
			resp.Body.Close()
			t.Fatalf("a refused certificate got %d", resp.StatusCode)
		}
	}
	// The server counts when it closes the connection, just after the
	// client saw the handshake fail.
	var after map[string]float64
	for deadline := time.Now().Add(10 * time.Second); ; time.Sleep(20 * time.Millisecond) {
		if after = failures(); after["bad_certificate"] >= 2 || time.Now().After(deadline) {
			break
		}
	}
	for reason, v := range after {
		want := before[reason]
		if reason == "bad_certificate" {
			want += 2
		}
		if v != want {
			t.Errorf("sluice_auth_failures_total{reason=%q} = %v, want %v", reason, v, want)
		}
	}
	lines := rec.Lines("authentication failed")
	if len(lines) != 2 {
		t.Fatalf("authentication failed lines: %v", lines)
	}
	for _, l := range lines {
		if l.Attrs["method"] != "mtls" || l.Attrs["kind"] != "bad_certificate" || l.Attrs["request_id"] == "" ||
			!strings.HasPrefix(l.Attrs["remote"], "127.0.0.1:") {
			t.Errorf("line %v: want method mtls, kind bad_certificate, a request_id and the remote address", l.Attrs)
		}
	}
	if lines[0].Attrs["request_id"] == lines[1].Attrs["request_id"] {
		t.Errorf("two refusals share request id %s", lines[0].Attrs["request_id"])
	}
	if !strings.Contains(lines[0].Attrs["reason"]+lines[1].Attrs["reason"], "expired") {
		t.Errorf("no reason says expired: %v", lines)
	}
}
