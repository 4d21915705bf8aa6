package pgsink_test

import (
	"context"
	"fmt"
	"strings"
	"testing"

	"github.com/sluicehq/sluice/client"
	"github.com/sluicehq/sluice/client/avro"
	"github.com/sluicehq/sluice/client/jsonschema"
	"github.com/sluicehq/sluice/client/primitive"
	"github.com/sluicehq/sluice/connect/pgsink"
	"github.com/sluicehq/sluice/internal/pgtest"
	"github.com/sluicehq/sluice/sluicetest"
)

// TestSinkSchemalessKeys: keys without a schema envelope (key_format
// string, as Kafka clients write them), short and longer than the ones a
// datum holds inline, upserted and deleted, with Avro values (written by
// binary COPY from the keys' encoded fields) and JSON Schema values
// (written through pgx from the keys' text).
func TestSinkSchemalessKeys(t *testing.T) {
	ctx := context.Background()
	dbURL := pgtest.DB(t)
	srv := sluicetest.Start(t)
	long := strings.Repeat("k", 100)
	keys := []string{"a", "b", long, "a", long + "2", "b"}
	for _, format := range []string{"avro", "json"} {
		topic := "ev_" + format
		srv.CreateTopic(t, topic, 1, map[string]string{"key.schema.validation": "none", "cleanup.policy": "compact"})
		produce := func(i int, key string) {
			t.Helper()
			var err error
			switch format {
			case "avro":
				var p *client.Producer[string, *Account]
				p, err = client.NewProducer(ctx, srv.Conn, topic, primitive.RawString(), nullable[Account]{avro.Must[*Account](accountV1)}, client.AutoRegister())
				if err == nil {
					_, err = p.Produce(ctx, key, &Account{Name: fmt.Sprint("v", i), Balance: int64(i)})
				}
			case "json":
				var p *client.Producer[string, Event]
				p, err = client.NewProducer(ctx, srv.Conn, topic, primitive.RawString(), jsonschema.Must[Event](eventSchema), client.AutoRegister())
				if err == nil {
					_, err = p.Produce(ctx, key, Event{Seq: int64(i), Body: fmt.Sprint("v", i)})
				}
			}
			if err != nil {
				t.Fatal(err)
			}
		}
		for i, k := range keys {
			produce(i, k)
		}
		// A tombstone deletes b.
		tomb, err := client.NewProducer(ctx, srv.Conn, topic, primitive.RawString(), primitive.RawBytes())
		if err != nil {
			t.Fatal(err)
		}
		if _, err := tomb.Produce(ctx, "b", nil); err != nil {
			t.Fatal(err)
		}
		stop := runSink(t, srv.Conn, pgsink.Config{Name: topic, Postgres: dbURL, Topic: topic, KeyFormat: "string", KeyColumn: "k", Mode: pgsink.ModeUpsert})
		pg := pgConn(t, dbURL)
		waitOffsets(t, pg, topic, int64(len(keys)+1))
		if err := stop(); err != nil {
			t.Fatal(err)
		}
		col := map[string]string{"avro": "name", "json": "body"}[format]
		rows, err := pg.Query(ctx, `SELECT k || '=' || `+col+` FROM `+topic+` ORDER BY k`)
		if err != nil {
			t.Fatal(err)
		}
		var got []string
		for rows.Next() {
			var s string
			if err := rows.Scan(&s); err != nil {
				t.Fatal(err)
			}
			got = append(got, s)
		}
		if err := rows.Err(); err != nil {
			t.Fatal(err)
		}
		want := []string{"a=v3", long + "=v2", long + "2=v4"}
		if strings.Join(got, " ") != strings.Join(want, " ") {
			t.Errorf("%s values: rows %v, want %v", format, got, want)
		}
	}
}
