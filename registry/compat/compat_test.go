package compat_test

import (
	"strconv"
	"strings"
	"testing"

	"github.com/sluicehq/sluice/registry/compat"
	"github.com/sluicehq/sluice/serde"
)

// The level logic of compat.go, exercised with Avro schemas (the format
// whose rules are complete). Field "a" evolves through the versions:
//
//	int -> long -> long + optional "b"
//
// so a candidate can be fine against the latest version and not against an
// older one.
const (
	vInt       = `{"type":"record","name":"R","fields":[{"name":"a","type":"int"}]}`
	vLong      = `{"type":"record","name":"R","fields":[{"name":"a","type":"long"}]}`
	vLongB     = `{"type":"record","name":"R","fields":[{"name":"a","type":"long"},{"name":"b","type":"string","default":""}]}`
	vLongBReq  = `{"type":"record","name":"R","fields":[{"name":"a","type":"long"},{"name":"b","type":"string"}]}`
	vDouble    = `{"type":"record","name":"R","fields":[{"name":"a","type":"double"}]}`
	vString    = `{"type":"record","name":"R","fields":[{"name":"a","type":"string"}]}`
	vIntC      = `{"type":"record","name":"R","fields":[{"name":"a","type":"int"},{"name":"c","type":"int"}]}`
	vIntCDefIn = `{"type":"record","name":"R","fields":[{"name":"a","type":"int"},{"name":"c","type":"int","default":0}]}`
)

func TestParseLevel(t *testing.T) {
	for _, in := range []string{"backward", " FULL_TRANSITIVE ", "None", "forward_transitive"} {
		if _, err := compat.ParseLevel(in); err != nil {
			t.Errorf("ParseLevel(%q): %v", in, err)
		}
	}
	for _, in := range []string{"", "FULLY", "backward transitive"} {
		if _, err := compat.ParseLevel(in); err == nil {
			t.Errorf("ParseLevel(%q) accepted", in)
		}
	}
	for _, l := range compat.Levels {
		got, err := compat.ParseLevel(strings.ToLower(string(l)))
		if err != nil || got != l {
			t.Errorf("ParseLevel(%q) = %q, %v", l, got, err)
		}
	}
}

func TestLevelPredicates(t *testing.T) {
	cases := []struct {
		level                         compat.Level
		backward, forward, transitive bool
	}{
		{compat.None, false, false, false},
		{compat.Backward, true, false, false},
		{compat.BackwardTransitive, true, false, true},
		{compat.Forward, false, true, false},
		{compat.ForwardTransitive, false, true, true},
		{compat.Full, true, true, false},
		{compat.FullTransitive, true, true, true},
	}
	for _, tc := range cases {
		if tc.level.Backward() != tc.backward || tc.level.Forward() != tc.forward || tc.level.Transitive() != tc.transitive {
			t.Errorf("%s: backward %v forward %v transitive %v", tc.level, tc.level.Backward(), tc.level.Forward(), tc.level.Transitive())
		}
	}
}

func history(t *testing.T, texts ...string) []compat.Version {
	t.Helper()
	out := make([]compat.Version, len(texts))
	for i, s := range texts {
		out[i] = compat.Version{Number: i + 1, Schema: parse(t, s)}
	}
	return out
}

func TestCheckLevels(t *testing.T) {
	cases := []struct {
		name      string
		level     compat.Level
		candidate string
		history   []string
		// want is "" for compatible, else "version direction KIND@path ...".
		want string
	}{
		{"none accepts anything", compat.None, vString, []string{vInt}, ""},
		{"empty history", compat.FullTransitive, vString, nil, ""},

		{"backward reads latest", compat.Backward, vLong, []string{vInt}, ""},
		{"backward fails on latest", compat.Backward, vInt, []string{vLong}, "1 backward TYPE_MISMATCH@/fields/0/type"},
		{"backward looks only at latest", compat.Backward, vLongB, []string{vString, vLong}, ""},
		{"backward transitive catches an older version", compat.BackwardTransitive, vLongB, []string{vString, vLong}, "1 backward TYPE_MISMATCH@/fields/0/type"},
		{"backward transitive all fine", compat.BackwardTransitive, vDouble, []string{vInt, vLong}, ""},

		{"forward: old reads new", compat.Forward, vIntC, []string{vInt}, ""},
		{"forward fails when old lacks default", compat.Forward, vInt, []string{vIntC}, "1 forward READER_FIELD_MISSING_DEFAULT_VALUE@/fields/1"},
		{"forward looks only at latest", compat.Forward, vInt, []string{vIntC, vIntCDefIn}, ""},
		{"forward transitive catches an older version", compat.ForwardTransitive, vInt, []string{vIntC, vIntCDefIn}, "1 forward READER_FIELD_MISSING_DEFAULT_VALUE@/fields/1"},

		{"full both ways fine", compat.Full, vLongB, []string{vLong}, ""},
		{"full fails backward", compat.Full, vLongBReq, []string{vLong}, "1 backward READER_FIELD_MISSING_DEFAULT_VALUE@/fields/1"},
		{"full fails forward", compat.Full, vLong, []string{vInt}, "1 forward TYPE_MISMATCH@/fields/0/type"},
		{"full fails both ways", compat.Full, vString, []string{vInt}, "1 backward TYPE_MISMATCH@/fields/0/type 1 forward TYPE_MISMATCH@/fields/0/type"},
		{"full looks only at latest", compat.Full, vLongB, []string{vInt, vLong}, ""},
		{"full transitive catches an older version", compat.FullTransitive, vLongB, []string{vInt, vLong}, "1 forward TYPE_MISMATCH@/fields/0/type"},
		// Newest failing version first, and only that version's violations.
		{"transitive reports the newest failing version", compat.BackwardTransitive, vInt, []string{vLong, vDouble, vInt}, "2 backward TYPE_MISMATCH@/fields/0/type"},
	}
	for _, tc := range cases {
		vs, err := compat.Check(tc.level, parse(t, tc.candidate), history(t, tc.history...))
		if err != nil {
			t.Errorf("%s: %v", tc.name, err)
			continue
		}
		var parts []string
		for _, v := range vs {
			parts = append(parts, strings.Join([]string{strconv.Itoa(v.Version), v.Direction, v.Kind + "@" + v.Path}, " "))
		}
		if got := strings.Join(parts, " "); got != tc.want {
			t.Errorf("%s: got %q, want %q", tc.name, got, tc.want)
		}
	}
}

// otherFormat is a schema of another format, for the "different schema
// type" rule; Reads compares formats before looking at the schemas.
type otherFormat struct{}

func (otherFormat) Format() serde.Format { return serde.JSON }
func (otherFormat) Canonical() string    { return "{}" }
func (otherFormat) Normalized() string   { return "{}" }

func TestCheckDifferentFormat(t *testing.T) {
	h := []compat.Version{{Number: 1, Schema: otherFormat{}}, {Number: 2, Schema: parse(t, vInt)}}
	for _, level := range compat.Levels {
		vs, err := compat.Check(level, parse(t, vInt), h)
		if err != nil {
			t.Fatalf("%s: %v", level, err)
		}
		switch {
		case level == compat.None:
			if len(vs) != 0 {
				t.Errorf("NONE reported %v", vs)
			}
		case level.Transitive():
			if len(vs) == 0 || vs[0].Version != 1 || vs[0].Kind != "TYPE_MISMATCH" || !strings.Contains(vs[0].Message, "different schema type") {
				t.Errorf("%s: got %v", level, vs)
			}
		default:
			if len(vs) != 0 {
				t.Errorf("%s looked past the latest version: %v", level, vs)
			}
		}
	}
}

func TestPairIgnoresTransitivity(t *testing.T) {
	vs, err := compat.Pair(compat.FullTransitive, parse(t, vString), parse(t, vInt))
	if err != nil {
		t.Fatal(err)
	}
	if len(vs) != 2 || vs[0].Direction != "backward" || vs[1].Direction != "forward" || vs[0].Version != 0 {
		t.Errorf("got %+v", vs)
	}
}

func TestViolationString(t *testing.T) {
	v := compat.Violation{Path: "/fields/2/type", Message: "reader type long cannot read writer type string"}
	if got := v.String(); got != "/fields/2/type: reader type long cannot read writer type string" {
		t.Errorf("got %q", got)
	}
	if got := (compat.Violation{Message: "m"}).String(); got != "m" {
		t.Errorf("got %q", got)
	}
}
