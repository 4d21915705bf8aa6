package console_test

import (
	"bufio"
	"context"
	"fmt"
	"html"
	"net/http"
	"net/http/httptest"
	"regexp"
	"strings"
	"testing"
	"time"

	brokerv1 "github.com/sluicehq/sluice/proto/gen/sluice/broker/v1"
)

// sse reads server-sent events from a console's follow stream.
type sse struct {
	t  *testing.T
	rd *bufio.Reader
}

func openFollow(t *testing.T, ctx context.Context, base, src string) *sse {
	t.Helper()
	req, _ := http.NewRequestWithContext(ctx, "GET", base+src, nil)
	res, err := http.DefaultClient.Do(req)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { res.Body.Close() })
	if ct := res.Header.Get("Content-Type"); res.StatusCode != 200 || ct != "text/event-stream" {
		t.Fatalf("GET %s: %s, Content-Type %q", src, res.Status, ct)
	}
	return &sse{t: t, rd: bufio.NewReader(res.Body)}
}

// next returns the next event's name and data.
func (s *sse) next() (name, data string) {
	s.t.Helper()
	for {
		line, err := s.rd.ReadString('\n')
		if err != nil {
			s.t.Fatalf("reading the stream: %v", err)
		}
		line = strings.TrimSuffix(line, "\n")
		switch {
		case line == "" && name != "":
			return name, data
		case strings.HasPrefix(line, "event: "):
			name = line[len("event: "):]
		case strings.HasPrefix(line, "data: "):
			data += line[len("data: "):] + "\n"
		}
	}
}

// followSrc is the live stream's URL that a records page names.
func followSrc(t *testing.T, n *node, page string) string {
	t.Helper()
	body := n.do(t, http.MethodGet, page, nil).Body.String()
	m := regexp.MustCompile(`id="follow" aria-pressed="false" data-src="([^"]+)"`).FindStringSubmatch(body)
	if m == nil {
		t.Fatalf("%s names no follow stream:\n%s", page, body)
	}
	return html.UnescapeString(m[1])
}

// TestFollowCatchesUp: the live follow starts where its page's view of
// the log ended, so a record written between showing the page and the
// click appears (it was lost: the stream started at the click), each
// record once, before the live ones; a catch-up longer than its bound says
// so; a malformed start is refused.
func TestFollowCatchesUp(t *testing.T) {
	n := startNode(t)
	srv := httptest.NewServer(n.Console)
	defer srv.Close()
	ctx, cancel := context.WithCancel(context.Background())
	defer cancel()
	value := func(note string) []byte {
		return avroValue(t, 2, orderV2, fmt.Sprintf(`{"id":20,"total":1,"note":%q}`, note))
	}

	// One partition: the page shows partition 1 up to offset 0.
	src := followSrc(t, n, "/console/topics/orders/records?partition=1")
	if !strings.Contains(src, "after=1:1") {
		t.Fatalf("follow URL %q does not start after the page's last record", src)
	}
	n.produce(t, "orders", record("gap", value("between the page and the click"), 1, epoch), record("other", value("partition zero"), 0, epoch))
	s := openFollow(t, ctx, srv.URL, src)
	if name, _ := s.next(); name != "ready" {
		t.Fatalf("first event %q, want ready", name)
	}
	if name, data := s.next(); name != "record" || !strings.Contains(data, "between the page and the click") {
		t.Fatalf("event %q, want the record written after the page:\n%s", name, data)
	}
	n.produce(t, "orders", record("live", value("live"), 1, epoch))
	if name, data := s.next(); name != "record" || !strings.Contains(data, "&#34;live&#34;") {
		t.Fatalf("event %q, want the live record (each record once):\n%s", name, data)
	}

	// Every partition: each partition's records since the page, in order.
	src = followSrc(t, n, "/console/topics/orders/records")
	n.produce(t, "orders", record("a", value("p0 after"), 0, epoch), record("b", value("p1 after"), 1, epoch))
	s = openFollow(t, ctx, srv.URL, src)
	s.next() // ready
	for _, want := range []string{"p0 after", "p1 after"} {
		if name, data := s.next(); name != "record" || !strings.Contains(data, want) {
			t.Fatalf("event %q, want the record %q:\n%s", name, want, data)
		}
	}

	// More than the bound: the first 1000, then a notice.
	src = followSrc(t, n, "/console/topics/plain/records")
	recs := make([]*brokerv1.ProduceRecord, 1001)
	for i := range recs {
		recs[i] = record("", []byte(fmt.Sprint("r", i)), 0, epoch)
	}
	n.produce(t, "plain", recs...)
	cctx, ccancel := context.WithTimeout(ctx, time.Minute)
	defer ccancel()
	s = openFollow(t, cctx, srv.URL, src)
	s.next() // ready
	for i := 0; i < 1000; i++ {
		if name, data := s.next(); name != "record" || !strings.Contains(data, fmt.Sprintf("<code>r%d</code>", i)) {
			t.Fatalf("catch-up event %d: %q:\n%s", i, name, data)
		}
	}
	if name, data := s.next(); name != "notice" || !strings.Contains(data, "skip from offset 1001") {
		t.Fatalf("after the bound: event %q, want a notice:\n%s", name, data)
	}

	w := n.do(t, http.MethodGet, "/console/topics/orders/follow?after=0:x", nil)
	if w.Code != http.StatusBadRequest || !strings.Contains(w.Body.String(), "want PARTITION:OFFSET pairs") {
		t.Errorf("a malformed after: %d\n%s", w.Code, w.Body)
	}
}
