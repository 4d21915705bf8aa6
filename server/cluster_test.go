package server

import (
	"context"
	"encoding/json"
	"fmt"
	"io"
	"net/http"
	"slices"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/sluicehq/sluice/internal/pgtest"
)

// startClusterNode starts a cluster node on meta and returns its base URL.
func startClusterNode(t *testing.T, meta, id string) (*Server, string) {
	t.Helper()
	s, url, stop, err := Start(context.Background(), Config{DataDir: t.TempDir(), Meta: meta, NodeID: id}, "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() {
		if err := stop(); err != nil {
			t.Errorf("stop node %s: %v", id, err)
		}
	})
	return s, url
}

// restCall sends a REST request and decodes a JSON answer into out.
func restCall(t *testing.T, method, url, body string, out any) int {
	t.Helper()
	req, err := http.NewRequest(method, url, strings.NewReader(body))
	if err != nil {
		t.Fatal(err)
	}
	req.Header.Set("Content-Type", "application/vnd.schemaregistry.v1+json")
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		t.Fatal(err)
	}
	defer resp.Body.Close()
	b, _ := io.ReadAll(resp.Body)
	if out != nil && resp.StatusCode == http.StatusOK {
		if err := json.Unmarshal(b, out); err != nil {
			t.Fatalf("%s %s: %v: %s", method, url, err, b)
		}
	}
	return resp.StatusCode
}

func avroBody(name string) string {
	s := fmt.Sprintf(`{"type":"record","name":%q,"fields":[{"name":"f","type":"long"}]}`, name)
	b, _ := json.Marshal(map[string]string{"schema": s})
	return string(b)
}

// Two nodes on one PostgreSQL: a schema registered on A is served by B at
// once; registrations on A and B at the same time never share an id and
// keep versions dense; only the data node keeps topics.
func TestClusterTwoNodes(t *testing.T) {
	meta := pgtest.DB(t)
	a, urlA := startClusterNode(t, meta, "a")
	b, urlB := startClusterNode(t, meta, "b")
	if a.ClusterDataNode() != "a" || b.ClusterDataNode() != "a" {
		t.Fatalf("data node: %q on a, %q on b; want a on both", a.ClusterDataNode(), b.ClusterDataNode())
	}
	if a.Broker.ClusterID() != b.Broker.ClusterID() {
		t.Errorf("cluster ids differ: %s and %s", a.Broker.ClusterID(), b.Broker.ClusterID())
	}

	var reg struct{ ID int }
	if code := restCall(t, "POST", urlA+"/subjects/orders-value/versions", avroBody("Order"), &reg); code != 200 {
		t.Fatalf("register on A: HTTP %d", code)
	}
	var byID struct{ Schema string }
	if code := restCall(t, "GET", fmt.Sprintf("%s/schemas/ids/%d", urlB, reg.ID), "", &byID); code != 200 || !strings.Contains(byID.Schema, "Order") {
		t.Fatalf("GET schema id %d on B right after registering on A: HTTP %d %q", reg.ID, code, byID.Schema)
	}

	// Concurrent registrations on one NONE subject through both nodes.
	if code := restCall(t, "PUT", urlA+"/config/shared", `{"compatibility":"NONE"}`, nil); code != 200 {
		t.Fatalf("PUT config: HTTP %d", code)
	}
	const per = 15
	var mu sync.Mutex
	ids := map[int]string{}
	var wg sync.WaitGroup
	for n, base := range []string{urlA, urlB} {
		wg.Add(1)
		go func() {
			defer wg.Done()
			for i := 0; i < per; i++ {
				name := fmt.Sprintf("N%dI%d", n, i)
				var r struct{ ID int }
				if code := restCall(t, "POST", base+"/subjects/shared/versions", avroBody(name), &r); code != 200 {
					t.Errorf("register %s: HTTP %d", name, code)
					return
				}
				mu.Lock()
				if prev, ok := ids[r.ID]; ok {
					t.Errorf("id %d given to %s and %s", r.ID, prev, name)
				}
				ids[r.ID] = name
				mu.Unlock()
			}
		}()
	}
	wg.Wait()
	want := make([]int, 2*per)
	for i := range want {
		want[i] = i + 1
	}
	for _, base := range []string{urlA, urlB} {
		var vs []int
		deadline := time.Now().Add(30 * time.Second)
		for {
			restCall(t, "GET", base+"/subjects/shared/versions", "", &vs)
			if slices.Equal(vs, want) || time.Now().After(deadline) {
				break
			}
			time.Sleep(20 * time.Millisecond)
		}
		if !slices.Equal(vs, want) {
			t.Errorf("%s: versions of shared = %v, want 1..%d", base, vs, 2*per)
		}
	}

	// Topics: the data node creates them; the other node says where they are.
	ctx := context.Background()
	if _, err := a.Broker.CreateTopic(ctx, "events", 2, nil); err != nil {
		t.Fatalf("create topic on the data node: %v", err)
	}
	_, err := b.Broker.CreateTopic(ctx, "other", 1, nil)
	if err == nil || !strings.Contains(err.Error(), `"a"`) {
		t.Fatalf("create topic on a node without topic data = %v, want a refusal naming node a", err)
	}
	if _, err := b.Broker.DescribeTopic("events"); err == nil || !strings.Contains(err.Error(), `"a"`) {
		t.Fatalf("describe topic on a node without topic data = %v, want not found naming node a", err)
	}
}

// A half-given cluster configuration is refused before anything starts.
func TestClusterConfigRefused(t *testing.T) {
	for _, cfg := range []Config{
		{DataDir: t.TempDir(), Meta: "postgres://u@127.0.0.1:1/db"},
		{DataDir: t.TempDir(), NodeID: "a"},
		{DataDir: t.TempDir(), Meta: "mysql://u@h/db", NodeID: "a"},
		{DataDir: t.TempDir(), Meta: "postgres://u@127.0.0.1:1/db", NodeID: "bad id"},
	} {
		if s, err := New(context.Background(), cfg); err == nil {
			s.Close()
			t.Errorf("New(%+v) accepted a bad cluster configuration", cfg)
		}
	}
}
