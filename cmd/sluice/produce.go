package main

import (
	"bufio"
	"bytes"
	"context"
	"flag"
	"fmt"
	"io"
	"slices"

	"connectrpc.com/connect"

	brokerv1 "github.com/sluicehq/sluice/proto/gen/sluice/broker/v1"
	"github.com/sluicehq/sluice/proto/gen/sluice/broker/v1/brokerv1connect"
	"github.com/sluicehq/sluice/recordjson"
	"github.com/sluicehq/sluice/serde"
	"github.com/sluicehq/sluice/srclient"
)

const produceUsage = `Usage: sluice produce TOPIC [VALUE ...] [flags]

Appends one record per VALUE, or, without VALUEs, one record per line of
standard input (sent in batches of up to --batch-records records or about
1 MiB). Prints the partition and offset of each VALUE's record, or a summary
per partition for standard input.

Typed topics: with --value-schema-id N, or --value-subject S (and
--value-version V, default latest), each value is JSON encoded through that
registered schema and framed with the Confluent envelope (magic byte 0,
schema id, and for Protobuf the message-index path), as Confluent's
kafka-avro-console-producer does:
  Avro         Avro's JSON encoding: a union value is null or names its
               branch, {"string": "x"}, {"shop.v1.Money": {...}}; bytes and
               fixed are strings of code points \u0000-\u00ff; a missing
               field takes its default
  Protobuf     protojson (field names or json_name, enums by name, int64 as
               numbers or strings); --value-message picks the message
               (default the first of the schema)
  JSON Schema  the value is validated, then sent as compact JSON text
--key-schema-id, --key-subject, --key-version and --key-message do the same
for the key given with --key, or per record with --key-separator. A value
that does not fit its schema stops the command before that record is sent,
naming the record (or stdin line) and the field; the records before it are
written and summarised.

Examples:
  sluice produce orders --value-subject orders-value '{"id":"o-1","total":1200}'
  sluice produce orders --value-schema-id 3 --key-separator '|' < orders.txt
      (each line: KEY|VALUE, e.g. o-1|{"id":"o-1","total":1200,"note":null})

Flags:
`

// stdinBatchBytes is roughly how many record bytes one request from stdin
// carries: large enough to amortise the round trip, well under the server's
// 16 MiB request limit.
const stdinBatchBytes = 1 << 20

func runProduce(ctx context.Context, e *env, args []string) int {
	fs := newFlagSet(e, "sluice produce", produceUsage)
	var cf clientFlags
	cf.register(fs, e)
	key := fs.String("key", "", "record `key` (absent: a null key; each request's keyless records go to one partition, the next request's to the next; \"\" is an empty key)")
	partition := fs.Int("partition", -1, "write to this `partition`; -1 lets the partitioner choose")
	batch := fs.Int("batch-records", 1000, "stdin: most `records` per request")
	var headers kvFlag
	fs.Var(&headers, "header", "record header `key=value` (repeatable)")
	keySep := fs.String("key-separator", "", "each VALUE and stdin line is KEY, then this `separator`, then the value")
	var keyT, valueT typedFlags
	keyT.register(fs, serde.Key)
	valueT.register(fs, serde.Value)
	pos, code, ok := parseArgs(fs, args)
	if !ok {
		return code
	}
	if err := cf.validate(); err != nil {
		fmt.Fprintf(e.stderr, "sluice produce: %v\n", err)
		return 2
	}
	if err := checkPartition(*partition); err != nil {
		fmt.Fprintf(e.stderr, "sluice produce: %v\n", err)
		return 2
	}
	if len(pos) == 0 {
		fmt.Fprintln(e.stderr, "sluice produce: want a TOPIC")
		return 2
	}
	if *batch < 1 {
		fmt.Fprintf(e.stderr, "sluice produce: --batch-records %d: want at least 1\n", *batch)
		return 2
	}
	topic, values := pos[0], pos[1:]
	keySet := false
	fs.Visit(func(f *flag.Flag) { keySet = keySet || f.Name == "key" })
	if keySet && *keySep != "" {
		fmt.Fprintln(e.stderr, "sluice produce: give --key (one key for every record) or --key-separator (a key per record), not both")
		return 2
	}
	for _, t := range []*typedFlags{&keyT, &valueT} {
		if !t.set() {
			continue
		}
		if err := t.validate(); err != nil {
			fmt.Fprintf(e.stderr, "sluice produce: %v\n", err)
			return 2
		}
	}
	if keyT.set() && !keySet && *keySep == "" {
		fmt.Fprintln(e.stderr, "sluice produce: a typed key needs --key JSON or --key-separator")
		return 2
	}

	var keyCodec, valueCodec *recordjson.Encoder
	if keyT.set() || valueT.set() {
		reg := srclient.NewReader(cf.registry())
		var err error
		if valueT.set() {
			if valueCodec, err = valueT.resolve(ctx, reg); err != nil {
				return printErr(e.stderr, "produce", err)
			}
		}
		if keyT.set() {
			if keyCodec, err = keyT.resolve(ctx, reg); err != nil {
				return printErr(e.stderr, "produce", err)
			}
		}
	}

	tmpl := &brokerv1.ProduceRecord{}
	if keySet {
		tmpl.Key = []byte(*key)
		if keyCodec != nil {
			k, err := keyCodec.Encode(tmpl.Key)
			if err != nil {
				fmt.Fprintf(e.stderr, "sluice produce: --key: %v\n", err)
				return 1
			}
			tmpl.Key = k
		}
	}
	for i := range headers.keys {
		tmpl.Headers = append(tmpl.Headers, &brokerv1.Header{Key: headers.keys[i], Value: []byte(headers.values[i])})
	}
	if *partition >= 0 {
		p := int32(*partition)
		tmpl.Partition = &p
	}
	record := func(value []byte) (*brokerv1.ProduceRecord, error) {
		k := tmpl.Key
		if *keySep != "" {
			kb, vb, ok := bytes.Cut(value, []byte(*keySep))
			if !ok {
				return nil, fmt.Errorf("no key separator %q", *keySep)
			}
			k, value = kb, vb
			if keyCodec != nil {
				var err error
				if k, err = keyCodec.Encode(k); err != nil {
					return nil, fmt.Errorf("key: %w", err)
				}
			}
		}
		if valueCodec != nil {
			var err error
			if value, err = valueCodec.Encode(value); err != nil {
				return nil, fmt.Errorf("value: %w", err)
			}
		}
		return &brokerv1.ProduceRecord{Key: k, Value: value, Headers: tmpl.Headers, Partition: tmpl.Partition}, nil
	}
	_, client := cf.brokerClients()

	if len(values) > 0 {
		recs := make([]*brokerv1.ProduceRecord, len(values))
		for i, v := range values {
			r, err := record([]byte(v))
			if err != nil {
				fmt.Fprintf(e.stderr, "sluice produce: record %d: %v (nothing was sent)\n", i, err)
				return 1
			}
			recs[i] = r
		}
		res, err := client.Produce(ctx, connect.NewRequest(&brokerv1.ProduceRequest{Topic: topic, Records: recs}))
		if err != nil {
			return printErr(e.stderr, "produce", err)
		}
		type resultJSON struct {
			Partition int32 `json:"partition"`
			Offset    int64 `json:"offset"`
		}
		out := struct {
			Topic   string       `json:"topic"`
			Results []resultJSON `json:"results"`
		}{Topic: topic, Results: []resultJSON{}}
		for _, r := range res.Msg.GetResults() {
			if cf.json() {
				out.Results = append(out.Results, resultJSON{r.GetPartition(), r.GetOffset()})
			} else {
				fmt.Fprintf(e.stdout, "partition %d offset %d\n", r.GetPartition(), r.GetOffset())
			}
		}
		if cf.json() {
			writeJSON(e.stdout, out)
		}
		return 0
	}

	sum, err := produceLines(ctx, client, topic, e.stdin, *batch, record)
	if err != nil {
		code := printErr(e.stderr, "produce", err)
		if sum.Records == 0 {
			// Nothing was written: a summary would only repeat "0 records"
			// next to the error.
			return code
		}
		// Some batches were acknowledged before the failure: say which.
	}
	printProduceSummary(e.stdout, sum, cf.json(), err != nil)
	if err != nil {
		return exitCode(err, 1)
	}
	return 0
}

// printProduceSummary prints what a stdin produce wrote, partitions in
// order; partial marks a summary printed after a failure.
func printProduceSummary(w io.Writer, sum produceSummary, asJSON, partial bool) {
	slices.SortFunc(sum.Partitions, func(a, b partitionSummary) int { return int(a.Partition - b.Partition) })
	if asJSON {
		writeJSON(w, sum)
		return
	}
	before := ""
	if partial {
		before = " before the failure"
	}
	fmt.Fprintf(w, "produced %s to %s%s\n", plural(sum.Records, "record"), sum.Topic, before)
	for _, p := range sum.Partitions {
		fmt.Fprintf(w, "partition %d: %s, offsets %d to %d\n", p.Partition, plural(p.Records, "record"), p.FirstOffset, p.LastOffset)
	}
}

// produceSummary is what a stdin produce wrote.
type produceSummary struct {
	Topic      string             `json:"topic"`
	Records    int                `json:"records"`
	Partitions []partitionSummary `json:"partitions"`
}

type partitionSummary struct {
	Partition   int32 `json:"partition"`
	Records     int   `json:"records"`
	FirstOffset int64 `json:"first_offset"`
	LastOffset  int64 `json:"last_offset"`
}

// produceLines sends one record per line of r in batches and summarises
// where they went. On error the summary covers the batches acknowledged.
//
// A line that record refuses (a value that does not fit its schema) ends
// the run: the lines before it are sent, and the error names the line.
func produceLines(ctx context.Context, client brokerv1connect.BrokerServiceClient, topic string, r io.Reader, maxRecords int, record func([]byte) (*brokerv1.ProduceRecord, error)) (produceSummary, error) {
	sum := produceSummary{Topic: topic, Partitions: []partitionSummary{}}
	byPart := map[int32]int{}
	sc := bufio.NewScanner(r)
	// A line may be as long as the largest record a topic accepts (8 MiB).
	sc.Buffer(make([]byte, 64<<10), 8<<20+1)
	var recs []*brokerv1.ProduceRecord
	bytes := 0
	flush := func() error {
		if len(recs) == 0 {
			return nil
		}
		res, err := client.Produce(ctx, connect.NewRequest(&brokerv1.ProduceRequest{Topic: topic, Records: recs}))
		if err != nil {
			return batchError(sum.Records, len(recs), err)
		}
		for _, r := range res.Msg.GetResults() {
			i, ok := byPart[r.GetPartition()]
			if !ok {
				i = len(sum.Partitions)
				byPart[r.GetPartition()] = i
				sum.Partitions = append(sum.Partitions, partitionSummary{Partition: r.GetPartition(), FirstOffset: r.GetOffset()})
			}
			ps := &sum.Partitions[i]
			ps.Records++
			ps.LastOffset = r.GetOffset()
		}
		sum.Records += len(recs)
		recs, bytes = recs[:0], 0
		return nil
	}
	for sc.Scan() {
		line := append([]byte(nil), sc.Bytes()...)
		rec, err := record(line)
		if err != nil {
			lineNo := sum.Records + len(recs) + 1
			if ferr := flush(); ferr != nil {
				return sum, ferr
			}
			return sum, fmt.Errorf("stdin line %d: %w (it and the lines after it were not sent)", lineNo, err)
		}
		recs = append(recs, rec)
		bytes += len(line)
		if len(recs) >= maxRecords || bytes >= stdinBatchBytes {
			if err := flush(); err != nil {
				return sum, err
			}
		}
	}
	if err := sc.Err(); err != nil {
		return sum, fmt.Errorf("reading stdin after %d lines: %w", sum.Records+len(recs), err)
	}
	return sum, flush()
}

// batchError places a refused request of n stdin lines starting after the
// first done lines: "stdin lines 3 to 5 (record 0 is line 3): ...", so the
// server's record indexes (0-based within the request) can be traced to
// lines. Errors about the whole topic (not found) are passed on as they are.
func batchError(done, n int, err error) error {
	if connect.CodeOf(err) == connect.CodeNotFound {
		return err
	}
	if n == 1 {
		return fmt.Errorf("stdin line %d: %w", done+1, err)
	}
	return fmt.Errorf("stdin lines %d to %d (record 0 is line %d): %w", done+1, done+n, done+1, err)
}
