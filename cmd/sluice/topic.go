package main

import (
	"context"
	"errors"
	"flag"
	"fmt"
	"io"
	"net/http"
	"net/url"
	"slices"
	"strconv"
	"strings"
	"text/tabwriter"

	"connectrpc.com/connect"

	"github.com/sluicehq/sluice/broker"
	brokerv1 "github.com/sluicehq/sluice/proto/gen/sluice/broker/v1"
	"github.com/sluicehq/sluice/serde"
	"github.com/sluicehq/sluice/serde/avro"
	"github.com/sluicehq/sluice/serde/jsonschema"
	"github.com/sluicehq/sluice/serde/protobuf"
	"github.com/sluicehq/sluice/serde/schemacache"
	"github.com/sluicehq/sluice/srclient"
)

const topicUsage = `Usage:
  sluice topic create NAME [--partitions N] [--config key=value ...]
         [--value-schema FILE [--value-type T] [--value-message M]
                              [--ref name=subject:version ...]]
         [--key-schema FILE [--key-type T] [--key-message M]
                            [--key-ref name=subject:version ...]]
  sluice topic list
  sluice topic describe NAME
  sluice topic alter NAME [--set key=value ...] [--delete key ...] [--partitions N]
  sluice topic delete NAME

Topic configs: cleanup.policy (delete|compact|compact,delete), delete.retention.ms,
max.message.bytes, retention.bytes, retention.ms, segment.bytes, segment.ms.
Schema configs: key.schema.validation and value.schema.validation
(auto|none|id|payload), key.subject.name.strategy and
value.subject.name.strategy (topic|record|topic_record),
key.schema.autoregister and value.schema.autoregister (true|false).
Output is a table; --output json prints one JSON document.

Schema validation: the broker checks every produced key and value at the
level of its side's config, and refuses the whole request if one record
fails:
  none     any bytes are accepted
  id       the record must carry a schema envelope (magic byte and schema
           id, or a __key_schema_id/__value_schema_id header) whose id is a
           live version of the subject the strategy names
  payload  id, and the bytes must decode under that schema
  auto     the default: payload while the subject <topic>-value (for keys
           <topic>-key) has a live version, none otherwise. It is decided
           per request: registering the first version of orders-value makes
           topic orders typed at once, and deleting every version makes it
           untyped again. auto looks at <topic>-<side> whatever the
           subject-name strategy; with record or topic_record set the level
           explicitly.
A topic created with --value-schema (or --key-schema) gets an explicit
payload. "sluice topic describe NAME" shows each side's effective level and
why, e.g. "payload (auto: subject orders-value has live versions (1, 2))".

A typed topic in one step: --value-schema (and --key-schema) registers the
schema under the side's subject (orders-value, orders-key with the default
topic strategy) and creates the topic with value.schema.validation=payload
(key.schema.validation=payload). The type comes from the file extension
(.avsc/.avro, .proto, .json) or --value-type avro|protobuf|json;
--value-message names the Protobuf message the records carry (default the
first). A schema that uses types of other registered schemas names them
with --ref name=subject:version (--value-ref; --key-ref for the key schema;
repeatable): name is the Avro type's full name, the Protobuf import path or
the JSON Schema $ref URL, as in "sluice schema register --ref"; latest is
pinned to the subject's current version. Re-running the same command after
a failure is safe: registering a schema the subject already has is a no-op.

Examples:
  sluice topic create orders --value-schema order.avsc
  sluice topic create payments --partitions 6 --value-schema payment.proto \
      --value-message shop.v1.Payment --key-schema payment_key.avsc
  sluice topic create customers --value-schema customer.avsc \
      --ref shop.v1.Address=address-value:1

Flags:
`

// topicSubcommands are topic's subcommands, in the order help lists them.
var topicSubcommands = []string{"create", "list", "describe", "alter", "delete"}

// maxPartitions is the most partitions a topic may have; checked here too
// so that the error names the flag.
const maxPartitions = broker.MaxPartitions

// runTopic manages topics over the TopicService.
func runTopic(ctx context.Context, e *env, args []string) int {
	fs := newFlagSet(e, "sluice topic", topicUsage)
	var cf clientFlags
	cf.register(fs, e)
	partitions := fs.Int("partitions", 1, partitionsHelp)
	var configs, set kvFlag
	var del listFlag
	fs.Var(&configs, "config", "create: config override `key=value` (repeatable)")
	fs.Var(&set, "set", "alter: set config `key=value` (repeatable)")
	fs.Var(&del, "delete", "alter: remove the override of config `key` (repeatable)")
	var keySpec, valueSpec sideSchemaFlags
	keySpec.register(fs, "key")
	valueSpec.register(fs, "value")
	fs.Var(&valueSpec.refs, "ref", "create: the same as --value-ref `name=subject:version`")
	pos, code, ok := parseArgs(fs, args)
	if !ok {
		return code
	}
	if err := cf.validate(); err != nil {
		fmt.Fprintf(e.stderr, "sluice topic: %v\n", err)
		return 2
	}
	if len(pos) == 0 {
		fs.Usage()
		return 2
	}
	sub, pos := pos[0], pos[1:]
	if !slices.Contains(topicSubcommands, sub) {
		fmt.Fprintf(e.stderr, "sluice topic: unknown subcommand %q; want %s%s\n", sub, orList(topicSubcommands), didYouMean(sub, topicSubcommands))
		return 2
	}
	want := 1
	if sub == "list" {
		want = 0
	}
	if len(pos) != want {
		if want == 0 {
			fmt.Fprintf(e.stderr, "sluice topic %s: unexpected argument %q\n", sub, pos[0])
		} else {
			fmt.Fprintf(e.stderr, "sluice topic %s: want one topic NAME\n", sub)
		}
		return 2
	}
	topics, _ := cf.brokerClients()
	var (
		desc *brokerv1.TopicDescription
		err  error
	)
	if sub != "create" && (keySpec.set() || valueSpec.set()) {
		fmt.Fprintf(e.stderr, "sluice topic %s: --key-* and --value-* schema flags belong to topic create\n", sub)
		return 2
	}
	switch sub {
	case "create":
		if *partitions < 1 || *partitions > maxPartitions {
			fmt.Fprintf(e.stderr, "sluice topic create: --partitions %d: want 1 to %d (a topic needs at least one partition)\n", *partitions, maxPartitions)
			return 2
		}
		if keySpec.set() || valueSpec.set() {
			return createTypedTopic(ctx, e, &cf, pos[0], int32(*partitions), configs.asMap(), &keySpec, &valueSpec)
		}
		var res *connect.Response[brokerv1.CreateTopicResponse]
		res, err = topics.CreateTopic(ctx, connect.NewRequest(&brokerv1.CreateTopicRequest{
			Name: pos[0], Partitions: int32(*partitions), Configs: configs.asMap(),
		}))
		if err == nil {
			desc = res.Msg.GetTopic()
			if !cf.json() {
				fmt.Fprintf(e.stdout, "created topic %s with %s\n", desc.GetName(), plural(len(desc.GetPartitions()), "partition"))
				return 0
			}
		}
	case "describe":
		var res *connect.Response[brokerv1.DescribeTopicResponse]
		res, err = topics.DescribeTopic(ctx, connect.NewRequest(&brokerv1.DescribeTopicRequest{Name: pos[0]}))
		if err == nil {
			desc = res.Msg.GetTopic()
		}
	case "alter":
		grow := flagGiven(fs, "partitions")
		if len(set.keys) == 0 && len(del) == 0 && !grow {
			fmt.Fprintln(e.stderr, "sluice topic alter: nothing to do: give --set key=value, --delete key or --partitions N")
			return 2
		}
		if grow {
			desc, err = alterPartitions(ctx, topics, pos[0], *partitions)
		}
		if err == nil && (len(set.keys) > 0 || len(del) > 0) {
			var res *connect.Response[brokerv1.AlterTopicConfigsResponse]
			res, err = topics.AlterTopicConfigs(ctx, connect.NewRequest(&brokerv1.AlterTopicConfigsRequest{
				Name: pos[0], Set: set.asMap(), Delete: del,
			}))
			if err == nil {
				desc = res.Msg.GetTopic()
			}
		}
	case "delete":
		_, err = topics.DeleteTopic(ctx, connect.NewRequest(&brokerv1.DeleteTopicRequest{Name: pos[0]}))
		if err == nil {
			if cf.json() {
				writeJSON(e.stdout, map[string]string{"deleted": pos[0]})
			} else {
				fmt.Fprintf(e.stdout, "deleted topic %s\n", pos[0])
			}
			return 0
		}
	case "list":
		var res *connect.Response[brokerv1.ListTopicsResponse]
		res, err = topics.ListTopics(ctx, connect.NewRequest(&brokerv1.ListTopicsRequest{}))
		if err == nil {
			printTopicList(e.stdout, res.Msg.GetTopics(), cf.json())
			return 0
		}
	}
	if err != nil {
		return printErr(e.stderr, "topic "+sub, err)
	}
	var validation []validationJSON
	if sub == "describe" {
		validation = effectiveValidation(ctx, srclient.NewReader(cf.registry()), desc)
	}
	if cf.json() {
		tj := topicJSONOf(desc)
		tj.Validation = validation
		writeJSON(e.stdout, tj)
	} else {
		printTopic(e.stdout, desc)
		if validation != nil {
			fmt.Fprintln(e.stdout)
			printValidation(e.stdout, validation)
		}
	}
	return 0
}

// topicJSON is the --output json shape of a topic: offsets as JSON numbers
// (protojson would quote int64s and varies its spacing on purpose).
type topicJSON struct {
	Name       string            `json:"name"`
	TopicID    string            `json:"topic_id"`
	Partitions []partitionJSON   `json:"partitions"`
	Configs    map[string]string `json:"configs"`
	// Validation is each side's effective schema validation (describe).
	Validation []validationJSON `json:"validation,omitempty"`
}

type partitionJSON struct {
	Partition      int32 `json:"partition"`
	LogStartOffset int64 `json:"log_start_offset"`
	HighWatermark  int64 `json:"high_watermark"`
	SizeBytes      int64 `json:"size_bytes"`
}

func topicJSONOf(d *brokerv1.TopicDescription) topicJSON {
	t := topicJSON{Name: d.GetName(), TopicID: d.GetTopicId(), Configs: d.GetConfigs(), Partitions: []partitionJSON{}}
	for _, p := range d.GetPartitions() {
		t.Partitions = append(t.Partitions, partitionJSON{p.GetPartition(), p.GetLogStartOffset(), p.GetHighWatermark(), p.GetSizeBytes()})
	}
	return t
}

// printTopic prints one topic as a human table.
func printTopic(w io.Writer, d *brokerv1.TopicDescription) {
	fmt.Fprintf(w, "Topic: %s\n%sPartitions: %d\n\n", d.GetName(), topicIDLine(d), len(d.GetPartitions()))
	tw := tabwriter.NewWriter(w, 0, 4, 2, ' ', 0)
	fmt.Fprintln(tw, "PARTITION\tLOG START\tHIGH WATERMARK\tSIZE BYTES")
	for _, p := range d.GetPartitions() {
		fmt.Fprintf(tw, "%d\t%d\t%d\t%d\n", p.GetPartition(), p.GetLogStartOffset(), p.GetHighWatermark(), p.GetSizeBytes())
	}
	tw.Flush()
	fmt.Fprintln(w)
	tw = tabwriter.NewWriter(w, 0, 4, 2, ' ', 0)
	fmt.Fprintln(tw, "CONFIG\tVALUE")
	for _, k := range sortedKeys(d.GetConfigs()) {
		fmt.Fprintf(tw, "%s\t%s\n", k, d.GetConfigs()[k])
	}
	tw.Flush()
}

// printTopicList prints topics as a table (records = high watermark minus
// log start, summed over partitions) or as {"topics": [...]}.
func printTopicList(w io.Writer, ts []*brokerv1.TopicDescription, asJSON bool) {
	if asJSON {
		out := struct {
			Topics []topicJSON `json:"topics"`
		}{Topics: []topicJSON{}}
		for _, d := range ts {
			out.Topics = append(out.Topics, topicJSONOf(d))
		}
		writeJSON(w, out)
		return
	}
	tw := tabwriter.NewWriter(w, 0, 4, 2, ' ', 0)
	fmt.Fprintln(tw, "NAME\tPARTITIONS\tRECORDS\tSIZE BYTES\tCLEANUP")
	for _, d := range ts {
		var recs, size int64
		for _, p := range d.GetPartitions() {
			recs += p.GetHighWatermark() - p.GetLogStartOffset()
			size += p.GetSizeBytes()
		}
		fmt.Fprintf(tw, "%s\t%d\t%s\t%d\t%s\n", d.GetName(), len(d.GetPartitions()), strconv.FormatInt(recs, 10), size, d.GetConfigs()["cleanup.policy"])
	}
	tw.Flush()
}

// sideSchemaFlags are topic create's --<side>-schema, --<side>-type and
// --<side>-message.
type sideSchemaFlags struct {
	side               serde.Side
	file, typ, message string
	refs               refFlag
}

func (f *sideSchemaFlags) register(fs *flag.FlagSet, side string) {
	f.side = serde.Value
	if side == "key" {
		f.side = serde.Key
	}
	fs.StringVar(&f.file, side+"-schema", "", "create: register the "+side+" schema in `FILE` and create a typed topic")
	fs.StringVar(&f.typ, side+"-type", "", "create: type of --"+side+"-schema: avro, protobuf or json (default: from the file extension)")
	fs.StringVar(&f.message, side+"-message", "", "create: full `name` of the Protobuf message of the "+side+"s (default: the first message of the file)")
	fs.Var(&f.refs, side+"-ref", "create: a reference of --"+side+"-schema, `name=subject:version` (version a number or latest; repeatable)")
}

// set reports whether any of the side's flags was given.
func (f *sideSchemaFlags) set() bool {
	return f.file != "" || f.typ != "" || f.message != "" || len(f.refs) > 0
}

// usageError marks a bad combination of flags (exit 2).
type usageError struct{ error }

// typedSide is one side of a typed topic, ready to register.
type typedSide struct {
	side    serde.Side
	file    string
	typ     string // AVRO, PROTOBUF or JSON, as the REST API spells it
	text    string
	subject string
	message string // Protobuf: the message's full name
	indexes []int  // Protobuf: its message-index path
	refs    []srclient.Reference

	// Filled in by registration.
	id, version int
}

// typedSideJSON is a registered side in --output json.
type typedSideJSON struct {
	Side    string `json:"side"`
	Subject string `json:"subject"`
	ID      int    `json:"id"`
	Version int    `json:"version,omitempty"`
	Type    string `json:"schema_type"`
	Message string `json:"message,omitempty"`
	Indexes []int  `json:"message_indexes,omitempty"`
	// References are the schema's references, versions pinned.
	References []srclient.Reference `json:"references,omitempty"`
}

// prepare reads and parses the side's schema file and works out its
// subject from the side's strategy in configs. It sets the side's
// validation config to payload unless configs already says otherwise.
// Errors name the flag and the file.
//
// References (--<side>-ref) are looked up in the registry first: their
// texts let the schema parse here, and "latest" becomes the version it
// names now, so that the registered schema pins it.
func (f *sideSchemaFlags) prepare(ctx context.Context, e *env, reg *srclient.Reader, topic string, configs map[string]string) (*typedSide, error) {
	flagName := "--" + f.side.String() + "-schema"
	if f.file == "" {
		return nil, usageError{fmt.Errorf("--%s-type, --%s-message and --%s-ref need %s FILE", f.side, f.side, f.side, flagName)}
	}
	st, err := schemaTypeOf(f.typ, f.file)
	if err != nil {
		msg := strings.ReplaceAll(err.Error(), "--type", "--"+f.side.String()+"-type")
		return nil, usageError{fmt.Errorf("%s: %s", flagName, msg)}
	}
	if f.message != "" && st != "PROTOBUF" {
		return nil, usageError{fmt.Errorf("--%s-message names a Protobuf message, but %s is %s", f.side, f.file, st)}
	}
	text, err := readSchemaFile(e, f.file)
	if err != nil {
		return nil, fmt.Errorf("%s: %v", flagName, err)
	}
	ts := &typedSide{side: f.side, file: f.file, typ: st, text: text}
	var refTexts []serde.Referenced
	if len(f.refs) > 0 {
		if refTexts, err = f.resolveRefs(ctx, reg, ts); err != nil {
			return nil, err
		}
	}

	// Parse here so that a broken schema is reported with its position
	// before anything is registered, and to find the record name.
	var parsed serde.Schema
	switch st {
	case "AVRO":
		parsed, err = avro.Parse(text, refTexts)
	case "PROTOBUF":
		var ps *protobuf.Schema
		ps, err = protobuf.Parse(text, refTexts)
		if err == nil {
			parsed = ps
			ts.indexes = []int{0}
			if f.message != "" {
				if ts.indexes, err = ps.IndexesOf(f.message); err != nil {
					return nil, fmt.Errorf("--%s-message: %s: %v", f.side, f.file, err)
				}
			}
			md, merr := ps.MessageByIndexes(ts.indexes)
			if merr != nil {
				return nil, fmt.Errorf("%s %s: %v", flagName, f.file, merr)
			}
			ts.message = string(md.FullName())
		}
	default:
		parsed, err = jsonschema.Parse(text, refTexts)
	}
	if err != nil {
		return nil, fmt.Errorf("%s %s is not a valid schema: %v", flagName, f.file, err)
	}

	strategyKey := f.side.String() + ".subject.name.strategy"
	strategy := serde.TopicName
	if v, ok := configs[strategyKey]; ok {
		if strategy, err = serde.ParseStrategy(strings.TrimSpace(v)); err != nil {
			return nil, fmt.Errorf("--config %s: %v", strategyKey, err)
		}
	}
	ts.subject = topic + "-" + f.side.String()
	if strategy.NeedsRecordName() {
		ent, err := schemacache.NewEntry(0, parsed)
		if err != nil {
			return nil, fmt.Errorf("%s %s: %v", flagName, f.file, err)
		}
		name, err := ent.RecordName(ts.indexes)
		if err != nil {
			return nil, fmt.Errorf("%s %s: %s=%s needs a record name: %v", flagName, f.file, strategyKey, strategy, err)
		}
		if ts.subject, err = strategy.Subject(topic, f.side, name); err != nil {
			return nil, fmt.Errorf("%s %s: %v", flagName, f.file, err)
		}
	}
	if _, ok := configs[f.side.String()+".schema.validation"]; !ok {
		configs[f.side.String()+".schema.validation"] = "payload"
	}
	return ts, nil
}

// resolveRefs looks up the side's references: each names a live version
// ("latest" is pinned to the current one, written into ts.refs) and the
// texts of all of them, transitively, dependencies first, are returned for
// parsing.
func (f *sideSchemaFlags) resolveRefs(ctx context.Context, reg *srclient.Reader, ts *typedSide) ([]serde.Referenced, error) {
	seen := map[string]bool{}
	for _, r := range f.refs {
		if seen[r.Name] {
			return nil, usageError{fmt.Errorf("--%s-ref: reference %s is given twice", f.side, r.Name)}
		}
		seen[r.Name] = true
		v := "latest"
		if r.Version > 0 {
			v = strconv.Itoa(r.Version)
		}
		dep, err := reg.Version(ctx, r.Subject, v)
		if err != nil {
			return nil, fmt.Errorf("--%s-ref %s=%s:%s: %w", f.side, r.Name, r.Subject, v, err)
		}
		ts.refs = append(ts.refs, srclient.Reference{Name: r.Name, Subject: r.Subject, Version: dep.Version})
	}
	texts, err := reg.References(ctx, &srclient.Schema{Subject: ts.file, References: ts.refs})
	if err != nil {
		return nil, fmt.Errorf("--%s-ref: %w", f.side, err)
	}
	return texts, nil
}

// createTypedTopic registers the key and/or value schema under their
// subjects and creates the topic with validation payload.
//
// Order and failure: the topic must not exist yet (checked first, so that
// an existing topic is never turned typed by accident); then each schema is
// registered (registering a schema the subject already has returns the
// existing version, so this is idempotent); then the topic is created. If
// the creation fails after a registration succeeded, the registration is
// kept and the message says so: running the same command again registers
// nothing new and retries the creation.
func createTypedTopic(ctx context.Context, e *env, cf *clientFlags, name string, partitions int32, configs map[string]string, keyF, valueF *sideSchemaFlags) int {
	const cmd = "topic create"
	var sides []*typedSide
	refReader := srclient.NewReader(cf.registry())
	for _, f := range []*sideSchemaFlags{valueF, keyF} {
		if !f.set() {
			continue
		}
		ts, err := f.prepare(ctx, e, refReader, name, configs)
		if err != nil {
			fmt.Fprintf(e.stderr, "sluice %s: %v\n", cmd, err)
			if errors.As(err, new(usageError)) {
				return 2
			}
			return exitCode(err, 1)
		}
		sides = append(sides, ts)
	}

	topics, _ := cf.brokerClients()
	_, err := topics.DescribeTopic(ctx, connect.NewRequest(&brokerv1.DescribeTopicRequest{Name: name}))
	switch {
	case err == nil:
		fmt.Fprintf(e.stderr, "sluice %s: topic %s already exists; nothing was registered (to type an existing topic, register its schema with sluice schema register %s FILE)\n",
			cmd, name, sides[0].subject)
		return 1
	case connect.CodeOf(err) != connect.CodeNotFound:
		return printErr(e.stderr, cmd, err)
	}

	reg := cf.registry()
	var done []string
	for _, ts := range sides {
		req := srclient.Schema{Schema: ts.text, References: ts.refs}
		if ts.typ != "AVRO" {
			req.SchemaType = ts.typ
		}
		var resp struct {
			ID      int `json:"id"`
			Version int `json:"version"`
		}
		if err := reg.Do(ctx, http.MethodPost, "/subjects/"+srclient.SubjectPath(ts.subject)+"/versions", nil, req, &resp); err != nil {
			printRegisterErr(e.stderr, cmd, fmt.Sprintf("registering %s (%s) under subject %s", ts.file, ts.side, ts.subject), err)
			if len(done) > 0 {
				fmt.Fprintf(e.stderr, "  kept: %s; topic %s was not created\n", strings.Join(done, ", "), name)
			}
			return exitCode(err, 1)
		}
		ts.id, ts.version = resp.ID, resp.Version
		if ts.version == 0 {
			// Registries before Confluent 7.6 answer only the id.
			var v srclient.Schema
			q := url.Values{"normalize": {"false"}}
			if reg.Do(ctx, http.MethodPost, "/subjects/"+srclient.SubjectPath(ts.subject), q, req, &v) == nil {
				ts.version = v.Version
			}
		}
		done = append(done, fmt.Sprintf("%s version %d (schema id %d)", ts.subject, ts.version, ts.id))
	}

	res, err := topics.CreateTopic(ctx, connect.NewRequest(&brokerv1.CreateTopicRequest{Name: name, Partitions: partitions, Configs: configs}))
	if err != nil {
		code := printErr(e.stderr, cmd, err)
		fmt.Fprintf(e.stderr, "  the schema registration is kept (%s); after fixing the cause, run the same command again: it re-uses the registered version and retries the topic\n",
			strings.Join(done, ", "))
		return code
	}
	desc := res.Msg.GetTopic()
	if cf.json() {
		out := struct {
			Topic   topicJSON       `json:"topic"`
			Schemas []typedSideJSON `json:"schemas"`
		}{Topic: topicJSONOf(desc)}
		for _, ts := range sides {
			out.Schemas = append(out.Schemas, typedSideJSON{Side: ts.side.String(), Subject: ts.subject, ID: ts.id, Version: ts.version, Type: ts.typ, Message: ts.message, Indexes: ts.indexes, References: ts.refs})
		}
		writeJSON(e.stdout, out)
		return 0
	}
	for _, ts := range sides {
		with := ""
		if len(ts.refs) > 0 {
			parts := make([]string, len(ts.refs))
			for i, r := range ts.refs {
				parts[i] = fmt.Sprintf("%s=%s:%d", r.Name, r.Subject, r.Version)
			}
			with = " with references " + strings.Join(parts, ", ")
		}
		fmt.Fprintf(e.stdout, "registered %s version %d (schema id %d) from %s%s\n", ts.subject, ts.version, ts.id, ts.file, with)
		if ts.message != "" {
			fmt.Fprintf(e.stdout, "  %ss are %s: frame them with schema id %d and message-index path %v\n", ts.side, ts.message, ts.id, ts.indexes)
		}
	}
	var checks []string
	for _, side := range []string{"key", "value"} {
		if v := desc.GetConfigs()[side+".schema.validation"]; v != "" && v != "auto" && v != "none" {
			checks = append(checks, side+".schema.validation="+v)
		}
	}
	fmt.Fprintf(e.stdout, "created topic %s with %s (%s)\n", desc.GetName(), plural(len(desc.GetPartitions()), "partition"), strings.Join(checks, ", "))
	return 0
}

// printRegisterErr reports a refused registration; an incompatible schema
// lists every violation on its own line.
func printRegisterErr(w io.Writer, cmd, what string, err error) {
	var se *srclient.Error
	if errors.As(err, &se) && (se.Code == 409 || se.Code == 40901) && strings.Contains(se.Message, "; ") {
		parts := strings.Split(se.Message, "; ")
		fmt.Fprintf(w, "sluice %s: %s: %s (error code %d)\n", cmd, what, parts[0], se.Code)
		for _, p := range parts[1:] {
			fmt.Fprintf(w, "  - %s\n", p)
		}
		return
	}
	fmt.Fprintf(w, "sluice %s: %s: %v\n", cmd, what, err)
}
