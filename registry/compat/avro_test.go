package compat_test

import (
	"fmt"
	"path/filepath"
	"strings"
	"testing"

	goldenfile "github.com/sluicehq/sluice/internal/golden"

	"github.com/sluicehq/sluice/registry/compat"
	"github.com/sluicehq/sluice/serde/avro"
)

// golden compares got with testdata/name (internal/golden; -update rewrites it).
func golden(t *testing.T, name, got string) {
	t.Helper()
	goldenfile.Check(t, filepath.Join("testdata", name), got)
}

func parse(t testing.TB, text string) *avro.Schema {
	t.Helper()
	s, err := avro.Parse(text, nil)
	if err != nil {
		t.Fatalf("parse %s: %v", text, err)
	}
	return s
}

// rec builds a record schema text named name with the given field JSON.
func rec(name string, fields ...string) string {
	return fmt.Sprintf(`{"type":"record","name":%q,"fields":[%s]}`, name, strings.Join(fields, ","))
}

// summary renders violations as "KIND@path" joined by spaces, the form the
// table below states its expectations in.
func summary(vs []compat.Violation) string {
	parts := make([]string, len(vs))
	for i, v := range vs {
		parts[i] = v.Kind + "@" + v.Path
	}
	return strings.Join(parts, " ")
}

// avroRuleCases cover every rule of spec §11.1. want is the summary of
// Reads(reader, writer): "" for compatible.
var avroRuleCases = []struct {
	name, reader, writer, want string
}{
	// 1. same primitive
	{"same primitive", `"string"`, `"string"`, ""},
	{"null reads null", `"null"`, `"null"`, ""},
	{"different primitives", `"boolean"`, `"int"`, "TYPE_MISMATCH@"},

	// 2. promotions, and the lack of the reverse
	{"long reads int", `"long"`, `"int"`, ""},
	{"int does not read long", `"int"`, `"long"`, "TYPE_MISMATCH@"},
	{"float reads int", `"float"`, `"int"`, ""},
	{"float reads long", `"float"`, `"long"`, ""},
	{"float does not read double", `"float"`, `"double"`, "TYPE_MISMATCH@"},
	{"double reads int", `"double"`, `"int"`, ""},
	{"double reads long", `"double"`, `"long"`, ""},
	{"double reads float", `"double"`, `"float"`, ""},
	{"long does not read float", `"long"`, `"float"`, "TYPE_MISMATCH@"},
	{"bytes reads string", `"bytes"`, `"string"`, ""},
	{"string reads bytes", `"string"`, `"bytes"`, ""},
	{"string does not read int", `"string"`, `"int"`, "TYPE_MISMATCH@"},
	{"int does not read boolean", `"int"`, `"boolean"`, "TYPE_MISMATCH@"},
	{"string does not read enum", `"string"`, `{"type":"enum","name":"E","symbols":["A"]}`, "TYPE_MISMATCH@"},
	{"enum does not read string", `{"type":"enum","name":"E","symbols":["A"]}`, `"string"`, "TYPE_MISMATCH@"},
	{"bytes does not read fixed", `"bytes"`, `{"type":"fixed","name":"F","size":2}`, "TYPE_MISMATCH@"},
	{"fixed does not read bytes", `{"type":"fixed","name":"F","size":2}`, `"bytes"`, "TYPE_MISMATCH@"},
	{"record does not read map", rec("R"), `{"type":"map","values":"int"}`, "TYPE_MISMATCH@"},

	// 3. records
	{"same record", rec("R", `{"name":"a","type":"int"}`), rec("R", `{"name":"a","type":"int"}`), ""},
	{"field type promoted", rec("R", `{"name":"a","type":"long"}`), rec("R", `{"name":"a","type":"int"}`), ""},
	{"field type mismatch", rec("R", `{"name":"x","type":"int"}`, `{"name":"a","type":"string"}`), rec("R", `{"name":"x","type":"int"}`, `{"name":"a","type":"long"}`), "TYPE_MISMATCH@/fields/1/type"},
	{"reader field with default missing from writer", rec("R", `{"name":"a","type":"int"}`, `{"name":"b","type":"int","default":0}`), rec("R", `{"name":"a","type":"int"}`), ""},
	{"reader field without default missing from writer", rec("R", `{"name":"a","type":"int"}`, `{"name":"total","type":"int"}`), rec("R", `{"name":"a","type":"int"}`), "READER_FIELD_MISSING_DEFAULT_VALUE@/fields/1"},
	{"writer-only field ignored", rec("R", `{"name":"a","type":"int"}`), rec("R", `{"name":"a","type":"int"}`, `{"name":"b","type":"string"}`), ""},
	{"field order irrelevant", rec("R", `{"name":"b","type":"string"}`, `{"name":"a","type":"int"}`), rec("R", `{"name":"a","type":"int"}`, `{"name":"b","type":"string"}`), ""},
	{"reader field alias finds writer field", rec("R", `{"name":"amount","type":"long","aliases":["total"]}`), rec("R", `{"name":"total","type":"int"}`), ""},
	{"reader field alias type still checked", rec("R", `{"name":"amount","type":"int","aliases":["total"]}`), rec("R", `{"name":"total","type":"string"}`), "TYPE_MISMATCH@/fields/0/type"},
	{"reader field matches one writer field by name and another by alias", rec("R", `{"name":"id","type":"long","aliases":["legacy_id"]}`), rec("R", `{"name":"id","type":"long"}`, `{"name":"legacy_id","type":"long"}`), "READER_FIELD_MATCHES_MULTIPLE_WRITER_FIELDS@/fields/0"},
	{"reader field matches two writer fields by aliases", rec("R", `{"name":"x","type":"int"}`, `{"name":"id","type":"long","aliases":["a","b"]}`), rec("R", `{"name":"x","type":"int"}`, `{"name":"b","type":"long"}`, `{"name":"a","type":"long"}`), "READER_FIELD_MATCHES_MULTIPLE_WRITER_FIELDS@/fields/1"},
	{"reader field alias equal to its name matches the writer field twice", rec("R", `{"name":"id","type":"long","aliases":["id"]}`), rec("R", `{"name":"id","type":"long"}`), "READER_FIELD_MATCHES_MULTIPLE_WRITER_FIELDS@/fields/0"},
	{"ambiguous field reported with the other violations", rec("R", `{"name":"a","type":"string"}`, `{"name":"id","type":"long","aliases":["old"]}`, `{"name":"z","type":"int"}`), rec("R", `{"name":"a","type":"int"}`, `{"name":"id","type":"long"}`, `{"name":"old","type":"long"}`), "TYPE_MISMATCH@/fields/0/type READER_FIELD_MATCHES_MULTIPLE_WRITER_FIELDS@/fields/1 READER_FIELD_MISSING_DEFAULT_VALUE@/fields/2"},
	{"ambiguous field in a union branch fails although a later branch reads", `[` + rec("A", `{"name":"id","type":"long","aliases":["old"]}`) + `,{"type":"record","name":"y.A","fields":[{"name":"id","type":"long"}]}]`, rec("A", `{"name":"id","type":"long"}`, `{"name":"old","type":"long"}`), "READER_FIELD_MATCHES_MULTIPLE_WRITER_FIELDS@/fields/0"},
	{"ambiguous field after a failing one in a union branch", `["null",` + rec("A", `{"name":"n","type":"string"}`, `{"name":"id","type":"long","aliases":["old"]}`) + `]`, rec("A", `{"name":"n","type":"int"}`, `{"name":"id","type":"long"}`, `{"name":"old","type":"long"}`), "MISSING_UNION_BRANCH@ READER_FIELD_MATCHES_MULTIPLE_WRITER_FIELDS@/fields/1"},
	{"writer alias does not make a field ambiguous", rec("R", `{"name":"id","type":"long"}`), rec("R", `{"name":"id","type":"long"}`, `{"name":"other","type":"long","aliases":["id"]}`), ""},
	{"writer field alias ignored", rec("R", `{"name":"amount","type":"long"}`), rec("R", `{"name":"total","type":"long","aliases":["amount"]}`), "READER_FIELD_MISSING_DEFAULT_VALUE@/fields/0"},
	{"field doc order and props ignored", rec("R", `{"name":"a","type":"int","doc":"x","order":"descending","p":1}`), rec("R", `{"name":"a","type":"int","doc":"y"}`), ""},
	{"field default value not compared", rec("R", `{"name":"a","type":"int","default":1}`), rec("R", `{"name":"a","type":"int","default":2}`), ""},
	{"every violation reported", rec("R", `{"name":"a","type":"string"}`, `{"name":"b","type":"int"}`, `{"name":"c","type":"int"}`), rec("R", `{"name":"a","type":"int"}`, `{"name":"c","type":"boolean"}`), "TYPE_MISMATCH@/fields/0/type READER_FIELD_MISSING_DEFAULT_VALUE@/fields/1 TYPE_MISMATCH@/fields/2/type"},
	{"nested record field", rec("R", `{"name":"in","type":`+rec("In", `{"name":"x","type":"int"}`, `{"name":"y","type":"int"}`)+`}`), rec("R", `{"name":"in","type":`+rec("In", `{"name":"x","type":"int"}`)+`}`), "READER_FIELD_MISSING_DEFAULT_VALUE@/fields/0/type/fields/1"},
	{"enum with enum default missing from writer: checked against the writer record", rec("R", `{"name":"a","type":"int"}`, `{"name":"e","type":{"type":"enum","name":"E","symbols":["A","B"],"default":"A"}}`), rec("R", `{"name":"a","type":"int"}`), "TYPE_MISMATCH@/fields/1/type"},

	// 4. enums
	{"enum same symbols reordered", `{"type":"enum","name":"E","symbols":["B","A"]}`, `{"type":"enum","name":"E","symbols":["A","B"]}`, ""},
	{"enum reader has extra symbol", `{"type":"enum","name":"E","symbols":["A","B","C"]}`, `{"type":"enum","name":"E","symbols":["A","B"]}`, ""},
	{"enum writer has extra symbols", `{"type":"enum","name":"E","symbols":["A"]}`, `{"type":"enum","name":"E","symbols":["A","B","C"]}`, "MISSING_ENUM_SYMBOLS@/symbols"},
	{"enum reader default absorbs missing symbols", `{"type":"enum","name":"E","symbols":["A","UNKNOWN"],"default":"UNKNOWN"}`, `{"type":"enum","name":"E","symbols":["A","B"]}`, ""},
	{"enum field default does not help", rec("R", `{"name":"e","type":{"type":"enum","name":"E","symbols":["A"]},"default":"A"}`), rec("R", `{"name":"e","type":{"type":"enum","name":"E","symbols":["A","B"]}}`), "MISSING_ENUM_SYMBOLS@/fields/0/type/symbols"},
	{"enum name mismatch", `{"type":"enum","name":"E","symbols":["A"]}`, `{"type":"enum","name":"F","symbols":["A"]}`, "NAME_MISMATCH@/name"},

	// 5. fixed
	{"fixed same", `{"type":"fixed","name":"F","size":4}`, `{"type":"fixed","name":"F","size":4}`, ""},
	{"fixed size differs", `{"type":"fixed","name":"F","size":4}`, `{"type":"fixed","name":"F","size":8}`, "FIXED_SIZE_MISMATCH@/size"},
	{"fixed name and size differ", `{"type":"fixed","name":"F","size":4}`, `{"type":"fixed","name":"G","size":8}`, "NAME_MISMATCH@/name FIXED_SIZE_MISMATCH@/size"},

	// 6. arrays and maps
	{"array items promoted", `{"type":"array","items":"long"}`, `{"type":"array","items":"int"}`, ""},
	{"array items mismatch", `{"type":"array","items":"int"}`, `{"type":"array","items":"string"}`, "TYPE_MISMATCH@/items"},
	{"map values promoted", `{"type":"map","values":"double"}`, `{"type":"map","values":"float"}`, ""},
	{"map values mismatch", `{"type":"map","values":"int"}`, `{"type":"map","values":"long"}`, "TYPE_MISMATCH@/values"},
	{"array does not read map", `{"type":"array","items":"int"}`, `{"type":"map","values":"int"}`, "TYPE_MISMATCH@"},
	{"nested array in record", rec("R", `{"name":"xs","type":{"type":"array","items":`+rec("X", `{"name":"v","type":"int"}`)+`}}`), rec("R", `{"name":"xs","type":{"type":"array","items":`+rec("X", `{"name":"v","type":"string"}`)+`}}`), "TYPE_MISMATCH@/fields/0/type/items/fields/0/type"},

	// 7. unions
	{"union reads union subset", `["null","int","string"]`, `["string","null"]`, ""},
	{"union lacks writer branch", `["null","int"]`, `["null","int","string"]`, "MISSING_UNION_BRANCH@"},
	{"union branch by promotion", `["null","long"]`, `["int","null"]`, ""},
	{"non-union reads union when it reads every branch", `"long"`, `["int","long"]`, ""},
	{"non-union does not read nullable union", `"string"`, `["null","string"]`, "TYPE_MISMATCH@"},
	{"non-union failing two branches", `"string"`, `["null","int","string"]`, "TYPE_MISMATCH@ TYPE_MISMATCH@"},
	{"union reads non-union", `["null","string"]`, `"string"`, ""},
	{"union reads non-union by promotion", `["null","long"]`, `"int"`, ""},
	{"union lacks non-union", `["null","string"]`, `"int"`, "MISSING_UNION_BRANCH@"},
	{"union with named branch", `["null",` + rec("R", `{"name":"a","type":"int"}`) + `]`, rec("R", `{"name":"a","type":"int"}`), ""},
	{"union field widened", rec("R", `{"name":"a","type":["null","string"],"default":null}`), rec("R", `{"name":"a","type":"string"}`), ""},
	{"union field narrowed", rec("R", `{"name":"a","type":"string"}`), rec("R", `{"name":"a","type":["null","string"],"default":null}`), "TYPE_MISMATCH@/fields/0/type"},

	// 8. names
	{"namespace change only", `{"type":"record","name":"a.R","fields":[]}`, `{"type":"record","name":"b.R","fields":[]}`, ""},
	{"rename without alias", rec("NewName"), rec("OldName"), "NAME_MISMATCH@/name"},
	{"rename with reader alias", `{"type":"record","name":"a.NewName","aliases":["b.OldName"],"fields":[]}`, `{"type":"record","name":"b.OldName","fields":[]}`, ""},
	{"reader alias must be the writer full name", `{"type":"record","name":"a.NewName","aliases":["OldName"],"fields":[]}`, `{"type":"record","name":"b.OldName","fields":[]}`, "NAME_MISMATCH@/name"},
	{"writer alias does not rename", rec("NewName"), `{"type":"record","name":"OldName","aliases":["NewName"],"fields":[]}`, "NAME_MISMATCH@/name"},
	{"name mismatch and field problem both reported", rec("A", `{"name":"x","type":"int"}`), rec("B"), "NAME_MISMATCH@/name READER_FIELD_MISSING_DEFAULT_VALUE@/fields/0"},

	// 9. recursion
	{"recursive list compatible", rec("L", `{"name":"v","type":"long"}`, `{"name":"next","type":["null","L"]}`), rec("L", `{"name":"v","type":"int"}`, `{"name":"next","type":["null","L"]}`), ""},
	{"recursive list incompatible", rec("L", `{"name":"v","type":"int"}`, `{"name":"next","type":["null","L"]}`), rec("L", `{"name":"v","type":"long"}`, `{"name":"next","type":["null","L"]}`), "TYPE_MISMATCH@/fields/0/type"},
	{"mutually recursive", rec("A", `{"name":"b","type":["null",`+rec("B", `{"name":"a","type":["null","A"]}`, `{"name":"n","type":"long"}`)+`]}`), rec("A", `{"name":"b","type":["null",`+rec("B", `{"name":"a","type":["null","A"]}`, `{"name":"n","type":"int"}`)+`]}`), ""},
	{"named type reused at two fields reports both", rec("R", `{"name":"x","type":`+rec("P", `{"name":"v","type":"int"}`)+`}`, `{"name":"y","type":"P"}`), rec("R", `{"name":"x","type":`+rec("P", `{"name":"v","type":"string"}`)+`}`, `{"name":"y","type":"P"}`), "TYPE_MISMATCH@/fields/0/type/fields/0/type TYPE_MISMATCH@/fields/1/type/fields/0/type"},

	// 10. not checked
	{"logical type ignored", `{"type":"int","logicalType":"date"}`, `"int"`, ""},
	{"logical type change ignored", `{"type":"long","logicalType":"timestamp-micros"}`, `{"type":"long","logicalType":"timestamp-millis"}`, ""},
	{"decimal scale change not detected", `{"type":"bytes","logicalType":"decimal","precision":10,"scale":2}`, `{"type":"bytes","logicalType":"decimal","precision":12,"scale":4}`, ""},
	{"docs and custom props ignored", `{"type":"record","name":"R","doc":"new","p":2,"fields":[]}`, `{"type":"record","name":"R","doc":"old","p":1,"fields":[]}`, ""},
}

func TestAvroRules(t *testing.T) {
	var out strings.Builder
	for _, tc := range avroRuleCases {
		vs, err := compat.Reads(parse(t, tc.reader), parse(t, tc.writer))
		if err != nil {
			t.Errorf("%s: %v", tc.name, err)
			continue
		}
		if got := summary(vs); got != tc.want {
			t.Errorf("%s: got %q, want %q", tc.name, got, tc.want)
		}
		for _, v := range vs {
			if v.Message == "" {
				t.Errorf("%s: violation without a message: %+v", tc.name, v)
			}
		}
		if len(vs) > 0 {
			fmt.Fprintf(&out, "== %s\n", tc.name)
			for _, v := range vs {
				fmt.Fprintf(&out, "%s %s\n", v.Kind, v)
			}
		}
	}
	golden(t, "avro_violations.golden", out.String())
}

// TestAvroTypicalVerdicts is the list at the end of spec §11.1, run through
// compat.Check at every level.
func TestAvroTypicalVerdicts(t *testing.T) {
	base := rec("R", `{"name":"a","type":"int"}`, `{"name":"b","type":"string","default":""}`, `{"name":"c","type":"string"}`)
	color := `{"type":"enum","name":"Color","symbols":["RED","GREEN"]}`
	colorDefault := `{"type":"enum","name":"Color","symbols":["RED","GREEN","OTHER"],"default":"OTHER"}`
	cases := []struct {
		name, old, new string
		// pass lists the levels under which new may follow old.
		pass []compat.Level
	}{
		{"add field with default", base, rec("R", `{"name":"a","type":"int"}`, `{"name":"b","type":"string","default":""}`, `{"name":"c","type":"string"}`, `{"name":"d","type":"long","default":0}`), full},
		{"add field without default", base, rec("R", `{"name":"a","type":"int"}`, `{"name":"b","type":"string","default":""}`, `{"name":"c","type":"string"}`, `{"name":"d","type":"long"}`), forwardOnly},
		{"remove field with default", base, rec("R", `{"name":"a","type":"int"}`, `{"name":"c","type":"string"}`), full},
		{"remove field without default", base, rec("R", `{"name":"a","type":"int"}`, `{"name":"b","type":"string","default":""}`), backwardOnly},
		{"int to long", base, rec("R", `{"name":"a","type":"long"}`, `{"name":"b","type":"string","default":""}`, `{"name":"c","type":"string"}`), backwardOnly},
		{"widen to nullable", base, rec("R", `{"name":"a","type":["null","int"],"default":null}`, `{"name":"b","type":"string","default":""}`, `{"name":"c","type":"string"}`), backwardOnly},
		{"enum add symbol", color, `{"type":"enum","name":"Color","symbols":["RED","GREEN","BLUE"]}`, backwardOnly},
		{"enum add symbol with old enum default", colorDefault, `{"type":"enum","name":"Color","symbols":["RED","GREEN","OTHER","BLUE"],"default":"OTHER"}`, full},
		{"rename with alias", rec("Old", `{"name":"a","type":"int"}`), `{"type":"record","name":"New","aliases":["Old"],"fields":[{"name":"a","type":"int"}]}`, backwardOnly},
		{"namespace change", `{"type":"record","name":"a.R","fields":[]}`, `{"type":"record","name":"b.R","fields":[]}`, full},
		{"incompatible type change", base, rec("R", `{"name":"a","type":"string"}`, `{"name":"b","type":"string","default":""}`, `{"name":"c","type":"string"}`), []compat.Level{compat.None}},
	}
	for _, tc := range cases {
		old, cand := parse(t, tc.old), parse(t, tc.new)
		for _, level := range compat.Levels {
			vs, err := compat.Check(level, cand, []compat.Version{{Number: 1, Schema: old}})
			if err != nil {
				t.Fatalf("%s %s: %v", tc.name, level, err)
			}
			want := containsLevel(tc.pass, level)
			if got := len(vs) == 0; got != want {
				t.Errorf("%s under %s: compatible = %v, want %v (%v)", tc.name, level, got, want, vs)
			}
		}
	}
}

var (
	full         = compat.Levels
	backwardOnly = []compat.Level{compat.None, compat.Backward, compat.BackwardTransitive}
	forwardOnly  = []compat.Level{compat.None, compat.Forward, compat.ForwardTransitive}
)

func containsLevel(ls []compat.Level, l compat.Level) bool {
	for _, x := range ls {
		if x == l {
			return true
		}
	}
	return false
}

func TestAvroViolationMessages(t *testing.T) {
	reader := parse(t, rec("Order", `{"name":"id","type":"long"}`, `{"name":"total","type":"long"}`))
	writer := parse(t, rec("Order", `{"name":"id","type":"string"}`))
	vs, err := compat.Reads(reader, writer)
	if err != nil {
		t.Fatal(err)
	}
	want := []string{
		"/fields/0/type: reader type long cannot read writer type string",
		`/fields/1: field "total" has no default and is missing from the writer`,
	}
	if len(vs) != len(want) {
		t.Fatalf("got %v", vs)
	}
	for i, v := range vs {
		if v.String() != want[i] {
			t.Errorf("violation %d = %q, want %q", i, v, want[i])
		}
	}
}

func TestAvroDeepRecursionTerminates(t *testing.T) {
	// A chain of 30 record types, each used twice by the previous one: the
	// pair graph is small but the number of paths is 2^30, so this finishes
	// only if pairs are memoised.
	chain := func(leaf string) string {
		s := rec("T30", `{"name":"v","type":"`+leaf+`"}`)
		for i := 29; i >= 1; i-- {
			s = rec(fmt.Sprintf("T%d", i), fmt.Sprintf(`{"name":"a","type":%s}`, s), fmt.Sprintf(`{"name":"b","type":"T%d"}`, i+1))
		}
		return s
	}
	vs, err := compat.Reads(parse(t, chain("long")), parse(t, chain("string")))
	if err != nil {
		t.Fatal(err)
	}
	if len(vs) == 0 || len(vs) > 1000 {
		t.Fatalf("got %d violations", len(vs))
	}
	if vs[0].Kind != "TYPE_MISMATCH" {
		t.Errorf("first violation %+v", vs[0])
	}
	if vs, _ := compat.Reads(parse(t, chain("long")), parse(t, chain("int"))); len(vs) != 0 {
		t.Errorf("compatible chain reported %v", vs)
	}
}

// FuzzAvroReads checks the resolution checker on arbitrary pairs of
// schemas that parse: it never panics, every schema reads itself (unless a
// field of it is ambiguous against itself, an alias naming another of its
// fields or itself, which Avro refuses), and every violation has a known
// kind, a message and a JSON-pointer path.
func FuzzAvroReads(f *testing.F) {
	for _, tc := range avroRuleCases {
		f.Add(tc.reader, tc.writer)
	}
	kinds := map[string]bool{"NAME_MISMATCH": true, "FIXED_SIZE_MISMATCH": true, "MISSING_ENUM_SYMBOLS": true,
		"READER_FIELD_MISSING_DEFAULT_VALUE": true, "TYPE_MISMATCH": true, "MISSING_UNION_BRANCH": true,
		"READER_FIELD_MATCHES_MULTIPLE_WRITER_FIELDS": true}
	f.Fuzz(func(t *testing.T, readerText, writerText string) {
		reader, err := avro.Parse(readerText, nil)
		if err != nil {
			return
		}
		vs, err := compat.Reads(reader, reader)
		if err != nil {
			t.Fatal(err)
		}
		for _, v := range vs {
			if v.Kind != "READER_FIELD_MATCHES_MULTIPLE_WRITER_FIELDS" {
				t.Fatalf("%s does not read itself: %v", readerText, vs)
			}
		}
		writer, err := avro.Parse(writerText, nil)
		if err != nil {
			return
		}
		vs, err = compat.Reads(reader, writer)
		if err != nil {
			t.Fatal(err)
		}
		for _, v := range vs {
			if !kinds[v.Kind] || v.Message == "" || v.Path != "" && !strings.HasPrefix(v.Path, "/") {
				t.Fatalf("bad violation %+v", v)
			}
		}
	})
}
