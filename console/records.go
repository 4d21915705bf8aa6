package console

import (
	"context"
	"fmt"
	"maps"
	"net/http"
	"net/url"
	"slices"
	"sort"
	"strconv"
	"strings"
	"time"

	"connectrpc.com/connect"
	"google.golang.org/protobuf/types/known/timestamppb"

	brokerv1 "github.com/sluicehq/sluice/proto/gen/sluice/broker/v1"
	"github.com/sluicehq/sluice/serde"
)

// This file is the record browser: records of one partition or all, from
// the log start, an offset, a time (BrokerService.ListOffsets) or the end,
// read with BrokerService.Fetch and decoded through the registry; a key
// filter; raw bytes on demand; and a live follow, BrokerService.Subscribe
// relayed to the page as server-sent events.

// browseQuery is the record browser's form.
type browseQuery struct {
	Partition string // "" for all, else a number
	From      string // start, offset, time or end
	Offset    string
	Time      string
	Key       string
	Limit     int
	Raw       bool
}

type recordView struct {
	Partition  int32
	Offset     int64
	Time       time.Time
	Key, Value sideView
	Headers    []kv
	Raw        bool
}

type recordsData struct {
	Topic      string
	Q          browseQuery
	Partitions []int32
	Records    []recordView
	// Scanned counts the records read, more than shown with a key filter.
	Scanned int
	// Next is the query of the next page of one partition; "" when none.
	Next string
	// FollowSrc is the live stream's URL.
	FollowSrc string
}

// scanLimit bounds how many records a key filter reads for one page.
const scanLimit = 20000

func (c *Console) records(w http.ResponseWriter, r *http.Request) {
	ctx := r.Context()
	topic := r.PathValue("topic")
	q := r.URL.Query()
	bq := browseQuery{Partition: q.Get("partition"), From: q.Get("from"), Offset: q.Get("offset"),
		Time: q.Get("time"), Key: q.Get("key"), Raw: q.Get("raw") != "", Limit: c.cfg.MaxRecords}
	if bq.From == "" {
		bq.From = "end"
	}
	if bq.Partition == "all" {
		bq.Partition = ""
	}
	if l := q.Get("limit"); l != "" {
		n, err := strconv.Atoi(l)
		if err != nil || n < 1 || n > 1000 {
			c.fail(w, r, http.StatusBadRequest, fmt.Errorf("limit %q: want a number from 1 to 1000", l))
			return
		}
		bq.Limit = n
	}
	res, err := c.topics.DescribeTopic(ctx, connect.NewRequest(&brokerv1.DescribeTopicRequest{Name: topic}))
	if err != nil {
		c.apiFail(w, r, "topic "+topic, err)
		return
	}
	t := res.Msg.GetTopic()
	d := recordsData{Topic: topic, Q: bq}
	parts := t.GetPartitions()
	for _, p := range parts {
		d.Partitions = append(d.Partitions, p.GetPartition())
	}
	if bq.Partition != "" {
		n, err := strconv.Atoi(bq.Partition)
		if err != nil || n < 0 || n >= len(parts) {
			c.fail(w, r, http.StatusBadRequest, fmt.Errorf("partition %q: topic %s has partitions 0 to %d", bq.Partition, topic, len(parts)-1))
			return
		}
		parts = parts[n : n+1]
	}
	starts, err := c.startOffsets(ctx, topic, parts, bq)
	if err != nil {
		c.fail(w, r, statusOf(err), err)
		return
	}
	dec := c.newDecoder(ctx, topic, t.GetConfigs())
	for i, p := range parts {
		recs, scanned, next, err := c.read(ctx, dec, topic, p, starts[i], bq)
		if err != nil {
			c.apiFail(w, r, fmt.Sprintf("reading partition %d", p.GetPartition()), err)
			return
		}
		d.Records = append(d.Records, recs...)
		d.Scanned += scanned
		if len(parts) == 1 && next < p.GetHighWatermark() {
			nq := fmt.Sprintf("partition=%d&from=offset&offset=%d&limit=%d", p.GetPartition(), next, bq.Limit)
			if bq.Key != "" {
				nq += "&key=" + urlQuery(bq.Key)
			}
			if bq.Raw {
				nq += "&raw=1"
			}
			d.Next = path("topics", topic, "records") + "?" + nq
		}
	}
	// All partitions: one timeline, by time then partition and offset; the
	// end shows the newest records.
	sort.SliceStable(d.Records, func(i, j int) bool {
		a, b := d.Records[i], d.Records[j]
		if !a.Time.Equal(b.Time) {
			return a.Time.Before(b.Time)
		}
		if a.Partition != b.Partition {
			return a.Partition < b.Partition
		}
		return a.Offset < b.Offset
	})
	if len(d.Records) > bq.Limit {
		if bq.From == "end" {
			d.Records = d.Records[len(d.Records)-bq.Limit:]
		} else {
			d.Records = d.Records[:bq.Limit]
		}
	}
	d.FollowSrc = path("topics", topic, "follow") + "?partition=" + bq.Partition + "&key=" + urlQuery(bq.Key)
	if bq.Raw {
		d.FollowSrc += "&raw=1"
	}
	// The live follow starts where this page's view of the log ended, so
	// records written between showing the page and the click appear too.
	var after []string
	for _, p := range parts {
		after = append(after, fmt.Sprintf("%d:%d", p.GetPartition(), p.GetHighWatermark()))
	}
	d.FollowSrc += "&after=" + strings.Join(after, ",")
	c.render(w, r, http.StatusOK, "records", page{Title: "Records of " + topic, Section: "topics", Data: d})
}

// startOffsets returns where each partition's page starts.
func (c *Console) startOffsets(ctx context.Context, topic string, parts []*brokerv1.PartitionDescription, bq browseQuery) ([]int64, error) {
	starts := make([]int64, len(parts))
	switch bq.From {
	case "start":
		for i, p := range parts {
			starts[i] = p.GetLogStartOffset()
		}
	case "end":
		for i, p := range parts {
			starts[i] = max(p.GetLogStartOffset(), p.GetHighWatermark()-int64(bq.Limit))
			if bq.Key != "" {
				// A filter reads back further for its matches.
				starts[i] = max(p.GetLogStartOffset(), p.GetHighWatermark()-scanLimit)
			}
		}
	case "offset":
		off, err := strconv.ParseInt(strings.TrimSpace(bq.Offset), 10, 64)
		if err != nil || off < 0 {
			return nil, badRequest("offset %q: want a number, 0 or more", bq.Offset)
		}
		for i, p := range parts {
			starts[i] = min(max(off, p.GetLogStartOffset()), p.GetHighWatermark())
		}
	case "time":
		ts, err := parseTime(bq.Time)
		if err != nil {
			return nil, err
		}
		req := &brokerv1.ListOffsetsRequest{Topic: topic, Query: &brokerv1.ListOffsetsRequest_Timestamp{Timestamp: timestamppb.New(ts)}}
		for _, p := range parts {
			req.Partitions = append(req.Partitions, p.GetPartition())
		}
		res, err := c.broker.ListOffsets(ctx, connect.NewRequest(req))
		if err != nil {
			return nil, fmt.Errorf("offsets at %s: %s", ts.Format(time.RFC3339), message(err))
		}
		at := map[int32]int64{}
		for _, o := range res.Msg.GetOffsets() {
			at[o.GetPartition()] = o.GetOffset()
		}
		for i, p := range parts {
			off, ok := at[p.GetPartition()]
			if !ok || off < 0 {
				off = p.GetHighWatermark() // nothing at or after the time
			}
			starts[i] = off
		}
	default:
		return nil, badRequest("from %q: want start, offset, time or end", bq.From)
	}
	return starts, nil
}

// requestError is a console request's own mistake (HTTP 400).
type requestError struct{ msg string }

func (e *requestError) Error() string { return e.msg }

func badRequest(format string, args ...any) error {
	return &requestError{fmt.Sprintf(format, args...)}
}

// parseTime reads the time field: RFC 3339, or a datetime-local value
// (2026-12-04T15:30, seconds optional) taken as UTC.
func parseTime(s string) (time.Time, error) {
	s = strings.TrimSpace(s)
	for _, layout := range []string{time.RFC3339Nano, "2006-01-02T15:04:05", "2006-01-02T15:04", "2006-01-02 15:04:05", "2006-01-02"} {
		if t, err := time.Parse(layout, s); err == nil {
			return t, nil
		}
	}
	return time.Time{}, badRequest("time %q: want RFC 3339 (2026-12-04T15:30:00Z) or 2026-12-04T15:30 (UTC)", s)
}

// read fetches up to bq.Limit records of p from start (with a key filter,
// the first bq.Limit that match, reading at most scanLimit), decoded. next
// is the offset after the last record read.
func (c *Console) read(ctx context.Context, dec *decoder, topic string, p *brokerv1.PartitionDescription, start int64, bq browseQuery) (out []recordView, scanned int, next int64, err error) {
	next = start
	hwm := p.GetHighWatermark()
	for next < hwm && len(out) < bq.Limit && scanned < scanLimit {
		want := bq.Limit - len(out)
		if bq.Key != "" {
			want = 500
		}
		res, err := c.broker.Fetch(ctx, connect.NewRequest(&brokerv1.FetchRequest{
			Topic: topic, Partition: p.GetPartition(), Offset: next, MaxRecords: int32(want), MaxBytes: 4 << 20,
		}))
		if err != nil {
			return nil, scanned, next, err
		}
		recs := res.Msg.GetRecords()
		if len(recs) == 0 {
			break
		}
		for _, rec := range recs {
			if rec.GetOffset() < next {
				continue
			}
			next = rec.GetOffset() + 1
			scanned++
			v := recordView{Partition: rec.GetPartition(), Offset: rec.GetOffset(), Time: rec.GetTimestamp().AsTime(), Raw: bq.Raw}
			v.Key = dec.decode(rec, serde.Key)
			if bq.Key != "" && !v.Key.matches(bq.Key) {
				continue
			}
			v.Key, v.Value = v.Key.clip(), dec.decode(rec, serde.Value).clip()
			for _, h := range rec.GetHeaders() {
				v.Headers = append(v.Headers, kv{h.GetKey(), headerText(h.GetValue())})
			}
			out = append(out, v)
			if len(out) == bq.Limit {
				break
			}
		}
	}
	return out, scanned, next, nil
}

// headerText shows a header value as text when printable, else hex.
func headerText(b []byte) string {
	v := rawView(b, true)
	if v.Text != "" || len(b) == 0 {
		return v.Text
	}
	return "0x" + v.Hex
}

// followCatchUp bounds the records a live follow sends from where its
// page ended before it goes on with the live stream.
const followCatchUp = 1000

// follow streams the topic's new records as server-sent events: each
// "record" event is a rendered table row; a "notice" event says something
// the rows do not; a "failure" event says why the stream ended. With
// after=PARTITION:OFFSET,... (where the page's view ended) it first sends
// the records written since then (up to followCatchUp a partition), so
// none is missed between the page and the live rows. It ends when the
// browser goes away.
func (c *Console) follow(w http.ResponseWriter, r *http.Request) {
	ctx := r.Context()
	topic := r.PathValue("topic")
	q := r.URL.Query()
	key, raw := q.Get("key"), q.Get("raw") != ""
	after, err := parseAfter(q.Get("after"))
	if err != nil {
		c.fail(w, r, http.StatusBadRequest, err)
		return
	}
	desc, err := c.topics.DescribeTopic(ctx, connect.NewRequest(&brokerv1.DescribeTopicRequest{Name: topic}))
	if err != nil {
		c.apiFail(w, r, "topic "+topic, err)
		return
	}
	req := &brokerv1.SubscribeRequest{Topic: topic, Start: &brokerv1.SubscribeRequest_Position{Position: brokerv1.StartPosition_START_POSITION_LATEST}}
	if ps := q.Get("partition"); ps != "" && ps != "all" {
		p, err := parsePartition(ps)
		if err != nil {
			c.fail(w, r, http.StatusBadRequest, err)
			return
		}
		req.Partition = &p
	}
	flusher, _ := w.(http.Flusher)
	stream, err := c.broker.Subscribe(ctx, connect.NewRequest(req))
	if err != nil {
		c.apiFail(w, r, "following "+topic, err)
		return
	}
	defer stream.Close()
	// The broker answers its headers once the start positions are fixed:
	// from then on no record is missed, and the page may say so.
	stream.ResponseHeader()
	w.Header().Set("Content-Type", "text/event-stream")
	w.Header().Set("Cache-Control", "no-store")
	w.WriteHeader(http.StatusOK)
	// The browser learns that the stream is open.
	writeEvent(w, "ready", "")
	if flusher != nil {
		flusher.Flush()
	}
	dec := c.newDecoder(ctx, topic, desc.Msg.GetTopic().GetConfigs())
	row := c.pages["records"]
	// send writes one record's row (unless the key filter hides it); false
	// means the stream must end.
	send := func(rec *brokerv1.Record) bool {
		v := recordView{Partition: rec.GetPartition(), Offset: rec.GetOffset(), Time: rec.GetTimestamp().AsTime(), Raw: raw}
		v.Key = dec.decode(rec, serde.Key)
		if key != "" && !v.Key.matches(key) {
			return true
		}
		v.Key, v.Value = v.Key.clip(), dec.decode(rec, serde.Value).clip()
		for _, h := range rec.GetHeaders() {
			v.Headers = append(v.Headers, kv{h.GetKey(), headerText(h.GetValue())})
		}
		var b strings.Builder
		if err := row.ExecuteTemplate(&b, "row", v); err != nil {
			c.cfg.Logger.Error("console: rendering a record", "err", err)
			return false
		}
		writeEvent(w, "record", b.String())
		return true
	}
	// Catch up: the records written since the page was shown. The
	// subscription's start positions are fixed already, and a fetch now
	// reads at least up to them, so together they miss nothing; next, each
	// partition's first offset not yet sent, skips what both deliver.
	next := map[int32]int64{}
	for _, p := range slices.Sorted(maps.Keys(after)) {
		if req.Partition != nil && *req.Partition != p {
			continue
		}
		off, read := after[p], 0
		for read < followCatchUp {
			res, err := c.broker.Fetch(ctx, connect.NewRequest(&brokerv1.FetchRequest{Topic: topic, Partition: p, Offset: off, MaxRecords: int32(min(500, followCatchUp-read))}))
			if err != nil {
				writeEvent(w, "failure", fmt.Sprintf("the stream ended: catching up partition %d from offset %d: %s", p, off, message(err)))
				return
			}
			recs := res.Msg.GetRecords()
			if len(recs) == 0 {
				break
			}
			for _, rec := range recs {
				if rec.GetOffset() < off {
					continue
				}
				off = rec.GetOffset() + 1
				read++
				if !send(rec) {
					return
				}
			}
		}
		next[p] = off
		if read >= followCatchUp {
			writeEvent(w, "notice", fmt.Sprintf("Following. Partition %d had %d or more records since the page was shown: these are the first %d, and the live rows may skip from offset %d (browse from there for the rest).", p, followCatchUp, followCatchUp, off))
		}
	}
	if flusher != nil {
		flusher.Flush()
	}
	for stream.Receive() {
		for _, rec := range stream.Msg().GetRecords() {
			if n, ok := next[rec.GetPartition()]; ok && rec.GetOffset() < n {
				continue // sent while catching up
			}
			if !send(rec) {
				return
			}
		}
		if flusher != nil {
			flusher.Flush()
		}
	}
	if err := stream.Err(); err != nil && ctx.Err() == nil {
		writeEvent(w, "failure", "the stream ended: "+message(err))
		if flusher != nil {
			flusher.Flush()
		}
	}
}

// parseAfter reads a follow's after parameter, PARTITION:OFFSET pairs
// separated by commas; "" is none.
func parseAfter(s string) (map[int32]int64, error) {
	if s == "" {
		return nil, nil
	}
	m := map[int32]int64{}
	for _, pair := range strings.Split(s, ",") {
		ps, os, ok := strings.Cut(pair, ":")
		p, perr := parsePartition(ps)
		off, oerr := strconv.ParseInt(os, 10, 64)
		if !ok || perr != nil || oerr != nil || off < 0 {
			return nil, fmt.Errorf("after %q: want PARTITION:OFFSET pairs separated by commas (0:12,1:9)", s)
		}
		m[p] = off
	}
	return m, nil
}

// writeEvent writes one server-sent event; each line of data gets its
// own data: field.
func writeEvent(w http.ResponseWriter, event, data string) {
	var b strings.Builder
	b.WriteString("event: ")
	b.WriteString(event)
	b.WriteByte('\n')
	for _, line := range strings.Split(data, "\n") {
		b.WriteString("data: ")
		b.WriteString(strings.TrimSuffix(line, "\r"))
		b.WriteByte('\n')
	}
	b.WriteByte('\n')
	w.Write([]byte(b.String()))
}

func urlQuery(s string) string { return strings.ReplaceAll(url.QueryEscape(s), "+", "%20") }

// parsePartition parses a partition number from a form or query: 0 or
// more, and an int32 as on the wire (a larger number must not wrap to
// another partition).
func parsePartition(s string) (int32, error) {
	n, err := strconv.ParseInt(strings.TrimSpace(s), 10, 32)
	if err != nil || n < 0 {
		return 0, fmt.Errorf("partition %q: want a number, 0 or more", s)
	}
	return int32(n), nil
}
