package console

import (
	"bufio"
	"context"
	"io"
	"net/http"
	"strings"
	"testing"
	"time"

	"github.com/sluicehq/sluice/auth"
)

// TestInProcess: the transport hands the request, its context and the
// page's credentials to the handler, returns the status and headers as
// soon as they are written, streams the body as it is written, ends the
// handler's context when the caller's ends, and answers 500 for a panic.
func TestInProcess(t *testing.T) {
	next := make(chan string)
	h := http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		switch r.URL.Path {
		case "/echo":
			p, _ := auth.FromContext(r.Context())
			w.Header().Set("X-Principal", p.Name)
			w.Header().Set("X-Authorization", r.Header.Get("Authorization"))
			w.Header().Set("X-Remote", r.RemoteAddr)
			w.WriteHeader(http.StatusTeapot)
			io.Copy(w, r.Body)
		case "/stream":
			w.Header().Set("Content-Type", "text/plain")
			w.(http.Flusher).Flush()
			for {
				select {
				case s := <-next:
					io.WriteString(w, s+"\n")
				case <-r.Context().Done():
					return
				}
			}
		case "/panic":
			panic("boom")
		}
	})
	hc := &http.Client{Transport: inProcess{h}}

	page, _ := http.NewRequest(http.MethodGet, "/console/", nil)
	page.Header.Set("Authorization", "Bearer t0k")
	page.RemoteAddr = "192.0.2.7:5555"
	ctx := withCredentials(auth.NewContext(context.Background(), auth.Principal{Name: "alice"}), page)
	req, _ := http.NewRequestWithContext(ctx, http.MethodPost, base+"/echo", strings.NewReader("body"))
	res, err := hc.Do(req)
	if err != nil {
		t.Fatal(err)
	}
	b, _ := io.ReadAll(res.Body)
	res.Body.Close()
	if res.StatusCode != http.StatusTeapot || string(b) != "body" || res.Header.Get("X-Principal") != "alice" || res.Header.Get("X-Authorization") != "Bearer t0k" || res.Header.Get("X-Remote") != "192.0.2.7:5555" {
		t.Errorf("echo: %d %q, principal %q, authorization %q", res.StatusCode, b, res.Header.Get("X-Principal"), res.Header.Get("X-Authorization"))
	}

	sctx, cancel := context.WithCancel(context.Background())
	req, _ = http.NewRequestWithContext(sctx, http.MethodGet, base+"/stream", nil)
	res, err = hc.Do(req) // returns at the Flush, before any body
	if err != nil {
		t.Fatal(err)
	}
	rd := bufio.NewReader(res.Body)
	for _, s := range []string{"one", "two"} {
		next <- s
		line, err := rd.ReadString('\n')
		if err != nil || line != s+"\n" {
			t.Fatalf("stream: %q, %v; want %q", line, err, s)
		}
	}
	cancel()
	done := make(chan error, 1)
	go func() { _, err := io.ReadAll(rd); done <- err }()
	select {
	case <-done: // the handler saw the cancellation and returned: the body ends
	case <-time.After(10 * time.Second):
		t.Fatal("the stream did not end when its context was cancelled")
	}
	res.Body.Close()

	req, _ = http.NewRequest(http.MethodGet, base+"/panic", nil)
	res, err = hc.Do(req)
	if err != nil {
		t.Fatal(err)
	}
	_, rerr := io.ReadAll(res.Body)
	res.Body.Close()
	if res.StatusCode != http.StatusInternalServerError || rerr == nil || !strings.Contains(rerr.Error(), "boom") {
		t.Errorf("panic: %d, read error %v; want 500 and an error naming the panic", res.StatusCode, rerr)
	}
}
