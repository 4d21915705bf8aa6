package broker

// Schema enforcement on produce (DESIGN.md §3, spec/wire-format.md).
//
// Enforcer is the RecordValidator that checks every record of a Produce
// request against the registry before anything is appended:
//
//   - the side's mode (key/value.schema.validation) is resolved: auto is
//     payload when <topic>-key / <topic>-value has a live version, none
//     otherwise;
//   - at id and payload: the envelope is present and well formed (prefix
//     mode, or header mode with an integer id in __key_schema_id /
//     __value_schema_id; a GUID identity is resolved to an id through the
//     registry's GUID index), the id names a schema, and the id is
//     a live version of the subject the side's strategy names (the record
//     name comes from the schema: the Avro record, the Protobuf message the
//     index path names, the JSON Schema title);
//   - at payload: the datum matches the schema, walked by the format's
//     compiled validator from the schema cache.
//
// Null (or empty) values are tombstones: allowed on compacted topics and
// refused on the others when values are checked. A null key is allowed
// unless keys are checked.
//
// Whether an id is a live version is asked of the registry once per
// distinct id and subject per request (an in-memory lookup), never cached
// across requests: a deleted version stops validating as soon as the
// delete returns. The schema cache lookup is also made once per distinct
// id per request (requestMemo), since the records of one request mostly
// share one id. Parsed schemas and typed-topic answers are cached and
// dropped on every registry change.

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"strings"
	"sync"
	"unicode/utf8"

	"github.com/google/uuid"
	"github.com/sluicehq/sluice/registry"
	"github.com/sluicehq/sluice/serde"
	"github.com/sluicehq/sluice/serde/jsonschema"
	"github.com/sluicehq/sluice/serde/schemacache"
)

// Enforcer is the schema-enforcing RecordValidator and PartitionKeyer. Set
// it as Config.Validator. It is safe for concurrent use.
type Enforcer struct {
	reg   *registry.Registry
	cache *schemacache.Cache
	log   *slog.Logger

	typedMu sync.Mutex
	typed   *typedGen

	// rules caches compiled rule sets by schema id (enforce_rules.go).
	rules ruleSets
}

// typedGen caches "does this subject have a live version" for one
// generation of the schema cache.
type typedGen struct {
	changed <-chan struct{}
	m       sync.Map // subject -> bool
}

var (
	_ RecordValidator = (*Enforcer)(nil)
	_ PartitionKeyer  = (*Enforcer)(nil)
)

// NewEnforcer returns an Enforcer over reg; logger nil discards.
func NewEnforcer(reg *registry.Registry, logger *slog.Logger) *Enforcer {
	if logger == nil {
		logger = slog.New(slog.DiscardHandler)
	}
	return &Enforcer{reg: reg, cache: schemacache.New(reg), log: logger}
}

// SchemaError is why schema enforcement refused one side of one record; it
// is the Err of a *RecordError and becomes one RecordRejection of the
// error detail.
type SchemaError struct {
	Side serde.Side
	// Subject is the subject the strategy named; "" when none could be.
	Subject string
	// SchemaID is the id the envelope carried; 0 when none could be read.
	SchemaID int32
	// Reason is the complete explanation, side included.
	Reason string
	// Path locates a payload mismatch in the value; "" otherwise.
	Path string
	// Kind classifies the refusal for the metrics
	// (sluice_produce_refusals_total's reason label).
	Kind RefusalReason
	// Rule is the data-contract rule that stopped the record
	// (enforce_rules.go); nil for the other checks.
	Rule *RuleViolation
}

// Error returns the reason.
func (e *SchemaError) Error() string { return e.Reason }

// Is makes every SchemaError an ErrInvalidArgument.
func (e *SchemaError) Is(target error) bool { return target == ErrInvalidArgument }

// sideState is one side's settings for one request.
type sideState struct {
	side     serde.Side
	mode     string
	strategy serde.Strategy
	// topicSubject is <topic>-<side>, computed once per request.
	topicSubject string
	// configKey names the validation config in messages.
	configKey string
}

// noun is how messages name the side: the value side is implied, as in
// "record 3: schema id 42 is not a version of subject orders-value".
func (s *sideState) noun() string {
	if s.side == serde.Key {
		return "key "
	}
	return ""
}

// sides resolves both sides' modes for topic.
func (e *Enforcer) sides(topic string, cfg *TopicConfig) (key, value sideState) {
	key = sideState{side: serde.Key, mode: cfg.KeyValidation, strategy: cfg.KeyStrategy, topicSubject: topic + "-key", configKey: "key.schema.validation"}
	value = sideState{side: serde.Value, mode: cfg.ValueValidation, strategy: cfg.ValueStrategy, topicSubject: topic + "-value", configKey: "value.schema.validation"}
	for _, s := range []*sideState{&key, &value} {
		if s.mode == ValidationAuto || s.mode == "" {
			s.mode = ValidationNone
			if e.subjectTyped(s.topicSubject) {
				s.mode = ValidationPayload
			}
		}
	}
	return key, value
}

// subjectTyped reports whether subject has a live version, cached until
// the registry next changes.
func (e *Enforcer) subjectTyped(subject string) bool {
	changed := e.cache.Changed()
	e.typedMu.Lock()
	g := e.typed
	if g == nil || g.changed != changed {
		g = &typedGen{changed: changed}
		e.typed = g
	}
	e.typedMu.Unlock()
	if v, ok := g.m.Load(subject); ok {
		return v.(bool)
	}
	vs, err := e.reg.Versions(context.Background(), subject, registry.ListOptions{})
	typed := err == nil && len(vs) > 0
	g.m.Store(subject, typed)
	return typed
}

// ValidateProduce checks every record; it refuses the request with a
// *ProduceError listing every bad record (both sides of a record may be
// listed).
func (e *Enforcer) ValidateProduce(ctx context.Context, topic string, cfg *TopicConfig, recs []ProduceRecord) error {
	key, value := e.sides(topic, cfg)
	if key.mode == ValidationNone && value.mode == ValidationNone {
		return nil
	}
	var bad []*RecordError
	var scratch []int
	var memo requestMemo
	memo.ents, memo.lives = memo.entBuf[:0], memo.liveBuf[:0]
	for i := range recs {
		r := &recs[i]
		for _, s := range []*sideState{&key, &value} {
			if s.mode == ValidationNone {
				continue
			}
			b := r.Value
			if s.side == serde.Key {
				b = r.Key
			}
			var serr *SchemaError
			serr, scratch = e.check(ctx, topic, cfg, s, b, r.Headers, scratch, &memo)
			if serr != nil {
				bad = append(bad, &RecordError{Index: i, Err: serr})
			}
		}
	}
	if len(bad) > 0 {
		return &ProduceError{Topic: topic, Records: bad}
	}
	return nil
}

// lastHeader returns the value of the last header called key, as
// spec/wire-format.md §6 decides.
func lastHeader(hs []Header, key string) ([]byte, bool) {
	for i := len(hs) - 1; i >= 0; i-- {
		if hs[i].Key == key {
			return hs[i].Value, true
		}
	}
	return nil, false
}

// requestMemo remembers, for one request, the schema cache's answer per
// id and the registry's live-version answer per subject and id. A linear
// search: a request seldom carries more than a few distinct ids.
type requestMemo struct {
	ents  []memoEntry
	lives []memoLive
	// Inline room for the usual one or two ids, so that a request's memo
	// does not allocate.
	entBuf  [2]memoEntry
	liveBuf [2]memoLive
}

type memoEntry struct {
	id  int32
	ent *schemacache.Entry
	err error
}

type memoLive struct {
	id      int32
	subject string
	version int
	ok      bool
}

// entry is e.cache.Get, once per id per request.
func (m *requestMemo) entry(ctx context.Context, c *schemacache.Cache, id int32) (*schemacache.Entry, error) {
	for i := range m.ents {
		if m.ents[i].id == id {
			return m.ents[i].ent, m.ents[i].err
		}
	}
	ent, err := c.Get(ctx, id)
	if ctx.Err() == nil {
		m.ents = append(m.ents, memoEntry{id: id, ent: ent, err: err})
	}
	return ent, err
}

// live is reg.LiveVersionByID, once per subject and id per request.
func (m *requestMemo) live(reg *registry.Registry, subject string, id int32) (int, bool) {
	for i := range m.lives {
		if l := &m.lives[i]; l.id == id && l.subject == subject {
			return l.version, l.ok
		}
	}
	v, ok := reg.LiveVersionByID(subject, int(id))
	m.lives = append(m.lives, memoLive{id: id, subject: subject, version: v, ok: ok})
	return v, ok
}

// check checks one side of one record. scratch is a reused index-path
// buffer, returned for the next call; memo holds the request's lookups.
func (e *Enforcer) check(ctx context.Context, topic string, cfg *TopicConfig, s *sideState, b []byte, hs []Header, scratch []int, memo *requestMemo) (*SchemaError, []int) {
	// kind is what a failure at this point of the check is (stats.go);
	// each stage below sets it.
	kind := RefusalMissingEnvelope
	fail := func(subject string, id int32, format string, args ...any) *SchemaError {
		return &SchemaError{Side: s.side, Subject: subject, SchemaID: id, Reason: fmt.Sprintf(format, args...), Kind: kind}
	}
	if len(b) == 0 {
		what := "null"
		if b != nil {
			what = "empty"
		}
		if s.side == serde.Key {
			return fail("", 0, "%s key, but %s=%s needs a schema-framed key", what, s.configKey, s.mode), scratch
		}
		if cfg.Compact {
			return nil, scratch // a tombstone
		}
		return fail("", 0, "%s value, but %s=%s needs a schema-framed value (tombstones are only allowed on compacted topics)", what, s.configKey, s.mode), scratch
	}

	// Identity: header mode when the side's header is present and non-empty.
	var (
		id     serde.Identity
		rest   []byte
		datum  []byte
		err    error
		header = false
	)
	kind = RefusalBadEnvelope
	if hv, ok := lastHeader(hs, s.side.SchemaIDHeader()); ok && len(hv) > 0 {
		header = true
		id, rest, err = serde.ParseIdentity(hv)
		if err != nil {
			return fail("", 0, "%sschema id header %s: %v", s.noun(), s.side.SchemaIDHeader(), err), scratch
		}
		datum = b
	} else {
		id, rest, err = serde.ParseIdentity(b)
		if err != nil {
			return fail("", 0, "%shas no valid schema envelope: %v", sideWord(s.side), err), scratch
		}
		datum = rest
	}
	kind = RefusalUnknownSchema
	if id.Magic == serde.MagicGUID {
		// The GUID index of the registry maps the content hash to ids
		// without scanning; the id then goes through the same checks
		// (live version of the strategy's subject) as an integer id.
		ids, err := e.reg.IDsByGUID(ctx, uuid.UUID(id.GUID))
		if err != nil {
			if errors.Is(err, registry.ErrSchemaNotFound) {
				return fail("", 0, "%sschema GUID %s does not exist", s.noun(), uuid.UUID(id.GUID)), scratch
			}
			return fail("", 0, "%sschema GUID %s cannot be used: %v", s.noun(), uuid.UUID(id.GUID), err), scratch
		}
		id.ID = int32(ids[0])
		if !s.strategy.NeedsRecordName() {
			for _, x := range ids {
				if _, ok := e.reg.LiveVersionByID(s.topicSubject, x); ok {
					id.ID = int32(x)
					break
				}
			}
		}
	}

	ent, err := memo.entry(ctx, e.cache, id.ID)
	if err != nil {
		if errors.Is(err, registry.ErrSchemaNotFound) {
			if !s.strategy.NeedsRecordName() {
				return e.notAVersion(ctx, s, s.topicSubject, id.ID), scratch
			}
			return fail("", id.ID, "%sschema id %d does not exist", s.noun(), id.ID), scratch
		}
		if ctx.Err() != nil {
			return fail("", id.ID, "%sschema id %d: %v", s.noun(), id.ID, ctx.Err()), scratch
		}
		return fail("", id.ID, "%sschema id %d cannot be used: %v", s.noun(), id.ID, err), scratch
	}

	// Protobuf: the message-index path follows the id (in the header in
	// header mode). Other formats have nothing there in header mode.
	kind = RefusalBadEnvelope
	var path []int
	if ent.HasIndexes() {
		var after []byte
		scratch, after, err = serde.ReadIndexes(scratch, rest)
		if err != nil {
			return fail("", id.ID, "%sschema id %d is Protobuf: %v", s.noun(), id.ID, err), scratch
		}
		if header {
			if len(after) > 0 {
				return fail("", id.ID, "%sschema id header %s has %d bytes after the message-index path", s.noun(), s.side.SchemaIDHeader(), len(after)), scratch
			}
		} else {
			datum = after
		}
		path = scratch
		if err := ent.ResolvePath(path); err != nil {
			return fail("", id.ID, "%sschema id %d: %v", s.noun(), id.ID, err), scratch
		}
	} else if header && len(rest) > 0 {
		return fail("", id.ID, "%sschema id header %s has %d bytes after the id", s.noun(), s.side.SchemaIDHeader(), len(rest)), scratch
	}

	kind = RefusalWrongSubject
	subject := s.topicSubject
	if s.strategy.NeedsRecordName() {
		name, err := ent.RecordName(path)
		if err != nil {
			return fail("", id.ID, "%sschema id %d: %s strategy needs a record name: %v", s.noun(), id.ID, s.strategy, err), scratch
		}
		subject, err = s.strategy.Subject(topic, s.side, name)
		if err != nil {
			return fail("", id.ID, "%sschema id %d: %v", s.noun(), id.ID, err), scratch
		}
	}
	version, ok := memo.live(e.reg, subject, id.ID)
	if !ok {
		return e.notAVersion(ctx, s, subject, id.ID), scratch
	}
	if s.mode != ValidationPayload {
		return nil, scratch
	}
	kind = RefusalPayloadMismatch
	if err := ent.Validate(path, datum); err != nil {
		se := fail(subject, id.ID, "%sdoes not match schema id %d (subject %s version %d): %v", sideWord(s.side), id.ID, subject, version, err)
		se.Path = datumPath(err)
		return se, scratch
	}
	if se := e.checkRules(ctx, cfg, s, subject, version, ent, path, datum); se != nil {
		return se, scratch
	}
	return nil, scratch
}

// sideWord starts a sentence about the side's bytes.
func sideWord(s serde.Side) string { return s.String() + " " }

// datumPath extracts the location of a payload mismatch.
func datumPath(err error) string {
	var de *serde.DatumError
	if errors.As(err, &de) {
		return de.Path
	}
	var ve jsonschema.ValidationErrors
	if errors.As(err, &ve) && len(ve) > 0 {
		return ve[0].Path
	}
	var v1 *jsonschema.ValidationError
	if errors.As(err, &v1) {
		return v1.Path
	}
	return ""
}

// maxListedVersions bounds the live versions a refusal lists.
const maxListedVersions = 10

// notAVersion builds the refusal of an id that is not a live version of
// subject, listing the subject's live versions so the producer sees which
// ids would do.
func (e *Enforcer) notAVersion(ctx context.Context, s *sideState, subject string, id int32) *SchemaError {
	var sb strings.Builder
	fmt.Fprintf(&sb, "%sschema id %d is not a version of subject %s", s.noun(), id, subject)
	vs, err := e.reg.Versions(ctx, subject, registry.ListOptions{})
	switch {
	case err != nil || len(vs) == 0:
		sb.WriteString(" (the subject has no live versions)")
	default:
		sb.WriteString(" (live versions ")
		for i, v := range vs {
			if i == maxListedVersions {
				fmt.Fprintf(&sb, ", and %d more", len(vs)-i)
				break
			}
			if i > 0 {
				sb.WriteString(", ")
			}
			sv, err := e.reg.Version(ctx, subject, v, false)
			if err != nil {
				fmt.Fprintf(&sb, "%d", v)
				continue
			}
			fmt.Fprintf(&sb, "%d→id %d", v, sv.ID)
		}
		sb.WriteString(")")
	}
	return &SchemaError{Side: s.side, Subject: subject, SchemaID: id, Reason: sb.String(), Kind: RefusalWrongSubject}
}

// PartitionKey returns the key without its schema envelope when keys are
// checked, so that a new key schema id keeps every key on its partition
// (DESIGN.md §3.5). Keys in header mode carry no envelope and hash whole;
// keys of unchecked topics hash whole.
func (e *Enforcer) PartitionKey(topic string, cfg *TopicConfig, key []byte) []byte {
	mode := cfg.KeyValidation
	if mode == ValidationAuto || mode == "" {
		if !e.subjectTyped(topic + "-key") {
			return key
		}
	} else if mode == ValidationNone {
		return key
	}
	id, rest, err := serde.ParseIdentity(key)
	if err != nil || id.Magic != serde.MagicID {
		return key
	}
	ent, err := e.cache.Get(context.Background(), id.ID)
	if err != nil {
		return key
	}
	if !ent.HasIndexes() {
		return rest
	}
	var buf [8]int
	_, after, err := serde.ReadIndexes(buf[:0], rest)
	if err != nil {
		return key
	}
	return after
}

// quoteReason keeps a reason printable: reasons may quote record bytes.
func quoteReason(s string) string {
	if utf8.ValidString(s) {
		return s
	}
	return strings.ToValidUTF8(s, "\uFFFD")
}
