package main

import (
	"bytes"
	"context"
	"encoding/json"
	"fmt"
	"io"
	"net/http"
	"strings"
	"testing"
	"time"

	"github.com/sluicehq/sluice/internal/pgtest"
)

func TestMain(m *testing.M) { pgtest.Main(m) }

// TestServeCluster runs two `sluice serve --meta ... --node-id ...` on one
// PostgreSQL: a schema registered on one is served by the other at once,
// and the node that keeps no topic data says which node does.
func TestServeCluster(t *testing.T) {
	meta := pgtest.DB(t)
	ctx, cancel := context.WithCancel(context.Background())
	defer cancel()
	addrA, doneA, errA := startServe(t, ctx, "--addr", "127.0.0.1:0", "--data-dir", t.TempDir(), "--fsync", "never", "--meta", meta, "--node-id", "a")
	addrB, doneB, errB := startServe(t, ctx, "--addr", "127.0.0.1:0", "--data-dir", t.TempDir(), "--fsync", "never", "--meta", meta, "--node-id", "b")

	body, _ := json.Marshal(map[string]string{"schema": `{"type":"record","name":"Order","fields":[{"name":"id","type":"long"}]}`})
	resp, err := http.Post("http://"+addrA+"/subjects/orders-value/versions", "application/json", bytes.NewReader(body))
	if err != nil {
		t.Fatal(err)
	}
	var reg struct{ ID int }
	json.NewDecoder(resp.Body).Decode(&reg)
	resp.Body.Close()
	if resp.StatusCode != 200 || reg.ID == 0 {
		t.Fatalf("register on node a: HTTP %d, id %d", resp.StatusCode, reg.ID)
	}
	resp, err = http.Get(fmt.Sprintf("http://%s/schemas/ids/%d", addrB, reg.ID))
	if err != nil {
		t.Fatal(err)
	}
	got, _ := io.ReadAll(resp.Body)
	resp.Body.Close()
	if resp.StatusCode != 200 || !strings.Contains(string(got), "Order") {
		t.Fatalf("schema id %d on node b: HTTP %d %s", reg.ID, resp.StatusCode, got)
	}

	// The CLI against node b: topic creation is refused, naming node a.
	var out, stderr bytes.Buffer
	e := &env{stdin: strings.NewReader(""), stdout: &out, stderr: &stderr, getenv: func(string) string { return "" }}
	if code := run(ctx, []string{"topic", "create", "events", "--addr", "http://" + addrB}, e.stdin, e.stdout, e.stderr); code == 0 {
		t.Fatalf("topic create on node b succeeded:\n%s", out.String())
	}
	if !strings.Contains(stderr.String(), `"a"`) {
		t.Errorf("topic create on node b: the refusal does not name node a:\n%s", stderr.String())
	}
	if code := run(ctx, []string{"topic", "create", "events", "--addr", "http://" + addrA}, e.stdin, e.stdout, e.stderr); code != 0 {
		t.Fatalf("topic create on node a: exit %d:\n%s", code, stderr.String())
	}

	cancel()
	for _, d := range []struct {
		done <-chan int
		log  *syncBuffer
	}{{doneA, errA}, {doneB, errB}} {
		select {
		case code := <-d.done:
			if code != 0 {
				t.Errorf("serve exited with %d:\n%s", code, d.log.String())
			}
		case <-time.After(30 * time.Second):
			t.Fatal("serve did not stop within 30s")
		}
	}
}

// --meta and --node-id go together; a bad URL is refused naming it.
func TestServeClusterFlags(t *testing.T) {
	for _, tc := range []struct {
		args []string
		want string
		code int
	}{
		{[]string{"--meta", "postgres://u@127.0.0.1:1/db"}, "--meta and --node-id go together", 2},
		{[]string{"--node-id", "a"}, "--meta and --node-id go together", 2},
		{[]string{"--meta", "mysql://u@h/db", "--node-id", "a"}, `scheme "mysql"`, 2},
		{[]string{"--meta", "postgres://u@127.0.0.1/", "--node-id", "a"}, `no database name`, 2},
		{[]string{"--meta", "postgres://u@127.0.0.1:1/db", "--node-id", "a b"}, `node id "a b"`, 2},
	} {
		var stderr bytes.Buffer
		e := &env{stdin: strings.NewReader(""), stdout: &bytes.Buffer{}, stderr: &stderr, getenv: func(string) string { return "" }}
		args := append([]string{"--addr", "127.0.0.1:0", "--kafka-addr", "", "--data-dir", t.TempDir()}, tc.args...)
		code := runServe(context.Background(), e, args)
		if code != tc.code || !strings.Contains(stderr.String(), tc.want) {
			t.Errorf("serve %v: exit %d, stderr:\n%s\nwant exit %d and %q", tc.args, code, stderr.String(), tc.code, tc.want)
		}
	}
}
