package broker

import (
	"errors"
	"regexp"
	"strconv"
	"strings"
	"testing"
)

var topicNameRule = regexp.MustCompile(`^[a-zA-Z0-9._-]{1,249}$`)

// FuzzValidateTopicName checks ValidateTopicName against Kafka's rule
// written as a regular expression, and that refusals are InvalidArgument.
func FuzzValidateTopicName(f *testing.F) {
	for _, s := range []string{"orders", "", ".", "..", "...", "a/b", "x\x00", "ünïcode", "a-b_c.d"} {
		f.Add(s)
	}
	f.Fuzz(func(t *testing.T, name string) {
		want := topicNameRule.MatchString(name) && name != "." && name != ".."
		err := ValidateTopicName(name)
		if (err == nil) != want {
			t.Fatalf("ValidateTopicName(%q) = %v, want ok=%v", name, err, want)
		}
		if err != nil && !errors.Is(err, ErrInvalidArgument) {
			t.Fatalf("ValidateTopicName(%q): %v is not ErrInvalidArgument", name, err)
		}
	})
}

// FuzzCanonConfigs checks that every accepted value is canonical after one
// pass (canonicalising again changes nothing) and that refusals name the
// key.
func FuzzCanonConfigs(f *testing.F) {
	for _, s := range configSpecs {
		f.Add(s.key, s.def)
		f.Add(s.key, "-1")
		f.Add(s.key, " 0012 ")
	}
	f.Add("colour", "blue")
	f.Fuzz(func(t *testing.T, key, value string) {
		out, err := canonConfigs(map[string]string{key: value})
		if err != nil {
			if !errors.Is(err, ErrInvalidArgument) {
				t.Fatalf("%s=%q: %v is not ErrInvalidArgument", key, value, err)
			}
			if msg := err.Error(); !strings.Contains(msg, key) && !strings.Contains(msg, strconv.Quote(key)) {
				t.Fatalf("%s=%q: error %q does not name the key", key, value, err)
			}
			return
		}
		again, err := canonConfigs(out)
		if err != nil || again[key] != out[key] {
			t.Fatalf("%s=%q: canonical %q is not stable: %q, %v", key, value, out[key], again[key], err)
		}
		// The effective config parses the canonical value without loss.
		newTopicConfig(out)
	})
}
