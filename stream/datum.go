package stream

import (
	"errors"
	"fmt"
	"time"

	"google.golang.org/protobuf/types/known/timestamppb"

	"github.com/sluicehq/sluice/client"
	brokerv1 "github.com/sluicehq/sluice/proto/gen/sluice/broker/v1"
)

// datum encodes and decodes values of T on internal topics (repartition,
// changelog): the codec's datum bytes without the schema envelope, read
// back with the codec's own schema as the writer schema. Internal topics
// are written and read by the same application, so they need no registry
// subject.
type datum[T any] struct {
	c   client.Codec[T]
	dec client.Decoder[T]
}

func newDatum[T any](c client.Codec[T]) (*datum[T], error) {
	if c == nil {
		return nil, errors.New("a codec is required")
	}
	var w *client.WriterSchema
	if s := c.Schema(); s != nil && s.Format != "" {
		w = &client.WriterSchema{Format: s.Format, Text: s.Text, References: client.Flatten(s.References)}
	}
	dec, err := c.Decoder(w)
	if err != nil {
		return nil, err
	}
	if dec == nil {
		return nil, errors.New("the codec has no decoder for its own schema")
	}
	return &datum[T]{c: c, dec: dec}, nil
}

func (d *datum[T]) encode(v any) ([]byte, error) {
	b, err := d.c.AppendEncode(nil, v.(T))
	if b == nil {
		b = []byte{} // an empty datum is not a null
	}
	return b, err
}

func (d *datum[T]) appendEncode(dst []byte, v any) ([]byte, error) {
	return d.c.AppendEncode(dst, v.(T))
}

func (d *datum[T]) decode(b []byte) (any, error) {
	var v T
	if err := d.dec(b, &v); err != nil {
		return nil, err
	}
	return v, nil
}

// rawRecord is an internal topic's record; partition nil lets the broker
// partition by the key.
func rawRecord(key, value []byte, ts int64, partition *int32) *brokerv1.ProduceRecord {
	return &brokerv1.ProduceRecord{Key: key, Value: value, Timestamp: timestamppb.New(time.UnixMilli(ts)), Partition: partition}
}

// errCodec names the side that failed.
func errCodec(what string, err error) error { return fmt.Errorf("%s: %w", what, err) }
