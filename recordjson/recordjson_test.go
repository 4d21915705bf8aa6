package recordjson

import (
	"context"
	"encoding/json"
	"fmt"
	"maps"
	"net/http"
	"net/http/httptest"
	"strings"
	"sync"
	"testing"

	brokerv1 "github.com/sluicehq/sluice/proto/gen/sluice/broker/v1"
	"github.com/sluicehq/sluice/serde"
	"github.com/sluicehq/sluice/serde/avro"
	"github.com/sluicehq/sluice/srclient"
)

const orderSchema = `{"type":"record","name":"Order","fields":[{"name":"id","type":"string"},{"name":"qty","type":"int"}]}`

// decoder is a Decoder without a registry, knowing schema 1 (Order, under
// orders-value v1 and other-value v3).
func decoder(t testing.TB, configs map[string]string) *Decoder {
	t.Helper()
	d, err := New(context.Background(), nil, "orders", configs)
	if err != nil {
		t.Fatal(err)
	}
	s, err := avro.Parse(orderSchema, nil)
	if err != nil {
		t.Fatal(err)
	}
	d.Preload(1, s, []SubjectVersion{{"other-value", 3}, {"orders-value", 1}})
	return d
}

func TestDecode(t *testing.T) {
	order := []byte{0x06, 'o', '-', '1', 0x04} // {"id":"o-1","qty":2}
	enveloped := append(serde.AppendPrefix(nil, 1), order...)
	for _, c := range []struct {
		name string
		rec  *brokerv1.Record
		side serde.Side
		want Side
	}{
		{"null value", &brokerv1.Record{}, serde.Value, Side{}},
		{"plain key", &brokerv1.Record{Key: []byte("k-1")}, serde.Key, Side{}},
		{"empty key", &brokerv1.Record{Key: []byte{}}, serde.Key, Side{}},
		// A big-endian int64 key looks like an envelope naming schema id 0.
		{"number key", &brokerv1.Record{Key: []byte{0, 0, 0, 0, 0, 0, 0, 5}}, serde.Key, Side{}},
		{"value", &brokerv1.Record{Value: enveloped}, serde.Value,
			Side{JSON: json.RawMessage(`{"id":"o-1","qty":2}`), Subject: "orders-value", Version: 1, ID: 1, Type: "AVRO"}},
		{"header mode", &brokerv1.Record{Value: order, Headers: []*brokerv1.Header{{Key: "__value_schema_id", Value: serde.AppendPrefix(nil, 1)}}}, serde.Value,
			Side{JSON: json.RawMessage(`{"id":"o-1","qty":2}`), Subject: "orders-value", Version: 1, ID: 1, Type: "AVRO"}},
		{"value without envelope", &brokerv1.Record{Value: []byte("plain")}, serde.Value,
			Side{Err: "no schema envelope: malformed envelope at byte 0: unknown magic byte 0x70 (want 0x00 or 0x01)"}},
		{"bad header", &brokerv1.Record{Value: order, Headers: []*brokerv1.Header{{Key: "__value_schema_id", Value: []byte{9}}}}, serde.Value,
			Side{Err: "header __value_schema_id: malformed envelope at byte 0: unknown magic byte 0x09 (want 0x00 or 0x01)"}},
		{"unknown id", &brokerv1.Record{Value: append(serde.AppendPrefix(nil, 7), order...)}, serde.Value,
			Side{Err: "schema id 7: no registry to ask"}},
		{"bad datum", &brokerv1.Record{Value: append(serde.AppendPrefix(nil, 1), 0x06, 'o')}, serde.Value,
			Side{ID: 1, Type: "AVRO", Subject: "orders-value", Version: 1}},
	} {
		t.Run(c.name, func(t *testing.T) {
			got := decoder(t, nil).Decode(c.rec, c.side)
			if c.name == "bad datum" {
				if got.JSON != nil || !strings.Contains(got.Err, "id") {
					t.Fatalf("a truncated datum decoded to %+v, want an error naming the field", got)
				}
				got.Err = ""
			}
			if string(got.JSON) != string(c.want.JSON) || got.Subject != c.want.Subject || got.Version != c.want.Version ||
				got.ID != c.want.ID || got.Type != c.want.Type || got.Err != c.want.Err {
				t.Errorf("Decode = %+v (JSON %s), want %+v (JSON %s)", got, got.JSON, c.want, c.want.JSON)
			}
		})
	}
}

// The subject named is the one the topic's strategy picks.
func TestDecodeNamesTheStrategysSubject(t *testing.T) {
	d := decoder(t, map[string]string{"value.subject.name.strategy": "RecordNameStrategy"})
	rec := &brokerv1.Record{Value: append(serde.AppendPrefix(nil, 1), 0x06, 'o', '-', '1', 0x04)}
	// Neither subject is "Order": the first listed is named.
	if got := d.Decode(rec, serde.Value); got.Subject != "other-value" || got.Version != 3 {
		t.Errorf("named %s v%d, want other-value v3 (the first listed)", got.Subject, got.Version)
	}
	if _, err := New(context.Background(), nil, "t", map[string]string{"key.subject.name.strategy": "Nope"}); err == nil {
		t.Error("an unknown strategy was accepted")
	}
}

func TestFieldError(t *testing.T) {
	if got := FieldError(&serde.DatumError{Path: "/lines/2/price", Reason: "expected long"}).Error(); got != `field "lines/2/price": expected long` {
		t.Errorf("FieldError = %q", got)
	}
	if got := FieldError(&serde.DatumError{Path: "/a~1b", Reason: "x"}).Error(); got != `field "a/b": x` {
		t.Errorf("FieldError unescapes the pointer: %q", got)
	}
}

// FuzzDecode: any key, value and header decode to valid JSON or an
// error, never a panic.
func FuzzDecode(f *testing.F) {
	d := decoder(f, nil)
	f.Add(append(serde.AppendPrefix(nil, 1), 0x06, 'o', '-', '1', 0x04), []byte(nil), []byte(nil))
	f.Add([]byte{0x06, 'o'}, []byte{0, 0, 0, 0, 1}, serde.AppendPrefix(nil, 1))
	f.Fuzz(func(t *testing.T, value, key, header []byte) {
		r := &brokerv1.Record{Key: key, Value: value}
		if header != nil {
			r.Headers = []*brokerv1.Header{{Key: "__value_schema_id", Value: header}}
		}
		for _, side := range []serde.Side{serde.Key, serde.Value} {
			s := d.Decode(r, side)
			if s.JSON != nil && (!json.Valid(s.JSON) || s.Err != "") {
				t.Fatalf("%s: %+v", side, s)
			}
		}
	})
}

// TestUnknownSchemaAskedOnce: a schema id or GUID the registry does not
// know is asked for once per Decoder, however its message is worded (a
// Confluent registry says "Schema 7 not found", without "schema id 7");
// a registry that fails otherwise is asked again at the next record.
func TestUnknownSchemaAskedOnce(t *testing.T) {
	var mu sync.Mutex
	asked := map[string]int{}
	reg := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		mu.Lock()
		asked[r.URL.Path]++
		mu.Unlock()
		w.Header().Set("Content-Type", "application/json")
		if r.URL.Path == "/schemas/ids/8" {
			w.WriteHeader(http.StatusServiceUnavailable)
			fmt.Fprint(w, `{"error_code":50003,"message":"try later"}`)
			return
		}
		w.WriteHeader(http.StatusNotFound)
		fmt.Fprint(w, `{"error_code":40403,"message":"Schema 7 not found"}`)
	}))
	defer reg.Close()
	d, err := New(context.Background(), srclient.NewReader(&srclient.Client{Base: reg.URL, HTTP: reg.Client()}), "orders", nil)
	if err != nil {
		t.Fatal(err)
	}
	var guid [16]byte
	guid[15] = 9
	// A key naming an id the registry does not have is a plain key (asked
	// once too).
	if got := d.Decode(&brokerv1.Record{Key: []byte{0, 0, 0, 0, 7, 1, 2, 3}}, serde.Key); got.Err != "" || got.JSON != nil {
		t.Errorf("key naming unknown schema 7: %+v, want a plain key", got)
	}
	records := []*brokerv1.Record{
		{Value: append(serde.AppendPrefix(nil, 7), 0x02)},
		{Value: []byte{0x02}, Headers: []*brokerv1.Header{{Key: "__value_schema_id", Value: serde.AppendGUID(nil, guid)}}},
		{Value: append(serde.AppendPrefix(nil, 8), 0x02)},
	}
	for range 3 {
		for _, r := range records {
			if got := d.Decode(r, serde.Value); got.Err == "" || got.JSON != nil {
				t.Fatalf("Decode = %+v, want an error", got)
			}
		}
	}
	mu.Lock()
	defer mu.Unlock()
	want := map[string]int{"/schemas/ids/7": 1, "/schemas/guids/00000000-0000-0000-0000-000000000009/ids": 1, "/schemas/ids/8": 3}
	if !maps.Equal(asked, want) {
		t.Errorf("asked %v, want %v", asked, want)
	}
}
