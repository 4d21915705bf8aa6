package log_test

import (
	"context"
	"fmt"
	"os"

	"github.com/sluicehq/sluice/broker/internal/log"
)

func Example() {
	dir, err := os.MkdirTemp("", "partition")
	if err != nil {
		panic(err)
	}
	defer os.RemoveAll(dir)

	p, err := log.Open(dir, log.Config{}) // FsyncAlways, 1 GiB segments
	if err != nil {
		panic(err)
	}
	defer p.Close()

	// One Append is one batch; it returns once the batch is on disk.
	first, err := p.Append(context.Background(), []log.Record{
		{Key: []byte("user-1"), Value: []byte(`{"name":"Ada"}`)},
		{Key: []byte("user-2"), Value: nil}, // a tombstone
	})
	if err != nil {
		panic(err)
	}
	recs, err := p.Read(first, 10, 1<<20)
	if err != nil {
		panic(err)
	}
	for _, r := range recs {
		fmt.Printf("%d %s %q null=%v\n", r.Offset, r.Key, r.Value, r.Value == nil)
	}
	fmt.Println("high watermark:", p.HighWatermark())
	// Output:
	// 0 user-1 "{\"name\":\"Ada\"}" null=false
	// 1 user-2 "" null=true
	// high watermark: 2
}
