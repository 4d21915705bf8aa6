package manifest

import (
	"errors"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"testing/fstest"

	"github.com/sluicehq/sluice/internal/golden"

	"github.com/google/go-cmp/cmp"

	"github.com/sluicehq/sluice/registry/compat"
	"github.com/sluicehq/sluice/serde"
)

func TestResolveAllFormats(t *testing.T) {
	fsys := os.DirFS("testdata/project")
	m, err := Load(fsys, DefaultFile)
	if err != nil {
		t.Fatal(err)
	}
	set, err := m.Resolve(fsys)
	if err != nil {
		t.Fatal(err)
	}
	var got []string
	for _, s := range set.Subjects {
		line := s.Name + " " + string(s.Format) + " " + string(s.Level) + " " + s.File
		for _, r := range s.References {
			line += " ref(" + r.Name + "=" + r.Subject + ")"
		}
		got = append(got, line)
	}
	want := []string{
		"com.acme.Address AVRO BACKWARD schemas/address.avsc",
		"schemas/money.proto PROTOBUF BACKWARD schemas/money.proto",
		"schemas/postal.json JSON BACKWARD schemas/postal.json",
		"orders-key AVRO FULL ",
		"orders-value AVRO FULL schemas/order.avsc ref(com.acme.Address=com.acme.Address)",
		"payments-value PROTOBUF BACKWARD schemas/payment.proto ref(schemas/money.proto=schemas/money.proto)",
		"customers-Customer JSON BACKWARD schemas/customer.json ref(postal.json=schemas/postal.json)",
	}
	if d := cmp.Diff(want, got); d != "" {
		t.Errorf("subjects (-want +got):\n%s", d)
	}
	if s := set.Lookup("orders-value"); s == nil || s.Schema.Format() != serde.Avro {
		t.Errorf("Lookup(orders-value) = %v", s)
	}
	if m.Topics[0].Partitions != 3 || m.Topics[0].Configs["retention.ms"] != "604800000" || m.Topics[0].Compatibility != compat.Full {
		t.Errorf("topic orders = %+v", m.Topics[0])
	}
}

// TestParseErrors checks the messages and positions of invalid manifests
// against testdata/errors.golden.
func TestParseErrors(t *testing.T) {
	cases := []struct{ name, text string }{
		{"empty", ""},
		{"not yaml", "topics: [\n"},
		{"unknown key", "topicz: []\n"},
		{"bad values", `compatibility: SIDEWAYS
strategy: nope
topics:
  - name: "bad name!"
    partitions: 0
    value: {file: x.txt}
  - name: t2
  - name: t3
    key: {primitive: char}
    value: {file: a.avsc, primitive: string}
  - name: t3
    value: {file: /abs.avsc}
`},
		{"record strategy primitive", `topics:
  - name: t
    strategy: record
    key: {primitive: string}
`},
	}
	var sb strings.Builder
	for _, c := range cases {
		_, err := Parse("sluice.yaml", []byte(c.text))
		sb.WriteString("== " + c.name + "\n")
		if err == nil {
			t.Errorf("%s: no error", c.name)
			continue
		}
		var es Errors
		if !errors.As(err, &es) {
			t.Errorf("%s: error %T, want Errors", c.name, err)
		}
		sb.WriteString(err.Error() + "\n")
	}
	checkGolden(t, "errors.golden", sb.String())
}

func TestResolveErrors(t *testing.T) {
	base := fstest.MapFS{
		"sluice.yaml": {Data: []byte("topics:\n  - name: t\n    value: {file: s/a.avsc, record: x.Missing}\n")},
		"s/a.avsc":    {Data: []byte(`{"type":"record","name":"A","fields":[{"name":"f","type":"Nope"}]}`)},
	}
	cases := []struct {
		name string
		fs   fstest.MapFS
		want string
	}{
		{"unknown type", base, "s/a.avsc:1:58: /fields/0/type"},
		{"missing file", fstest.MapFS{"sluice.yaml": {Data: []byte("topics:\n  - name: t\n    value: {file: gone.avsc}\n")}}, "sluice.yaml:3:12: schema file gone.avsc: file does not exist"},
		{"missing record", fstest.MapFS{
			"sluice.yaml": base["sluice.yaml"],
			"s/a.avsc":    {Data: []byte(`{"type":"record","name":"A","fields":[]}`)},
		}, `has no record or message "x.Missing" (it has A)`},
		{"proto syntax", fstest.MapFS{
			"sluice.yaml": {Data: []byte("topics:\n  - name: t\n    value: {file: p.proto}\n")},
			"p.proto":     {Data: []byte("syntax = \"proto3\";\nmessage M {\n  string x = ;\n}\n")},
		}, "p.proto:3:"},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			m, err := Load(c.fs, "sluice.yaml")
			if err != nil {
				t.Fatal(err)
			}
			_, err = m.Resolve(c.fs)
			if err == nil || !strings.Contains(err.Error(), c.want) {
				t.Fatalf("Resolve error = %v, want it to contain %q", err, c.want)
			}
		})
	}
}

func TestLocatePointer(t *testing.T) {
	text := []byte("{\n  \"a\": [1, {\"b\": \"x\"}],\n  \"c~/d\": true\n}")
	cases := []struct {
		ptr       string
		line, col int
	}{
		{"", 1, 1},
		{"/a", 2, 8},
		{"/a/1/b", 2, 18},
		{"/c~0~1d", 3, 11},
		{"/a/7", 2, 8},      // past the end: the deepest value found
		{"/zz/q", 1, 1},     // unknown member
		{"/a/1/b/x", 2, 18}, // into a scalar
	}
	for _, c := range cases {
		l, col, ok := LocatePointer(text, c.ptr)
		if !ok || l != c.line || col != c.col {
			t.Errorf("LocatePointer(%q) = %d:%d %v, want %d:%d", c.ptr, l, col, ok, c.line, c.col)
		}
	}
	if _, _, ok := LocatePointer([]byte("  "), "/a"); ok {
		t.Error("empty text located")
	}
}

func FuzzLocatePointer(f *testing.F) {
	f.Add([]byte(`{"a":[1,{"b":"\u0041"}]}`), "/a/1/b")
	f.Add([]byte(`[`), "/0")
	f.Fuzz(func(t *testing.T, text []byte, ptr string) {
		l, c, ok := LocatePointer(text, ptr)
		if ok && (l < 1 || c < 1) {
			t.Fatalf("position %d:%d", l, c)
		}
		if ok && l > strings.Count(string(text), "\n")+1 {
			t.Fatalf("line %d past the text", l)
		}
	})
}

func FuzzParse(f *testing.F) {
	data, _ := os.ReadFile("testdata/project/sluice.yaml")
	f.Add(data)
	f.Add([]byte("topics: [{name: a, value: {primitive: int}}]"))
	f.Fuzz(func(t *testing.T, data []byte) {
		m, err := Parse("sluice.yaml", data)
		if err == nil && m == nil {
			t.Fatal("nil manifest without error")
		}
		var es Errors
		if err != nil && (!errors.As(err, &es) || len(es) == 0) {
			t.Fatalf("error %T %v is not Errors", err, err)
		}
		if err == nil {
			for _, tp := range m.Topics {
				if tp.Name == "" || tp.Key == nil && tp.Value == nil {
					t.Fatalf("invalid topic accepted: %+v", tp)
				}
			}
		}
	})
}

func checkGolden(t *testing.T, name, got string) {
	t.Helper()
	golden.Check(t, filepath.Join("testdata", name), got)
}
