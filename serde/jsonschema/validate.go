package jsonschema

import (
	"bytes"
	"encoding/json"
	"errors"
	"fmt"
	"io"

	js "github.com/santhosh-tekuri/jsonschema/v5"
)

// Validate checks that doc is one JSON value that the schema accepts. It
// returns nil, or ValidationErrors with every failure and its JSON pointer in
// doc. Malformed JSON is one ValidationError at the root naming line and
// column. Numbers are compared exactly, never through float64.
//
// Validate decodes doc into generic Go values for the compiler; it allocates
// in proportion to doc.
func (s *Schema) Validate(doc []byte) (err error) {
	defer func() {
		if r := recover(); r != nil {
			err = ValidationErrors{{Reason: fmt.Sprintf("internal error in the JSON Schema validator: %v", r)}}
		}
	}()
	v, err := decodeInstance(doc)
	if err != nil {
		return err
	}
	return s.validateValue(v)
}

// validateValue checks an instance decoded with json.Decoder.UseNumber.
func (s *Schema) validateValue(v any) error {
	err := s.compiled.Validate(v)
	if err == nil {
		return nil
	}
	var ve *js.ValidationError
	if !errors.As(err, &ve) {
		// An InfiniteLoopError: the schema recurses without consuming the
		// instance. Parse refuses such schemas, so this is defensive.
		return ValidationErrors{{Reason: displayURLs(err.Error())}}
	}
	leaves := sortLeaves(flatten(ve))
	if len(leaves) == 0 {
		return ValidationErrors{{Reason: displayURLs(ve.Message)}}
	}
	out := make(ValidationErrors, 0, min(len(leaves), maxErrors+1))
	for i, l := range leaves {
		if i == maxErrors {
			out = append(out, &ValidationError{Reason: fmt.Sprintf("and %d more problems", len(leaves)-maxErrors)})
			break
		}
		out = append(out, &ValidationError{Path: l.instance, Keyword: l.keyword, Reason: displayURLs(l.message)})
	}
	return out
}

// decodeInstance decodes one JSON value as the compiler wants it: objects as
// map[string]any, numbers as json.Number.
func decodeInstance(doc []byte) (any, error) {
	dec := json.NewDecoder(bytes.NewReader(doc))
	dec.UseNumber()
	var v any
	err := dec.Decode(&v)
	if err == nil {
		if _, terr := dec.Token(); terr != io.EOF {
			err = errors.New("unexpected data after the top-level value")
		}
	}
	if err != nil {
		line, col, msg := malformed(string(doc), err, "")
		return nil, ValidationErrors{{Reason: fmt.Sprintf("malformed JSON at line %d, column %d: %s", line, col, msg)}}
	}
	if path, err := checkNumbers(v, ""); err != nil {
		return nil, ValidationErrors{{Path: path, Reason: err.Error()}}
	}
	return v, nil
}
