package main

import (
	"bytes"
	"context"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"

	"github.com/sluicehq/sluice/internal/golden"
)

// ckCopy copies the manifest fixture into a new temp folder and applies
// edits (file -> new contents) there.
func ckCopy(t *testing.T, edits map[string]string) string {
	t.Helper()
	src := filepath.Join("..", "..", "manifest", "testdata", "project")
	dst := t.TempDir()
	err := filepath.WalkDir(src, func(p string, d os.DirEntry, err error) error {
		if err != nil {
			return err
		}
		rel, _ := filepath.Rel(src, p)
		if d.IsDir() {
			return os.MkdirAll(filepath.Join(dst, rel), 0o755)
		}
		b, err := os.ReadFile(p)
		if err != nil {
			return err
		}
		return os.WriteFile(filepath.Join(dst, rel), b, 0o644)
	})
	if err != nil {
		t.Fatal(err)
	}
	for f, text := range edits {
		if err := os.WriteFile(filepath.Join(dst, f), []byte(text), 0o644); err != nil {
			t.Fatal(err)
		}
	}
	return dst
}

func TestSchemaCheckFolder(t *testing.T) {
	base := ckCopy(t, nil)
	// Removing a field under FULL breaks forward reads; the other subjects
	// are unchanged.
	broken := ckCopy(t, map[string]string{"schemas/order.avsc": `{
  "type": "record",
  "name": "Order",
  "namespace": "com.acme",
  "fields": [
    {"name": "id", "type": "string"},
    {"name": "total", "type": "long"},
    {"name": "ship_to", "type": "Address"}
  ]
}
`})
	safe := ckCopy(t, map[string]string{"schemas/order.avsc": `{
  "type": "record", "name": "Order", "namespace": "com.acme",
  "fields": [
    {"name": "id", "type": "string"},
    {"name": "total", "type": "double"},
    {"name": "ship_to", "type": "Address"},
    {"name": "note", "type": "string", "default": ""}
  ]
}
`})
	bad := ckCopy(t, map[string]string{"schemas/payment.proto": "syntax = \"proto3\";\nmessage P {\n  string x = ;\n}\n"})
	var sb strings.Builder
	runCase := func(name string, wantCode int, dir string, args ...string) {
		var out, errb bytes.Buffer
		full := append([]string{"schema", "check", "--manifest", filepath.Join(dir, "sluice.yaml"), "--against", base}, args...)
		code := run(context.Background(), full, strings.NewReader(""), &out, &errb)
		if code != wantCode {
			t.Errorf("%s: exit %d, want %d; stderr: %s", name, code, wantCode, errb.String())
		}
		text := strings.NewReplacer(dir, "NEW", base, "BASE").Replace(out.String() + errb.String())
		sb.WriteString("== " + name + "\n" + text)
	}
	runCase("unchanged", 0, base)
	runCase("safe text", 0, safe)
	runCase("broken text", 1, broken)
	runCase("broken json", 1, broken, "--output", "json")
	runCase("broken github", 1, broken, "--output", "github")
	runCase("invalid schema", 2, bad)
	runCase("missing baseline", 2, safe, "--against", filepath.Join(base, "nope"))

	golden.Check(t, filepath.Join("testdata", "check.golden"), sb.String())
}

func TestSchemaCheckUsage(t *testing.T) {
	var out, errb bytes.Buffer
	if code := run(context.Background(), []string{"schema", "check"}, strings.NewReader(""), &out, &errb); code != 2 || !strings.Contains(errb.String(), "missing baseline") {
		t.Errorf("exit %d, stderr %q", code, errb.String())
	}
	errb.Reset()
	if code := run(context.Background(), []string{"schema", "check", "--against", ".", "--output", "xml"}, strings.NewReader(""), &out, &errb); code != 2 {
		t.Errorf("--output xml: exit %d", code)
	}
}

func TestSchemaCheckGitRef(t *testing.T) {
	if _, err := exec.LookPath("git"); err != nil {
		t.Skip("git is not installed")
	}
	repo := t.TempDir()
	proj := filepath.Join(repo, "svc")
	if err := os.Rename(ckCopy(t, nil), proj); err != nil {
		t.Fatal(err)
	}
	git := func(args ...string) {
		cmd := exec.Command("git", append([]string{"-c", "user.name=t", "-c", "user.email=t@t", "-c", "commit.gpgsign=false"}, args...)...)
		cmd.Dir = repo
		if out, err := cmd.CombinedOutput(); err != nil {
			t.Fatalf("git %v: %v\n%s", args, err, out)
		}
	}
	git("init", "-q", "-b", "main")
	git("add", ".")
	git("commit", "-q", "-m", "base")
	// Break the JSON schema in the work tree: the git ref keeps the old one.
	if err := os.WriteFile(filepath.Join(proj, "schemas", "customer.json"), []byte(`{
  "$schema": "http://json-schema.org/draft-07/schema#",
  "title": "Customer",
  "type": "object",
  "properties": {
    "name": {"type": "integer"},
    "home": {"$ref": "postal.json"}
  }
}`), 0o644); err != nil {
		t.Fatal(err)
	}
	var out, errb bytes.Buffer
	code := run(context.Background(), []string{"schema", "check", "--manifest", filepath.Join(proj, "sluice.yaml"), "--against", "git:main", "--output", "github"}, strings.NewReader(""), &out, &errb)
	if code != 1 || !strings.Contains(out.String(), "customers-Customer") || !strings.Contains(out.String(), "schemas/customer.json,line=6") {
		t.Errorf("exit %d, stdout %q, stderr %q", code, out.String(), errb.String())
	}
	out.Reset()
	errb.Reset()
	code = run(context.Background(), []string{"schema", "check", "--manifest", filepath.Join(proj, "sluice.yaml"), "--against", "git:nosuchref"}, strings.NewReader(""), &out, &errb)
	if code != 2 || !strings.Contains(errb.String(), "nosuchref") {
		t.Errorf("bad ref: exit %d, stderr %q", code, errb.String())
	}
}

func TestSchemaDiff(t *testing.T) {
	dir := t.TempDir()
	write := func(name, text string) string {
		p := filepath.Join(dir, name)
		if err := os.WriteFile(p, []byte(text), 0o644); err != nil {
			t.Fatal(err)
		}
		return p
	}
	oldF := write("old.avsc", `{"type":"record","name":"O","fields":[{"name":"a","type":"int"},{"name":"b","type":"string"}]}`)
	newF := write("new.avsc", `{"type":"record","name":"O","doc":"orders","fields":[{"name":"a","type":"string"},{"name":"c","type":"long","default":0}]}`)
	safeF := write("safe.avsc", `{"type":"record","name":"O","fields":[{"name":"a","type":"long"},{"name":"b","type":"string"}]}`)
	var sb strings.Builder
	for _, c := range []struct {
		code int
		args []string
	}{
		{1, []string{oldF, newF}},
		{0, []string{oldF, safeF}},
		{1, []string{oldF, safeF, "--level", "FORWARD", "--output", "json"}},
		{2, []string{oldF, filepath.Join(dir, "none.avsc")}},
		{2, []string{oldF}},
	} {
		var out, errb bytes.Buffer
		code := run(context.Background(), append([]string{"schema", "diff"}, c.args...), strings.NewReader(""), &out, &errb)
		if code != c.code {
			t.Errorf("diff %v: exit %d, want %d; stderr %s", c.args, code, c.code, errb.String())
		}
		sb.WriteString(strings.ReplaceAll("== "+strings.Join(c.args, " ")+"\n"+out.String()+errb.String(), dir, "DIR"))
	}
	golden.Check(t, filepath.Join("testdata", "diff.golden"), sb.String())
}
