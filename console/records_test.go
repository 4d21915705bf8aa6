package console

import "testing"

func TestParsePartition(t *testing.T) {
	for _, c := range []struct {
		in   string
		want int32
		ok   bool
	}{
		{"0", 0, true},
		{" 7 ", 7, true},
		{"2147483647", 2147483647, true},
		{"2147483648", 0, false}, // past int32: not wrapped to a negative
		{"4294967296", 0, false}, // past int32: not wrapped to partition 0
		{"-1", 0, false},
		{"x", 0, false},
		{"", 0, false},
	} {
		got, err := parsePartition(c.in)
		if (err == nil) != c.ok || got != c.want {
			t.Errorf("parsePartition(%q) = %d, %v; want %d, ok %v", c.in, got, err, c.want, c.ok)
		}
	}
}
