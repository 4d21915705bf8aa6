package pgsource_test

import (
	"context"
	"encoding/json"
	"fmt"
	"log/slog"
	"os"
	"os/exec"
	"syscall"
	"testing"
	"time"

	"connectrpc.com/connect"
	"github.com/jackc/pgx/v5"

	"github.com/sluicehq/sluice/client"
	"github.com/sluicehq/sluice/client/avro"
	"github.com/sluicehq/sluice/connect/pgsource"
	brokerv1 "github.com/sluicehq/sluice/proto/gen/sluice/broker/v1"
	"github.com/sluicehq/sluice/sluicetest"
)

// childEnv, when set, makes the test binary run one source (configured by
// the JSON in the variable) instead of the tests.
const childEnv = "SLUICE_PGSOURCE_CHILD"

func init() {
	raw := os.Getenv(childEnv)
	if raw == "" {
		return
	}
	var cc struct {
		URL    string
		Source pgsource.Config
	}
	if err := json.Unmarshal([]byte(raw), &cc); err != nil {
		fmt.Fprintln(os.Stderr, err)
		os.Exit(2)
	}
	s, err := pgsource.New(cc.Source, client.New(sluicetest.HTTPClient(), cc.URL), slog.New(slog.NewTextHandler(os.Stderr, nil)))
	if err == nil {
		err = s.Run(context.Background())
	}
	if err != nil {
		fmt.Fprintln(os.Stderr, err)
		os.Exit(1)
	}
	os.Exit(0)
}

type KV struct {
	ID int64  `avro:"id"`
	V  *int32 `avro:"v"`
}

type KVKey struct {
	ID int64 `avro:"id"`
}

// TestSourceKill9 kills the source process twice while transactions
// commit, restarts it, and checks that every committed change is in the
// topic (at least once) and that each key's last record is its final row.
func TestSourceKill9(t *testing.T) {
	if testing.Short() {
		t.Skip("kill -9 test: slow")
	}
	ctx := context.Background()
	url := logicalServer(t)
	pg, err := pgx.Connect(ctx, url)
	if err != nil {
		t.Fatal(err)
	}
	defer pg.Close(ctx)
	exec1 := func(q string) {
		if _, err := pg.Exec(ctx, q); err != nil {
			t.Fatalf("%s: %v", q, err)
		}
	}
	exec1(`CREATE TABLE kv (id bigint PRIMARY KEY, v integer NOT NULL)`)
	srv := sluicetest.Start(t)
	cfg, _ := json.Marshal(map[string]any{"URL": srv.URL, "Source": pgsource.Config{Name: "kill", Postgres: url, Tables: []string{"kv"}}})
	start := func() *exec.Cmd {
		cmd := exec.Command(os.Args[0], "-test.run=^$")
		cmd.Env = append(os.Environ(), childEnv+"="+string(cfg))
		cmd.Stderr = testWriter{t}
		if err := cmd.Start(); err != nil {
			t.Fatal(err)
		}
		return cmd
	}
	hw := func() int64 {
		r, err := srv.Conn.Topics().DescribeTopic(ctx, connect.NewRequest(&brokerv1.DescribeTopicRequest{Name: "public.kv"}))
		if err != nil {
			return 0
		}
		return r.Msg.GetTopic().GetPartitions()[0].GetHighWatermark()
	}

	const txns = 300 // each inserts 10 rows, then another updates them
	// The first source takes its (empty) snapshot before the changes
	// start: changes made before it would be snapshot rows, not changes.
	cmd := start()
	for deadline := time.Now().Add(60 * time.Second); ; {
		var done bool
		pg.QueryRow(ctx, `SELECT snapshot_done FROM sluice_connect_source WHERE connector = 'kill'`).Scan(&done)
		if done {
			break
		}
		if time.Now().After(deadline) {
			t.Fatal("the source did not finish its snapshot")
		}
		time.Sleep(10 * time.Millisecond)
	}
	wrote := make(chan error, 1)
	writer, err := pgx.Connect(ctx, url)
	if err != nil {
		t.Fatal(err)
	}
	defer writer.Close(ctx)
	go func() {
		for i := range txns {
			lo, hi := i*10, i*10+9
			if _, err := writer.Exec(ctx, fmt.Sprintf(`INSERT INTO kv SELECT g, 0 FROM generate_series(%d, %d) g`, lo, hi)); err != nil {
				wrote <- err
				return
			}
			if _, err := writer.Exec(ctx, fmt.Sprintf(`UPDATE kv SET v = 1 WHERE id BETWEEN %d AND %d`, lo, hi)); err != nil {
				wrote <- err
				return
			}
			time.Sleep(time.Millisecond)
		}
		wrote <- nil
	}()
	for kill := 1; kill <= 2; kill++ {
		if kill > 1 {
			cmd = start()
		}
		deadline := time.Now().Add(60 * time.Second)
		for hw() < int64(kill)*1500 && time.Now().Before(deadline) {
			time.Sleep(2 * time.Millisecond)
		}
		cmd.Process.Signal(syscall.SIGKILL)
		cmd.Wait()
		t.Logf("killed the source at %d records", hw())
	}
	if err := <-wrote; err != nil {
		t.Fatal(err)
	}
	cmd = start()
	defer func() { cmd.Process.Signal(syscall.SIGKILL); cmd.Wait() }()

	// Every change: (id, 0) inserted and (id, 1) updated, for 3000 ids.
	missing := map[[2]int64]bool{}
	for id := range int64(txns * 10) {
		missing[[2]int64{id, 0}] = true
		missing[[2]int64{id, 1}] = true
	}
	last := map[int64]int32{}
	c, err := client.NewConsumer(srv.Conn, "public.kv",
		avro.Must[KVKey](`{"type":"record","name":"kvKey","namespace":"sluice.cdc.public","fields":[{"name":"id","type":"long"}]}`),
		avro.Must[KV](`{"type":"record","name":"kv","namespace":"sluice.cdc.public","fields":[{"name":"id","type":"long"},{"name":"v","type":["null","int"],"default":null}]}`),
		client.FromEarliest())
	if err != nil {
		t.Fatal(err)
	}
	cctx, cancel := context.WithTimeout(ctx, 90*time.Second)
	defer cancel()
	var end int64
	for m, err := range c.All(cctx) {
		if err != nil {
			t.Fatalf("consume: %v (%d changes still missing)", err, len(missing))
		}
		delete(missing, [2]int64{m.Key.ID, int64(*m.Value.V)})
		last[m.Key.ID] = *m.Value.V
		// Done when every change is in, and the rest of the topic read.
		if len(missing) == 0 {
			if end = hw(); m.Offset+1 >= end {
				break
			}
		}
	}
	if len(missing) > 0 {
		t.Fatalf("%d changes never reached the topic", len(missing))
	}
	for id, v := range last {
		if v != 1 {
			t.Fatalf("key %d: last record has v=%d, the row has 1", id, v)
		}
	}
	t.Logf("%d records for %d changes (redelivered after the kills: %d)", end, 2*txns*10, end-2*txns*10)
}
