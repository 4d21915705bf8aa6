package evolution

import (
	"slices"
	"testing"

	"github.com/sluicehq/sluice/registry/compat"
	"github.com/sluicehq/sluice/serde"
)

func TestTranslatePointer(t *testing.T) {
	from := map[string]any{"fields": []any{
		map[string]any{"name": "a", "type": "int"},
		map[string]any{"name": "b", "type": "string"},
	}}
	to := map[string]any{"fields": []any{
		map[string]any{"name": "b", "type": "long"},
	}}
	for _, c := range []struct {
		toks     []string
		want     []string
		complete bool
	}{
		{[]string{"fields", "1", "type"}, []string{"fields", "0", "type"}, true}, // b moved from 1 to 0
		{[]string{"fields", "0", "type"}, []string{"fields"}, false},             // a was removed
		{[]string{"fields", "7"}, []string{"fields"}, false},                     // out of range
		{[]string{"nope"}, []string{}, false},
		{nil, []string{}, true},
	} {
		got, complete := translatePointer(from, to, c.toks)
		if !slices.Equal(got, c.want) || complete != c.complete {
			t.Errorf("translatePointer(%v) = %v, %v; want %v, %v", c.toks, got, complete, c.want, c.complete)
		}
	}
}

func TestLocateViolation(t *testing.T) {
	oldAvro := `{"type":"record","name":"R","fields":[{"name":"a","type":"int"},{"name":"b","type":"string"}]}`
	newAvro := "{\"type\":\"record\",\"name\":\"R\",\"fields\":[\n {\"name\":\"b\",\"type\":\"int\"},\n {\"name\":\"c\",\"type\":\"long\"}\n]}"
	proto := "syntax = \"proto3\";\npackage p;\n\nmessage M {\n  int64 id = 1;\n  string note = 2;\n}\n"
	for _, c := range []struct {
		name      string
		format    serde.Format
		newText   string
		oldText   string
		v         compat.Violation
		line, col int
		old, new  string
	}{
		{"backward path in the new schema", serde.Avro, newAvro, oldAvro,
			compat.Violation{Direction: "backward", Path: "/fields/0/type"}, 2, 21, `"string"`, `"int"`},
		{"forward path in the old schema", serde.Avro, newAvro, oldAvro,
			compat.Violation{Direction: "forward", Path: "/fields/1/type"}, 2, 21, `"string"`, `"int"`},
		{"added field has no old value", serde.Avro, newAvro, oldAvro,
			compat.Violation{Direction: "backward", Path: "/fields/1"}, 3, 2, "", `{"name":"c","type":"long"}`},
		{"JSON Schema pointer with #", serde.JSON, "{\n \"properties\": {\"x\": {\"type\": \"string\"}}}", `{"properties": {"x": {"type": "integer"}}}`,
			compat.Violation{Direction: "backward", Path: "#/properties/x/type"}, 2, 31, `"integer"`, `"string"`},
		{"protobuf field", serde.Protobuf, proto, proto,
			compat.Violation{Path: "p.M.note (field 2)"}, 6, 10, "", ""},
		{"protobuf message", serde.Protobuf, proto, proto,
			compat.Violation{Path: "p.M"}, 4, 1, "", ""},
		{"protobuf unknown", serde.Protobuf, proto, proto,
			compat.Violation{Path: "p.Gone"}, 0, 0, "", ""},
		{"not JSON", serde.Avro, "{", "{", compat.Violation{Path: "/fields/0"}, 0, 0, "", ""},
		{"no path", serde.Avro, newAvro, oldAvro, compat.Violation{Kind: "TYPE_MISMATCH"}, 1, 1, "", ""},
	} {
		p := locateViolation(c.format, c.newText, c.oldText, c.v)
		if p.line != c.line || p.col != c.col || p.old != shorten(c.old) || p.new != shorten(c.new) {
			t.Errorf("%s: got %d:%d old %q new %q; want %d:%d old %q new %q", c.name, p.line, p.col, p.old, p.new, c.line, c.col, c.old, c.new)
		}
	}
}

func TestPairSubjects(t *testing.T) {
	for _, c := range []struct {
		subjects, files []string
		want            [][2]string
		err             bool
	}{
		{[]string{"a", "b"}, []string{"a.avsc", "b.proto"}, [][2]string{{"a", "a.avsc"}, {"b", "b.proto"}}, false},
		{[]string{"a=x.avsc", "b"}, []string{"b.json"}, [][2]string{{"a", "x.avsc"}, {"b", "b.json"}}, false},
		{[]string{"k=v"}, []string{"f.avsc"}, [][2]string{{"k=v", "f.avsc"}}, false}, // "=" in a subject
		{[]string{"a"}, nil, nil, true},
		{nil, []string{"f.avsc"}, nil, true},
	} {
		got, err := PairSubjects(c.subjects, c.files)
		if (err != nil) != c.err || !slices.Equal(got, c.want) {
			t.Errorf("PairSubjects(%v, %v) = %v, %v", c.subjects, c.files, got, err)
		}
	}
}

// FuzzLocateViolation feeds arbitrary schema texts and paths to the
// locator: it must never panic, whatever the registry or the files hold.
func FuzzLocateViolation(f *testing.F) {
	f.Add(`{"fields":[{"name":"a","type":"int"}]}`, `{"fields":[]}`, "/fields/0/type", "forward", false)
	f.Add(`{"a":{"b":[1,2,{"name":"x"}]}}`, `{"a":{"b":[{"name":"x"}]}}`, "#/a/b/2/name", "backward", false)
	f.Add("message M { int32 a = 1; }", "", "p.M.a (field 1)", "", true)
	f.Fuzz(func(t *testing.T, newText, oldText, path, dir string, proto bool) {
		format := serde.Avro
		if proto {
			format = serde.Protobuf
		}
		p := locateViolation(format, newText, oldText, compat.Violation{Path: path, Direction: dir})
		if p.line < 0 || p.col < 0 {
			t.Fatalf("negative position %d:%d", p.line, p.col)
		}
	})
}
