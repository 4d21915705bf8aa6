package avro_test

import (
	"errors"
	"fmt"
	"path/filepath"
	"strings"
	"testing"

	hamba "github.com/hamba/avro/v2"

	"github.com/sluicehq/sluice/internal/golden"
	"github.com/sluicehq/sluice/serde"
	"github.com/sluicehq/sluice/serde/avro"
)

// validCases are schemas Parse must accept. Each is also a fuzz seed.
var validCases = []struct {
	name, text string
	refs       []serde.Referenced
	// wantName and wantNames check the accessors.
	wantName  string
	wantNames []string
}{
	{name: "primitive bare", text: `"string"`},
	{name: "primitive object collapses", text: ` { "type" : "long" } `},
	{name: "null", text: `"null"`},
	{name: "every primitive", text: `["null","boolean","int","long","float","double","bytes","string"]`},
	{name: "logical timestamp", text: `{"type":"long","logicalType":"timestamp-millis"}`},
	{name: "logical decimal bytes", text: `{"logicalType":"decimal","type":"bytes","scale":2,"precision":10}`},
	{name: "invalid logical type is ignored", text: `{"type":"string","logicalType":"date"}`},
	{name: "invalid decimal is ignored", text: `{"type":"bytes","logicalType":"decimal","precision":-1}`},
	{name: "custom props on array", text: `{"type":"array","items":"int","z":1,"a":{"y":true,"b":null}}`},
	{name: "map", text: `{"type":"map","values":{"type":"array","items":"string"}}`},
	{
		name:      "record with everything",
		wantName:  "com.acme.Order",
		wantNames: []string{"com.acme.Order", "com.acme.Status", "com.acme.Hash", "com.acme.Line"},
		text: `{
		  "type": "record", "name": "Order", "namespace": "com.acme", "doc": "An order.",
		  "aliases": ["Purchase", "org.old.Order"], "owner": "sales", "connect.version": 2,
		  "fields": [
		    {"name": "id", "type": "string", "doc": "Order id.", "aliases": ["order_id"]},
		    {"name": "total", "type": {"type": "bytes", "logicalType": "decimal", "precision": 12, "scale": 2}, "default": "\u0000"},
		    {"name": "status", "type": {"type": "enum", "name": "Status", "symbols": ["NEW", "PAID", "SHIPPED"], "default": "NEW"}, "default": "PAID"},
		    {"name": "hash", "type": {"type": "fixed", "name": "Hash", "size": 4}, "default": "\u00ff\u0000ab"},
		    {"name": "lines", "type": {"type": "array", "items": {"type": "record", "name": "Line", "fields": [
		        {"name": "sku", "type": "string"},
		        {"name": "qty", "type": "int", "default": 1}
		      ]}}, "default": [{"sku": "a"}, {"qty": 3, "sku": "b"}]},
		    {"name": "note", "type": ["null", "string"], "default": null, "order": "IGNORE"},
		    {"name": "tags", "type": {"type": "map", "values": "long"}, "default": {"b": 2, "a": 1}, "order": "descending"},
		    {"name": "ratio", "type": "double", "default": 1.5e3},
		    {"name": "flag", "type": "boolean", "default": false, "x-prop": [1, 2]},
		    {"name": "previous", "type": ["null", "Order"], "default": null},
		    {"name": "again", "type": "com.acme.Status", "default": "SHIPPED"}
		  ]
		}`,
	},
	{
		name:      "nested namespaces and null namespace",
		wantName:  "a.Outer",
		wantNames: []string{"a.Outer", "b.Inner", "Plain", "a.Same"},
		text: `{"type":"record","name":"Outer","namespace":"a","fields":[
		  {"name":"inner","type":{"type":"record","name":"b.Inner","fields":[
		    {"name":"plain","type":{"type":"enum","name":"Plain","namespace":"","symbols":["X"]}},
		    {"name":"same","type":{"type":"fixed","name":"Same","namespace":"a","size":1}}
		  ]}},
		  {"name":"p","type":"Plain"},
		  {"name":"s","type":"Same"},
		  {"name":"i","type":"b.Inner"}
		]}`,
	},
	{name: "error record", text: `{"type":"error","name":"Oops","fields":[{"name":"msg","type":"string"}]}`, wantName: "Oops", wantNames: []string{"Oops"}},
	{name: "empty record", text: `{"type":"record","name":"Empty","fields":[]}`, wantName: "Empty", wantNames: []string{"Empty"}},
	{
		name:      "recursive linked list",
		wantName:  "List",
		wantNames: []string{"List"},
		text:      `{"type":"record","name":"List","fields":[{"name":"value","type":"int"},{"name":"next","type":["null","List"],"default":null}]}`,
	},
	{
		name:      "recursive tree with default using the record",
		wantName:  "Tree",
		wantNames: []string{"Tree"},
		text:      `{"type":"record","name":"Tree","fields":[{"name":"children","type":{"type":"array","items":"Tree"},"default":[{"children":[]}]}]}`,
	},
	{
		name:      "record default relies on field default",
		wantName:  "R",
		wantNames: []string{"R", "In"},
		text:      `{"type":"record","name":"R","fields":[{"name":"in","type":{"type":"record","name":"In","fields":[{"name":"b","type":"bytes","default":"\u00e9"},{"name":"n","type":"int"}]},"default":{"n":1}}]}`,
	},
	{
		name:      "union default omits bytes and fixed fields",
		wantName:  "R",
		wantNames: []string{"R", "In", "F"},
		text:      `{"type":"record","name":"R","fields":[{"name":"u","type":[{"type":"record","name":"In","fields":[{"name":"b","type":"bytes","default":"x"},{"name":"f","type":{"type":"fixed","name":"F","size":1},"default":"y"}]},"null"],"default":{}}]}`,
	},
	{
		name:      "reference object form",
		wantNames: []string{"E"},
		text:      `["null",{"type":"enum","name":"E","symbols":["A"]},{"type":"array","items":{"type":"E","ignored":true}}]`,
	},
	{
		name:      "union of named types",
		wantNames: []string{"x.A", "x.B"},
		text:      `[{"type":"record","name":"x.A","fields":[]},{"type":"record","name":"x.B","fields":[{"name":"a","type":"x.A"}]}]`,
	},
	{
		name:      "uses references",
		wantName:  "com.acme.Order",
		wantNames: []string{"com.acme.Order"},
		refs: []serde.Referenced{
			{Name: "Currency", Text: `{"type":"enum","name":"Currency","symbols":["EUR","USD"]}`},
			{Name: "com.acme.Money", Text: `{"type":"record","name":"Money","namespace":"com.acme","fields":[{"name":"cents","type":"long"},{"name":"currency","type":"Currency"}]}`},
		},
		text: `{"type":"record","name":"Order","namespace":"com.acme","fields":[{"name":"total","type":"Money"},{"name":"cur","type":"Currency","default":"EUR"}]}`,
	},
	{
		name:      "top-level reference to a referenced type",
		wantName:  "com.acme.Currency",
		wantNames: nil,
		refs:      []serde.Referenced{{Name: "com.acme.Currency", Text: `{"type":"enum","name":"com.acme.Currency","symbols":["EUR"]}`}},
		text:      `"com.acme.Currency"`,
	},
	{name: "unicode and escapes", text: `{"type":"record","name":"U","doc":"caf\u00e9 <b>&amp;</b> \"q\" \\ \n\t\u0001","fields":[{"name":"s","type":"string","default":"日本"}]}`, wantName: "U", wantNames: []string{"U"}},
	{name: "number literals kept", text: `{"type":"record","name":"N","fields":[{"name":"d","type":"double","default":-0.0},{"name":"f","type":"float","default":1E-3},{"name":"l","type":"long","default":9223372036854775807},{"name":"i","type":"int","default":-2147483648}]}`, wantName: "N", wantNames: []string{"N"}},
	{name: "namespace null", text: `{"type":"record","name":"R","namespace":null,"fields":[]}`, wantName: "R", wantNames: []string{"R"}},
	{name: "enum default tolerates symbols", text: `{"type":"enum","name":"Color","symbols":["RED","GREEN","UNKNOWN"],"default":"UNKNOWN","doc":"c"}`, wantName: "Color", wantNames: []string{"Color"}},
	{name: "fixed with doc and decimal", text: `{"type":"fixed","name":"Dec","size":16,"logicalType":"decimal","precision":38,"scale":4,"doc":"d","aliases":["OldDec"]}`, wantName: "Dec", wantNames: []string{"Dec"}},
}

func TestParseValid(t *testing.T) {
	var out strings.Builder
	for _, tc := range validCases {
		s, err := avro.Parse(tc.text, tc.refs)
		if err != nil {
			t.Errorf("%s: Parse: %v", tc.name, err)
			continue
		}
		if s.Format() != serde.Avro {
			t.Errorf("%s: Format = %q", tc.name, s.Format())
		}
		if got := s.Name(); got != tc.wantName {
			t.Errorf("%s: Name() = %q, want %q", tc.name, got, tc.wantName)
		}
		if got := s.Names(); strings.Join(got, ",") != strings.Join(tc.wantNames, ",") {
			t.Errorf("%s: Names() = %q, want %q", tc.name, got, tc.wantNames)
		}
		checkRoundTrip(t, tc.name, s, tc.refs)
		fmt.Fprintf(&out, "== %s\n%s\n%s\n", tc.name, s.Canonical(), s.Normalized())
	}
	golden.Check(t, filepath.Join("testdata", "canonical.golden"), out.String())
}

// checkRoundTrip asserts the invariants of the canonical texts: each parses
// again to itself, and the codec schema does not change.
func checkRoundTrip(t *testing.T, name string, s *avro.Schema, refs []serde.Referenced) {
	t.Helper()
	c, err := avro.Parse(s.Canonical(), refs)
	if err != nil {
		t.Errorf("%s: canonical text does not parse: %v\n%s", name, err, s.Canonical())
		return
	}
	if c.Canonical() != s.Canonical() {
		t.Errorf("%s: canonical not idempotent:\n%s\n%s", name, s.Canonical(), c.Canonical())
	}
	if c.Normalized() != s.Normalized() {
		t.Errorf("%s: normalized text changed through canonical:\n%s\n%s", name, s.Normalized(), c.Normalized())
	}
	n, err := avro.Parse(s.Normalized(), refs)
	if err != nil {
		t.Errorf("%s: normalized text does not parse: %v\n%s", name, err, s.Normalized())
		return
	}
	if n.Normalized() != s.Normalized() {
		t.Errorf("%s: normalized not idempotent:\n%s\n%s", name, s.Normalized(), n.Normalized())
	}
	if a, b := s.Avro().String(), n.Avro().String(); a != b {
		t.Errorf("%s: parsing canonical form differs after normalizing:\n%s\n%s", name, a, b)
	}
}

// invalidCases are schemas Parse must reject; path is the JSON pointer of
// the first problem (line:col for malformed JSON). Full messages are in
// testdata/errors.golden.
var invalidCases = []struct {
	name, text string
	refs       []serde.Referenced
	path       string
}{
	{name: "malformed JSON", text: "{\"type\": \"record\",\n  \"name\": }", path: "2:11"},
	{name: "truncated JSON", text: `{"type":"record","fields":[`, path: "1:28"},
	{name: "trailing text", text: `"int" "long"`, path: "1:7"},
	{name: "duplicate key", text: `{"type":"int", "type":"long"}`, path: "1:16"},
	{name: "empty text", text: ``, path: "1:1"},
	{name: "number is not a schema", text: `42`, path: ""},
	{name: "null is not a schema", text: `null`, path: ""},
	{name: "unknown type name", text: `"Foo"`, path: ""},
	{name: "misspelled primitive", text: `{"type":"strin"}`, path: "/type"},
	{name: "bare complex keyword", text: `{"type":"array","items":"record"}`, path: "/items"},
	{name: "object without type", text: `{"name":"x"}`, path: ""},
	{name: "type is a union", text: `{"type":["null","int"]}`, path: "/type"},
	{name: "type is an object", text: `{"type":{"type":"int"}}`, path: "/type"},
	{name: "record without name", text: `{"type":"record","fields":[]}`, path: ""},
	{name: "record name not a string", text: `{"type":"record","name":5,"fields":[]}`, path: "/name"},
	{name: "record without fields", text: `{"type":"record","name":"R"}`, path: ""},
	{name: "fields not an array", text: `{"type":"record","name":"R","fields":{}}`, path: "/fields"},
	{name: "enum without symbols", text: `{"type":"enum","name":"E"}`, path: ""},
	{name: "enum with no symbols", text: `{"type":"enum","name":"E","symbols":[]}`, path: "/symbols"},
	{name: "fixed without size", text: `{"type":"fixed","name":"F"}`, path: ""},
	{name: "fixed size negative", text: `{"type":"fixed","name":"F","size":-1}`, path: "/size"},
	{name: "fixed size fraction", text: `{"type":"fixed","name":"F","size":1.5}`, path: "/size"},
	{name: "fixed size string", text: `{"type":"fixed","name":"F","size":"16"}`, path: "/size"},
	{name: "array without items", text: `{"type":"array"}`, path: ""},
	{name: "map without values", text: `{"type":"map","value":"int"}`, path: ""},
	{name: "field not an object", text: `{"type":"record","name":"R","fields":["int"]}`, path: "/fields/0"},
	{name: "field without name", text: `{"type":"record","name":"R","fields":[{"type":"int"}]}`, path: "/fields/0"},
	{name: "field without type", text: `{"type":"record","name":"R","fields":[{"name":"a"}]}`, path: "/fields/0"},
	{name: "duplicate field", text: `{"type":"record","name":"R","fields":[{"name":"a","type":"int"},{"name":"b","type":"int"},{"name":"a","type":"long"}]}`, path: "/fields/2/name"},
	{name: "duplicate symbol", text: `{"type":"enum","name":"E","symbols":["A","B","A"]}`, path: "/symbols/2"},
	{name: "enum default not a symbol", text: `{"type":"enum","name":"E","symbols":["A"],"default":"B"}`, path: "/default"},
	{name: "duplicate union branch", text: `["null","int","null"]`, path: "/2"},
	{name: "union branches differ only by logical type", text: `["string",{"type":"string","logicalType":"uuid"}]`, path: "/1"},
	{name: "two arrays in a union", text: `[{"type":"array","items":"int"},{"type":"array","items":"long"}]`, path: "/1"},
	{name: "same named type twice in a union", text: `[{"type":"enum","name":"E","symbols":["A"]},"E"]`, path: "/1"},
	{name: "nested union", text: `["null",["int","long"]]`, path: "/1"},
	{name: "empty union", text: `{"type":"record","name":"R","fields":[{"name":"a","type":[]}]}`, path: "/fields/0/type"},
	{name: "redefined name", text: `{"type":"record","name":"R","fields":[{"name":"a","type":{"type":"record","name":"R","fields":[]}}]}`, path: "/fields/0/type/name"},
	{name: "redefined across namespaces spelling", text: `[{"type":"fixed","name":"a.F","size":1},{"type":"fixed","name":"F","namespace":"a","size":2}]`, path: "/1/name"},
	{name: "forward reference", text: `{"type":"record","name":"R","fields":[{"name":"a","type":"Later"},{"name":"b","type":{"type":"enum","name":"Later","symbols":["X"]}}]}`, path: "/fields/0/type"},
	{name: "reference needs namespace", text: `{"type":"record","name":"R","namespace":"a","fields":[{"name":"a","type":{"type":"enum","name":"E","symbols":["X"]}}, {"name":"b","type":"b.E"}]}`, path: "/fields/1/type"},
	{name: "invalid record name", text: `{"type":"record","name":"1abc","fields":[]}`, path: "/name"},
	{name: "invalid name part", text: `{"type":"record","name":"a..b","fields":[]}`, path: "/name"},
	{name: "invalid namespace", text: `{"type":"record","name":"R","namespace":"com.1acme","fields":[]}`, path: "/namespace"},
	{name: "invalid field name", text: `{"type":"record","name":"R","fields":[{"name":"my field","type":"int"}]}`, path: "/fields/0/name"},
	{name: "invalid symbol", text: `{"type":"enum","name":"E","symbols":["OK","not-ok"]}`, path: "/symbols/1"},
	{name: "invalid alias", text: `{"type":"record","name":"R","aliases":["b-c"],"fields":[]}`, path: "/aliases/0"},
	{name: "dotted field alias", text: `{"type":"record","name":"R","fields":[{"name":"a","type":"int","aliases":["x.y"]}]}`, path: "/fields/0/aliases/0"},
	{name: "primitive name redefined", text: `{"type":"fixed","name":"int","size":4}`, path: "/name"},
	{name: "primitive name in a namespace", text: `{"type":"record","name":"a.null","fields":[]}`, path: "/name"},
	{
		name: "name is an alias of a referenced type",
		refs: []serde.Referenced{{Name: "a.Old", Text: `{"type":"record","name":"a.Old","aliases":["New"],"fields":[]}`}},
		text: `{"type":"record","name":"a.New","fields":[]}`, path: "/name",
	},
	{name: "alias is another type's name", text: `{"type":"record","name":"A","fields":[{"name":"b","type":{"type":"record","name":"B","aliases":["A"],"fields":[]}}]}`, path: "/fields/0/type/aliases/0"},
	{name: "doc not a string", text: `{"type":"record","name":"R","doc":1,"fields":[]}`, path: "/doc"},
	{name: "aliases not an array", text: `{"type":"record","name":"R","aliases":"X","fields":[]}`, path: "/aliases"},
	{name: "invalid order", text: `{"type":"record","name":"R","fields":[{"name":"a","type":"int","order":"up"}]}`, path: "/fields/0/order"},
	{name: "null default for string", text: `{"type":"record","name":"R","fields":[{"name":"a","type":"string","default":null}]}`, path: "/fields/0/default"},
	{name: "string default for int", text: `{"type":"record","name":"R","fields":[{"name":"a","type":"int"},{"name":"b","type":"long"},{"name":"c","type":"int","default":"5"}]}`, path: "/fields/2/default"},
	{name: "fraction default for int", text: `{"type":"record","name":"R","fields":[{"name":"a","type":"int","default":1.5}]}`, path: "/fields/0/default"},
	{name: "exponent default for long", text: `{"type":"record","name":"R","fields":[{"name":"a","type":"long","default":1e3}]}`, path: "/fields/0/default"},
	{name: "int default out of range", text: `{"type":"record","name":"R","fields":[{"name":"a","type":"int","default":2147483648}]}`, path: "/fields/0/default"},
	{name: "string default for boolean", text: `{"type":"record","name":"R","fields":[{"name":"a","type":"boolean","default":"true"}]}`, path: "/fields/0/default"},
	{name: "union default must match first branch", text: `{"type":"record","name":"R","fields":[{"name":"a","type":["string","null"],"default":null}]}`, path: "/fields/0/default"},
	{name: "bad array default element", text: `{"type":"record","name":"R","fields":[{"name":"a","type":{"type":"array","items":"int"},"default":[1,"2"]}]}`, path: "/fields/0/default/1"},
	{name: "bad map default value", text: `{"type":"record","name":"R","fields":[{"name":"a","type":{"type":"map","values":"boolean"},"default":{"a/b":1}}]}`, path: "/fields/0/default/a~1b"},
	{name: "record default missing field", text: `{"type":"record","name":"R","fields":[{"name":"in","type":{"type":"record","name":"In","fields":[{"name":"x","type":"int"}]},"default":{}}]}`, path: "/fields/0/default"},
	{name: "nested record default value", text: `{"type":"record","name":"R","fields":[{"name":"in","type":{"type":"record","name":"In","fields":[{"name":"x","type":["null","int"]}]},"default":{"x":3}}]}`, path: "/fields/0/default/x"},
	{name: "enum field default not a symbol", text: `{"type":"record","name":"R","fields":[{"name":"e","type":{"type":"enum","name":"E","symbols":["A"]},"default":"B"}]}`, path: "/fields/0/default"},
	{name: "fixed default wrong length", text: `{"type":"record","name":"R","fields":[{"name":"f","type":{"type":"fixed","name":"F","size":2},"default":"abc"}]}`, path: "/fields/0/default"},
	{name: "bytes default above U+00FF", text: `{"type":"record","name":"R","fields":[{"name":"b","type":"bytes","default":"héllo世界"}]}`, path: "/fields/0/default"},
	{name: "self-dependent default", text: `{"type":"record","name":"Node","fields":[{"name":"child","type":"Node","default":{}}]}`, path: "/fields/0/default"},
	{name: "several problems", text: `{"type":"record","name":"R","fields":[{"name":"a","type":"Nope"},{"name":"b-c","type":"int"},{"name":"d","type":"int","default":true},{"name":"e","type":["int","int"]}]}`, path: "/fields/0/type"},
	{name: "deep nesting", text: strings.Repeat("[", 1001) + strings.Repeat("]", 1001), path: "1:1001"},
	{
		name: "problem in a reference",
		refs: []serde.Referenced{{Name: "com.acme.Money", Text: `{"type":"record","name":"Money","namespace":"com.acme","fields":[{"name":"cents","type":"long","default":"0"}]}`}},
		text: `"com.acme.Money"`, path: "/fields/0/default",
	},
	{
		name: "schema redefines a referenced type",
		refs: []serde.Referenced{{Name: "E", Text: `{"type":"enum","name":"E","symbols":["A"]}`}},
		text: `{"type":"record","name":"R","fields":[{"name":"e","type":{"type":"enum","name":"E","symbols":["A","B"]}}]}`, path: "/fields/0/type/name",
	},
	{
		name: "missing reference",
		text: `{"type":"record","name":"R","namespace":"com.acme","fields":[{"name":"m","type":"Money"}]}`, path: "/fields/0/type",
	},
}

func TestParseInvalid(t *testing.T) {
	var out strings.Builder
	for _, tc := range invalidCases {
		s, err := avro.Parse(tc.text, tc.refs)
		if err == nil {
			t.Errorf("%s: Parse accepted it: %s", tc.name, s.Canonical())
			continue
		}
		var pe *avro.ParseError
		if !errors.As(err, &pe) {
			t.Errorf("%s: error %T is not a *ParseError: %v", tc.name, err, err)
			continue
		}
		var es avro.ParseErrors
		if !errors.As(err, &es) || len(es) == 0 {
			t.Errorf("%s: error %T is not a non-empty ParseErrors", tc.name, err)
		}
		got := pe.Path
		if pe.Line > 0 {
			got = fmt.Sprintf("%d:%d", pe.Line, pe.Column)
		}
		if got != tc.path {
			t.Errorf("%s: first problem at %q, want %q: %v", tc.name, got, tc.path, err)
		}
		if strings.Contains(err.Error(), "codec library") {
			t.Errorf("%s: validator and hamba disagree: %v", tc.name, err)
		}
		fmt.Fprintf(&out, "== %s\n", tc.name)
		for _, e := range es {
			fmt.Fprintf(&out, "%s\n", e)
		}
	}
	golden.Check(t, filepath.Join("testdata", "errors.golden"), out.String())
}

func TestSeveralProblemsAreAllReported(t *testing.T) {
	_, err := avro.Parse(`{"type":"record","name":"R","fields":[{"name":"a","type":"Nope"},{"name":"b-c","type":"int"},{"name":"d","type":"int","default":true},{"name":"e","type":["int","int"]}]}`, nil)
	var es avro.ParseErrors
	if !errors.As(err, &es) {
		t.Fatalf("got %v", err)
	}
	var paths []string
	for _, e := range es {
		paths = append(paths, e.Path)
	}
	want := "/fields/0/type /fields/1/name /fields/3/type/1 /fields/2/default"
	if got := strings.Join(paths, " "); got != want {
		t.Errorf("paths = %s, want %s", got, want)
	}
}

func TestParseErrorNamesReference(t *testing.T) {
	_, err := avro.Parse(`"X"`, []serde.Referenced{{Name: "com.acme.Bad", Text: `{"type":"enum","name":"X","symbols":[`}})
	var pe *avro.ParseError
	if !errors.As(err, &pe) {
		t.Fatalf("got %v", err)
	}
	if pe.Ref != "com.acme.Bad" || pe.Line != 1 {
		t.Errorf("got %+v", pe)
	}
	if want := `avro: reference "com.acme.Bad": line 1, column 38: malformed JSON`; !strings.HasPrefix(err.Error(), want) {
		t.Errorf("message %q does not start with %q", err, want)
	}
}

func TestCanonicalIgnoresWhitespaceAndKeyOrder(t *testing.T) {
	variants := []string{
		`{"type":"record","name":"R","namespace":"n","doc":"d","fields":[{"name":"a","type":{"type":"int"},"default":1},{"name":"b","type":{"type":"bytes","logicalType":"decimal","precision":4,"scale":2}}],"p":1,"o":2}`,
		"{ \"fields\" : [ { \"default\" : 1 , \"type\" : \"int\" , \"name\" : \"a\" } ,\n {\"type\":{\"scale\":2,\"precision\":4,\"logicalType\":\"decimal\",\"type\":\"bytes\"},\"name\":\"b\"}],\n\t\"o\":2, \"p\":1, \"doc\" : \"d\", \"name\" : \"R\", \"namespace\": \"n\", \"type\" : \"record\" }",
		`{"type":"record","name":"n.R","doc":"d","fields":[{"name":"a","type":"int","default":1},{"name":"b","type":{"type":"bytes","logicalType":"decimal","precision":4,"scale":2}}],"o":2,"p":1}`,
	}
	first := avro.MustParse(variants[0])
	for i, v := range variants[1:] {
		s := avro.MustParse(v)
		if s.Canonical() != first.Canonical() {
			t.Errorf("variant %d: canonical\n%s\nwant\n%s", i+1, s.Canonical(), first.Canonical())
		}
		if s.Normalized() != first.Normalized() {
			t.Errorf("variant %d: normalized\n%s\nwant\n%s", i+1, s.Normalized(), first.Normalized())
		}
	}
	// A doc change is a different schema text (and so a new ID).
	changed := avro.MustParse(strings.Replace(variants[0], `"doc":"d"`, `"doc":"e"`, 1))
	if changed.Canonical() == first.Canonical() || changed.Normalized() == first.Normalized() {
		t.Error("a doc change did not change the canonical texts")
	}
	// Alias order matters in the canonical text but not in the normalized one.
	a := avro.MustParse(`{"type":"record","name":"R","aliases":["X","Y"],"fields":[]}`)
	b := avro.MustParse(`{"type":"record","name":"R","aliases":["Y","X"],"fields":[]}`)
	if a.Canonical() == b.Canonical() || a.Normalized() != b.Normalized() {
		t.Errorf("aliases: canonical %s / %s, normalized %s / %s", a.Canonical(), b.Canonical(), a.Normalized(), b.Normalized())
	}
}

func TestCanonicalWritesLaterUsesByName(t *testing.T) {
	s := avro.MustParse(`{"type":"record","name":"R","namespace":"a","fields":[{"name":"x","type":{"type":"fixed","name":"F","size":2}},{"name":"y","type":"a.F"},{"name":"z","type":{"type":"record","name":"b.S","fields":[{"name":"f","type":"a.F"}]}}]}`)
	want := `{"type":"record","name":"R","namespace":"a","fields":[{"name":"x","type":{"type":"fixed","name":"F","size":2}},{"name":"y","type":"F"},{"name":"z","type":{"type":"record","name":"S","namespace":"b","fields":[{"name":"f","type":"a.F"}]}}]}`
	if s.Canonical() != want {
		t.Errorf("canonical\n%s\nwant\n%s", s.Canonical(), want)
	}
	wantN := `{"type":"record","name":"a.R","fields":[{"name":"x","type":{"type":"fixed","name":"a.F","size":2}},{"name":"y","type":"a.F"},{"name":"z","type":{"type":"record","name":"b.S","fields":[{"name":"f","type":"a.F"}]}}]}`
	if s.Normalized() != wantN {
		t.Errorf("normalized\n%s\nwant\n%s", s.Normalized(), wantN)
	}
}

func TestReferencedTypesAreWrittenByName(t *testing.T) {
	refs := []serde.Referenced{{Name: "com.acme.Money", Text: `{"type":"record","name":"com.acme.Money","fields":[{"name":"cents","type":"long"}]}`}}
	s, err := avro.Parse(`{"type":"record","name":"Order","namespace":"com.acme","fields":[{"name":"total","type":"com.acme.Money"}]}`, refs)
	if err != nil {
		t.Fatal(err)
	}
	if want := `{"type":"record","name":"Order","namespace":"com.acme","fields":[{"name":"total","type":"Money"}]}`; s.Canonical() != want {
		t.Errorf("canonical %s, want %s", s.Canonical(), want)
	}
	// Without its reference the canonical text does not stand alone...
	if _, err := avro.Parse(s.Canonical(), nil); err == nil {
		t.Error("canonical text parsed without its reference")
	}
	// ...but the codec schema does: the referenced record is embedded at its first use.
	if want := `{"name":"com.acme.Order","type":"record","fields":[{"name":"total","type":{"name":"com.acme.Money","type":"record","fields":[{"name":"cents","type":"long"}]}}]}`; s.Avro().String() != want {
		t.Errorf("Avro().String() = %s, want %s", s.Avro().String(), want)
	}
}

// TestAvroCodec checks that the hamba schema is usable as is: encoding,
// decoding, logical types, and schema resolution filling a new field from
// its default (including a record default with an omitted bytes field).
func TestAvroCodec(t *testing.T) {
	writer := avro.MustParse(`{"type":"record","name":"Event","fields":[
		{"name":"id","type":"long"},
		{"name":"at","type":{"type":"long","logicalType":"timestamp-millis"}}]}`)
	reader := avro.MustParse(`{"type":"record","name":"Event","fields":[
		{"name":"id","type":"long"},
		{"name":"at","type":{"type":"long","logicalType":"timestamp-millis"}},
		{"name":"meta","type":{"type":"record","name":"Meta","fields":[
			{"name":"raw","type":"bytes","default":"\u0001\u00ff"},
			{"name":"n","type":"int"}]},"default":{"n":7}},
		{"name":"tag","type":["null","string"],"default":null}]}`)
	if _, ok := reader.Avro().(*hamba.RecordSchema).Fields()[1].Type().(*hamba.PrimitiveSchema).Logical().(hamba.LogicalSchema); !ok {
		t.Fatal("timestamp-millis logical type was not recognised")
	}
	data, err := hamba.Marshal(writer.Avro(), map[string]any{"id": int64(42), "at": int64(1700000000000)})
	if err != nil {
		t.Fatalf("Marshal: %v", err)
	}
	resolved, err := hamba.NewSchemaCompatibility().Resolve(reader.Avro(), writer.Avro())
	if err != nil {
		t.Fatalf("Resolve: %v", err)
	}
	var got map[string]any
	if err := hamba.Unmarshal(resolved, data, &got); err != nil {
		t.Fatalf("Unmarshal: %v", err)
	}
	if f := reader.Avro().(*hamba.RecordSchema).Fields(); f[3].Default() != nil {
		t.Errorf("tag default = %#v, want nil", f[3].Default())
	}
	big := avro.MustParse(`{"type":"record","name":"B","fields":[{"name":"l","type":"long","default":9223372036854775807},{"name":"i","type":"int","default":-7}]}`)
	if f := big.Avro().(*hamba.RecordSchema).Fields(); f[0].Default() != int64(9223372036854775807) || f[1].Default() != -7 {
		t.Errorf("integer defaults = %#v, %#v", f[0].Default(), f[1].Default())
	}
	meta, _ := got["meta"].(map[string]any)
	if got["id"] != int64(42) || meta == nil || meta["n"] != 7 || string(meta["raw"].([]byte)) != "\x01\xff" || got["tag"] != nil {
		t.Errorf("decoded %#v", got)
	}
}

func TestParseTopLevelRecordPath(t *testing.T) {
	// The ParseError renders "avro: path: reason" and keeps its parts.
	_, err := avro.Parse(`{"type":"record","name":"R","fields":[{"name":"a","type":"int"},{"name":"b","type":"int"},{"name":"c","type":"int","default":"5"}]}`, nil)
	if want := `avro: /fields/2/default: default "5" does not match type int`; err == nil || err.Error() != want {
		t.Errorf("got %v, want %s", err, want)
	}
}
