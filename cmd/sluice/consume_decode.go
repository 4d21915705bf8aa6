package main

// consume --decode: each key and value decoded through the registry to
// JSON, with the writer schema's subject, version and id.

import (
	"context"
	"errors"
	"fmt"
	"strconv"

	"github.com/sluicehq/sluice/recordjson"
	"github.com/sluicehq/sluice/srclient"
)

// errDecodeStop ends consume --decode --stop-on-decode-error at a record
// that does not decode.
var errDecodeStop = errors.New("stopped at a record that does not decode (--stop-on-decode-error)")

// recordDecoder decodes record keys and values through the registry
// (package recordjson), remembering every schema it fetched. Its ctx is
// the command's: the decoder lives exactly as long as the command.
type recordDecoder struct {
	*recordjson.Decoder
	stopOnErr bool
}

// newRecordDecoder prepares decoding for topic; the subject-name
// strategies come from the topic's configs (topic when unset). A nil reg
// decodes only preloaded schemas.
func newRecordDecoder(ctx context.Context, reg *srclient.Reader, topic string, configs map[string]string, stopOnErr bool) (*recordDecoder, error) {
	d, err := recordjson.New(ctx, reg, topic, configs)
	if err != nil {
		return nil, err
	}
	return &recordDecoder{Decoder: d, stopOnErr: stopOnErr}, nil
}

// decodedJSON is the --output json shape of a decoded record.
type decodedJSON struct {
	Partition   int32        `json:"partition"`
	Offset      int64        `json:"offset"`
	Timestamp   string       `json:"timestamp"`
	Key         any          `json:"key"`
	KeyBase64   string       `json:"key_base64,omitempty"`
	KeySchema   *schemaJSON  `json:"key_schema,omitempty"`
	KeyError    string       `json:"key_error,omitempty"`
	Value       any          `json:"value"`
	ValueBase64 string       `json:"value_base64,omitempty"`
	ValueSchema *schemaJSON  `json:"value_schema,omitempty"`
	ValueError  string       `json:"value_error,omitempty"`
	Headers     []headerJSON `json:"headers,omitempty"`
}

// schemaJSON names a writer schema.
type schemaJSON struct {
	Subject string `json:"subject,omitempty"`
	Version int    `json:"version,omitempty"`
	ID      int32  `json:"id"`
	Type    string `json:"type"`
}

// sideJSON fills one side's fields of a decodedJSON.
func sideJSON(raw []byte, ds recordjson.Side) (v any, b64 string, sch *schemaJSON, errText string) {
	if ds.ID != 0 {
		sch = &schemaJSON{Subject: ds.Subject, Version: ds.Version, ID: ds.ID, Type: ds.Type}
	}
	if ds.JSON != nil {
		return ds.JSON, "", sch, ""
	}
	s, b64 := jsonBytes(raw)
	if s != nil {
		v = *s
	}
	return v, b64, sch, ds.Err
}

// appendSideText appends " side=VALUE" and, after it, what the text line
// says about the schema or the error.
func appendSideText(buf []byte, name string, raw []byte, ds recordjson.Side) []byte {
	if ds.JSON != nil {
		return fmt.Appendf(buf, " %s=%s", name, ds.JSON)
	}
	return fmt.Appendf(buf, " %s=%s", name, textBytes(raw))
}

func appendSchemaText(buf []byte, name string, ds recordjson.Side) []byte {
	if ds.ID != 0 {
		if ds.Subject != "" {
			buf = fmt.Appendf(buf, " %s.schema=%s:%d", name, ds.Subject, ds.Version)
		}
		buf = fmt.Appendf(buf, " %s.id=%d", name, ds.ID)
	}
	if ds.Err != "" {
		buf = fmt.Appendf(buf, " %s.error=%s", name, strconv.Quote(ds.Err))
	}
	return buf
}
