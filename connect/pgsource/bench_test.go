package pgsource_test

import (
	"context"
	"fmt"
	"testing"
	"time"

	"connectrpc.com/connect"
	"github.com/jackc/pgx/v5"

	"github.com/sluicehq/sluice/connect/pgsource"
	brokerv1 "github.com/sluicehq/sluice/proto/gen/sluice/broker/v1"
	"github.com/sluicehq/sluice/sluicetest"
)

// BenchmarkSource measures change capture: each iteration inserts
// benchChanges rows (in transactions of 1000) and updates them, and waits
// until all 2×benchChanges changes are records in Sluice. The bar
// is keeping up with 10k row changes/s.
//
//	go test ./connect/pgsource -run '^$' -bench Source -benchtime 3x
func BenchmarkSource(b *testing.B) {
	const benchChanges = 20000
	ctx := context.Background()
	url := logicalServer(b)
	pg, err := pgx.Connect(ctx, url)
	if err != nil {
		b.Fatal(err)
	}
	defer pg.Close(ctx)
	if _, err := pg.Exec(ctx, `CREATE TABLE orders (id bigint PRIMARY KEY, customer text, total double precision, qty integer, placed timestamptz)`); err != nil {
		b.Fatal(err)
	}
	srv := sluicetest.Start(b)
	s, err := pgsource.New(pgsource.Config{Name: "bench", Postgres: url, Tables: []string{"orders"}}, srv.Conn, nil)
	if err != nil {
		b.Fatal(err)
	}
	rctx, cancel := context.WithCancel(ctx)
	done := make(chan error, 1)
	go func() { done <- s.Run(rctx) }()
	defer func() {
		cancel()
		if err := <-done; err != nil {
			b.Error(err)
		}
	}()
	hw := func() int64 {
		r, err := srv.Conn.Topics().DescribeTopic(ctx, connect.NewRequest(&brokerv1.DescribeTopicRequest{Name: "public.orders"}))
		if err != nil {
			return -1
		}
		var n int64
		for _, p := range r.Msg.GetTopic().GetPartitions() {
			n += p.GetHighWatermark()
		}
		return n
	}
	for hw() < 0 {
		time.Sleep(10 * time.Millisecond)
	}
	var want int64
	next := 0
	var pgTime time.Duration
	for b.Loop() {
		start := time.Now()
		for i := 0; i < benchChanges; i += 1000 {
			if _, err := pg.Exec(ctx, fmt.Sprintf(`INSERT INTO orders SELECT g, 'customer-' || g, g * 1.5, g %% 7, now() FROM generate_series(%d, %d) g`, next+i, next+i+999)); err != nil {
				b.Fatal(err)
			}
			if _, err := pg.Exec(ctx, fmt.Sprintf(`UPDATE orders SET qty = qty + 1 WHERE id BETWEEN %d AND %d`, next+i, next+i+999)); err != nil {
				b.Fatal(err)
			}
		}
		pgTime += time.Since(start)
		next += benchChanges
		want += 2 * benchChanges
		for hw() < want {
			time.Sleep(5 * time.Millisecond)
		}
	}
	b.ReportMetric(float64(2*benchChanges*b.N)/b.Elapsed().Seconds(), "changes/s")
	b.ReportMetric(float64(2*benchChanges*b.N)/pgTime.Seconds(), "pg-changes/s")
}
