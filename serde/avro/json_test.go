package avro

import (
	"bytes"
	"encoding/json"
	"io"
	"reflect"
	"strings"
	"testing"
)

// toAny converts a parsed value to what encoding/json produces with
// UseNumber, for differential testing.
func toAny(v *jsonValue) any {
	switch v.kind {
	case jsonNull:
		return nil
	case jsonBool:
		return v.b
	case jsonNumber:
		return json.Number(v.str)
	case jsonString:
		return v.str
	case jsonArray:
		out := make([]any, len(v.arr))
		for i, e := range v.arr {
			out[i] = toAny(e)
		}
		return out
	default:
		out := make(map[string]any, len(v.obj))
		for _, m := range v.obj {
			out[m.key] = toAny(m.val)
		}
		return out
	}
}

// FuzzJSON checks the schema parser's JSON reader against encoding/json:
// the same documents are valid (except that we also refuse duplicate keys
// and nesting past maxDepth) and they decode to the same values; and our
// compact re-encoding decodes to the same value again.
func FuzzJSON(f *testing.F) {
	for _, s := range []string{`{"a":[1,-0.5e+3,true,false,null,"x\u00e9\ud83d\ude00\n"]}`, `"\ud800"`, `[]`, `{}`, ` 1 `, `{"a":1,"a":2}`, "\"\xff\"", `[1,]`, `01`, `"\u00"`} {
		f.Add(s)
	}
	f.Fuzz(func(t *testing.T, text string) {
		v, serr := parseJSON(text)
		dec := json.NewDecoder(strings.NewReader(text))
		dec.UseNumber()
		var want any
		err := dec.Decode(&want)
		if err == nil {
			if _, err2 := dec.Token(); err2 != io.EOF {
				err = errTrailing
			}
		}
		if serr != nil {
			if err == nil && !strings.Contains(serr.msg, "duplicate key") && !strings.Contains(serr.msg, "nested deeper") {
				t.Fatalf("we reject %q (%d:%d %s), encoding/json accepts it", text, serr.line, serr.col, serr.msg)
			}
			return
		}
		if err != nil {
			t.Fatalf("we accept %q, encoding/json rejects it: %v", text, err)
		}
		if got := toAny(v); !reflect.DeepEqual(got, want) {
			t.Fatalf("%q: got %#v, encoding/json %#v", text, got, want)
		}
		again, serr := parseJSON(string(appendJSON(nil, v, false)))
		if serr != nil || !reflect.DeepEqual(toAny(again), want) {
			t.Fatalf("%q: re-encoding %s does not round-trip: %v", text, appendJSON(nil, v, false), serr)
		}
		if !json.Valid(appendJSON(nil, v, true)) || bytes.ContainsRune(appendJSON(nil, v, true), '\n') {
			t.Fatalf("%q: sorted encoding is not compact valid JSON", text)
		}
	})
}

var errTrailing = &json.SyntaxError{}
