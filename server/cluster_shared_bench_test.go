package server

import (
	"context"
	"fmt"
	"net/http"
	"slices"
	"sync"
	"testing"
	"time"

	"connectrpc.com/connect"

	"github.com/sluicehq/sluice/internal/pgtest"
	brokerv1 "github.com/sluicehq/sluice/proto/gen/sluice/broker/v1"
	"github.com/sluicehq/sluice/proto/gen/sluice/broker/v1/brokerv1connect"
)

// BenchmarkClusterProduce produces over Connect (16 concurrent producers,
// 100 records of 100 bytes per request, one 6-partition topic) to an
// embedded node (fsync never) and to each node of a three-node shared-log
// cluster in turn (file object store on local disk), reporting records/s
// and the ack latency p50/p99.
//
//	go test ./server -run '^$' -bench ClusterProduce -benchtime 2000x
func BenchmarkClusterProduce(b *testing.B) {
	b.Run("embedded", func(b *testing.B) {
		_, url, stop, err := Start(context.Background(), Config{DataDir: b.TempDir(), Fsync: neverFsync(nil)}, "127.0.0.1:0")
		if err != nil {
			b.Fatal(err)
		}
		defer stop()
		benchProduce(b, []string{url})
	})
	b.Run("cluster3", func(b *testing.B) {
		meta := pgtest.DB(b)
		objects := "file://" + b.TempDir()
		var urls []string
		for _, id := range []string{"a", "b", "c"} {
			_, url, stop, err := Start(context.Background(), Config{DataDir: b.TempDir(), Meta: meta, NodeID: id, Objects: objects, Fsync: neverFsync(nil)}, "127.0.0.1:0")
			if err != nil {
				b.Fatal(err)
			}
			defer stop()
			urls = append(urls, url)
		}
		benchProduce(b, urls)
	})
}

func benchProduce(b *testing.B, urls []string) {
	ctx := context.Background()
	hc := &http.Client{Transport: &http.Transport{MaxIdleConnsPerHost: 64}}
	if _, err := brokerv1connect.NewTopicServiceClient(hc, urls[0]).CreateTopic(ctx,
		connect.NewRequest(&brokerv1.CreateTopicRequest{Name: "bench", Partitions: 6})); err != nil {
		b.Fatal(err)
	}
	const producers, per = 16, 100
	value := make([]byte, 100)
	req := &brokerv1.ProduceRequest{Topic: "bench"}
	for i := range per {
		req.Records = append(req.Records, &brokerv1.ProduceRecord{Key: []byte(fmt.Sprint(i)), Value: value})
	}
	var mu sync.Mutex
	var lat []time.Duration
	next := make(chan struct{}, b.N)
	for range b.N {
		next <- struct{}{}
	}
	close(next)
	b.ResetTimer()
	start := time.Now()
	var wg sync.WaitGroup
	for g := range producers {
		cl := brokerv1connect.NewBrokerServiceClient(hc, urls[g%len(urls)])
		wg.Add(1)
		go func() {
			defer wg.Done()
			var mine []time.Duration
			for range next {
				t0 := time.Now()
				if _, err := cl.Produce(ctx, connect.NewRequest(req)); err != nil {
					b.Error(err)
					return
				}
				mine = append(mine, time.Since(t0))
			}
			mu.Lock()
			lat = append(lat, mine...)
			mu.Unlock()
		}()
	}
	wg.Wait()
	took := time.Since(start)
	b.StopTimer()
	if len(lat) == 0 {
		return
	}
	slices.Sort(lat)
	b.ReportMetric(float64(b.N*per)/took.Seconds(), "records/s")
	b.ReportMetric(float64(lat[len(lat)/2].Microseconds())/1000, "p50-ms")
	b.ReportMetric(float64(lat[len(lat)*99/100].Microseconds())/1000, "p99-ms")
}
