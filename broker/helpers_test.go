package broker_test

import (
	"context"
	"database/sql"
	"log/slog"
	"net/http"
	"net/http/httptest"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/sluicehq/sluice/internal/golden"

	"connectrpc.com/connect"

	"github.com/sluicehq/sluice/broker"
	"github.com/sluicehq/sluice/internal/metadb"
	brokerv1 "github.com/sluicehq/sluice/proto/gen/sluice/broker/v1"
	"github.com/sluicehq/sluice/proto/gen/sluice/broker/v1/brokerv1connect"
)

// testWriter sends logs to t.Log so failures show them.
type testWriter struct{ t testing.TB }

func (w testWriter) Write(p []byte) (int, error) {
	w.t.Helper()
	w.t.Log(strings.TrimRight(string(p), "\n"))
	return len(p), nil
}

// testEnv is a broker on a temporary data directory served over Connect
// (h2c) on 127.0.0.1, with clients.
type testEnv struct {
	t      testing.TB
	dir    string
	cfg    broker.Config
	db     *sql.DB
	b      *broker.Broker
	srv    *httptest.Server
	topics brokerv1connect.TopicServiceClient
	client brokerv1connect.BrokerServiceClient
	hook   func()
}

// newEnv starts a broker; opts adjust its Config (Fsync defaults to never:
// durability is tested by the kill -9 test, not by every test).
func newEnv(t testing.TB, opts ...func(*broker.Config)) *testEnv {
	t.Helper()
	e := &testEnv{t: t, dir: t.TempDir()}
	never, err := broker.ParseFsyncPolicy("never")
	if err != nil {
		t.Fatal(err)
	}
	e.cfg = broker.Config{
		Fsync:               never,
		Logger:              slog.New(slog.NewTextHandler(testWriter{t}, &slog.HandlerOptions{Level: slog.LevelWarn})),
		MaintenanceInterval: -1,
	}
	for _, o := range opts {
		o(&e.cfg)
	}
	e.start()
	t.Cleanup(e.stop)
	return e
}

func (e *testEnv) start() {
	e.t.Helper()
	db, err := metadb.Open(filepath.Join(e.dir, "meta.db"))
	if err != nil {
		e.t.Fatal(err)
	}
	cfg := e.cfg
	cfg.DB, cfg.DataDir = db, e.dir
	b, err := broker.Open(context.Background(), cfg)
	if err != nil {
		db.Close()
		e.t.Fatal(err)
	}
	if e.hook != nil {
		broker.SetWaitHook(b, e.hook)
	}
	mux := http.NewServeMux()
	b.Mount(mux)
	srv := httptest.NewUnstartedServer(mux)
	var p http.Protocols
	p.SetHTTP1(true)
	p.SetUnencryptedHTTP2(true)
	srv.Config.Protocols = &p
	srv.Config.RegisterOnShutdown(b.Drain)
	srv.Start()
	e.db, e.b, e.srv = db, b, srv
	hc := h2cClient()
	// No gzip, like the perf suite: benchmarks measure the broker and the
	// transport, not compress/flate.
	noGzip := connect.WithAcceptCompression("gzip", nil, nil)
	e.topics = brokerv1connect.NewTopicServiceClient(hc, srv.URL, noGzip)
	e.client = brokerv1connect.NewBrokerServiceClient(hc, srv.URL, noGzip)
}

// stop shuts the server down, then closes the broker and meta.db. Safe to
// call twice.
func (e *testEnv) stop() {
	if e.srv == nil {
		return
	}
	e.b.Drain()
	e.srv.Close()
	if err := e.b.Close(); err != nil {
		e.t.Errorf("broker close: %v", err)
	}
	e.db.Close()
	e.srv = nil
}

// restart reopens the broker on the same data directory.
func (e *testEnv) restart() {
	e.t.Helper()
	e.stop()
	e.start()
}

func h2cClient() *http.Client {
	var p http.Protocols
	p.SetUnencryptedHTTP2(true)
	return &http.Client{Transport: &http.Transport{Protocols: &p}}
}

func ctxT(t testing.TB) context.Context {
	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	t.Cleanup(cancel)
	return ctx
}

func (e *testEnv) createTopic(name string, partitions int, configs map[string]string) *brokerv1.TopicDescription {
	e.t.Helper()
	res, err := e.topics.CreateTopic(ctxT(e.t), connect.NewRequest(&brokerv1.CreateTopicRequest{Name: name, Partitions: int32(partitions), Configs: configs}))
	if err != nil {
		e.t.Fatalf("create topic %s: %v", name, err)
	}
	return res.Msg.GetTopic()
}

func (e *testEnv) produce(topic string, recs ...*brokerv1.ProduceRecord) []*brokerv1.ProduceResult {
	e.t.Helper()
	res, err := e.client.Produce(ctxT(e.t), connect.NewRequest(&brokerv1.ProduceRequest{Topic: topic, Records: recs}))
	if err != nil {
		e.t.Fatalf("produce %s: %v", topic, err)
	}
	if len(res.Msg.GetResults()) != len(recs) {
		e.t.Fatalf("produce %s: %d results for %d records", topic, len(res.Msg.GetResults()), len(recs))
	}
	return res.Msg.GetResults()
}

func (e *testEnv) fetch(topic string, partition int32, offset int64) *brokerv1.FetchResponse {
	e.t.Helper()
	res, err := e.client.Fetch(ctxT(e.t), connect.NewRequest(&brokerv1.FetchRequest{Topic: topic, Partition: partition, Offset: offset}))
	if err != nil {
		e.t.Fatalf("fetch %s/%d@%d: %v", topic, partition, offset, err)
	}
	return res.Msg
}

// fetchAll reads partition from offset to the high watermark.
func (e *testEnv) fetchAll(topic string, partition int32, offset int64) []*brokerv1.Record {
	e.t.Helper()
	var out []*brokerv1.Record
	for {
		res := e.fetch(topic, partition, offset)
		if len(res.GetRecords()) == 0 {
			return out
		}
		out = append(out, res.GetRecords()...)
		offset = res.GetRecords()[len(res.GetRecords())-1].GetOffset() + 1
	}
}

func val(s string) *brokerv1.ProduceRecord { return &brokerv1.ProduceRecord{Value: []byte(s)} }

func kv(k, v string) *brokerv1.ProduceRecord {
	return &brokerv1.ProduceRecord{Key: []byte(k), Value: []byte(v)}
}

func ptr[T any](v T) *T { return &v }

// checkGolden compares got with testdata/name, rewriting it with -update.
func checkGolden(t *testing.T, name, got string) {
	t.Helper()
	golden.Check(t, filepath.Join("testdata", name), got)
}

// signal returns a hook that notes a wait on c without ever blocking.
func signal(c chan struct{}) func() {
	return func() {
		select {
		case c <- struct{}{}:
		default:
		}
	}
}

// openDB opens the meta.db of dir for tests that simulate crashes.
func openDB(t testing.TB, dir string) *sql.DB {
	t.Helper()
	db, err := metadb.Open(filepath.Join(dir, "meta.db"))
	if err != nil {
		t.Fatal(err)
	}
	return db
}
