package rules

import (
	"bytes"
	"encoding/json"
	"errors"
	"fmt"
	"strconv"
)

// decodeJSON decodes a JSON datum for CEL: objects as map[string]any,
// arrays as []any, integers that fit as int64 (CEL's int), other numbers as
// float64 (CEL's double).
func decodeJSON(b []byte) (any, error) {
	dec := json.NewDecoder(bytes.NewReader(b))
	dec.UseNumber()
	var v any
	if err := dec.Decode(&v); err != nil {
		return nil, fmt.Errorf("json: %v", err)
	}
	if dec.More() {
		return nil, errors.New("json: data after the value")
	}
	return jsonNumbers(v, 0), nil
}

func jsonNumbers(v any, depth int) any {
	if depth > maxAvroDepth {
		return v
	}
	switch x := v.(type) {
	case json.Number:
		if i, err := strconv.ParseInt(string(x), 10, 64); err == nil {
			return i
		}
		f, _ := strconv.ParseFloat(string(x), 64)
		return f
	case map[string]any:
		for k, e := range x {
			x[k] = jsonNumbers(e, depth+1)
		}
	case []any:
		for i, e := range x {
			x[i] = jsonNumbers(e, depth+1)
		}
	}
	return v
}
