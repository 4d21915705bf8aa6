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

func TestParseAfter(t *testing.T) {
	for _, c := range []struct {
		in   string
		want map[int32]int64
		ok   bool
	}{
		{"", nil, true},
		{"0:12", map[int32]int64{0: 12}, true},
		{"0:12,3:0", map[int32]int64{0: 12, 3: 0}, true},
		{"0:12,", nil, false},
		{"0", nil, false},
		{"0:-1", nil, false},
		{"-1:2", nil, false},
		{"4294967296:1", nil, false}, // past int32: not wrapped to partition 0
		{"0:x", nil, false},
	} {
		got, err := parseAfter(c.in)
		if (err == nil) != c.ok || len(got) != len(c.want) {
			t.Errorf("parseAfter(%q) = %v, %v; want %v, ok %v", c.in, got, err, c.want, c.ok)
			continue
		}
		for p, off := range c.want {
			if got[p] != off {
				t.Errorf("parseAfter(%q)[%d] = %d, want %d", c.in, p, got[p], off)
			}
		}
	}
}

// FuzzParseAfter: a follow's after parameter (from the browser) never
// panics, and what parses names partitions and offsets of 0 or more.
func FuzzParseAfter(f *testing.F) {
	for _, s := range []string{"", "0:12", "0:12,3:0", "0:", ":", ",", "0:1:2", "2147483647:9223372036854775807"} {
		f.Add(s)
	}
	f.Fuzz(func(t *testing.T, s string) {
		m, err := parseAfter(s)
		if err != nil {
			return
		}
		for p, off := range m {
			if p < 0 || off < 0 {
				t.Fatalf("parseAfter(%q) gave partition %d offset %d", s, p, off)
			}
		}
	})
}
