// Package demoio holds what the stream-processing examples' -demo modes share:
// creating their topics, and reading back what a processor wrote.
package demoio

import (
	"context"
	"errors"
	"fmt"
	"slices"
	"time"

	"connectrpc.com/connect"

	"github.com/sluicehq/sluice/client"
	brokerv1 "github.com/sluicehq/sluice/proto/gen/sluice/broker/v1"
)

// ErrStopped is ReadFrom's error when the processor stopped before the
// records it waits for arrived.
var ErrStopped = errors.New("the processor stopped")

// CreateTopic creates a topic unless it exists.
func CreateTopic(ctx context.Context, conn *client.Conn, name string, partitions int32) error {
	_, err := conn.Topics().CreateTopic(ctx, connect.NewRequest(&brokerv1.CreateTopicRequest{Name: name, Partitions: partitions}))
	if err != nil && connect.CodeOf(err) != connect.CodeAlreadyExists {
		return fmt.Errorf("create topic %s: %w", name, err)
	}
	return nil
}

// EndOffsets answers the high watermark of every partition of topic.
func EndOffsets(ctx context.Context, conn *client.Conn, topic string) (map[int32]int64, error) {
	res, err := conn.Broker().ListOffsets(ctx, connect.NewRequest(&brokerv1.ListOffsetsRequest{Topic: topic, Query: &brokerv1.ListOffsetsRequest_Spec{Spec: brokerv1.OffsetSpec_OFFSET_SPEC_LATEST}}))
	if err != nil {
		return nil, err
	}
	out := map[int32]int64{}
	for _, o := range res.Msg.GetOffsets() {
		out[o.GetPartition()] = o.GetOffset()
	}
	return out, nil
}

// ReadFrom reads n records of topic from the offsets from (per partition),
// decoded, or fails with ErrStopped when the processor stops (done) first.
func ReadFrom[K, V any](ctx context.Context, conn *client.Conn, topic string, kc client.Codec[K], vc client.Codec[V], from map[int32]int64, n int, done <-chan error) ([]client.Message[K, V], error) {
	dec, err := client.NewRecordDecoder(conn, topic, kc, vc)
	if err != nil {
		return nil, err
	}
	var out []client.Message[K, V]
	for len(out) < n {
		got := 0
		for p, off := range from {
			res, err := conn.Broker().Fetch(ctx, connect.NewRequest(&brokerv1.FetchRequest{Topic: topic, Partition: p, Offset: off}))
			if err != nil {
				return nil, err
			}
			for _, r := range res.Msg.GetRecords() {
				m, err := dec.Decode(ctx, r)
				if err != nil {
					return nil, err
				}
				out = append(out, m)
				from[p] = r.GetOffset() + 1
				got++
			}
		}
		if got == 0 {
			select {
			case err := <-done:
				return nil, fmt.Errorf("%w: %v", ErrStopped, err)
			case <-ctx.Done():
				return nil, ctx.Err()
			case <-time.After(20 * time.Millisecond):
			}
		}
	}
	return out, nil
}

// WaitCommitted waits until group has committed every record of its
// input topics and of every other topic it commits offsets for (the
// internal topics of a stream processor, which its inputs feed): then
// each output of those records is committed too. It fails with
// ErrStopped when the processor stops (done) first.
func WaitCommitted(ctx context.Context, conn *client.Conn, group string, inputs []string, done <-chan error) error {
	for {
		ok, err := committed(ctx, conn, group, inputs)
		if err != nil || ok {
			return err
		}
		select {
		case err := <-done:
			return fmt.Errorf("%w: %v", ErrStopped, err)
		case <-ctx.Done():
			return ctx.Err()
		case <-time.After(20 * time.Millisecond):
		}
	}
}

// committed reports whether group has processed and committed every
// record of inputs, then of the other topics it has offsets for: no
// record follows its committed offset in any partition (read_committed).
// The inputs are checked first: the records they caused on the internal
// topics are visible by then.
func committed(ctx context.Context, conn *client.Conn, group string, inputs []string) (bool, error) {
	res, err := conn.Groups().FetchOffsets(ctx, connect.NewRequest(&brokerv1.FetchOffsetsRequest{Group: group}))
	if err != nil {
		return false, fmt.Errorf("committed offsets of %s: %w", group, err)
	}
	at := map[string]map[int32]int64{}
	topics := slices.Clone(inputs)
	for _, o := range res.Msg.GetOffsets() {
		if at[o.GetTopic()] == nil {
			at[o.GetTopic()] = map[int32]int64{}
			if !slices.Contains(inputs, o.GetTopic()) {
				topics = append(topics, o.GetTopic())
			}
		}
		at[o.GetTopic()][o.GetPartition()] = o.GetOffset()
	}
	for _, topic := range topics {
		ends, err := EndOffsets(ctx, conn, topic)
		if err != nil {
			return false, fmt.Errorf("end offsets of %s: %w", topic, err)
		}
		for p, end := range ends {
			off := at[topic][p]
			if off >= end {
				continue
			}
			res, err := conn.Broker().Fetch(ctx, connect.NewRequest(&brokerv1.FetchRequest{Topic: topic, Partition: p, Offset: off, MaxRecords: 1}))
			if err != nil {
				return false, fmt.Errorf("read %s/%d at %d: %w", topic, p, off, err)
			}
			if len(res.Msg.GetRecords()) > 0 {
				return false, nil
			}
		}
	}
	return true, nil
}

// ReadToEnd reads topic from the offsets from (per partition) to its
// current end, decoded (the end offsets count transaction markers, which
// are not read: each partition is read until a fetch answers nothing).
func ReadToEnd[K, V any](ctx context.Context, conn *client.Conn, topic string, kc client.Codec[K], vc client.Codec[V], from map[int32]int64) ([]client.Message[K, V], error) {
	dec, err := client.NewRecordDecoder(conn, topic, kc, vc)
	if err != nil {
		return nil, err
	}
	var out []client.Message[K, V]
	for p, off := range from {
		for {
			res, err := conn.Broker().Fetch(ctx, connect.NewRequest(&brokerv1.FetchRequest{Topic: topic, Partition: p, Offset: off}))
			if err != nil {
				return nil, fmt.Errorf("read %s/%d at %d: %w", topic, p, off, err)
			}
			if len(res.Msg.GetRecords()) == 0 {
				break
			}
			for _, r := range res.Msg.GetRecords() {
				m, err := dec.Decode(ctx, r)
				if err != nil {
					return nil, err
				}
				out = append(out, m)
				off = r.GetOffset() + 1
			}
		}
	}
	return out, nil
}
