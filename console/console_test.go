package console_test

import (
	"bufio"
	"context"
	"net/http"
	"net/http/httptest"
	"net/url"
	"path/filepath"
	"strings"
	"testing"
	"unicode/utf8"

	"github.com/sluicehq/sluice/internal/golden"
)

// TestPages renders every page of the console against a node with data
// and compares it with its golden file (testdata/pages/NAME.html; rewrite
// with -update and review the diff).
func TestPages(t *testing.T) {
	n := startNode(t)
	cases := []struct {
		name, path string
		status     int
	}{
		{"overview", "/console/", 200},
		{"topic", "/console/topics/orders", 200},
		{"topic-missing", "/console/topics/nope", 404},
		{"records-all-end", "/console/topics/orders/records", 200},
		{"records-partition-start", "/console/topics/orders/records?partition=0&from=start&limit=1", 200},
		{"records-offset-raw", "/console/topics/orders/records?partition=1&from=offset&offset=0&raw=1", 200},
		{"records-time", "/console/topics/orders/records?from=time&time=2026-01-02T03:04:06", 200},
		{"records-key", "/console/topics/orders/records?key=k3", 200},
		{"records-protobuf", "/console/topics/events/records", 200},
		{"records-plain", "/console/topics/plain/records", 200},
		{"records-bad-partition", "/console/topics/orders/records?partition=7", 400},
		{"records-bad-from", "/console/topics/orders/records?from=yesterday", 400},
		{"produce-form", "/console/topics/orders/produce", 200},
		{"subjects", "/console/subjects", 200},
		{"subject-latest", "/console/subjects/orders-value", 200},
		{"subject-v1", "/console/subjects/orders-value?version=1", 200},
		{"subject-protobuf", "/console/subjects/events-value", 200},
		{"subject-missing", "/console/subjects/nope", 404},
		{"diff-1-3", "/console/subjects/orders-value/diff?old=1&new=3", 200},
		{"diff-1-2-full", "/console/subjects/orders-value/diff?old=1&new=2&level=FULL", 200},
		{"diff-bad-version", "/console/subjects/orders-value/diff?old=9", 400},
		{"groups", "/console/groups", 200},
		{"group", "/console/groups/billing", 200},
		{"group-with-a-member", "/console/groups/live", 200},
		{"no-page", "/console/nothing/here", 404},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			w := n.do(t, http.MethodGet, tc.path, nil)
			if w.Code != tc.status {
				t.Errorf("GET %s: status %d, want %d\n%s", tc.path, w.Code, tc.status, w.Body)
			}
			if ct := w.Header().Get("Content-Type"); ct != "text/html; charset=utf-8" {
				t.Errorf("GET %s: Content-Type %q", tc.path, ct)
			}
			golden.Check(t, filepath.Join("testdata", "pages", tc.name+".html"), stable(w.Body.String()))
		})
	}
}

// TestActions runs the console's forms: each changes the node through its
// APIs, and the page says what happened or why not.
func TestActions(t *testing.T) {
	n := startNode(t)
	type step struct {
		name   string
		method string
		path   string
		form   url.Values
		status int
		want   []string // substrings of the answer (or of the page redirected to)
		follow bool
	}
	steps := []step{
		{"set a config", "POST", "/console/topics/orders/configs", url.Values{"key": {"retention.ms"}, "value": {"3600000"}}, 303, []string{"set retention.ms=3600000", "<code>retention.ms</code></td><td><code>3600000</code>", `<option value="max.message.bytes">`, `<option value="value.schema.validation">`}, true},
		{"refused config", "POST", "/console/topics/orders/configs", url.Values{"key": {"no.such.config"}, "value": {"1"}}, 400, []string{"config no.such.config: "}, false},
		{"remove a config", "POST", "/console/topics/orders/configs", url.Values{"key": {"retention.ms"}}, 303, []string{"removed retention.ms"}, true},
		{"produce JSON through the registry", "POST", "/console/topics/orders/produce", url.Values{"encoding": {"json"}, "subject": {"orders-value"}, "key": {"k9"}, "partition": {"1"}, "value": {`{"id":9,"total":"12","note":"n"}`}}, 200, []string{"Produced to partition 1 at offset 1 (as JSON through orders-value v3 (id 3))"}, false},
		{"produced record decodes", "GET", "/console/topics/orders/records?partition=1&from=offset&offset=1", nil, 200, []string{`orders-value v3 (id 3, AVRO)`, `<span class="hl-s">&#34;12&#34;</span>`}, false},
		{"JSON that does not match", "POST", "/console/topics/orders/produce", url.Values{"encoding": {"json"}, "subject": {"orders-value"}, "value": {`{"id":"x"}`}}, 400, []string{"value does not match orders-value v3 (id 3): field"}, false},
		{"broker refuses text on a typed topic", "POST", "/console/topics/orders/produce", url.Values{"encoding": {"text"}, "value": {"not avro"}}, 400, []string{"the broker refused the record: ", "record 0"}, false},
		{"a JSON key through the key subject", "POST", "/console/topics/events/produce", url.Values{"key_encoding": {"json"}, "key_subject": {"orders-value"}, "key": {`{"id":5,"total":"k","note":""}`}, "encoding": {"json"}, "subject": {"events-value"}, "value": {`{"orderId":"5"}`}}, 200, []string{"Produced to partition 0 at offset 1"}, false},
		{"the JSON key decodes", "GET", "/console/topics/events/records?from=offset&offset=1", nil, 200, []string{`<span class="hl-k">&#34;id&#34;</span>:<span class="hl-n">5</span>`, "orders-value v3 (id 3, AVRO)", "events-value v1 (id 4, PROTOBUF)"}, false},
		{"a key that does not match", "POST", "/console/topics/events/produce", url.Values{"key_encoding": {"json"}, "key_subject": {"orders-value"}, "key": {`{"id":"x"}`}, "encoding": {"text"}, "value": {"v"}}, 400, []string{"key does not match orders-value v3 (id 3): field"}, false},
		{"text to a plain topic", "POST", "/console/topics/plain/produce", url.Values{"encoding": {"text"}, "value": {"hi"}, "headers": {"a=b"}}, 200, []string{"Produced to partition 0 at offset 1 (as text)"}, false},
		{"a partition past int32 is not partition 0", "POST", "/console/topics/plain/produce", url.Values{"encoding": {"text"}, "value": {"hi"}, "partition": {"4294967296"}}, 400, []string{"partition &#34;4294967296&#34;: want a number, 0 or more"}, false},
		{"bad headers", "POST", "/console/topics/plain/produce", url.Values{"encoding": {"text"}, "value": {"hi"}, "headers": {"nothing"}}, 400, []string{"headers line 1: want name=value"}, false},
		{"set a level", "POST", "/console/subjects/orders-value/config", url.Values{"level": {"FULL"}}, 303, []string{"level set to FULL", "<dd>FULL</dd>"}, true},
		{"inherit the level", "POST", "/console/subjects/orders-value/config", url.Values{"level": {"inherit"}}, 303, []string{"inherits the global level", "BACKWARD (inherited)"}, true},
		{"bad level", "POST", "/console/subjects/orders-value/config", url.Values{"level": {"SIDEWAYS"}}, 400, []string{"level &#34;SIDEWAYS&#34;"}, false},
		{"compatible candidate", "POST", "/console/subjects/orders-value/test", url.Values{"type": {"AVRO"}, "schema": {`{"type":"record","name":"Order","namespace":"shop","fields":[{"name":"id","type":"long"},{"name":"total","type":"string"},{"name":"note","type":"string","default":""},{"name":"x","type":"int","default":0}]}`}}, 200, []string{"Compatible with orders-value under BACKWARD", "1 change, 0 breaking", "/fields/3"}, false},
		{"incompatible candidate", "POST", "/console/subjects/orders-value/test", url.Values{"type": {"AVRO"}, "schema": {`{"type":"record","name":"Order","namespace":"shop","fields":[{"name":"id","type":"string"}]}`}}, 200, []string{"Not compatible with orders-value under BACKWARD", "breaking"}, false},
		{"unparsable candidate", "POST", "/console/subjects/orders-value/test", url.Values{"type": {"AVRO"}, "schema": {`{"type":`}}, 200, []string{"Not compatible with orders-value", "No diff: the candidate does not parse: avro: line 1, column 9"}, false},
		{"reset of a partition past int32", "POST", "/console/groups/billing/reset", url.Values{"topic": {"orders"}, "to": {"earliest"}, "partitions": {"0,4294967296"}}, 400, []string{"reset: partitions &#34;0,4294967296&#34;: want numbers"}, false},
		{"reset asks first", "POST", "/console/groups/billing/reset", url.Values{"topic": {"orders"}, "to": {"earliest"}}, 200, []string{"Reset the committed offsets of group billing on topic orders, every partition, to the earliest offset?", `name="confirm" value="yes"`}, false},
		{"reset unconfirmed changed nothing", "GET", "/console/groups/billing", nil, 200, []string{`<td class="num title" data-label="Partition">0</td><td class="num" data-label="Committed">1</td><td class="num" data-label="Log start">0</td><td class="num" data-label="High watermark">2</td><td class="num" data-label="Lag">1</td>`}, false},
		{"reset confirmed", "POST", "/console/groups/billing/reset", url.Values{"topic": {"orders"}, "to": {"latest"}, "confirm": {"yes"}}, 200, []string{"Reset 2 partition offset(s) of orders.", "orders partition 0: offset 2", `<dd id="total-lag">0</dd>`}, false},
		{"reset refused while members run", "POST", "/console/groups/live/reset", url.Values{"topic": {"orders"}, "to": {"earliest"}, "confirm": {"yes"}}, 400, []string{"reset refused: reset offsets group live: it has 1 members; stop them or use force"}, false},
		{"reset bad offset", "POST", "/console/groups/billing/reset", url.Values{"topic": {"orders"}, "to": {"offset"}, "value": {"-3"}}, 400, []string{"reset: offset &#34;-3&#34;"}, false},
		{"cross-origin POST refused", "POST", "/console/groups/billing/reset", nil, 403, []string{"refused a cross-origin POST"}, false},
	}
	for _, s := range steps {
		t.Run(s.name, func(t *testing.T) {
			rec := n.do(t, s.method, s.path, s.form)
			if s.name == "cross-origin POST refused" {
				r := newRequest(s.method, s.path)
				r.Header.Set("Sec-Fetch-Site", "cross-site")
				rec = serve(n, r)
			}
			if rec.Code != s.status {
				t.Fatalf("%s %s: status %d, want %d\n%s", s.method, s.path, rec.Code, s.status, rec.Body)
			}
			body := rec.Body.String()
			if s.follow {
				loc := rec.Header().Get("Location")
				if loc == "" {
					t.Fatalf("no redirect")
				}
				next := n.do(t, "GET", loc, nil)
				if next.Code != 200 {
					t.Fatalf("GET %s: %d\n%s", loc, next.Code, next.Body)
				}
				body = next.Body.String()
			}
			for _, want := range s.want {
				if !strings.Contains(body, want) {
					t.Errorf("%s %s: the page lacks %q:\n%s", s.method, s.path, want, body)
				}
			}
		})
	}
}

// TestLargeRecords: a page shows the start of a large key or value, says
// so, and stays small.
func TestLargeRecords(t *testing.T) {
	n := startNode(t)
	big := strings.Repeat("é", 300<<10) // 600 KiB of two-byte characters
	n.produce(t, "plain", record(big[:20000], []byte(big), 0, epoch))
	w := n.do(t, "GET", "/console/topics/plain/records?raw=1", nil)
	if w.Code != 200 {
		t.Fatalf("%d\n%s", w.Code, w.Body)
	}
	body := w.Body.String()
	if len(body) > 64<<10 {
		t.Errorf("the page is %d bytes", len(body))
	}
	for _, want := range []string{"… the first part of 614400 bytes", "… the first part of 20000 bytes"} {
		if !strings.Contains(body, want) {
			t.Errorf("the page lacks %q", want)
		}
	}
	if !utf8.ValidString(body) {
		t.Errorf("a character was cut in two")
	}
}

// TestFollow reads the live stream as a browser does: a ready event once
// subscribed, then one record event per new record, a rendered and
// decoded table row; the stream ends with the request.
func TestFollow(t *testing.T) {
	n := startNode(t)
	srv := httptest.NewServer(n.Console)
	defer srv.Close()
	ctx, cancel := context.WithCancel(context.Background())
	defer cancel()
	req, _ := http.NewRequestWithContext(ctx, "GET", srv.URL+"/console/topics/orders/follow?partition=1", nil)
	res, err := http.DefaultClient.Do(req)
	if err != nil {
		t.Fatal(err)
	}
	defer res.Body.Close()
	if ct := res.Header.Get("Content-Type"); res.StatusCode != 200 || ct != "text/event-stream" {
		t.Fatalf("%s, Content-Type %q", res.Status, ct)
	}
	rd := bufio.NewReader(res.Body)
	event := func() (name, data string) {
		t.Helper()
		for {
			line, err := rd.ReadString('\n')
			if err != nil {
				t.Fatalf("reading the stream: %v", err)
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
	if name, _ := event(); name != "ready" {
		t.Fatalf("first event %q, want ready", name)
	}
	// Partition 0 is not followed; partition 1 is.
	n.produce(t, "orders",
		record("p0", avroValue(t, 2, orderV2, `{"id":10,"total":1,"note":"zero"}`), 0, epoch),
		record("p1", avroValue(t, 2, orderV2, `{"id":11,"total":1,"note":"one"}`), 1, epoch))
	name, data := event()
	if name != "record" || !strings.Contains(data, `<span class="hl-s">&#34;one&#34;</span>`) || !strings.Contains(data, "orders-value v2 (id 2, AVRO)") || !strings.HasPrefix(data, "<tr>") {
		t.Fatalf("event %q:\n%s", name, data)
	}
	if strings.Contains(data, "zero") {
		t.Errorf("a record of partition 0 was sent")
	}
}
