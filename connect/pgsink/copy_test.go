package pgsink_test

import (
	"context"
	"fmt"
	"math/big"
	"testing"
	"time"

	"github.com/sluicehq/sluice/client"
	"github.com/sluicehq/sluice/client/avro"
	"github.com/sluicehq/sluice/client/primitive"
	"github.com/sluicehq/sluice/connect/pgsink"
	"github.com/sluicehq/sluice/internal/pgtest"
	"github.com/sluicehq/sluice/sluicetest"
)

type Scalars struct {
	ID     string    `avro:"id"`
	B      bool      `avro:"b"`
	I      *int32    `avro:"i"`
	L      int64     `avro:"l"`
	F      float32   `avro:"f"`
	D      *float64  `avro:"d"`
	S      string    `avro:"s"`
	By     []byte    `avro:"by"`
	Day    time.Time `avro:"day"`
	Ms     time.Time `avro:"ms"`
	Us     time.Time `avro:"us"`
	Amount *big.Rat  `avro:"amount"`
	Color  string    `avro:"color"`
	Where  *Address  `avro:"where"`
}

const scalarsSchema = `{"type":"record","name":"Scalars","namespace":"t","fields":[
 {"name":"id","type":"string"},
 {"name":"b","type":"boolean"},
 {"name":"i","type":["null","int"]},
 {"name":"l","type":"long"},
 {"name":"f","type":"float"},
 {"name":"d","type":["double","null"]},
 {"name":"s","type":"string"},
 {"name":"by","type":"bytes"},
 {"name":"day","type":{"type":"int","logicalType":"date"}},
 {"name":"ms","type":{"type":"long","logicalType":"timestamp-millis"}},
 {"name":"us","type":{"type":"long","logicalType":"timestamp-micros"}},
 {"name":"amount","type":{"type":"bytes","logicalType":"decimal","precision":9,"scale":2}},
 {"name":"color","type":{"type":"enum","name":"Color","symbols":["RED","BLUE"]}},
 {"name":"where","type":["null",{"type":"record","name":"Address","fields":[
   {"name":"city","type":"string"},{"name":"zip","type":["null","int"],"default":null}]}]}]}`

// TestSinkBinaryCopy: records of every scalar column type (nulls
// included) written by the binary COPY of Avro transcoded directly (insert
// mode into the table, upsert mode into the staging table) give the rows
// that pgx's encoding of the decoded values gives (upsert mode with
// write: values), and the values of the records.
func TestSinkBinaryCopy(t *testing.T) {
	ctx := context.Background()
	dbURL := pgtest.DB(t)
	srv := sluicetest.Start(t)
	srv.CreateTopic(t, "scalars", 2, nil)
	p, err := client.NewProducer(ctx, srv.Conn, "scalars", primitive.String(), avro.Must[Scalars](scalarsSchema), client.AutoRegister())
	if err != nil {
		t.Fatal(err)
	}
	const n = 300
	for i := range n {
		r := Scalars{ID: fmt.Sprintf("r%03d", i), B: i%2 == 0, L: int64(i) << 33, F: float32(i) / 4, S: fmt.Sprintf("s-%d-é", i),
			By: []byte{byte(i), 0, 255}, Day: time.Date(1969+i%60, 12, 31, 0, 0, 0, 0, time.UTC),
			Ms: time.UnixMilli(int64(i)*1_000_003 - 5_000_000_000).UTC(), Us: time.UnixMicro(int64(i)*1_000_000_007 + 123).UTC(),
			Amount: big.NewRat(int64(i)*100+7-15000, 100), Color: []string{"RED", "BLUE"}[i%2]}
		if i%3 != 0 {
			r.I, r.D = ptr(int32(-i)), ptr(float64(i)*1.5)
			r.Where = &Address{City: "Lyon", Zip: ptr(int32(69000 + i))}
		}
		if _, err := p.Produce(ctx, r.ID, r); err != nil {
			t.Fatal(err)
		}
	}
	pg := pgConn(t, dbURL)
	for _, c := range []struct{ name, mode, write string }{
		{"via_insert_copy", pgsink.ModeInsert, pgsink.WriteCopy},
		{"via_upsert_copy", pgsink.ModeUpsert, pgsink.WriteCopy},
		{"via_values", pgsink.ModeUpsert, pgsink.WriteValues},
	} {
		stop := runSink(t, srv.Conn, pgsink.Config{Name: c.name, Postgres: dbURL, Topic: "scalars", Table: c.name, KeyColumn: "id",
			Mode: c.mode, Write: c.write, BatchInterval: 20 * time.Millisecond})
		waitOffsets(t, pg, c.name, n)
		if err := stop(); err != nil {
			t.Fatalf("%s: %v", c.name, err)
		}
	}
	for _, pair := range [][2]string{{"via_insert_copy", "via_values"}, {"via_values", "via_insert_copy"}, {"via_upsert_copy", "via_values"}, {"via_values", "via_upsert_copy"}} {
		var diff int
		if err := pg.QueryRow(ctx, `SELECT count(*) FROM (SELECT * FROM `+pair[0]+` EXCEPT SELECT * FROM `+pair[1]+`) d`).Scan(&diff); err != nil {
			t.Fatal(err)
		}
		if diff != 0 {
			t.Errorf("%d rows of %s are not in %s", diff, pair[0], pair[1])
		}
	}
	if _, err := pg.Exec(ctx, `SET TimeZone = 'UTC'`); err != nil {
		t.Fatal(err)
	}
	ts := func(tm time.Time) string { return tm.UTC().Format("2006-01-02 15:04:05.999999") + "+00" }
	for _, i := range []int{7, 8, 9} {
		var got string
		if err := pg.QueryRow(ctx, `SELECT concat_ws('|', id, b::text, coalesce(i::text, '-'), l, f, coalesce(d::text, '-'), s, encode(by, 'hex'),
			day, ms, us, amount, color, coalesce(where_city, '-'), coalesce(where_zip::text, '-')) FROM via_insert_copy WHERE id = $1`,
			fmt.Sprintf("r%03d", i)).Scan(&got); err != nil {
			t.Fatal(err)
		}
		want := fmt.Sprintf("r%03d|%v|%d|%d|%v|%v|s-%d-é|%02x00ff|%s|%s|%s|%s|%s|Lyon|%d", i, i%2 == 0, -i, int64(i)<<33, float32(i)/4, float64(i)*1.5, i, i,
			time.Date(1969+i%60, 12, 31, 0, 0, 0, 0, time.UTC).Format("2006-01-02"), ts(time.UnixMilli(int64(i)*1_000_003-5_000_000_000)),
			ts(time.UnixMicro(int64(i)*1_000_000_007+123)), big.NewRat(int64(i)*100+7-15000, 100).FloatString(2), []string{"RED", "BLUE"}[i%2], 69000+i)
		if i%3 == 0 {
			want = fmt.Sprintf("r%03d|%v|-|%d|%v|-|s-%d-é|%02x00ff|%s|%s|%s|%s|%s|-|-", i, i%2 == 0, int64(i)<<33, float32(i)/4, i, i,
				time.Date(1969+i%60, 12, 31, 0, 0, 0, 0, time.UTC).Format("2006-01-02"), ts(time.UnixMilli(int64(i)*1_000_003-5_000_000_000)),
				ts(time.UnixMicro(int64(i)*1_000_000_007+123)), big.NewRat(int64(i)*100+7-15000, 100).FloatString(2), []string{"RED", "BLUE"}[i%2])
		}
		if got != want {
			t.Errorf("row %d\n got %s\nwant %s", i, got, want)
		}
	}
}
