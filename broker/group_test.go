package broker_test

import (
	"errors"
	"strings"
	"testing"

	"github.com/sluicehq/sluice/broker"
)

func TestValidateGroupID(t *testing.T) {
	for _, tc := range []struct {
		id, err string
	}{
		{"orders-service", ""},
		{"räder.v2/eu", ""},
		{strings.Repeat("g", broker.MaxGroupIDLength), ""},
		{"", "group id is empty"},
		{strings.Repeat("g", broker.MaxGroupIDLength+1), "is 250 bytes; the limit is 249"},
		{"bad\x00id", "control character"},
		{"tab\tid", "control character"},
		{"\xff", "not valid UTF-8"},
	} {
		err := broker.ValidateGroupID(tc.id)
		if tc.err == "" {
			if err != nil {
				t.Errorf("%q: %v", tc.id, err)
			}
			continue
		}
		if err == nil || !strings.Contains(err.Error(), tc.err) || !errors.Is(err, broker.ErrInvalidArgument) {
			t.Errorf("%q: %v, want InvalidArgument %q", tc.id, err, tc.err)
		}
	}
}
