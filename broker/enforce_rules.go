package broker

// Data contracts on produce (DESIGN.md §11): the domain rules of the
// writer schema version's ruleSet run after the payload check, through
// package rules. A schema id's rules are compiled once and cached for the
// schema cache's generation (a ruleSet is part of a schema's identity, so
// the id names exactly one rule set). Records are decoded for CEL only when
// the id has rules that run on produce.
//
// Topic configs: key.rules and value.rules (enforce, the default, or
// skip), and value.rules.protovalidate (false by default): the buf.validate
// annotations of a Protobuf value schema as an implicit rule set.
// Rules run only where the side is checked at payload (typed topics).
//
// A rule failing with onFailure ERROR refuses the request like any schema
// check: `record N: rule "NAME" (CEL) failed: …`. With DLQ the record is
// written to params["dlq.topic"] instead, with headers naming the rule,
// the subject and the version, and acknowledged (partition and offset -1 in
// the answer, since it is not in the topic), on Connect produce and on
// the Kafka listener (enforce_rules_kafka.go).

import (
	"context"
	"errors"
	"fmt"
	"strconv"
	"sync"
	"sync/atomic"

	"github.com/sluicehq/sluice/rules"
	"github.com/sluicehq/sluice/serde"
	"github.com/sluicehq/sluice/serde/protobuf"
	"github.com/sluicehq/sluice/serde/schemacache"
)

// The rule config values.
const (
	RulesEnforce = "enforce"
	RulesSkip    = "skip"
)

// DLQ record headers, Confluent's names for them.
const (
	HeaderRuleName    = "__rule.name"
	HeaderRuleMode    = "__rule.mode"
	HeaderRuleSubject = "__rule.subject"
	HeaderRuleVersion = "__rule.version"
	HeaderRuleTopic   = "__rule.topic"
	HeaderRuleReason  = "__rule.exception"
)

// ruleSets caches compiled rule sets by schema id for one generation of
// the schema cache; lookups take no lock.
type ruleSets struct {
	gen atomic.Pointer[ruleGen]
	mu  sync.Mutex // serialises generation swaps
}

type ruleGen struct {
	changed <-chan struct{}
	m       sync.Map // int32 -> *ruleSetEntry
}

type ruleSetEntry struct {
	set *rules.Set
	err error

	// pv is the schema's protovalidate validator, made on first use
	// (value.rules.protovalidate=true on a Protobuf schema).
	pvOnce sync.Once
	pv     *rules.Protovalidator
	pvErr  error
}

// protovalidator returns the entry's validator, creating it once.
func (ce *ruleSetEntry) protovalidator(ent *schemacache.Entry) (*rules.Protovalidator, error) {
	ce.pvOnce.Do(func() {
		if ps, ok := ent.Schema.(*protobuf.Schema); ok {
			ce.pv, ce.pvErr = rules.NewProtovalidator(ps)
		}
	})
	return ce.pv, ce.pvErr
}

// ruleSetOf returns the compiled rules of the entry's schema id, compiling
// on first use.
func (e *Enforcer) ruleSetOf(ctx context.Context, ent *schemacache.Entry) (*ruleSetEntry, error) {
	changed := e.cache.Changed()
	g := e.rules.gen.Load()
	if g == nil || g.changed != changed {
		e.rules.mu.Lock()
		if g = e.rules.gen.Load(); g == nil || g.changed != changed {
			g = &ruleGen{changed: changed}
			e.rules.gen.Store(g)
		}
		e.rules.mu.Unlock()
	}
	if ce, ok := g.m.Load(ent.ID); ok {
		return ce.(*ruleSetEntry), nil
	}
	s, err := e.reg.SchemaByID(ctx, int(ent.ID))
	if err != nil {
		return nil, err // not cached: the registry may answer next time
	}
	ce := &ruleSetEntry{}
	if len(s.RuleSet) > 0 {
		ce.set, ce.err = rules.Compile(ent.Schema, s.Metadata, s.RuleSet)
	}
	actual, _ := g.m.LoadOrStore(ent.ID, ce)
	return actual.(*ruleSetEntry), nil
}

// RuleViolation is the rule that stopped a record: the Rule of its
// SchemaError.
type RuleViolation struct {
	rules.Failure
	// Subject and Version are the record's writer version.
	Subject string
	Version int
}

// rulesMode is the side's rules config.
func rulesMode(cfg *TopicConfig, side serde.Side) string {
	if v := cfg.Effective[side.String()+".rules"]; v != "" {
		return v
	}
	return RulesEnforce
}

// checkRules runs the rules of the record's writer version over its datum
// (already checked against the schema), then, when the topic asks for it,
// the buf.validate annotations of a Protobuf value schema.
func (e *Enforcer) checkRules(ctx context.Context, cfg *TopicConfig, s *sideState, subject string, version int, ent *schemacache.Entry, path []int, datum []byte) *SchemaError {
	pv := s.side == serde.Value && ent.HasIndexes() && cfg.Effective["value.rules.protovalidate"] == "true"
	if rulesMode(cfg, s.side) == RulesSkip {
		return nil
	}
	ce, err := e.ruleSetOf(ctx, ent)
	refuse := func(reason string) *SchemaError {
		return &SchemaError{Side: s.side, Subject: subject, SchemaID: ent.ID, Reason: reason, Kind: RefusalRuleViolation}
	}
	if err == nil {
		err = ce.err
	}
	if err != nil {
		return refuse(fmt.Sprintf("%sschema id %d (subject %s version %d): its rules cannot run: %v", s.noun(), ent.ID, subject, version, err))
	}
	var f *rules.Failure
	if !ce.set.Empty() {
		if f, err = ce.set.Check(path, datum); err != nil {
			var cerr *rules.CompileError
			if errors.As(err, &cerr) {
				return refuse(fmt.Sprintf("%sschema id %d (subject %s version %d): its rules do not compile for this message: %v", s.noun(), ent.ID, subject, version, err))
			}
			return refuse(fmt.Sprintf("%sschema id %d (subject %s version %d): rules cannot read the %s: %v", s.noun(), ent.ID, subject, version, s.side, err))
		}
	}
	if f == nil && pv {
		v, err := ce.protovalidator(ent)
		if err == nil {
			f, err = v.Check(path, datum)
		}
		if err != nil {
			return refuse(fmt.Sprintf("schema id %d (subject %s version %d): buf.validate annotations cannot run: %v", ent.ID, subject, version, err))
		}
	}
	if f == nil {
		return nil
	}
	se := refuse(s.noun() + f.Error())
	se.Rule = &RuleViolation{Failure: *f, Subject: subject, Version: version}
	switch {
	case f.Action == rules.ActionDLQ && f.DLQTopic == "":
		se.Reason += " (onFailure is DLQ, but the rule has no params[\"dlq.topic\"])"
		se.Rule.Action = rules.ActionError
	case f.Action == rules.ActionDLQ:
		// Read only where the record is refused rather than diverted:
		// other records of its request (or Kafka batch) are refused, or
		// its DLQ topic cannot take it.
		se.Reason += fmt.Sprintf(" (onFailure DLQ diverts it to %s only when no other record of its request is refused)", f.DLQTopic)
	}
	return se
}

// divertedRecord is a refused record that a DLQ rule diverts.
type divertedRecord struct {
	Index int
	Err   error // the refusal, for when the record cannot be diverted
	V     *RuleViolation
}

// divertedRecords returns the records of refusals (sorted by index) that
// rules divert to a DLQ, one per record (its first violation: a key
// rule's before a value rule's, the order Confluent's serializers run
// them), and whether every refused record is one (only then is the
// request written, less those records).
func divertedRecords(refused []*RecordError) ([]divertedRecord, bool) {
	var out []divertedRecord
	for _, r := range refused {
		v := dlqViolation(r.Err)
		if v == nil {
			return nil, false
		}
		if n := len(out); n == 0 || out[n-1].Index != r.Index {
			out = append(out, divertedRecord{Index: r.Index, Err: r.Err, V: v})
		}
	}
	return out, len(out) > 0
}

// checkDLQTopics refuses the diverted records whose DLQ topic does not
// exist or is topicName itself: nothing may be written before every DLQ
// topic is known to take its records.
func (b *Broker) checkDLQTopics(topicName string, div []divertedRecord) []*RecordError {
	var bad []*RecordError
	for _, d := range div {
		switch _, lerr := b.lookup(d.V.DLQTopic); {
		case d.V.DLQTopic == topicName:
			bad = append(bad, &RecordError{Index: d.Index, Err: invalidf("%v (its DLQ topic is the topic itself)", d.Err)})
		case lerr != nil:
			bad = append(bad, &RecordError{Index: d.Index, Err: invalidf("%v (its DLQ topic %s: %v)", d.Err, d.V.DLQTopic, lerr)})
		}
	}
	return bad
}

// dlqRecord is the record written to the DLQ topic for in, refused on
// topicName by v: its key, value, headers and timestamp, and headers
// naming the rule, the subject and version, the topic and the failure
// (Confluent's names).
func dlqRecord(topicName string, in *ProduceRecord, v *RuleViolation) ProduceRecord {
	hs := make([]Header, 0, len(in.Headers)+6)
	hs = append(hs, in.Headers...)
	hs = append(hs,
		Header{Key: HeaderRuleName, Value: []byte(v.Rule)},
		Header{Key: HeaderRuleMode, Value: []byte("WRITE")},
		Header{Key: HeaderRuleSubject, Value: []byte(v.Subject)},
		Header{Key: HeaderRuleVersion, Value: []byte(strconv.Itoa(v.Version))},
		Header{Key: HeaderRuleTopic, Value: []byte(topicName)},
		Header{Key: HeaderRuleReason, Value: []byte(quoteReason(v.Failure.Error()))},
	)
	return ProduceRecord{Key: in.Key, Value: in.Value, Headers: hs, Timestamp: in.Timestamp}
}

// produceDiverting finishes a Connect Produce whose validator refused with
// err: when every refused record is diverted by a rule, those records are
// written to their DLQ topics, then the others to topicName; otherwise err
// refuses the request.
func (b *Broker) produceDiverting(ctx context.Context, topicName string, recs []ProduceRecord, err error) ([]ProduceResult, error) {
	var pe *ProduceError
	if !errors.As(err, &pe) {
		return nil, err
	}
	div, ok := divertedRecords(pe.Records)
	if !ok {
		return nil, err
	}
	// Every DLQ topic must exist, and not be the topic itself, before
	// anything is written.
	if bad := b.checkDLQTopics(topicName, div); len(bad) > 0 {
		return nil, &ProduceError{Topic: topicName, Records: bad}
	}
	skip := make(map[int]bool, len(div))
	for _, d := range div {
		skip[d.Index] = true
		out := dlqRecord(topicName, &recs[d.Index], d.V)
		if _, err := b.Produce(ctx, d.V.DLQTopic, []ProduceRecord{out}); err != nil {
			return nil, fmt.Errorf("produce %s: record %d: rule %q diverts it to %s: %w", topicName, d.Index, d.V.Rule, d.V.DLQTopic, err)
		}
	}
	kept := make([]ProduceRecord, 0, len(recs)-len(skip))
	for i := range recs {
		if !skip[i] {
			kept = append(kept, recs[i])
		}
	}
	if len(kept) == 0 {
		out := make([]ProduceResult, len(recs))
		for i := range out {
			out[i] = ProduceResult{Partition: -1, Offset: -1}
		}
		return out, nil
	}
	res, err := b.Produce(ctx, topicName, kept)
	if err != nil {
		return nil, err
	}
	out := make([]ProduceResult, len(recs))
	j := 0
	for i := range out {
		if skip[i] {
			out[i] = ProduceResult{Partition: -1, Offset: -1}
			continue
		}
		out[i] = res[j]
		j++
	}
	return out, nil
}
