package main

import (
	"bytes"
	"context"
	"encoding/base64"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"strconv"
	"strings"
	"time"
	"unicode/utf8"

	"connectrpc.com/connect"
	"google.golang.org/protobuf/types/known/timestamppb"

	brokerv1 "github.com/sluicehq/sluice/proto/gen/sluice/broker/v1"
	"github.com/sluicehq/sluice/proto/gen/sluice/broker/v1/brokerv1connect"
	"github.com/sluicehq/sluice/recordjson"
	"github.com/sluicehq/sluice/serde"
	"github.com/sluicehq/sluice/srclient"
)

const consumeUsage = `Usage: sluice consume TOPIC [flags]

Prints records of a topic. Without --follow it reads every subscribed
partition up to its end at start-up, one partition after the other, and
exits; with --follow it streams new records as they are appended until
interrupted (Ctrl-C exits 0).

Text output is one line per record:
  partition=P offset=O key=K [header.NAME=VALUE ...] value=V
with <null> for null keys and values, and Go-quoted text for bytes that are
not printable UTF-8. --output json prints one JSON object per record and
line; bytes that are not UTF-8 go in key_base64/value_base64 instead.

With --group G it joins consumer group G (sharing the partitions with the
group's other members) and streams until interrupted or --max: each
partition starts at the group's committed offset, or at --from (earliest
or latest) when it has none; each chunk of records is committed after it
is printed, and Ctrl-C commits what was printed, leaves the group and exits
0.

With --decode each key and value is decoded through the registry: the
envelope's schema id (or the GUID of a __key_schema_id/__value_schema_id
header) names the writer schema, and the value is printed as JSON (Avro in
Avro's JSON encoding, unions as {"branch": value}; Protobuf as protojson;
JSON Schema values as they are), followed by the writer schema's subject
version and id:
  partition=P offset=O key=K value={...} value.schema=orders-value:2 value.id=7
--output json puts the decoded value in "value" and the schema in
"value_schema": {"subject", "version", "id", "type"} (the same for keys).
The subject shown is the one the topic's subject-name strategy names, when
the schema is registered under several. A value that does not decode (no
envelope, an unknown id, bytes that do not match the schema) is printed
raw with value.error="why" ("value_error" in JSON) and reading goes on;
--stop-on-decode-error stops there with exit 1 instead. Keys without an
envelope, or whose first bytes only look like one (a big-endian number:
no valid envelope, or a schema id the registry does not have), are plain
keys and are printed as they are.

Flags:
`

func runConsume(ctx context.Context, e *env, args []string) int {
	fs := newFlagSet(e, "sluice consume", consumeUsage)
	var cf clientFlags
	cf.register(fs, e)
	from := fs.String("from", "earliest", "where to start in each partition: earliest, latest, an `offset`, or a time (RFC 3339: the first record at or after it)")
	partition := fs.Int("partition", -1, "read only this `partition`; -1 reads all")
	follow := fs.Bool("follow", false, "keep streaming new records until interrupted")
	maxRecs := fs.Int("max", 0, "stop after this many `records`; 0 means no limit")
	group := fs.String("group", "", "consume as a member of consumer `group` (see above)")
	decode := fs.Bool("decode", false, "decode keys and values through the registry and print them as JSON (see above)")
	stopOnErr := fs.Bool("stop-on-decode-error", false, "with --decode: stop with exit 1 at the first record that does not decode")
	pos, code, ok := parseArgs(fs, args)
	if !ok {
		return code
	}
	if err := cf.validate(); err != nil {
		fmt.Fprintf(e.stderr, "sluice consume: %v\n", err)
		return 2
	}
	if err := checkPartition(*partition); err != nil {
		fmt.Fprintf(e.stderr, "sluice consume: %v\n", err)
		return 2
	}
	if len(pos) != 1 {
		fmt.Fprintln(e.stderr, "sluice consume: want one TOPIC")
		return 2
	}
	if *maxRecs < 0 {
		fmt.Fprintf(e.stderr, "sluice consume: --max %d: want 0 or more\n", *maxRecs)
		return 2
	}
	start, err := parseFrom(*from)
	if err != nil {
		fmt.Fprintf(e.stderr, "sluice consume: %v\n", err)
		return 2
	}
	if !start.at.IsZero() && *follow && *partition < 0 {
		fmt.Fprintln(e.stderr, "sluice consume: --follow from a time takes a --partition (each partition starts at its own offset)")
		return 2
	}
	if *stopOnErr && !*decode {
		fmt.Fprintln(e.stderr, "sluice consume: --stop-on-decode-error goes with --decode")
		return 2
	}
	c := &consumer{
		topic: pos[0],
		out:   &recordPrinter{w: e.stdout, json: cf.json()},
		max:   *maxRecs,
	}
	var topics brokerv1connect.TopicServiceClient
	topics, c.client = cf.brokerClients()
	if *decode {
		// The topic's strategies say which subject a schema is shown under.
		res, err := topics.DescribeTopic(ctx, connect.NewRequest(&brokerv1.DescribeTopicRequest{Name: c.topic}))
		if err != nil {
			return printErr(e.stderr, "consume", err)
		}
		reg := srclient.NewReader(cf.registry())
		if c.out.dec, err = newRecordDecoder(ctx, reg, c.topic, res.Msg.GetTopic().GetConfigs(), *stopOnErr); err != nil {
			return printErr(e.stderr, "consume", err)
		}
	}
	if *partition >= 0 {
		p := int32(*partition)
		c.partition = &p
	}
	if *group != "" {
		if *partition >= 0 || start.position == brokerv1.StartPosition_START_POSITION_UNSPECIFIED {
			fmt.Fprintln(e.stderr, "sluice consume: --group takes --from earliest or latest, and no --partition (the group assigns partitions)")
			return 2
		}
		groups := cf.groupClient()
		err = c.consumeGroup(ctx, groups, *group, start.position == brokerv1.StartPosition_START_POSITION_EARLIEST, e.stderr)
	} else if *follow {
		err = c.follow(ctx, start)
	} else {
		err = c.readToEnd(ctx, start)
	}
	switch {
	case err == nil, errors.Is(err, errMaxReached):
		return 0
	case ctx.Err() != nil:
		// Interrupted: what was printed is complete lines; exit cleanly.
		return 0
	}
	return printErr(e.stderr, "consume", err)
}

// startSpec is a parsed --from.
type startSpec struct {
	position brokerv1.StartPosition // EARLIEST or LATEST, or UNSPECIFIED with offset or at
	offset   int64
	// at, when set, starts each partition at its first record at or
	// after this time (BrokerService.ListOffsets by timestamp).
	at time.Time
}

func parseFrom(s string) (startSpec, error) {
	switch s {
	case "earliest":
		return startSpec{position: brokerv1.StartPosition_START_POSITION_EARLIEST}, nil
	case "latest":
		return startSpec{position: brokerv1.StartPosition_START_POSITION_LATEST}, nil
	}
	if at, err := time.Parse(time.RFC3339Nano, s); err == nil {
		return startSpec{at: at}, nil
	}
	n, err := strconv.ParseInt(s, 10, 64)
	if err != nil || n < 0 {
		return startSpec{}, fmt.Errorf("--from %q: want earliest, latest, an offset (0 or more) or an RFC 3339 time (2026-12-04T15:30:00Z)", s)
	}
	return startSpec{offset: n}, nil
}

// offsetsAt returns each partition's first offset at or after the time;
// a partition with no record that late starts at its end.
func (c *consumer) offsetsAt(ctx context.Context, at time.Time, ends map[int32]int64) (map[int32]int64, error) {
	req := &brokerv1.ListOffsetsRequest{Topic: c.topic, Query: &brokerv1.ListOffsetsRequest_Timestamp{Timestamp: timestamppb.New(at)}}
	if c.partition != nil {
		req.Partitions = []int32{*c.partition}
	}
	res, err := c.client.ListOffsets(ctx, connect.NewRequest(req))
	if err != nil {
		return nil, err
	}
	starts := map[int32]int64{}
	for _, o := range res.Msg.GetOffsets() {
		off := o.GetOffset()
		if end, ok := ends[o.GetPartition()]; off < 0 && ok {
			off = end
		}
		starts[o.GetPartition()] = off
	}
	return starts, nil
}

// errMaxReached stops reading once --max records are printed.
var errMaxReached = errors.New("max records reached")

type consumer struct {
	client    brokerv1connect.BrokerServiceClient
	topic     string
	partition *int32
	out       *recordPrinter
	max       int
	printed   int
}

// print prints records, stopping at --max.
func (c *consumer) print(recs []*brokerv1.Record) error {
	for _, r := range recs {
		if err := c.out.print(r); err != nil {
			return err
		}
		c.printed++
		if c.max > 0 && c.printed >= c.max {
			return errMaxReached
		}
	}
	return nil
}

// readToEnd fetches each partition from the start to the end it had when
// the command started.
func (c *consumer) readToEnd(ctx context.Context, start startSpec) error {
	lreq := &brokerv1.ListOffsetsRequest{Topic: c.topic, Query: &brokerv1.ListOffsetsRequest_Spec{Spec: brokerv1.OffsetSpec_OFFSET_SPEC_LATEST}}
	if c.partition != nil {
		lreq.Partitions = []int32{*c.partition}
	}
	ends, err := c.client.ListOffsets(ctx, connect.NewRequest(lreq))
	if err != nil {
		return err
	}
	starts := map[int32]int64{}
	switch {
	case start.position == brokerv1.StartPosition_START_POSITION_EARLIEST:
		lreq.Query = &brokerv1.ListOffsetsRequest_Spec{Spec: brokerv1.OffsetSpec_OFFSET_SPEC_EARLIEST}
		res, err := c.client.ListOffsets(ctx, connect.NewRequest(lreq))
		if err != nil {
			return err
		}
		for _, o := range res.Msg.GetOffsets() {
			starts[o.GetPartition()] = o.GetOffset()
		}
	case start.position == brokerv1.StartPosition_START_POSITION_LATEST:
		return nil
	case !start.at.IsZero():
		endOf := map[int32]int64{}
		for _, o := range ends.Msg.GetOffsets() {
			endOf[o.GetPartition()] = o.GetOffset()
		}
		if starts, err = c.offsetsAt(ctx, start.at, endOf); err != nil {
			return err
		}
	default:
		for _, o := range ends.Msg.GetOffsets() {
			starts[o.GetPartition()] = start.offset
		}
	}
	for _, end := range ends.Msg.GetOffsets() {
		p := end.GetPartition()
		if starts[p] > end.GetOffset() {
			// Past the end: let the server name the valid range.
			if _, err := c.client.Fetch(ctx, connect.NewRequest(&brokerv1.FetchRequest{Topic: c.topic, Partition: p, Offset: starts[p]})); err != nil {
				return err
			}
		}
		for off := starts[p]; off < end.GetOffset(); {
			res, err := c.client.Fetch(ctx, connect.NewRequest(&brokerv1.FetchRequest{Topic: c.topic, Partition: p, Offset: off}))
			if err != nil {
				return err
			}
			recs := res.Msg.GetRecords()
			if len(recs) == 0 {
				break // compaction or retention left nothing before the end
			}
			// Stop at the end snapshot even if more arrived meanwhile.
			n := 0
			for n < len(recs) && recs[n].GetOffset() < end.GetOffset() {
				n++
			}
			if err := c.print(recs[:n]); err != nil {
				return err
			}
			off = recs[len(recs)-1].GetOffset() + 1
		}
	}
	return nil
}

// follow streams records with Subscribe until ctx ends or --max is reached.
func (c *consumer) follow(ctx context.Context, start startSpec) error {
	ctx, cancel := context.WithCancel(ctx)
	defer cancel()
	req := &brokerv1.SubscribeRequest{Topic: c.topic, Partition: c.partition}
	if !start.at.IsZero() {
		// One partition (runConsume checks): from its offset at the time,
		// or, with none that late, from its end.
		starts, err := c.offsetsAt(ctx, start.at, nil)
		if err != nil {
			return err
		}
		off, ok := starts[*c.partition]
		if !ok || off < 0 {
			req.Start = &brokerv1.SubscribeRequest_Position{Position: brokerv1.StartPosition_START_POSITION_LATEST}
		} else {
			req.Start = &brokerv1.SubscribeRequest_Offset{Offset: off}
		}
	} else if start.position != brokerv1.StartPosition_START_POSITION_UNSPECIFIED {
		req.Start = &brokerv1.SubscribeRequest_Position{Position: start.position}
	} else {
		req.Start = &brokerv1.SubscribeRequest_Offset{Offset: start.offset}
	}
	stream, err := c.client.Subscribe(ctx, connect.NewRequest(req))
	if err != nil {
		return err
	}
	defer stream.Close()
	for stream.Receive() {
		if err := c.print(stream.Msg().GetRecords()); err != nil {
			return err
		}
	}
	if err := stream.Err(); err != nil {
		return err
	}
	return errors.New("the server ended the stream")
}

// recordPrinter writes records as text lines or JSON lines.
type recordPrinter struct {
	w    io.Writer
	json bool
	buf  []byte
	// dec, when set, decodes keys and values through the registry.
	dec *recordDecoder
}

// recordJSON is the --output json shape of a record.
type recordJSON struct {
	Partition   int32        `json:"partition"`
	Offset      int64        `json:"offset"`
	Timestamp   string       `json:"timestamp"`
	Key         *string      `json:"key"`
	KeyBase64   string       `json:"key_base64,omitempty"`
	Value       *string      `json:"value"`
	ValueBase64 string       `json:"value_base64,omitempty"`
	Headers     []headerJSON `json:"headers,omitempty"`
}

type headerJSON struct {
	Key         string  `json:"key"`
	Value       *string `json:"value"`
	ValueBase64 string  `json:"value_base64,omitempty"`
}

// jsonBytes renders b as a JSON string when it is UTF-8, else as base64.
func jsonBytes(b []byte) (s *string, b64 string) {
	if b == nil {
		return nil, ""
	}
	if utf8.Valid(b) {
		str := string(b)
		return &str, ""
	}
	return nil, base64.StdEncoding.EncodeToString(b)
}

// textBytes renders b for a text line.
func textBytes(b []byte) string {
	if b == nil {
		return "<null>"
	}
	s := string(b)
	if !utf8.Valid(b) || strings.ContainsFunc(s, func(r rune) bool { return r < 0x20 || r == 0x7f }) || s == "" || s == "<null>" {
		return strconv.Quote(s)
	}
	return s
}

func (p *recordPrinter) print(r *brokerv1.Record) error {
	if p.dec != nil {
		return p.printDecoded(r)
	}
	if p.json {
		j := recordJSON{Partition: r.GetPartition(), Offset: r.GetOffset(), Timestamp: r.GetTimestamp().AsTime().Format(time.RFC3339Nano)}
		j.Key, j.KeyBase64 = jsonBytes(r.Key)
		j.Value, j.ValueBase64 = jsonBytes(r.Value)
		for _, h := range r.GetHeaders() {
			hj := headerJSON{Key: h.GetKey()}
			hj.Value, hj.ValueBase64 = jsonBytes(h.GetValue())
			if hj.Value == nil && hj.ValueBase64 == "" {
				empty := ""
				hj.Value = &empty
			}
			j.Headers = append(j.Headers, hj)
		}
		b, err := json.Marshal(j)
		if err != nil {
			return err
		}
		_, err = p.w.Write(append(b, '\n'))
		return err
	}
	buf := p.buf[:0]
	buf = fmt.Appendf(buf, "partition=%d offset=%d key=%s", r.GetPartition(), r.GetOffset(), textBytes(r.Key))
	for _, h := range r.GetHeaders() {
		v := h.GetValue()
		if v == nil {
			v = []byte{}
		}
		buf = fmt.Appendf(buf, " header.%s=%s", h.GetKey(), textBytes(v))
	}
	buf = fmt.Appendf(buf, " value=%s\n", textBytes(r.Value))
	p.buf = buf
	_, err := p.w.Write(buf)
	return err
}

// printDecoded prints r with its key and value decoded (consume --decode).
// With --stop-on-decode-error a value (or an enveloped key) that does not
// decode is printed, then ends the command.
func (p *recordPrinter) printDecoded(r *brokerv1.Record) error {
	key := p.dec.Decode(r, serde.Key)
	value := p.dec.Decode(r, serde.Value)
	if p.json {
		j := decodedJSON{Partition: r.GetPartition(), Offset: r.GetOffset(), Timestamp: r.GetTimestamp().AsTime().Format(time.RFC3339Nano)}
		j.Key, j.KeyBase64, j.KeySchema, j.KeyError = sideJSON(r.Key, key)
		j.Value, j.ValueBase64, j.ValueSchema, j.ValueError = sideJSON(r.Value, value)
		for _, h := range r.GetHeaders() {
			hj := headerJSON{Key: h.GetKey()}
			hj.Value, hj.ValueBase64 = jsonBytes(h.GetValue())
			if hj.Value == nil && hj.ValueBase64 == "" {
				empty := ""
				hj.Value = &empty
			}
			j.Headers = append(j.Headers, hj)
		}
		// Not json.Marshal: decoded text keeps <, > and & as they are.
		var b bytes.Buffer
		enc := json.NewEncoder(&b)
		enc.SetEscapeHTML(false)
		if err := enc.Encode(j); err != nil {
			return err
		}
		if _, err := p.w.Write(b.Bytes()); err != nil {
			return err
		}
	} else {
		buf := fmt.Appendf(p.buf[:0], "partition=%d offset=%d", r.GetPartition(), r.GetOffset())
		buf = appendSideText(buf, "key", r.Key, key)
		for _, h := range r.GetHeaders() {
			v := h.GetValue()
			if v == nil {
				v = []byte{}
			}
			if id, _, err := serde.ParseIdentity(v); err == nil && (h.GetKey() == recordjson.IDHeader(serde.Key) || h.GetKey() == recordjson.IDHeader(serde.Value)) {
				// A schema header reads as the GUID it carries.
				buf = fmt.Appendf(buf, " header.%s=%s", h.GetKey(), strings.ReplaceAll(id.String(), " ", ":"))
				continue
			}
			buf = fmt.Appendf(buf, " header.%s=%s", h.GetKey(), textBytes(v))
		}
		buf = appendSideText(buf, "value", r.Value, value)
		buf = appendSchemaText(buf, "key", key)
		buf = appendSchemaText(buf, "value", value)
		p.buf = append(buf, '\n')
		if _, err := p.w.Write(p.buf); err != nil {
			return err
		}
	}
	if p.dec.stopOnErr && (key.Err != "" || value.Err != "") {
		return fmt.Errorf("partition %d offset %d: %w", r.GetPartition(), r.GetOffset(), errDecodeStop)
	}
	return nil
}
