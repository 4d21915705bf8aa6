package main

// Tests of `sluice schema`. Helpers carry an "sc" prefix so they cannot
// clash with other commands' test helpers in this package.

import (
	"bytes"
	"context"
	"fmt"
	"io"
	"log/slog"
	"net/http/httptest"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/sluicehq/sluice/internal/golden"
	"github.com/sluicehq/sluice/internal/metadb"
	"github.com/sluicehq/sluice/registry"
	"github.com/sluicehq/sluice/registry/rest"
	"github.com/sluicehq/sluice/srclient"
)

// scRegistry serves a fresh registry over the REST API on loopback and
// returns its URL; the schema commands need nothing else.
func scRegistry(t *testing.T) string {
	t.Helper()
	db, err := metadb.Open(filepath.Join(t.TempDir(), "meta.db"))
	if err != nil {
		t.Fatal(err)
	}
	reg, err := registry.Open(context.Background(), registry.Config{DB: db})
	if err != nil {
		db.Close()
		t.Fatal(err)
	}
	srv := httptest.NewServer(rest.NewHandler(reg, rest.Config{Logger: slog.New(slog.NewTextHandler(io.Discard, nil))}))
	t.Cleanup(func() {
		srv.Close()
		reg.Close()
		db.Close()
	})
	return srv.URL
}

// scTranscript runs sluice commands in-process and records each command
// line, its stdout, stderr and exit code for a golden file. The registry
// address and the temporary directory are replaced by ADDR and DIR.
type scTranscript struct {
	t    *testing.T
	addr string
	dir  string
	sb   strings.Builder
}

func (tr *scTranscript) run(stdin string, args ...string) int {
	tr.t.Helper()
	var out, errb bytes.Buffer
	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	defer cancel()
	code := run(ctx, args, strings.NewReader(stdin), &out, &errb)
	clean := func(s string) string {
		return strings.ReplaceAll(strings.ReplaceAll(s, tr.addr, "ADDR"), tr.dir, "DIR")
	}
	fmt.Fprintf(&tr.sb, "$ sluice %s\n", clean(strings.Join(args, " ")))
	tr.sb.WriteString(clean(out.String()))
	if errb.Len() > 0 {
		for _, line := range strings.SplitAfter(strings.TrimSuffix(clean(errb.String()), "\n"), "\n") {
			tr.sb.WriteString("[stderr] " + line)
		}
		tr.sb.WriteString("\n")
	}
	fmt.Fprintf(&tr.sb, "[exit %d]\n\n", code)
	return code
}

// expect runs a command and checks its exit code.
func (tr *scTranscript) expect(code int, stdin string, args ...string) {
	tr.t.Helper()
	if got := tr.run(stdin, args...); got != code {
		tr.t.Errorf("sluice %s: exit %d, want %d", strings.Join(args, " "), got, code)
	}
}

// check compares the transcript with testdata/name (golden.Check; -update
// rewrites it).
func (tr *scTranscript) check(name string) {
	tr.t.Helper()
	golden.Check(tr.t, filepath.Join("testdata", name), tr.sb.String())
}

// scFiles writes schema files into a temporary directory.
func scFiles(t *testing.T, files map[string]string) string {
	t.Helper()
	dir := t.TempDir()
	for name, text := range files {
		if err := os.WriteFile(filepath.Join(dir, name), []byte(text), 0o644); err != nil {
			t.Fatal(err)
		}
	}
	return dir
}

const (
	scOrderV1  = `{"type":"record","name":"Order","namespace":"com.acme","fields":[{"name":"id","type":"long"}]}`
	scOrderV2  = `{"type":"record","name":"Order","namespace":"com.acme","fields":[{"name":"id","type":"long"},{"name":"note","type":"string","default":""}]}`
	scOrderV3  = `{"type":"record","name":"Order","namespace":"com.acme","fields":[{"name":"id","type":"long"},{"name":"qty","type":"int"},{"name":"price","type":"double"}]}`
	scAddress  = `{"type":"record","name":"Address","namespace":"com.acme","fields":[{"name":"street","type":"string"}]}`
	scCustomer = `{"type":"record","name":"Customer","namespace":"com.acme","fields":[{"name":"home","type":"com.acme.Address"}]}`
	scDoc      = `{"type":"object","properties":{"id":{"type":"integer"}}}`
)

// TestSchemaCommands runs a session of every schema command, output and
// errors, against testdata/schema/session.golden.
func TestSchemaCommands(t *testing.T) {
	addr := scRegistry(t)
	dir := scFiles(t, map[string]string{
		"order_v1.avsc": scOrderV1,
		"order_v2.avsc": scOrderV2,
		"order_v3.avsc": scOrderV3,
		"address.avsc":  scAddress,
		"customer.avsc": scCustomer,
		"doc.json":      scDoc,
		"order.proto":   "syntax = \"proto3\";\npackage acme;\n\n// An order.\nmessage Order { int64 id = 1; }\n",
		"broken.avsc":   `{"type":"record","name":"Order"}`,
		"order.txt":     scOrderV1,
		"empty.avsc":    "\n",
	})
	f := func(name string) string { return filepath.Join(dir, name) }
	tr := &scTranscript{t: t, addr: addr, dir: dir}
	r := "--registry=" + addr

	// Registration.
	tr.expect(0, "", "schema", "register", "orders-value", f("order_v1.avsc"), r)
	tr.expect(0, "", "schema", "register", "orders-value", f("order_v1.avsc"), "--addr", addr)
	tr.expect(0, "", "schema", "register", "--output", "json", "orders-key", f("order_v1.avsc"), r)
	tr.expect(0, scDoc, "schema", "register", "doc-value", "-", "--type", "json", r)
	tr.expect(0, "", "schema", "register", "doc2-value", f("doc.json"), r)
	tr.expect(0, "", "schema", "register", "address-value", f("address.avsc"), r)
	tr.expect(0, "", "schema", "register", "customer-value", f("customer.avsc"), "--ref", "com.acme.Address=address-value:latest", r)
	tr.expect(0, "", "schema", "register", "team/orders", f("order_v1.avsc"), r, "--normalize")
	tr.expect(0, "", "schema", "register", "proto-value", f("order.proto"), r)

	// Reading.
	tr.expect(0, "", "schema", "get", "orders-value", r)
	tr.expect(0, "", "schema", "get", "customer-value", "1", r)
	tr.expect(0, "", "schema", "get", "doc-value", "latest", r, "--output", "json")
	tr.expect(0, "", "schema", "get", "--id", "1", r)
	tr.expect(0, "", "schema", "get", "team/orders", r)
	tr.expect(0, "", "schema", "get", "proto-value", r)
	tr.expect(0, "", "schema", "list", r)
	tr.expect(0, "", "schema", "list", "--prefix", "orders", r, "--output", "json")
	tr.expect(0, "", "schema", "list", "orders-value", r)

	// Compatibility tests and an incompatible registration.
	tr.expect(0, "", "schema", "test", "orders-value", f("order_v2.avsc"), r)
	tr.expect(1, "", "schema", "test", "orders-value", f("order_v3.avsc"), r)
	tr.expect(1, "", "schema", "test", "orders-value", f("order_v3.avsc"), "--version", "1", r, "--output", "json")
	tr.expect(1, "", "schema", "test", "orders-value", f("broken.avsc"), r)
	tr.expect(0, "", "schema", "test", "new-value", f("order_v3.avsc"), r)
	tr.expect(2, "", "schema", "test", "orders-value", f("order_v2.avsc"), "--version", "9", r)
	tr.expect(1, "", "schema", "register", "orders-value", f("order_v3.avsc"), r)
	tr.expect(0, "", "schema", "register", "orders-value", f("order_v2.avsc"), r)

	// Configuration.
	tr.expect(0, "", "schema", "config", r)
	tr.expect(0, "", "schema", "config", "orders-value", r)
	tr.expect(0, "", "schema", "config", "orders-value", "--set", "full", r)
	tr.expect(0, "", "schema", "config", "orders-value", r)
	tr.expect(0, "", "schema", "config", "orders-value", r, "--output", "json")
	tr.expect(1, "", "schema", "config", "--set", "SIDEWAYS", r)
	// --delete: the subject inherits the global level again (the web
	// console's "inherit the global level"); a second time it has none.
	tr.expect(0, "", "schema", "config", "orders-value", "--delete", r)
	tr.expect(0, "", "schema", "config", "orders-value", r)
	tr.expect(1, "", "schema", "config", "orders-value", "--delete", r)

	// Deletes.
	tr.expect(1, "", "schema", "delete", "orders-value", "1", "--permanent", r)
	tr.expect(0, "", "schema", "delete", "orders-value", "2", r)
	tr.expect(0, "", "schema", "list", "orders-value", "--deleted", r)
	tr.expect(0, "", "schema", "list", "orders-value", "--deleted", r, "--output", "json")
	tr.expect(0, "", "schema", "delete", "orders-value", r)
	tr.expect(1, "", "schema", "delete", "orders-value", r)
	tr.expect(0, "", "schema", "delete", "orders-value", "--permanent", r, "--output", "json")
	tr.expect(1, "", "schema", "get", "orders-value", r)
	tr.expect(0, "", "schema", "list", r)

	tr.check("schema/session.golden")
}

// TestSchemaUsage covers help and every usage error: exit 2, a message on
// stderr saying what is wrong.
func TestSchemaUsage(t *testing.T) {
	dir := scFiles(t, map[string]string{"order.txt": scOrderV1, "empty.avsc": "\n", "order.avsc": scOrderV1})
	f := func(name string) string { return filepath.Join(dir, name) }
	// Nothing listens on port 1: the commands that get past their usage
	// checks fail to connect (exit 1).
	tr := &scTranscript{t: t, addr: "http://127.0.0.1:1", dir: dir}
	r := "--registry=" + tr.addr

	tr.expect(0, "", "schema", "--help")
	tr.expect(2, "", "schema")
	tr.expect(2, "", "schema", "frobnicate")
	for _, c := range []string{"register", "get", "list", "test", "delete", "config"} {
		tr.expect(0, "", "schema", c, "--help")
	}
	tr.expect(2, "", "schema", "register", "orders-value", r)
	tr.expect(2, "", "schema", "register", "orders-value", f("order.avsc"), "extra", r)
	tr.expect(2, "", "schema", "register", "orders-value", f("order.txt"), r)
	tr.expect(2, "", "schema", "register", "orders-value", f("order.avsc"), "--type", "xml", r)
	tr.expect(2, "", "schema", "register", "orders-value", f("missing.avsc"), r)
	tr.expect(2, "", "schema", "register", "orders-value", f("empty.avsc"), r)
	tr.expect(2, "", "schema", "register", "orders-value", f("order.avsc"), "--ref", "nonsense", r)
	tr.expect(2, "", "schema", "register", "orders-value", f("order.avsc"), "--ref", "a=b:zero", r)
	tr.expect(2, "", "schema", "register", "orders-value", f("order.avsc"), "--output", "yaml", r)
	tr.expect(2, "", "schema", "register", "orders-value", f("order.avsc"), "--no-such-flag", r)
	tr.expect(2, "", "schema", "get", r)
	tr.expect(2, "", "schema", "get", "--id", "3", "orders-value", r)
	tr.expect(2, "", "schema", "list", "orders-value", "--prefix", "x", r)
	tr.expect(2, "", "schema", "test", "orders-value", r)
	tr.expect(2, "", "schema", "delete", r)
	tr.expect(2, "", "schema", "config", "a", "b", r)
	tr.expect(2, "", "schema", "config", "a", "--set", "FULL", "--delete", r)
	// "--" ends the flags: a subject may start with a dash.
	tr.expect(1, "", "schema", "get", r, "--", "-odd-subject")
	tr.expect(1, "", "schema", "list", r)
	tr.expect(2, "", "schema", "test", "orders-value", f("order.avsc"), r)
	tr.check("schema/usage.golden")
}

// TestSchemaAddrFromEnv: without --addr or --registry, $SLUICE_ADDR names
// the registry.
func TestSchemaAddrFromEnv(t *testing.T) {
	addr := scRegistry(t)
	t.Setenv("SLUICE_ADDR", addr)
	var out, errb bytes.Buffer
	if code := run(context.Background(), []string{"schema", "register", "env-value", "-", "--type", "avro"}, strings.NewReader(scOrderV1), &out, &errb); code != 0 {
		t.Fatalf("sluice schema register: exit %d, stderr %q", code, errb.String())
	}
	out.Reset()
	if code := run(context.Background(), []string{"schema", "list"}, strings.NewReader(""), &out, &errb); code != 0 || errb.Len() > 0 {
		t.Fatalf("sluice schema list: exit %d, stderr %q", code, errb.String())
	}
	if out.String() != "env-value\n" {
		t.Errorf("sluice schema list = %q, want the subject registered through $SLUICE_ADDR", out.String())
	}
}

func TestSchemaTypeOf(t *testing.T) {
	tests := []struct {
		flag, file, want string
		ok               bool
	}{
		{"", "a.avsc", "AVRO", true},
		{"", "a.AVRO", "AVRO", true},
		{"", "dir.v2/a.proto", "PROTOBUF", true},
		{"", "a.json", "JSON", true},
		{"", "a.txt", "", false},
		{"", "-", "", false},
		{"Avro", "a.json", "AVRO", true},
		{"proto", "-", "PROTOBUF", true},
		{"jsonschema", "a", "JSON", true},
		{"xml", "a.avsc", "", false},
	}
	for _, tt := range tests {
		got, err := schemaTypeOf(tt.flag, tt.file)
		if got != tt.want || (err == nil) != tt.ok {
			t.Errorf("schemaTypeOf(%q, %q) = %q, %v; want %q, ok=%v", tt.flag, tt.file, got, err, tt.want, tt.ok)
		}
	}
}

func TestRefFlag(t *testing.T) {
	tests := []struct {
		in   string
		want srclient.Reference
		ok   bool
	}{
		{"com.acme.Address=address-value:1", srclient.Reference{Name: "com.acme.Address", Subject: "address-value", Version: 1}, true},
		{"other.proto=other:latest", srclient.Reference{Name: "other.proto", Subject: "other", Version: -1}, true},
		{"x=:.ctx:subj:-1", srclient.Reference{Name: "x", Subject: ":.ctx:subj", Version: -1}, true},
		{"a=b", srclient.Reference{}, false},
		{"=b:1", srclient.Reference{}, false},
		{"a=b:0", srclient.Reference{}, false},
		{"a=b:-2", srclient.Reference{}, false},
		{"a=:1", srclient.Reference{}, false},
		{"nonsense", srclient.Reference{}, false},
	}
	for _, tt := range tests {
		var r refFlag
		err := r.Set(tt.in)
		if (err == nil) != tt.ok || (tt.ok && (len(r) != 1 || r[0] != tt.want)) {
			t.Errorf("Set(%q) = %v, %v; want %v, ok=%v", tt.in, r, err, tt.want, tt.ok)
		}
	}
}

// TestSchemaSoftDeleted: reading a soft-deleted version, or a subject
// whose versions are all soft-deleted, says it is deleted and how to see
// or remove it, where the registry itself answers "not found"; a version
// that never existed is still "not found".
func TestSchemaSoftDeleted(t *testing.T) {
	addr := scRegistry(t)
	dir := scFiles(t, map[string]string{"v1.avsc": scOrderV1, "v2.avsc": scOrderV2})
	tr := &scTranscript{t: t, addr: addr, dir: dir}
	r := "--registry=" + addr
	tr.expect(0, "", "schema", "register", "orders-value", dir+"/v1.avsc", r)
	tr.expect(0, "", "schema", "register", "orders-value", dir+"/v2.avsc", r)
	tr.expect(0, "", "schema", "delete", "orders-value", "1", r)
	tr.expect(1, "", "schema", "get", "orders-value", "1", r)
	tr.expect(1, "", "schema", "get", "orders-value", "1", r, "--output", "json")
	tr.expect(0, "", "schema", "get", "orders-value", "1", "--deleted", r, "--output", "json")
	tr.expect(1, "", "schema", "get", "orders-value", "9", r)
	tr.expect(0, "", "schema", "delete", "orders-value", r)
	tr.expect(1, "", "schema", "get", "orders-value", r)
	tr.expect(1, "", "schema", "get", "orders-value", "2", r)
	tr.expect(1, "", "schema", "list", "orders-value", r)
	tr.expect(0, "", "schema", "list", "orders-value", "--deleted", r)
	tr.expect(0, "", "schema", "get", "--id", "1", r)
	tr.expect(1, "", "schema", "get", "nosuch", r)
	tr.expect(1, "", "schema", "list", "nosuch", r)
	tr.check("schema/soft_deleted.golden")
}
