package pgsink

import (
	"errors"
	"testing"

	"github.com/sluicehq/sluice/serde/avro"
)

// FuzzKeyIdentity: a datum of every scalar column type, used as a key,
// has one identity whichever path decoded it: the binary COPY fields of
// the Avro transcoder, the direct decoder's values, or hamba/avro's
// values converted.
func FuzzKeyIdentity(f *testing.F) {
	s := avro.MustParse(avroFlat)
	sh, err := avroShape(s)
	if err != nil {
		f.Fatal(err)
	}
	cols, _ := columnsOf(sh, NestedFlatten, "id")
	data, _ := s.AppendEncode(nil, flatValue())
	f.Add(data)
	v := flatValue()
	v["addr"], v["color"], v["i"], v["d"] = nil, nil, nil, nil
	data, _ = s.AppendEncode(nil, v)
	f.Add(data)
	f.Fuzz(func(t *testing.T, b []byte) {
		vals, err := decodeAvroFast(sh, b, len(cols))
		if err != nil {
			return // not a datum of the schema
		}
		sink := &Sink{}
		id := func(d *datum) string {
			t.Helper()
			out, err := sink.appendKeyIdentity(nil, d)
			if err != nil {
				t.Fatal(err)
			}
			return string(out)
		}
		want := id(&datum{cols: cols, slow: &slowDatum{vals: vals}})
		enc, err := encodeAvroCopy(sh, b, nil)
		switch {
		case err == nil:
			if got := id(&datum{cols: cols, enc: enc}); got != want {
				t.Fatalf("from binary COPY fields:\n%q\nfrom values:\n%q", got, want)
			}
		case !errors.Is(err, errNoBinary):
			t.Fatalf("the transcoder refuses what the decoder takes: %v", err)
		}
		var hv any
		if err := s.Decode(b, &hv); err != nil {
			t.Fatalf("hamba: %v", err)
		}
		rec, err := fromAvroNative(sh, hv)
		if err != nil {
			t.Fatal(err)
		}
		if got := id(&datum{cols: cols, slow: &slowDatum{rec: rec}}); got != want {
			t.Fatalf("from hamba/avro's values:\n%q\nfrom the direct decoder's:\n%q", got, want)
		}
	})
}
