package jsonschema

import (
	"strings"
	"testing"

	"github.com/sluicehq/sluice/client"
	"github.com/sluicehq/sluice/serde"
)

const personV1 = `{"title":"Person","type":"object","properties":{"name":{"type":"string"},"age":{"type":"integer","minimum":0}},"required":["name"]}`

type person struct {
	Name string `json:"name"`
	Age  int    `json:"age,omitempty"`
}

func TestCodec(t *testing.T) {
	c, err := New[person](personV1)
	if err != nil {
		t.Fatal(err)
	}
	if s := c.Schema(); s.Format != serde.JSON || s.RecordName != "Person" {
		t.Errorf("schema %+v", s)
	}
	b, err := c.AppendEncode([]byte("x"), person{Name: "Ada", Age: 36})
	if err != nil || string(b) != `x{"name":"Ada","age":36}` {
		t.Fatalf("encoded %s, %v", b, err)
	}
	// Without Validating a value the schema refuses is sent (the broker
	// refuses it at payload validation); with it, it fails here.
	if _, err := c.AppendEncode(nil, person{Name: "x", Age: -1}); err != nil {
		t.Errorf("non-validating codec refused: %v", err)
	}
	if _, err := c.Validating().AppendEncode(nil, person{Name: "x", Age: -1}); err == nil || !strings.Contains(err.Error(), "does not match the schema") {
		t.Errorf("validating codec: %v", err)
	}

	// Tolerant reading: properties the type lacks are ignored.
	w := &client.WriterSchema{ID: 7, Format: serde.JSON, Text: personV1}
	dec, err := c.Decoder(w)
	if err != nil {
		t.Fatal(err)
	}
	var p person
	if err := dec([]byte(`{"name":"Bob","email":"b@example.com"}`), &p); err != nil || p.Name != "Bob" {
		t.Errorf("decoded %+v, %v", p, err)
	}
	if err := dec([]byte(`{"name":`), &p); err == nil {
		t.Error("truncated JSON decoded")
	}
	names, err := c.RecordNames(w)
	if err != nil {
		t.Fatal(err)
	}
	if n, _ := names(nil); n != "Person" {
		t.Errorf("record name %q", n)
	}
	if _, err := c.Decoder(&client.WriterSchema{ID: 8, Format: serde.Avro, Text: `"string"`}); err == nil {
		t.Error("an Avro writer schema was accepted")
	}
	if _, err := New[person](`{"type":`); err == nil {
		t.Error("a broken schema parsed")
	}
}
