package console

import (
	"context"
	"errors"
	"fmt"
	"net/http"
	"strings"

	"connectrpc.com/connect"

	brokerv1 "github.com/sluicehq/sluice/proto/gen/sluice/broker/v1"
	"github.com/sluicehq/sluice/recordjson"
	"github.com/sluicehq/sluice/srclient"
)

// This file is the produce form: one test record, its value given as JSON
// and encoded through the latest version of a subject (the topic's value
// subject by default; `sluice produce --value-subject` does the same), or
// sent as the text typed. The record goes through BrokerService.Produce,
// so the broker's schema enforcement decides; a refusal is shown with its
// reason and the per-record details the broker attaches.

type produceData struct {
	Topic      string
	Partitions []int32
	Form       produceForm
	// Typed says the value subject has versions, so JSON is the default.
	Typed bool
	// Result is set after a produce the broker accepted.
	Result *brokerv1.ProduceResult
	// Refusal is the broker's (or the encoder's) reason for refusing.
	Refusal string
	// Rejections are the broker's per-record details.
	Rejections []*brokerv1.RecordRejection
	Encoded    string // how the value was encoded, for the result line
}

type produceForm struct {
	Partition string
	Key       string
	// KeyEncoding is "text" or "json" (through KeySubject).
	KeyEncoding string
	KeySubject  string
	Value       string
	Headers     string
	// Encoding is "json" (through Subject) or "text".
	Encoding string
	Subject  string
	Message  string
}

func (c *Console) produceForm(w http.ResponseWriter, r *http.Request) {
	d, ok := c.producePage(w, r)
	if !ok {
		return
	}
	c.render(w, r, http.StatusOK, "produce", page{Title: "Produce to " + d.Topic, Section: "topics", Data: d})
}

// producePage describes the topic and fills the form's defaults.
func (c *Console) producePage(w http.ResponseWriter, r *http.Request) (*produceData, bool) {
	ctx := r.Context()
	topic := r.PathValue("topic")
	res, err := c.topics.DescribeTopic(ctx, connect.NewRequest(&brokerv1.DescribeTopicRequest{Name: topic}))
	if err != nil {
		c.apiFail(w, r, "topic "+topic, err)
		return nil, false
	}
	d := &produceData{Topic: topic, Form: produceForm{Subject: topic + "-value", Encoding: "text", KeySubject: topic + "-key", KeyEncoding: "text"}}
	for _, p := range res.Msg.GetTopic().GetPartitions() {
		d.Partitions = append(d.Partitions, p.GetPartition())
	}
	var vs []int
	if err := c.sr.Do(ctx, http.MethodGet, "/subjects/"+escapeSegment(d.Form.Subject)+"/versions", nil, nil, &vs); err == nil && len(vs) > 0 {
		d.Typed = true
		d.Form.Encoding = "json"
	}
	vs = nil
	if err := c.sr.Do(ctx, http.MethodGet, "/subjects/"+escapeSegment(d.Form.KeySubject)+"/versions", nil, nil, &vs); err == nil && len(vs) > 0 {
		d.Form.KeyEncoding = "json"
	}
	return d, true
}

func (c *Console) produce(w http.ResponseWriter, r *http.Request) {
	ctx := r.Context()
	d, ok := c.producePage(w, r)
	if !ok {
		return
	}
	f := produceForm{Partition: r.FormValue("partition"), Key: r.FormValue("key"), Value: r.FormValue("value"),
		Headers: r.FormValue("headers"), Encoding: r.FormValue("encoding"), Subject: strings.TrimSpace(r.FormValue("subject")),
		Message: strings.TrimSpace(r.FormValue("message")), KeyEncoding: r.FormValue("key_encoding"),
		KeySubject: strings.TrimSpace(r.FormValue("key_subject"))}
	if f.KeyEncoding == "" {
		f.KeyEncoding = "text"
	}
	d.Form = f
	refuse := func(status int, format string, args ...any) {
		d.Refusal = fmt.Sprintf(format, args...)
		c.render(w, r, status, "produce", page{Title: "Produce to " + d.Topic, Section: "topics", Data: d})
	}
	rec := &brokerv1.ProduceRecord{}
	if f.Partition != "" {
		p, err := parsePartition(f.Partition)
		if err != nil {
			refuse(http.StatusBadRequest, "%v", err)
			return
		}
		rec.Partition = &p
	}
	switch {
	case f.Key == "":
	case f.KeyEncoding == "text":
		rec.Key = []byte(f.Key)
	case f.KeyEncoding == "json":
		if f.KeySubject == "" {
			refuse(http.StatusBadRequest, "JSON keys are encoded through a subject: give one")
			return
		}
		codec, err := c.newCodec(ctx, f.KeySubject, "")
		if err != nil {
			refuse(statusOf(err), "key: %v", err)
			return
		}
		if rec.Key, err = codec.Encode([]byte(f.Key)); err != nil {
			refuse(http.StatusBadRequest, "key does not match %s: %v", codec.what, err)
			return
		}
	default:
		refuse(http.StatusBadRequest, "key encoding %q: want json or text", f.KeyEncoding)
		return
	}
	for i, line := range strings.Split(f.Headers, "\n") {
		line = strings.TrimSpace(line)
		if line == "" {
			continue
		}
		k, v, ok := strings.Cut(line, "=")
		if !ok || strings.TrimSpace(k) == "" {
			refuse(http.StatusBadRequest, "headers line %d: want name=value", i+1)
			return
		}
		rec.Headers = append(rec.Headers, &brokerv1.Header{Key: strings.TrimSpace(k), Value: []byte(v)})
	}
	switch f.Encoding {
	case "text":
		rec.Value = []byte(f.Value)
		d.Encoded = "as text"
	case "json":
		if f.Subject == "" {
			refuse(http.StatusBadRequest, "JSON values are encoded through a subject: give one")
			return
		}
		codec, err := c.newCodec(ctx, f.Subject, f.Message)
		if err != nil {
			refuse(statusOf(err), "%v", err)
			return
		}
		if rec.Value, err = codec.Encode([]byte(f.Value)); err != nil {
			refuse(http.StatusBadRequest, "value does not match %s: %v", codec.what, err)
			return
		}
		d.Encoded = "as JSON through " + codec.what
	default:
		refuse(http.StatusBadRequest, "encoding %q: want json or text", f.Encoding)
		return
	}
	res, err := c.broker.Produce(ctx, connect.NewRequest(&brokerv1.ProduceRequest{Topic: d.Topic, Records: []*brokerv1.ProduceRecord{rec}}))
	if err != nil {
		var ce *connect.Error
		if errors.As(err, &ce) {
			for _, det := range ce.Details() {
				if v, err := det.Value(); err == nil {
					if pr, ok := v.(*brokerv1.ProduceRejection); ok {
						d.Rejections = append(d.Rejections, pr.GetRecords()...)
					}
				}
			}
		}
		refuse(statusOf(err), "the broker refused the record: %s", message(err))
		return
	}
	if rs := res.Msg.GetResults(); len(rs) > 0 {
		d.Result = rs[0]
	}
	c.render(w, r, http.StatusOK, "produce", page{Title: "Produce to " + d.Topic, Section: "topics", Data: d})
}

// codec encodes JSON through one registered schema, as `sluice produce
// --value-subject` does (both through recordjson.Encoder).
type codec struct {
	*recordjson.Encoder
	what string // "orders-value v2 (id 3)"
}

// newCodec fetches the latest version of subject with its references and
// prepares its codec (Protobuf: the message named, else the first).
func (c *Console) newCodec(ctx context.Context, subject, message string) (*codec, error) {
	rd := srclient.NewReader(c.sr)
	s, err := rd.Version(ctx, subject, "latest")
	if err != nil {
		return nil, fmt.Errorf("subject %s: %s", subject, messageOf(err))
	}
	what := fmt.Sprintf("%s v%d (id %d)", s.Subject, s.Version, s.ID)
	parsed, err := rd.Parse(ctx, s)
	if err != nil {
		return nil, err
	}
	if message != "" && s.TypeName() != "PROTOBUF" {
		return nil, badRequest("a message name is for Protobuf schemas; %s is %s", what, s.TypeName())
	}
	enc, err := recordjson.NewEncoder(int32(s.ID), parsed, message)
	var me *recordjson.MessageError
	if errors.As(err, &me) {
		return nil, badRequest("message %s: %v", me.Name, me.Err)
	}
	if err != nil {
		return nil, err
	}
	return &codec{Encoder: enc, what: what}, nil
}

// messageOf is message(err) for registry errors too.
func messageOf(err error) string {
	var se *srclient.Error
	if errors.As(err, &se) {
		return se.Message
	}
	return message(err)
}
