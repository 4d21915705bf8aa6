package protobuf

import (
	"testing"

	"google.golang.org/protobuf/types/known/timestamppb"

	"github.com/sluicehq/sluice/client"
	"github.com/sluicehq/sluice/serde"
)

// FuzzDecode feeds record bytes (message-index path and message, untrusted)
// to the decoder: errors are fine, panics are not.
func FuzzDecode(f *testing.F) {
	c, err := New[*timestamppb.Timestamp]()
	if err != nil {
		f.Fatal(err)
	}
	dec, err := c.Decoder(&client.WriterSchema{ID: 1, Format: serde.Protobuf, Text: c.Schema().Text})
	if err != nil {
		f.Fatal(err)
	}
	seed, _ := c.AppendEncode(nil, timestamppb.New(timestamppb.Now().AsTime()))
	f.Add(seed)
	f.Add([]byte{0})
	f.Add([]byte{2, 2, 4, 8, 1})
	f.Add([]byte{0x7f})
	f.Fuzz(func(t *testing.T, b []byte) {
		var m *timestamppb.Timestamp
		_ = dec(b, &m)
	})
}
