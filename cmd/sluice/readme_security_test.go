package main

import (
	"context"
	"os"
	"os/exec"
	"path/filepath"
	"regexp"
	"strings"
	"testing"

	"github.com/sluicehq/sluice/tlsconfig/tlsconfigtest"
)

// TestREADMESecurityExample runs the README's "Security" walkthrough as
// written (the commands are checked to be in the README): an auth file made
// with `sluice auth hash-password`, `sluice serve` with it and a
// certificate, alice creating a topic and an ACL, bob producing to it
// through the CLI over TLS and reading it back with kcat over SASL_SSL
// (when kcat is installed), and bob refused when creating a topic (exit 4).
// The certificate comes from the test's CA instead of openssl.
func TestREADMESecurityExample(t *testing.T) {
	readme, err := os.ReadFile("../../README.md")
	if err != nil {
		t.Fatal(err)
	}
	for _, line := range []string{
		"printf 'alice-secret\\n' | sluice auth hash-password --user alice | tee alice.yaml",
		"{ echo 'users:'; sed 's/^/  /' alice.yaml bob.yaml; echo 'superusers: [alice]'; } > auth.yaml",
		"sluice serve --addr :8080 --kafka-addr :9092 --kafka-advertised-addr localhost:9092 --auth-file auth.yaml --tls-cert server.pem --tls-key server-key.pem",
		"SLUICE_PASSWORD=alice-secret sluice topic create orders --user alice",
		"SLUICE_PASSWORD=alice-secret sluice acl create --principal bob --topic orders --operation read,write --user alice",
		"SLUICE_PASSWORD=bob-secret sluice produce orders hello --user bob",
		"kcat -b localhost:9092 -X security.protocol=SASL_SSL -X ssl.ca.location=server.pem -X sasl.mechanisms=SCRAM-SHA-256 -X sasl.username=bob -X sasl.password=bob-secret -C -t orders -o beginning -e",
	} {
		if !strings.Contains(string(readme), line) {
			t.Fatalf("the README's Security section no longer has:\n%s\nupdate this test with it", line)
		}
	}

	dir := t.TempDir()
	ca := tlsconfigtest.NewCA(t, "readme CA")
	cert, key := ca.Server(t, "localhost").Write(t, dir, "server")
	caFile := ca.Write(t, dir, "ca")
	var authYAML strings.Builder
	authYAML.WriteString("users:\n")
	for _, u := range []string{"alice", "bob"} {
		code, out, stderr := runCmd(t, u+"-secret\n", "auth", "hash-password", "--user", u)
		if code != 0 {
			t.Fatalf("hash-password: %s", stderr)
		}
		for _, l := range strings.SplitAfter(out, "\n") { // sed 's/^/  /'
			if l != "" {
				authYAML.WriteString("  " + l)
			}
		}
	}
	authYAML.WriteString("superusers: [alice]\n")
	authFile := filepath.Join(dir, "auth.yaml")
	if err := os.WriteFile(authFile, []byte(authYAML.String()), 0o600); err != nil {
		t.Fatal(err)
	}

	ctx, cancel := context.WithCancel(context.Background())
	defer cancel()
	addr, _, stderr := startServe(t, ctx, "--addr", "127.0.0.1:0", "--data-dir", filepath.Join(dir, "data"),
		"--auth-file", authFile, "--tls-cert", cert, "--tls-key", key)
	kafkaAddr := regexp.MustCompile(`kafka_addr=(\S+)`).FindStringSubmatch(stderr.String())
	if kafkaAddr == nil {
		t.Fatalf("no kafka_addr in:\n%s", stderr)
	}
	vars := func(password string) map[string]string {
		return map[string]string{"SLUICE_ADDR": "https://" + addr, "SLUICE_TLS_CA": caFile, "SLUICE_PASSWORD": password}
	}
	for _, step := range []struct {
		password string
		args     []string
		code     int
	}{
		{"alice-secret", []string{"topic", "create", "orders", "--user", "alice"}, 0},
		{"alice-secret", []string{"acl", "create", "--principal", "bob", "--topic", "orders", "--operation", "read,write", "--user", "alice"}, 0},
		{"bob-secret", []string{"produce", "orders", "hello", "--user", "bob"}, 0},
		{"bob-secret", []string{"topic", "create", "mine", "--user", "bob"}, exitPermissionDenied},
		{"wrong", []string{"topic", "list", "--user", "bob"}, exitUnauthenticated},
	} {
		code, out, errOut := sluiceEnv(vars(step.password), step.args...)
		if code != step.code {
			t.Fatalf("sluice %s: exit %d, want %d\n%s%s", strings.Join(step.args, " "), code, step.code, out, errOut)
		}
	}
	kcat, err := exec.LookPath("kcat")
	if err != nil {
		t.Log("kcat is not installed (apt-get install kcat): the kcat step is skipped")
		return
	}
	out, err := exec.Command(kcat, "-b", kafkaAddr[1], "-X", "security.protocol=SASL_SSL", "-X", "ssl.ca.location="+caFile,
		"-X", "sasl.mechanisms=SCRAM-SHA-256", "-X", "sasl.username=bob", "-X", "sasl.password=bob-secret",
		"-C", "-t", "orders", "-o", "beginning", "-e").CombinedOutput()
	if err != nil || !strings.Contains(string(out), "hello") {
		t.Fatalf("kcat: %v\n%s", err, out)
	}
}
