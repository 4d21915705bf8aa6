package evolution_test

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/sluicehq/sluice/evolution"
	"github.com/sluicehq/sluice/proto/gen/sluice/broker/v1/brokerv1connect"
	"github.com/sluicehq/sluice/registry/compat"
	"github.com/sluicehq/sluice/sluicetest"
	"github.com/sluicehq/sluice/srclient"
)

// project copies the manifest fixture into a temporary folder with edits
// (file -> contents) and returns the folder.
func project(t *testing.T, edits map[string]string) string {
	t.Helper()
	src := filepath.Join("..", "manifest", "testdata", "project")
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

// orderWithLongTotal changes Order.total from double to long: not
// readable either way under FULL.
const orderWithLongTotal = `{
  "type": "record",
  "name": "Order",
  "namespace": "com.acme",
  "fields": [
    {"name": "id", "type": "string"},
    {"name": "total", "type": "long"},
    {"name": "ship_to", "type": "Address"}
  ]
}
`

// TestCheckFolder checks a manifest against a folder through the Go API:
// the unchanged copy is compatible, the edited one has findings placed in
// the file with old and new values, and every report format says so.
func TestCheckFolder(t *testing.T) {
	base := project(t, nil)
	ctx := context.Background()
	for _, tc := range []struct {
		name       string
		dir        string
		compatible bool
	}{
		{"unchanged", base, true},
		{"total to long", project(t, map[string]string{"schemas/order.avsc": orderWithLongTotal}), false},
	} {
		t.Run(tc.name, func(t *testing.T) {
			in, err := evolution.FromManifest(filepath.Join(tc.dir, "sluice.yaml"), "")
			if err != nil {
				t.Fatal(err)
			}
			against, err := in.Against(base)
			if err != nil {
				t.Fatal(err)
			}
			rep, err := evolution.Check(ctx, in, against)
			if err != nil {
				t.Fatal(err)
			}
			if rep.Compatible() != tc.compatible || rep.Subjects != len(in.Set.Subjects) || rep.Baseline != base {
				t.Fatalf("report %+v", rep)
			}
			if tc.compatible {
				return
			}
			fd := rep.Findings[0]
			if fd.Subject != "orders-value" || fd.Level != "FULL" || fd.Line == 0 || fd.Old != `"double"` || fd.New != `"long"` ||
				fd.File != filepath.ToSlash(filepath.Join(tc.dir, "schemas/order.avsc")) {
				t.Errorf("finding %+v", fd)
			}
			var text, js, gh bytes.Buffer
			rep.Write(&text, evolution.FormatText)
			rep.Write(&js, evolution.FormatJSON)
			rep.Write(&gh, evolution.FormatGitHub)
			if !strings.Contains(text.String(), "orders-value (FULL, ") || !strings.Contains(text.String(), "    old: \"double\"\n    new: \"long\"") {
				t.Errorf("text:\n%s", text.String())
			}
			var doc struct {
				Compatible bool                `json:"compatible"`
				Violations []evolution.Finding `json:"violations"`
			}
			if err := json.Unmarshal(js.Bytes(), &doc); err != nil || doc.Compatible || len(doc.Violations) != len(rep.Findings) {
				t.Errorf("json %v: %s", err, js.String())
			}
			if !strings.HasPrefix(gh.String(), "::error file=") || !strings.Contains(gh.String(), ",line=") {
				t.Errorf("github:\n%s", gh.String())
			}
		})
	}
}

// TestReportGitHubEscapes: workflow command properties and data are
// escaped, so a path or message cannot end the annotation early.
func TestReportGitHubEscapes(t *testing.T) {
	rep := &evolution.Report{Baseline: "b", Subjects: 1, Findings: []evolution.Finding{{
		Subject: "s", File: "a,b:c.avsc", Level: "BACKWARD", Direction: "backward", Kind: "K:1", Path: "/p", Message: "100%\nnext",
	}}}
	var gh bytes.Buffer
	rep.Write(&gh, evolution.FormatGitHub)
	want := "::error file=a%2Cb%3Ac.avsc,line=1,col=1,title=K%3A1::s (BACKWARD, backward) at /p: 100%25%0Anext\n"
	if gh.String() != want {
		t.Errorf("got  %q\nwant %q", gh.String(), want)
	}
}

// TestFromFilesArguments: inputs the arguments cannot make are
// *ArgumentError; a missing file is not.
func TestFromFilesArguments(t *testing.T) {
	_, err := evolution.PairSubjects([]string{"a-value"}, nil)
	var ae *evolution.ArgumentError
	if !errors.As(err, &ae) {
		t.Errorf("subject without file: %v", err)
	}
	_, err = evolution.FromFiles([][2]string{{"a-value", "does-not-exist.avsc"}}, "")
	if err == nil || errors.As(err, &ae) || !strings.Contains(err.Error(), "schema file does-not-exist.avsc") {
		t.Errorf("missing file: %v", err)
	}
}

// TestDiffFiles diffs two Avro files: the changed type is breaking under
// FULL, an added defaulted field is safe.
func TestDiffFiles(t *testing.T) {
	dir := t.TempDir()
	old := filepath.Join(dir, "old.avsc")
	new := filepath.Join(dir, "new.avsc")
	os.WriteFile(old, []byte(`{"type":"record","name":"R","fields":[{"name":"a","type":"int"}]}`), 0o644)
	os.WriteFile(new, []byte(`{"type":"record","name":"R","fields":[{"name":"a","type":"string"},{"name":"b","type":"int","default":0}]}`), 0o644)
	ops, level, err := evolution.ResolveOperands(context.Background(), nil, [2]string{old, new}, compat.Full)
	if err != nil {
		t.Fatal(err)
	}
	rep, err := evolution.Diff(level, ops[0], ops[1])
	if err != nil {
		t.Fatal(err)
	}
	got := map[string]bool{}
	for _, c := range rep.Changes {
		got[c.Change+" "+c.Path] = c.Breaking
	}
	if b, ok := got["changed /fields/0/type"]; !ok || !b {
		t.Errorf("type change not breaking: %+v", rep.Changes)
	}
	if b, ok := got["added /fields/1"]; !ok || b {
		t.Errorf("added field not safe: %+v", rep.Changes)
	}
	if rep.Breaking != 1 {
		t.Errorf("breaking %d: %+v", rep.Breaking, rep.Changes)
	}
	// A subject version without a registry is an argument error.
	_, _, err = evolution.ResolveOperands(context.Background(), nil, [2]string{"orders-value:1", new}, "")
	var ae *evolution.ArgumentError
	if !errors.As(err, &ae) {
		t.Errorf("registry operand without a registry: %v", err)
	}
}

// TestPlanApply plans the fixture against an empty node, applies it, and
// plans again: nothing left to do. Then an incompatible edit is refused
// with its findings, and a registry baseline sees the registered history.
func TestPlanApply(t *testing.T) {
	srv := sluicetest.Start(t)
	ctx := context.Background()
	dir := project(t, nil)
	reader := func() *srclient.Reader { return srclient.NewReader(&srclient.Client{Base: srv.URL}) }
	topics := brokerv1connect.NewTopicServiceClient(srv.HTTPClient, srv.URL)
	display := func(p string) string { return p }
	plan := func(dir string) *evolution.Plan {
		t.Helper()
		set, err := evolution.LoadManifest(os.DirFS(dir), "sluice.yaml")
		if err != nil {
			t.Fatal(err)
		}
		p, err := evolution.NewPlanner(set, reader(), topics, display).Plan(ctx)
		if err != nil {
			t.Fatal(err)
		}
		return p
	}
	p := plan(dir)
	if len(p.Refusals) > 0 || p.Count("+") == 0 {
		t.Fatalf("first plan: %+v", p)
	}
	var done []string
	if err := p.Apply(ctx, func(msg string) { done = append(done, msg) }); err != nil {
		t.Fatal(err)
	}
	if len(done) != p.Changes() {
		t.Errorf("applied %d of %d changes: %q", len(done), p.Changes(), done)
	}
	if p := plan(dir); p.Changes() != 0 {
		var b bytes.Buffer
		p.Write(&b, "sluice.yaml")
		t.Errorf("second plan has changes:\n%s", b.String())
	}
	broken := project(t, map[string]string{"schemas/order.avsc": orderWithLongTotal})
	p = plan(broken)
	if len(p.Refusals) != 1 || len(p.Findings) == 0 || p.Findings[0].Subject != "orders-value" {
		t.Errorf("incompatible plan: refusals %q, findings %+v", p.Refusals, p.Findings)
	}
	// The same edit checked against the registry as a baseline.
	in, err := evolution.FromManifest(filepath.Join(broken, "sluice.yaml"), "")
	if err != nil {
		t.Fatal(err)
	}
	rep, err := evolution.Check(ctx, in, &evolution.RegistryBaseline{Reader: reader()})
	if err != nil {
		t.Fatal(err)
	}
	if rep.Compatible() || rep.Baseline != srv.URL || rep.Findings[0].Version != 1 {
		t.Errorf("registry check: %+v", rep)
	}
}
