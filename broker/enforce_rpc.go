package broker

import (
	"context"
	"errors"
	"fmt"

	"connectrpc.com/connect"

	brokerv1 "github.com/sluicehq/sluice/proto/gen/sluice/broker/v1"
	registryv1 "github.com/sluicehq/sluice/proto/gen/sluice/registry/v1"
	"github.com/sluicehq/sluice/registry"
	"github.com/sluicehq/sluice/serde"
	"github.com/sluicehq/sluice/serde/avro"
	"github.com/sluicehq/sluice/serde/jsonschema"
	"github.com/sluicehq/sluice/serde/protobuf"
	"github.com/sluicehq/sluice/serde/schemacache"
)

// produceRPCError maps a Produce error like rpcError and attaches the
// error details: a ProduceRejection listing every bad record of a refused
// request, an IncompatibilityDetail for a schema the subject refused.
func (b *Broker) produceRPCError(procedure string, err error) error {
	return b.produceRPCErrorFor(context.Background(), procedure, err)
}

// produceRPCErrorFor is produceRPCError for the request of ctx: its
// refusal's log line carries the request id (package reqid).
func (b *Broker) produceRPCErrorFor(ctx context.Context, procedure string, err error) error {
	b.refusedRPC(ctx, procedure, err) // stats.go: counted and logged at Info
	var ce *connect.Error
	if errors.As(err, &ce) {
		return ce
	}
	var ie *registry.IncompatibleError
	if errors.As(err, &ie) {
		ce = connect.NewError(connect.CodeFailedPrecondition, err)
		if d, derr := connect.NewErrorDetail(incompatibilityDetail(ie)); derr == nil {
			ce.AddDetail(d)
		}
		return ce
	}
	var se *registry.InvalidSchemaError
	if errors.As(err, &se) {
		return connect.NewError(connect.CodeInvalidArgument, err)
	}
	ce = connectError(err)
	if ce.Code() == connect.CodeInternal {
		b.log.Error("request failed", "procedure", procedure, "err", err)
		return ce
	}
	var pe *ProduceError
	if errors.As(err, &pe) {
		if d, derr := connect.NewErrorDetail(produceRejection(pe)); derr == nil {
			ce.AddDetail(d)
		}
	}
	return ce
}

// produceRejection lists every bad record of pe. Records refused by the
// broker's own checks (partition, size) have no side.
func produceRejection(pe *ProduceError) *brokerv1.ProduceRejection {
	out := &brokerv1.ProduceRejection{Topic: pe.Topic, Records: make([]*brokerv1.RecordRejection, 0, len(pe.Records))}
	for _, r := range pe.Records {
		rr := &brokerv1.RecordRejection{Index: int32(r.Index), Reason: quoteReason(r.Err.Error())}
		var se *SchemaError
		if errors.As(r.Err, &se) {
			rr.Side = brokerv1.RecordSide_RECORD_SIDE_VALUE
			if se.Side == serde.Key {
				rr.Side = brokerv1.RecordSide_RECORD_SIDE_KEY
			}
			rr.Subject = se.Subject
			rr.SchemaId = se.SchemaID
			rr.Path = quoteReason(se.Path)
		}
		out.Records = append(out.Records, rr)
	}
	return out
}

func incompatibilityDetail(ie *registry.IncompatibleError) *registryv1.IncompatibilityDetail {
	d := &registryv1.IncompatibilityDetail{Subject: ie.Subject}
	if v, ok := registryv1.Compatibility_value["COMPATIBILITY_"+string(ie.Level)]; ok {
		d.Compatibility = registryv1.Compatibility(v)
	}
	for _, v := range ie.Violations {
		d.Violations = append(d.Violations, &registryv1.Violation{Path: v.Path, Message: v.Message, Version: int32(v.Version)})
	}
	return d
}

// schemaFromProto converts a Produce request's schema.
func schemaFromProto(s *registryv1.Schema) registry.Schema {
	out := registry.Schema{Text: s.GetText()}
	switch s.GetType() {
	case registryv1.SchemaType_SCHEMA_TYPE_PROTOBUF:
		out.Type = serde.Protobuf
	case registryv1.SchemaType_SCHEMA_TYPE_JSON:
		out.Type = serde.JSON
	default:
		out.Type = serde.Avro
	}
	for _, r := range s.GetReferences() {
		out.References = append(out.References, registry.Reference{Name: r.GetName(), Subject: r.GetSubject(), Version: int(r.GetVersion())})
	}
	return out
}

// ProduceWithSchemas is Produce for records whose keys (keySchema non-nil)
// or values (valueSchema non-nil) are bare datums of the given schema: the
// schema's id under the side's subject is found, or registered when the
// topic's key/value.schema.autoregister is true (the subject's
// compatibility level applies: *registry.IncompatibleError lists every
// violation), each non-null datum is prefixed with its envelope (Protobuf:
// the first message, path [0]), and the framed records go through Produce
// and its checks. recs are modified in place.
func (b *Broker) ProduceWithSchemas(ctx context.Context, topicName string, keySchema, valueSchema *registry.Schema, recs []ProduceRecord) ([]ProduceResult, error) {
	return b.queueProduceWithSchemas(ctx, topicName, keySchema, valueSchema, recs).wait(ctx)
}

// queueProduceWithSchemas is ProduceWithSchemas up to the queueing
// (queueProduce).
func (b *Broker) queueProduceWithSchemas(ctx context.Context, topicName string, keySchema, valueSchema *registry.Schema, recs []ProduceRecord) *queuedProduce {
	if keySchema == nil && valueSchema == nil {
		return b.queueProduce(ctx, topicName, recs)
	}
	enf, ok := b.cfg.Validator.(*Enforcer)
	if !ok {
		return answered(nil, invalidf("produce %s: this broker has no schema enforcement, so records cannot carry a schema", topicName))
	}
	t, err := b.lookup(topicName)
	if err != nil {
		return answered(nil, fmt.Errorf("produce: %w", err))
	}
	cfg := t.cfg.Load()
	if keySchema != nil {
		if err := enf.frame(ctx, topicName, serde.Key, cfg.KeyStrategy, cfg.KeyAutoRegister, *keySchema, recs); err != nil {
			return answered(nil, err)
		}
	}
	if valueSchema != nil {
		if err := enf.frame(ctx, topicName, serde.Value, cfg.ValueStrategy, cfg.ValueAutoRegister, *valueSchema, recs); err != nil {
			return answered(nil, err)
		}
	}
	return b.queueProduce(ctx, topicName, recs)
}

// frame resolves s to an id under the side's subject and prefixes the
// side's non-null bytes of every record with the envelope.
func (e *Enforcer) frame(ctx context.Context, topic string, side serde.Side, st serde.Strategy, autoRegister bool, s registry.Schema, recs []ProduceRecord) error {
	subject := topic + "-" + side.String()
	if st.NeedsRecordName() {
		name, err := e.recordName(ctx, s)
		if err != nil {
			return invalidf("produce %s: %s schema: %s strategy needs a record name: %v", topic, side, st, err)
		}
		if subject, err = st.Subject(topic, side, name); err != nil {
			return invalidf("produce %s: %s schema: %v", topic, side, err)
		}
	}
	var sv registry.SubjectVersion
	var err error
	if autoRegister {
		sv, err = e.reg.Register(ctx, subject, s, registry.RegisterOptions{})
	} else {
		sv, err = e.reg.Lookup(ctx, subject, s, registry.LookupOptions{})
		if errors.Is(err, registry.ErrSubjectNotFound) || errors.Is(err, registry.ErrSchemaNotFound) {
			return connect.NewError(connect.CodeFailedPrecondition, fmt.Errorf("produce %s: the %s schema is not registered under subject %s and %s.schema.autoregister is false: register it first (sluice schema register) or set the config", topic, side, subject, side))
		}
	}
	if err != nil {
		return fmt.Errorf("produce %s: %s schema under subject %s: %w", topic, side, subject, err)
	}
	prefixLen := 5
	if s.Type == serde.Protobuf {
		prefixLen = 6
	}
	for i := range recs {
		p := &recs[i].Value
		if side == serde.Key {
			p = &recs[i].Key
		}
		if len(*p) == 0 {
			continue // null stays null; empty is refused or a tombstone as usual
		}
		buf := make([]byte, 0, prefixLen+len(*p))
		buf = serde.AppendPrefix(buf, int32(sv.ID))
		if s.Type == serde.Protobuf {
			buf = serde.AppendIndexes(buf, []int{0})
		}
		*p = append(buf, *p...)
	}
	return nil
}

// recordName parses s (with its direct references) to find its record
// name. Only direct references are resolved, which covers the common case
// of one level of imports.
func (e *Enforcer) recordName(ctx context.Context, s registry.Schema) (string, error) {
	refs := make([]serde.Referenced, 0, len(s.References))
	for _, r := range s.References {
		sv, err := e.reg.Version(ctx, r.Subject, r.Version, false)
		if err != nil {
			return "", fmt.Errorf("reference %s: %w", r.Name, err)
		}
		refs = append(refs, serde.Referenced{Name: r.Name, Text: sv.Text})
	}
	parsed, err := parseSchema(s.Type, s.Text, refs)
	if err != nil {
		return "", err
	}
	ent, err := schemacache.NewEntry(0, parsed)
	if err != nil {
		return "", err
	}
	return ent.RecordName([]int{0})
}

// parseSchema parses text in its format.
func parseSchema(f serde.Format, text string, refs []serde.Referenced) (serde.Schema, error) {
	switch f {
	case serde.Protobuf:
		return protobuf.Parse(text, refs)
	case serde.JSON:
		return jsonschema.Parse(text, refs)
	default:
		return avro.Parse(text, refs)
	}
}
