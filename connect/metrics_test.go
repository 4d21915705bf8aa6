package connect_test

import (
	"context"
	"fmt"
	"io"
	"net/http/httptest"
	"strings"
	"testing"

	connectrpc "connectrpc.com/connect"

	"github.com/sluicehq/sluice/connect"
	"github.com/sluicehq/sluice/internal/pgtest"
	brokerv1 "github.com/sluicehq/sluice/proto/gen/sluice/broker/v1"
	"github.com/sluicehq/sluice/sluicetest"
)

func TestMain(m *testing.M) { pgtest.Main(m) }

// TestMetrics scrapes the connectors' metrics: a sink that has written
// nothing yet shows every record of its topic as lag and is not up; a
// connector whose database is unreachable shows a status error.
func TestMetrics(t *testing.T) {
	db := pgtest.DB(t)
	srv := sluicetest.Start(t)
	srv.CreateTopic(t, "orders", 2, nil)
	for i := range 5 {
		_, err := srv.Conn.Broker().Produce(context.Background(), connectrpc.NewRequest(&brokerv1.ProduceRequest{Topic: "orders",
			Records: []*brokerv1.ProduceRecord{{Value: []byte(fmt.Sprint(i)), Partition: new(int32(i % 2))}}}))
		if err != nil {
			t.Fatal(err)
		}
	}
	f, err := connect.Parse("c.yaml", []byte(`connectors:
  - {name: orders-sink, type: postgres-sink, postgres: "`+db+`", topic: orders}
  - {name: gone, type: postgres-sink, postgres: "postgres://nobody@127.0.0.1:1/none?connect_timeout=5", topic: orders}
`))
	if err != nil {
		t.Fatal(err)
	}
	h := httptest.NewServer(connect.MetricsHandler(f, srv.Conn, nil))
	defer h.Close()
	resp, err := h.Client().Get(h.URL)
	if err != nil {
		t.Fatal(err)
	}
	body, _ := io.ReadAll(resp.Body)
	resp.Body.Close()
	for _, want := range []string{
		`sluice_connector_sink_lag_records{connector="orders-sink",partition="0",topic="orders"} 3`,
		`sluice_connector_sink_lag_records{connector="orders-sink",partition="1",topic="orders"} 2`,
		`sluice_connector_sink_next_offset{connector="orders-sink",partition="0",topic="orders"} -1`,
		`sluice_connector_up{connector="orders-sink",state="",type="postgres-sink"} 0`,
		`sluice_connector_status_error{connector="orders-sink",type="postgres-sink"} 0`,
		`sluice_connector_status_error{connector="gone",type="postgres-sink"} 1`,
		`go_goroutines `,
	} {
		if !strings.Contains(string(body), want) {
			t.Errorf("no %s in\n%s", want, grepLines(string(body), "sluice_connector"))
		}
	}
}

func grepLines(s, sub string) string {
	var out []string
	for _, l := range strings.Split(s, "\n") {
		if strings.Contains(l, sub) {
			out = append(out, l)
		}
	}
	return strings.Join(out, "\n")
}
