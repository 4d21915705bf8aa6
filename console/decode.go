package console

import (
	"context"
	"encoding/hex"
	"fmt"
	"strings"
	"unicode/utf8"

	brokerv1 "github.com/sluicehq/sluice/proto/gen/sluice/broker/v1"
	"github.com/sluicehq/sluice/recordjson"
	"github.com/sluicehq/sluice/serde"
	"github.com/sluicehq/sluice/srclient"
)

// This file shows record keys and values as pages do: decoded through the
// registry by package recordjson, as `sluice consume --decode` does, with
// the raw bytes beside them.

// decoder decodes the records of one topic for one page or stream. It
// remembers the schemas it fetched; not safe for concurrent use.
type decoder struct{ *recordjson.Decoder }

func (c *Console) newDecoder(ctx context.Context, topic string, configs map[string]string) *decoder {
	d, err := recordjson.New(ctx, srclient.NewReader(c.sr), topic, configs)
	if err != nil {
		// A strategy this build does not know: the topic's page still
		// shows its records, named by the default strategy.
		d, _ = recordjson.New(ctx, srclient.NewReader(c.sr), topic, nil)
	}
	return &decoder{d}
}

// sideView is one key or value as a page shows it.
type sideView struct {
	Null bool
	// JSON is the decoded value; "" when not decoded.
	JSON string
	// Text is the raw bytes as text when they are printable UTF-8.
	Text string
	// Hex is the raw bytes in hex (always set; pages show it on demand).
	Hex  string
	Size int
	// Subject, Version, ID and Type name the writer schema.
	Subject string
	Version int
	ID      int32
	Type    string
	Err     string
	// Clipped says the page shows only the start (see clip).
	Clipped bool
}

// shownLimit bounds the characters of a key or value (and of its hex) that
// a page shows: records run to a MiB, a page shows fifty.
const shownLimit = 4 << 10

// clip cuts what the side shows to shownLimit, on a character boundary,
// and marks it Clipped.
func (s sideView) clip() sideView {
	cut := func(x string, n int) string {
		if len(x) <= n {
			return x
		}
		s.Clipped = true
		for n > 0 && !utf8.RuneStart(x[n]) {
			n--
		}
		return x[:n]
	}
	s.JSON = cut(s.JSON, shownLimit)
	s.Text = cut(s.Text, shownLimit)
	s.Hex = cut(s.Hex, 2*shownLimit)
	return s
}

// Schema names the writer schema: "orders-value v2 (id 3, AVRO)".
func (s sideView) Schema() string {
	if s.ID == 0 {
		return ""
	}
	if s.Subject == "" {
		return fmt.Sprintf("schema id %d (%s)", s.ID, s.Type)
	}
	return fmt.Sprintf("%s v%d (id %d, %s)", s.Subject, s.Version, s.ID, s.Type)
}

// Shown is what the record table shows for the side: the decoded JSON,
// else the text, else a hex preview.
func (s sideView) Shown() string {
	switch {
	case s.Null:
		return "null"
	case s.JSON != "":
		return s.JSON
	case s.Text != "":
		return s.Text
	}
	if len(s.Hex) > 64 {
		return "0x" + s.Hex[:64] + "…"
	}
	return "0x" + s.Hex
}

// matches reports whether the side's shown form contains q.
func (s sideView) matches(q string) bool {
	return strings.Contains(s.JSON, q) || strings.Contains(s.Text, q)
}

// rawView fills the raw forms of b.
func rawView(b []byte, present bool) sideView {
	if !present {
		return sideView{Null: true}
	}
	v := sideView{Hex: hex.EncodeToString(b), Size: len(b)}
	if utf8.Valid(b) && printable(b) {
		v.Text = string(b)
	}
	return v
}

func printable(b []byte) bool {
	for _, r := range string(b) {
		if r < 0x20 && r != '\n' && r != '\t' && r != '\r' {
			return false
		}
	}
	return true
}

// decode decodes one side of r. A key without an envelope is a plain key,
// shown as it is; a value without one says so.
func (d *decoder) decode(r *brokerv1.Record, side serde.Side) sideView {
	b, present := r.GetValue(), r.Value != nil
	if side == serde.Key {
		b, present = r.GetKey(), r.Key != nil
	}
	v := rawView(b, present)
	if !present {
		return v
	}
	ds := d.Decode(r, side)
	v.JSON, v.Err = string(ds.JSON), ds.Err
	v.Subject, v.Version, v.ID, v.Type = ds.Subject, ds.Version, ds.ID, ds.Type
	return v
}
