package main

import (
	"bytes"
	"context"
	"encoding/json"
	"fmt"
	"io"
	"net"
	"net/http"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/jackc/pgx/v5"

	"github.com/sluicehq/sluice/client"
	"github.com/sluicehq/sluice/client/jsonschema"
	"github.com/sluicehq/sluice/client/primitive"
	"github.com/sluicehq/sluice/internal/pgtest"
	"github.com/sluicehq/sluice/sluicetest"
)

type connectItem struct {
	SKU   string `json:"sku"`
	Price int64  `json:"price"`
}

// TestConnectRunAndStatus runs a sink from a connectors file with `sluice
// connect run`, interrupts it, and reads its position with `sluice connect
// status`.
func TestConnectRunAndStatus(t *testing.T) {
	ctx := context.Background()
	dbURL := pgtest.DB(t)
	srv := sluicetest.Start(t)
	srv.CreateTopic(t, "items", 2, nil)
	p, err := client.NewProducer(ctx, srv.Conn, "items", primitive.String(), jsonschema.Must[connectItem](
		`{"type":"object","properties":{"sku":{"type":"string"},"price":{"type":"integer"}}}`), client.AutoRegister())
	if err != nil {
		t.Fatal(err)
	}
	for i := range 10 {
		it := connectItem{SKU: fmt.Sprintf("s%d", i), Price: int64(i * 100)}
		if _, err := p.Produce(ctx, it.SKU, it); err != nil {
			t.Fatal(err)
		}
	}
	file := filepath.Join(t.TempDir(), "connectors.yaml")
	yaml := fmt.Sprintf("topics: []\nconnectors:\n  - name: items-pg\n    type: postgres-sink\n    postgres: %s\n    topic: items\n    key_column: sku\n", dbURL)
	if err := os.WriteFile(file, []byte(yaml), 0o644); err != nil {
		t.Fatal(err)
	}

	rctx, cancel := context.WithCancel(ctx)
	defer cancel()
	var out, errb bytes.Buffer
	done := make(chan int, 1)
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	metricsAddr := ln.Addr().String()
	ln.Close()
	go func() {
		done <- run(rctx, []string{"connect", "run", "--addr", srv.URL, "--metrics-addr", metricsAddr, file}, strings.NewReader(""), &out, &errb)
	}()
	pg, err := pgx.Connect(ctx, dbURL)
	if err != nil {
		t.Fatal(err)
	}
	defer pg.Close(ctx)
	deadline := time.Now().Add(60 * time.Second)
	for {
		var n int
		if pg.QueryRow(ctx, `SELECT count(*) FROM items WHERE price = (regexp_replace(sku, '\D', '', 'g')::int * 100)`).Scan(&n); n == 10 {
			break
		}
		if time.Now().After(deadline) {
			t.Fatalf("items has %d matching rows, want 10; stderr:\n%s", n, errb.String())
		}
		time.Sleep(20 * time.Millisecond)
	}
	// The metrics say so too: running, nothing left to write.
	for want := []string{
		`sluice_connector_up{connector="items-pg",state="running",type="postgres-sink"} 1`,
		`sluice_connector_sink_lag_records{connector="items-pg",partition="0",topic="items"} 0`,
		`sluice_connector_sink_lag_records{connector="items-pg",partition="1",topic="items"} 0`,
	}; ; time.Sleep(50 * time.Millisecond) {
		body := ""
		if resp, err := http.Get("http://" + metricsAddr + "/metrics"); err == nil {
			b, _ := io.ReadAll(resp.Body)
			resp.Body.Close()
			body = string(b)
		}
		missing := ""
		for _, w := range want {
			if !strings.Contains(body, w) {
				missing = w
			}
		}
		if missing == "" {
			break
		}
		if time.Now().After(deadline) {
			t.Fatalf("metrics lack %s:\n%s\nstderr:\n%s", missing, body, errb.String())
		}
	}
	// The offsets committed with the rows.
	cancel()
	if code := <-done; code != 0 {
		t.Fatalf("connect run: exit %d; stderr:\n%s", code, errb.String())
	}

	code, stdout, stderr := runCmd(t, "", "connect", "status", "--addr", srv.URL, "--output", "json", file)
	if code != 0 {
		t.Fatalf("connect status: exit %d; stderr:\n%s", code, stderr)
	}
	var sts []struct {
		Name string
		Sink struct {
			State      string
			Lag        int64
			Partitions []struct {
				NextOffset int64 `json:"next_offset"`
			}
		}
	}
	if err := json.Unmarshal([]byte(stdout), &sts); err != nil {
		t.Fatalf("%v:\n%s", err, stdout)
	}
	if len(sts) != 1 || sts[0].Name != "items-pg" || sts[0].Sink.State != "stopped" || sts[0].Sink.Lag != 0 || len(sts[0].Sink.Partitions) != 2 {
		t.Fatalf("status:\n%s", stdout)
	}
	code, stdout, _ = runCmd(t, "", "connect", "status", "--addr", srv.URL, file)
	if code != 0 || !strings.Contains(stdout, "items-pg") || !strings.Contains(stdout, "0 records") {
		t.Fatalf("status text (exit %d):\n%s", code, stdout)
	}
}

func TestConnectBadFile(t *testing.T) {
	file := filepath.Join(t.TempDir(), "c.yaml")
	os.WriteFile(file, []byte("connectors:\n  - name: a\n    type: postgres-sink\n    topic: t\n    tabel: x\n  - name: b\n    type: mysql\n"), 0o644)
	code, _, stderr := runCmd(t, "", "connect", "status", file)
	if code != 2 {
		t.Fatalf("exit %d, want 2; stderr:\n%s", code, stderr)
	}
	for _, want := range []string{`c.yaml:2: connector "a": line 5: unknown key "tabel"`, `c.yaml:6: connector "b": type "mysql"`} {
		if !strings.Contains(stderr, want) {
			t.Errorf("stderr lacks %q:\n%s", want, stderr)
		}
	}
}
