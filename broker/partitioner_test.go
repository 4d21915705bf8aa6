package broker

import "testing"

// Vectors from Kafka's UtilsTest.testMurmur2 (org.apache.kafka.common.utils),
// the Java client's own reference values, signed as Java returns them.
var murmur2Vectors = []struct {
	key  string
	want int32
}{
	{"21", -973932308},
	{"foobar", -790332482},
	{"a-little-bit-long-string", -985981536},
	{"a-little-bit-longer-string", -1486304829},
	{"lkjh234lh9fiuh90y23oiuhsafujhadof229phr9h19h89h8", -58897971},
	{"abc", 479470107},
}

func TestMurmur2KafkaVectors(t *testing.T) {
	for _, v := range murmur2Vectors {
		if got := murmur2([]byte(v.key)); got != v.want {
			t.Errorf("murmur2(%q) = %d, want %d", v.key, got, v.want)
		}
	}
}

func TestKeyPartition(t *testing.T) {
	tests := []struct {
		key  string
		n    int
		want int32
	}{
		// toPositive(-790332482) = 1357151166; 1357151166 % 50 = 16.
		{"foobar", 50, 16},
		{"foobar", 1, 0},
		// toPositive(-973932308) = 1173551340.
		{"21", 7, 1173551340 % 7},
		{"abc", 1024, 479470107 % 1024},
	}
	for _, tt := range tests {
		if got := keyPartition([]byte(tt.key), tt.n); got != tt.want {
			t.Errorf("keyPartition(%q, %d) = %d, want %d", tt.key, tt.n, got, tt.want)
		}
	}
}

// FuzzKeyPartition checks that any key lands on a valid partition and that
// the mapping is deterministic.
func FuzzKeyPartition(f *testing.F) {
	for _, v := range murmur2Vectors {
		f.Add([]byte(v.key), uint16(8))
	}
	f.Add([]byte{}, uint16(1))
	f.Fuzz(func(t *testing.T, key []byte, n uint16) {
		parts := int(n%MaxPartitions) + 1
		p := keyPartition(key, parts)
		if p < 0 || int(p) >= parts {
			t.Fatalf("keyPartition(%x, %d) = %d: out of range", key, parts, p)
		}
		if q := keyPartition(key, parts); q != p {
			t.Fatalf("keyPartition not deterministic: %d then %d", p, q)
		}
	})
}
