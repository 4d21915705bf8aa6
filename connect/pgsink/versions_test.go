package pgsink_test

import (
	"bytes"
	"context"
	"fmt"
	"log/slog"
	"strings"
	"sync"
	"testing"
	"time"

	"connectrpc.com/connect"

	"github.com/sluicehq/sluice/client"
	"github.com/sluicehq/sluice/client/avro"
	"github.com/sluicehq/sluice/client/jsonschema"
	"github.com/sluicehq/sluice/client/primitive"
	"github.com/sluicehq/sluice/connect/pgsink"
	"github.com/sluicehq/sluice/internal/pgtest"
	registryv1 "github.com/sluicehq/sluice/proto/gen/sluice/registry/v1"
	"github.com/sluicehq/sluice/sluicetest"
)

type Account struct {
	Name    string `avro:"name"`
	Balance int64  `avro:"balance"`
}

const accountV1 = `{"type":"record","name":"Account","fields":[{"name":"name","type":"string"},{"name":"balance","type":"long"}]}`

type AccountV2 struct {
	Account
	Note *string `avro:"note"`
}

const accountV2 = `{"type":"record","name":"Account","fields":[{"name":"name","type":"string"},{"name":"balance","type":"long"},
 {"name":"note","type":["null","string"],"default":null}]}`

// logTap is a logger that also keeps what it logged, for a test to read.
type logTap struct {
	mu  sync.Mutex
	buf bytes.Buffer
}

func (l *logTap) logger(t *testing.T) *slog.Logger {
	return slog.New(slog.NewTextHandler(tapWriter{l, t}, &slog.HandlerOptions{Level: slog.LevelDebug}))
}

func (l *logTap) String() string {
	l.mu.Lock()
	defer l.mu.Unlock()
	return l.buf.String()
}

type tapWriter struct {
	l *logTap
	t *testing.T
}

func (w tapWriter) Write(b []byte) (int, error) {
	w.l.mu.Lock()
	w.l.buf.Write(b)
	w.l.mu.Unlock()
	w.t.Log(strings.TrimRight(string(b), "\n"))
	return len(b), nil
}

// TestSinkUpsertKeyInTwoForms: a topic whose key was written under an
// Avro key schema ("int": the sink transcodes it to binary COPY fields)
// and a JSON Schema one (an integer: the sink decodes it to a Go value).
// In upsert mode the same key value in one batch, in both forms, is one
// row and the last record wins, with the batch written whole:
//   - "versions": the key's last record is in the batch's first statement
//     (value schema v1), an earlier one in its second (v2): the earlier
//     one must not be written after it;
//   - "one statement": both records in one statement, which PostgreSQL
//     refuses ("ON CONFLICT DO UPDATE command cannot affect row a second
//     time"): the batch must not fail (and be written again record by
//     record).
func TestSinkUpsertKeyInTwoForms(t *testing.T) {
	type produced struct {
		jsonKey bool // else the Avro key
		v2      bool // value schema version 2
		id      int32
		name    string
	}
	for _, tc := range []struct {
		name    string
		records []produced
		want    []string // id|name|balance, by id
	}{
		{"versions", []produced{
			{id: 2, name: "two"},
			{id: 1, v2: true, name: "one, first"},
			{id: 1, jsonKey: true, name: "one, last"},
		}, []string{"1|one, last", "2|two"}},
		{"one statement", []produced{
			{id: 2, name: "two"},
			{id: 3, jsonKey: true, name: "three, first"},
			{id: 3, name: "three, last"},
		}, []string{"2|two", "3|three, last"}},
	} {
		t.Run(tc.name, func(t *testing.T) {
			ctx := context.Background()
			dbURL := pgtest.DB(t)
			srv := sluicetest.Start(t)
			srv.CreateTopic(t, "accounts", 1, nil)
			// The key subject changes format: no compatibility between versions.
			if _, err := srv.Conn.Registry().SetConfig(ctx, connect.NewRequest(&registryv1.SetConfigRequest{
				Subject: "accounts-key", Compatibility: registryv1.Compatibility_COMPATIBILITY_NONE})); err != nil {
				t.Fatal(err)
			}
			avroKeyV1, err := client.NewProducer(ctx, srv.Conn, "accounts", primitive.Int32(), avro.Must[Account](accountV1), client.AutoRegister())
			if err != nil {
				t.Fatal(err)
			}
			avroKeyV2, err := client.NewProducer(ctx, srv.Conn, "accounts", primitive.Int32(), avro.Must[AccountV2](accountV2), client.AutoRegister())
			if err != nil {
				t.Fatal(err)
			}
			jsonKeyV1, err := client.NewProducer(ctx, srv.Conn, "accounts", jsonschema.Must[int64](`{"type":"integer"}`), avro.Must[Account](accountV1), client.AutoRegister())
			if err != nil {
				t.Fatal(err)
			}
			for _, r := range tc.records {
				a := Account{Name: r.name, Balance: int64(r.id)}
				switch {
				case r.jsonKey:
					_, err = jsonKeyV1.Produce(ctx, int64(r.id), a)
				case r.v2:
					_, err = avroKeyV2.Produce(ctx, r.id, AccountV2{Account: a, Note: ptr("v2")})
				default:
					_, err = avroKeyV1.Produce(ctx, r.id, a)
				}
				if err != nil {
					t.Fatal(err)
				}
			}

			var logs logTap
			n := len(tc.records)
			s, err := pgsink.New(pgsink.Config{Name: "accounts-sink", Postgres: dbURL, Topic: "accounts", KeyColumn: "id",
				Mode: pgsink.ModeUpsert, BatchRecords: n, BatchInterval: 10 * time.Second}, srv.Conn, logs.logger(t))
			if err != nil {
				t.Fatal(err)
			}
			rctx, cancel := context.WithCancel(ctx)
			done := make(chan error, 1)
			go func() { done <- s.Run(rctx) }()
			pg := pgConn(t, dbURL)
			waitOffsets(t, pg, "accounts-sink", int64(n))
			cancel()
			if err := <-done; err != nil {
				t.Fatal(err)
			}
			log := logs.String()
			if c := strings.Count(log, `msg="batch written"`); c != 1 || !strings.Contains(log, fmt.Sprintf("records=%d ", n)) {
				t.Fatalf("the records were written in %d batches, want one of %d (the test needs them together)", c, n)
			}
			if strings.Contains(log, "batch failed") {
				t.Errorf("the batch failed and was written again record by record")
			}
			rows, err := pg.Query(ctx, `SELECT id, name, balance FROM accounts ORDER BY id`)
			if err != nil {
				t.Fatal(err)
			}
			var got []string
			for rows.Next() {
				var id int32
				var name string
				var balance int64
				if err := rows.Scan(&id, &name, &balance); err != nil {
					t.Fatal(err)
				}
				if balance != int64(id) {
					t.Errorf("row %d: balance %d", id, balance)
				}
				got = append(got, fmt.Sprintf("%d|%s", id, name))
			}
			if err := rows.Err(); err != nil {
				t.Fatal(err)
			}
			if strings.Join(got, "\n") != strings.Join(tc.want, "\n") {
				t.Fatalf("rows:\n%s\nwant:\n%s", strings.Join(got, "\n"), strings.Join(tc.want, "\n"))
			}
		})
	}
}

type Reading struct {
	N int32 `avro:"n"`
}

type ReadingV2 struct {
	N float32 `avro:"n"`
}

// TestSinkPromotedColumn: a value schema version that promotes a column
// (Avro int to float: compatible) writes through the table's column type
// (integer, from the first version), in one batch with rows of the first
// version: the promoted rows' binary fields (a float's bits) are not
// COPYed into the integer column as they are.
func TestSinkPromotedColumn(t *testing.T) {
	ctx := context.Background()
	dbURL := pgtest.DB(t)
	srv := sluicetest.Start(t)
	srv.CreateTopic(t, "readings", 1, nil)
	v1, err := client.NewProducer(ctx, srv.Conn, "readings", primitive.String(), avro.Must[Reading](`{"type":"record","name":"Reading","fields":[{"name":"n","type":"int"}]}`), client.AutoRegister())
	if err != nil {
		t.Fatal(err)
	}
	v2, err := client.NewProducer(ctx, srv.Conn, "readings", primitive.String(), avro.Must[ReadingV2](`{"type":"record","name":"Reading","fields":[{"name":"n","type":"float"}]}`), client.AutoRegister())
	if err != nil {
		t.Fatal(err)
	}
	if _, err := v1.Produce(ctx, "a", Reading{N: 1}); err != nil {
		t.Fatal(err)
	}
	if _, err := v2.Produce(ctx, "b", ReadingV2{N: 2}); err != nil {
		t.Fatal(err)
	}
	if _, err := v1.Produce(ctx, "c", Reading{N: 3}); err != nil {
		t.Fatal(err)
	}
	var logs logTap
	for _, mode := range []string{pgsink.ModeInsert, pgsink.ModeUpsert} {
		table := "readings_" + mode
		stop := runSinkWith(t, srv.Conn, pgsink.Config{Name: table, Postgres: dbURL, Topic: "readings", Table: table, KeyColumn: "id",
			Mode: mode, BatchRecords: 3, BatchInterval: 10 * time.Second}, logs.logger(t))
		pg := pgConn(t, dbURL)
		waitOffsets(t, pg, table, 3)
		if err := stop(); err != nil {
			t.Fatal(err)
		}
		var got []string
		rows, err := pg.Query(ctx, `SELECT id || '=' || n FROM `+table+` ORDER BY id`)
		if err != nil {
			t.Fatal(err)
		}
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
		if strings.Join(got, " ") != "a=1 b=2 c=3" {
			t.Errorf("%s: rows %v, want a=1 b=2 c=3", mode, got)
		}
	}
	log := logs.String()
	if c := strings.Count(log, `msg="batch written"`); c != 2 || strings.Count(log, "records=3 ") != 2 {
		t.Fatalf("%d batches written, want one of 3 records per mode (the test needs them together)", c)
	}
	if strings.Contains(log, "batch failed") {
		t.Errorf("a batch failed and was written again record by record")
	}
}

// runSinkWith is runSink with a logger of the test's choosing.
func runSinkWith(t *testing.T, conn *client.Conn, cfg pgsink.Config, logger *slog.Logger) (stop func() error) {
	t.Helper()
	s, err := pgsink.New(cfg, conn, logger)
	if err != nil {
		t.Fatal(err)
	}
	ctx, cancel := context.WithCancel(context.Background())
	done := make(chan error, 1)
	go func() { done <- s.Run(ctx) }()
	var once sync.Once
	var result error
	stop = func() error {
		once.Do(func() {
			cancel()
			result = <-done
		})
		return result
	}
	t.Cleanup(func() { stop() })
	return stop
}
