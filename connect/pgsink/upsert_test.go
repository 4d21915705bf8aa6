package pgsink_test

import (
	"context"
	"fmt"
	"strings"
	"testing"
	"time"

	"github.com/sluicehq/sluice/client"
	"github.com/sluicehq/sluice/client/avro"
	"github.com/sluicehq/sluice/client/primitive"
	"github.com/sluicehq/sluice/connect/pgsink"
	"github.com/sluicehq/sluice/internal/pgtest"
	"github.com/sluicehq/sluice/sluicetest"
)

// TestSinkUpsertNewThenExistingKeys: in upsert mode a batch of new keys is
// COPYed straight into the table (no staging table is made), a batch that
// meets keys already there goes through the staging table's INSERT … ON
// CONFLICT, and new keys after that are written too; every row ends with
// its key's last value.
func TestSinkUpsertNewThenExistingKeys(t *testing.T) {
	ctx := context.Background()
	dbURL := pgtest.DB(t)
	srv := sluicetest.Start(t)
	srv.CreateTopic(t, "rows", 1, nil)
	p, err := client.NewProducer(ctx, srv.Conn, "rows", primitive.String(), avro.Must[benchRow](benchSchema), client.AutoRegister())
	if err != nil {
		t.Fatal(err)
	}
	want := map[string]benchRow{}
	produced := int64(0)
	produce := func(from, to int, version int64) {
		t.Helper()
		for i := from; i < to; i++ {
			r := benchRow{ID: fmt.Sprintf("k%03d", i), Customer: fmt.Sprintf("c%d-v%d", i, version), Total: float64(i), Qty: version, City: "Lyon"}
			if _, err := p.Produce(ctx, r.ID, r); err != nil {
				t.Fatal(err)
			}
			want[r.ID] = r
			produced++
		}
	}
	pg := pgConn(t, dbURL)
	staged := func() bool {
		t.Helper()
		var n int
		if err := pg.QueryRow(ctx, `SELECT count(*) FROM pg_class WHERE relname LIKE 'sluice_stage_%' AND relpersistence = 't'`).Scan(&n); err != nil {
			t.Fatal(err)
		}
		return n > 0
	}

	runSink(t, srv.Conn, pgsink.Config{Name: "rows-sink", Postgres: dbURL, Topic: "rows", Table: "rows", KeyColumn: "id",
		Mode: pgsink.ModeUpsert, BatchInterval: 20 * time.Millisecond})
	produce(0, 30, 1) // new keys
	waitOffsets(t, pg, "rows-sink", produced)
	if staged() {
		t.Fatal("new keys went through a staging table, not a COPY into the table")
	}
	produce(20, 40, 2) // ten keys already there, ten new
	waitOffsets(t, pg, "rows-sink", produced)
	if !staged() {
		t.Fatal("keys already in the table were not upserted through the staging table")
	}
	produce(40, 60, 1) // new keys again
	waitOffsets(t, pg, "rows-sink", produced)
	produce(0, 10, 3) // updates
	waitOffsets(t, pg, "rows-sink", produced)

	rows, err := pg.Query(ctx, `SELECT id, customer, total, qty, city FROM rows`)
	if err != nil {
		t.Fatal(err)
	}
	got := map[string]benchRow{}
	for rows.Next() {
		var r benchRow
		if err := rows.Scan(&r.ID, &r.Customer, &r.Total, &r.Qty, &r.City); err != nil {
			t.Fatal(err)
		}
		got[r.ID] = r
	}
	if err := rows.Err(); err != nil {
		t.Fatal(err)
	}
	if len(got) != len(want) {
		t.Fatalf("%d rows, want %d", len(got), len(want))
	}
	for id, w := range want {
		if got[id] != w {
			t.Fatalf("row %s = %+v, want %+v", id, got[id], w)
		}
	}
}

// TestSinkUpsertTableWithoutUniqueKey: upserting into an existing table
// with no unique index on the key stops the connector (ON CONFLICT names
// no constraint) and writes nothing, rather than COPYing a second row of
// a key.
func TestSinkUpsertTableWithoutUniqueKey(t *testing.T) {
	ctx := context.Background()
	dbURL := pgtest.DB(t)
	srv := sluicetest.Start(t)
	srv.CreateTopic(t, "rows", 1, nil)
	pg := pgConn(t, dbURL)
	if _, err := pg.Exec(ctx, `CREATE TABLE rows (id text, customer text, total double precision, qty bigint, city text)`); err != nil {
		t.Fatal(err)
	}
	p, err := client.NewProducer(ctx, srv.Conn, "rows", primitive.String(), avro.Must[benchRow](benchSchema), client.AutoRegister())
	if err != nil {
		t.Fatal(err)
	}
	for _, id := range []string{"a", "b", "a"} {
		if _, err := p.Produce(ctx, id, benchRow{ID: id, Customer: "c", City: "Lyon"}); err != nil {
			t.Fatal(err)
		}
	}
	s, err := pgsink.New(pgsink.Config{Name: "rows-sink", Postgres: dbURL, Topic: "rows", Table: "rows", KeyColumn: "id",
		Mode: pgsink.ModeUpsert, BatchInterval: 20 * time.Millisecond}, srv.Conn, logger(t))
	if err != nil {
		t.Fatal(err)
	}
	rctx, cancel := context.WithTimeout(ctx, 30*time.Second)
	defer cancel()
	err = s.Run(rctx)
	if err == nil || !strings.Contains(err.Error(), "ON CONFLICT") {
		t.Fatalf("Run = %v, want an error about ON CONFLICT", err)
	}
	var n int
	if err := pg.QueryRow(ctx, `SELECT count(*) FROM rows`).Scan(&n); err != nil || n != 0 {
		t.Fatalf("%d rows (err %v), want none", n, err)
	}
}
