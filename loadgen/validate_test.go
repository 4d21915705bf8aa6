package loadgen

import (
	"math/rand/v2"
	"os"
	"path/filepath"
	"testing"
)

// TestPerfRecordPool: every generated record of every format matches the
// perf schema (newRecordPool checks each with the format's validator).
func TestPerfRecordPool(t *testing.T) {
	for _, format := range []string{"avro", "protobuf", "json"} {
		p, err := newRecordPool(format, 500, rand.New(rand.NewPCG(1, 2)))
		if err != nil {
			t.Fatalf("%s: %v", format, err)
		}
		framed := p.frame(7)
		if len(framed) != 500 || framed[0][0] != 0 || framed[0][4] != 7 {
			t.Fatalf("%s: bad framing: %x", format, framed[0][:6])
		}
	}
}

// TestPerfSchemasMatchTestdata keeps the compiled-in schemas equal to
// testdata/perf at the repository root.
func TestPerfSchemasMatchTestdata(t *testing.T) {
	for name, text := range map[string]string{
		"record.avsc": perfRecordAvsc, "record.proto": perfRecordProto, "record.schema.json": perfRecordJSONSchema,
	} {
		want, err := os.ReadFile(filepath.Join("..", "testdata", "perf", name))
		if err != nil {
			t.Fatal(err)
		}
		if string(want) != text {
			t.Errorf("testdata/perf/%s differs from the schema compiled into validate.go", name)
		}
	}
}
