package recordjson

import (
	"context"
	"errors"
	"strings"
	"testing"

	brokerv1 "github.com/sluicehq/sluice/proto/gen/sluice/broker/v1"
	"github.com/sluicehq/sluice/serde"
	"github.com/sluicehq/sluice/serde/avro"
	"github.com/sluicehq/sluice/serde/jsonschema"
	"github.com/sluicehq/sluice/serde/protobuf"
)

const (
	encOrderAvro = `{"type":"record","name":"Order","namespace":"shop.v1","fields":[
  {"name":"id","type":"string"},{"name":"total","type":"long"},
  {"name":"note","type":["null","string"],"default":null}]}`
	encPaymentProto = "syntax = \"proto3\";\npackage shop.v1;\nmessage Money { string currency = 1; int64 units = 2; }\nmessage Payment { string id = 1; Money amount = 2; }\n"
	encEventJSON    = `{"$schema":"http://json-schema.org/draft-07/schema#","title":"Event","type":"object",
  "properties":{"kind":{"enum":["created","paid"]},"at":{"type":"integer","minimum":0}},"required":["kind"]}`
)

// encSchemas parses the test schemas: 1 Avro, 2 Protobuf, 3 JSON Schema.
func encSchemas(t testing.TB) map[int32]serde.Schema {
	t.Helper()
	a, err := avro.Parse(encOrderAvro, nil)
	if err != nil {
		t.Fatal(err)
	}
	p, err := protobuf.Parse(encPaymentProto, nil)
	if err != nil {
		t.Fatal(err)
	}
	j, err := jsonschema.Parse(encEventJSON, nil)
	if err != nil {
		t.Fatal(err)
	}
	return map[int32]serde.Schema{1: a, 2: p, 3: j}
}

// TestEncode: JSON documents become enveloped datums that the Decoder
// reads back; documents that do not fit name the field.
func TestEncode(t *testing.T) {
	schemas := encSchemas(t)
	d, err := New(context.Background(), nil, "t", nil)
	if err != nil {
		t.Fatal(err)
	}
	for id, s := range schemas {
		d.Preload(id, s, nil)
	}
	for _, c := range []struct {
		name    string
		id      int32
		message string
		doc     string
		want    string // decoded JSON, or the error
		wantErr bool
	}{
		{"avro", 1, "", `{"id":"o-1","total":1200,"note":{"string":"gift"}}`, `{"id":"o-1","total":1200,"note":{"string":"gift"}}`, false},
		{"avro null union", 1, "", `{"id":"o-2","total":5}`, `{"id":"o-2","total":5,"note":null}`, false},
		{"avro wrong type", 1, "", `{"id":"o-3","total":"12"}`, `field "total": `, true},
		{"avro bare union branch", 1, "", `{"id":"o-3","total":1,"note":"plain"}`, `field "note"`, true},
		{"protobuf first message", 2, "", `{"currency":"EUR","units":"7"}`, `{"currency":"EUR","units":"7"}`, false},
		{"protobuf named message", 2, "shop.v1.Payment", `{"id":"p-1","amount":{"currency":"EUR","units":"1250"}}`,
			`{"id":"p-1","amount":{"currency":"EUR","units":"1250"}}`, false},
		{"protobuf wrong type", 2, "shop.v1.Payment", `{"id":"p-2","amount":{"units":"lots"}}`, "shop.v1.Payment: (line 1:", true},
		{"json schema compacted", 3, "", "{\"kind\": \"paid\",\n \"at\": 12}", `{"kind":"paid","at":12}`, false},
		{"json schema invalid", 3, "", `{"kind":"lost","at":-1}`, `field "kind"`, true},
		{"empty", 1, "", " \n", "empty: want a JSON value", true},
		{"not json", 3, "", `{"kind":`, "", true},
	} {
		t.Run(c.name, func(t *testing.T) {
			e, err := NewEncoder(c.id, schemas[c.id], c.message)
			if err != nil {
				t.Fatal(err)
			}
			b, err := e.Encode([]byte(c.doc))
			if c.wantErr {
				if err == nil || !strings.Contains(err.Error(), c.want) {
					t.Fatalf("Encode(%s) = %x, %v; want an error containing %q", c.doc, b, err, c.want)
				}
				return
			}
			if err != nil {
				t.Fatalf("Encode(%s): %v", c.doc, err)
			}
			ident, _, err := serde.ParseIdentity(b)
			if err != nil || ident.ID != c.id {
				t.Fatalf("envelope of %x: %v, id %d; want id %d", b, err, ident.ID, c.id)
			}
			got := d.Decode(&brokerv1.Record{Value: b}, serde.Value)
			if got.Err != "" || string(got.JSON) != c.want {
				t.Errorf("decoded %s (err %q), want %s", got.JSON, got.Err, c.want)
			}
		})
	}
}

// TestNewEncoderErrors: a message name with a schema that is not Protobuf,
// and one the Protobuf schema does not define, are told apart.
func TestNewEncoderErrors(t *testing.T) {
	schemas := encSchemas(t)
	if _, err := NewEncoder(1, schemas[1], "shop.v1.Order"); !errors.Is(err, ErrNotProtobuf) {
		t.Errorf("Avro with a message name: %v, want ErrNotProtobuf", err)
	}
	if _, err := NewEncoder(3, schemas[3], "Event"); !errors.Is(err, ErrNotProtobuf) {
		t.Errorf("JSON Schema with a message name: %v, want ErrNotProtobuf", err)
	}
	_, err := NewEncoder(2, schemas[2], "shop.v1.Nope")
	var me *MessageError
	if !errors.As(err, &me) || me.Name != "shop.v1.Nope" || !strings.HasPrefix(err.Error(), "message shop.v1.Nope: ") {
		t.Errorf("unknown message: %v, want a MessageError naming shop.v1.Nope", err)
	}
	if _, err := NewEncoder(4, nil, ""); err == nil {
		t.Error("nil schema: no error")
	}
}

// FuzzEncode: any document either is refused with an error or encodes to
// bytes the Decoder reads back without complaint.
func FuzzEncode(f *testing.F) {
	for _, doc := range []string{`{"id":"o-1","total":1200,"note":{"string":"gift"}}`, `{"id":"p-1","amount":{"units":"3"}}`,
		`{"kind":"paid","at":12}`, `[]`, `null`, `"x"`, `{"total":1e400}`} {
		for id := range 3 {
			f.Add(uint8(id+1), doc)
		}
	}
	schemas := encSchemas(f)
	d, err := New(context.Background(), nil, "t", nil)
	if err != nil {
		f.Fatal(err)
	}
	encoders := map[int32]*Encoder{}
	for id, s := range schemas {
		d.Preload(id, s, nil)
		if encoders[id], err = NewEncoder(id, s, ""); err != nil {
			f.Fatal(err)
		}
	}
	f.Fuzz(func(t *testing.T, which uint8, doc string) {
		id := int32(which%3) + 1
		b, err := encoders[id].Encode([]byte(doc))
		if err != nil {
			return
		}
		if got := d.Decode(&brokerv1.Record{Value: b}, serde.Value); got.Err != "" || got.JSON == nil {
			t.Fatalf("schema %d: %q encoded to %x, which decodes to %s (%s)", id, doc, b, got.JSON, got.Err)
		}
	})
}
