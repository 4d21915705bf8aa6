package server

import (
	"fmt"
	"io"
	"net/http"
	"strings"
	"testing"
)

// TestSmallResponsesNotCompressed: a client that accepts gzip gets a small
// Connect response as it is, and a large one gzipped.
func TestSmallResponsesNotCompressed(t *testing.T) {
	url := startNode(t)
	call := func(procedure, body string) (encoding string, size int) {
		t.Helper()
		req, err := http.NewRequest(http.MethodPost, url+"/sluice.broker.v1.TopicService/"+procedure, strings.NewReader(body))
		if err != nil {
			t.Fatal(err)
		}
		req.Header.Set("Content-Type", "application/json")
		req.Header.Set("Accept-Encoding", "gzip") // set by hand: no transparent decompression
		resp, err := http.DefaultClient.Do(req)
		if err != nil {
			t.Fatal(err)
		}
		defer resp.Body.Close()
		b, _ := io.ReadAll(resp.Body)
		if resp.StatusCode != http.StatusOK {
			t.Fatalf("%s: %d %s", procedure, resp.StatusCode, b)
		}
		return resp.Header.Get("Content-Encoding"), len(b)
	}
	if enc, n := call("ListTopics", "{}"); enc != "" {
		t.Fatalf("a %d-byte response was sent with Content-Encoding %q", n, enc)
	}
	for i := range 40 {
		call("CreateTopic", fmt.Sprintf(`{"name":"a-topic-with-a-rather-long-name-%02d","partitions":1}`, i))
	}
	if enc, n := call("ListTopics", "{}"); enc != "gzip" {
		t.Fatalf("a large response (%d bytes on the wire) was sent with Content-Encoding %q, want gzip", n, enc)
	}
}
