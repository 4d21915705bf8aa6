package main

// Typed records for produce and consume: values typed as JSON, encoded
// through a registered schema with the Confluent envelope
// (spec/wire-format.md §2.1), and records decoded back to JSON with the
// writer schema's subject and version. Package recordjson does the work
// both ways (the console's produce form and record pages use it too); this
// file maps the flags onto it.

import (
	"context"
	"errors"
	"flag"
	"fmt"
	"net/http"
	"strconv"

	"github.com/sluicehq/sluice/recordjson"
	"github.com/sluicehq/sluice/serde"
	"github.com/sluicehq/sluice/srclient"
)

// typedFlags are produce's --<side>-schema-id, --<side>-subject,
// --<side>-version and --<side>-message.
type typedFlags struct {
	side    serde.Side
	id      int
	subject string
	version string
	message string
}

func (f *typedFlags) register(fs *flag.FlagSet, side serde.Side) {
	f.side = side
	s := side.String()
	fs.IntVar(&f.id, s+"-schema-id", 0, "encode each "+s+", given as JSON, with the registered schema of this `id`")
	fs.StringVar(&f.subject, s+"-subject", "", "encode each "+s+", given as JSON, with a version of this `subject`")
	fs.StringVar(&f.version, s+"-version", "", "with --"+s+"-subject: the `version` (default latest)")
	fs.StringVar(&f.message, s+"-message", "", "Protobuf "+s+"s: the message's full `name` (default the first message of the schema)")
}

// set reports whether any of the side's flags was given.
func (f *typedFlags) set() bool {
	return f.id != 0 || f.subject != "" || f.version != "" || f.message != ""
}

// validate checks the combination of the side's flags.
func (f *typedFlags) validate() error {
	s := f.side.String()
	switch {
	case f.id != 0 && f.subject != "":
		return fmt.Errorf("give --%s-schema-id or --%s-subject, not both", s, s)
	case f.id < 0:
		return fmt.Errorf("--%s-schema-id %d: want a positive schema id", s, f.id)
	case f.id == 0 && f.subject == "":
		return fmt.Errorf("--%s-version and --%s-message need --%s-schema-id or --%s-subject", s, s, s, s)
	case f.version != "" && f.subject == "":
		return fmt.Errorf("--%s-version needs --%s-subject (an id names one schema already)", s, s)
	}
	if f.version != "" && f.version != "latest" {
		if n, err := strconv.Atoi(f.version); err != nil || n < 1 {
			return fmt.Errorf("--%s-version %q: want a positive number or latest", s, f.version)
		}
	}
	return nil
}

// resolve fetches the schema the flags name (with its references) and
// returns its encoder.
func (f *typedFlags) resolve(ctx context.Context, r *srclient.Reader) (*recordjson.Encoder, error) {
	var s *srclient.Schema
	if f.id != 0 {
		s = &srclient.Schema{}
		if err := r.Client.Do(ctx, http.MethodGet, "/schemas/ids/"+strconv.Itoa(f.id), nil, nil, s); err != nil {
			return nil, fmt.Errorf("--%s-schema-id %d: %w", f.side, f.id, err)
		}
		s.ID = f.id
	} else {
		v := f.version
		if v == "" {
			v = "latest"
		}
		var err error
		if s, err = r.Version(ctx, f.subject, v); err != nil {
			return nil, fmt.Errorf("--%s-subject %s: %w", f.side, f.subject, err)
		}
	}
	return newTypedEncoder(ctx, r, f.side, s, f.message)
}

// newTypedEncoder parses s with its references and returns the encoder of
// its message (Protobuf: the message named, else the first).
func newTypedEncoder(ctx context.Context, r *srclient.Reader, side serde.Side, s *srclient.Schema, message string) (*recordjson.Encoder, error) {
	what := fmt.Sprintf("schema id %d", s.ID)
	if s.Subject != "" {
		what = fmt.Sprintf("%s version %d (schema id %d)", s.Subject, s.Version, s.ID)
	}
	refs, err := r.References(ctx, s)
	if err != nil {
		return nil, fmt.Errorf("%s: %w", what, err)
	}
	typ := s.TypeName()
	if message != "" && typ != "PROTOBUF" {
		return nil, fmt.Errorf("--%s-message names a Protobuf message, but %s is %s", side, what, typ)
	}
	parsed, err := srclient.ParseSchema(typ, s.Schema, refs)
	if err != nil {
		return nil, fmt.Errorf("%s does not parse here: %w", what, err)
	}
	c, err := recordjson.NewEncoder(int32(s.ID), parsed, message)
	var me *recordjson.MessageError
	if errors.As(err, &me) {
		return nil, fmt.Errorf("--%s-message: %s: %w", side, what, me.Err)
	}
	if err != nil {
		return nil, fmt.Errorf("%s does not parse here: %w", what, err)
	}
	return c, nil
}
