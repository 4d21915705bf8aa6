package console

import (
	"encoding/json"
	"testing"
)

// TestPrettyJSON: schema text, rule sets and metadata are indented as
// written: keys in their order (an Avro record's type and name first, a
// JSON Schema's properties as declared), strings unchanged (a CEL
// expression's > is not shown as \u003e).
func TestPrettyJSON(t *testing.T) {
	for _, c := range []struct{ name, in, want string }{
		{"key order kept", `{"type":"record","name":"Order","fields":[{"name":"id","type":"long"}]}`,
			"{\n  \"type\": \"record\",\n  \"name\": \"Order\",\n  \"fields\": [\n    {\n      \"name\": \"id\",\n      \"type\": \"long\"\n    }\n  ]\n}"},
		{"characters kept", `{"expr":"message.total > 0 && x < 1"}`, "{\n  \"expr\": \"message.total > 0 && x < 1\"\n}"},
		{"escapes kept as written", `{"s":"a\u00e9\"b"}`, "{\n  \"s\": \"a\\u00e9\\\"b\"\n}"},
		{"already indented", "{\n\t\"b\": 1,\n\t\"a\": [ 1 , 2 ]\n}\n", "{\n  \"b\": 1,\n  \"a\": [\n    1,\n    2\n  ]\n}"},
		{"a primitive schema", `"string"`, `"string"`},
		{"not JSON", `{"type":`, `{"type":`},
		{"null", `null`, ``},
		{"nothing", ``, ``},
		{"spaces", "  \n", ``},
	} {
		if got := prettyJSON(json.RawMessage(c.in)); got != c.want {
			t.Errorf("%s: prettyJSON(%q)\n got %q\nwant %q", c.name, c.in, got, c.want)
		}
	}
	if got := prettySchema("proto", "syntax = \"proto3\";\n"); got != "syntax = \"proto3\";\n" {
		t.Errorf("prettySchema changed Protobuf text: %q", got)
	}
}
