package server

import (
	"bufio"
	"errors"
	"fmt"
	"io"
	"log"
	"net/http"
	"net/http/httptest"
	"runtime"
	"strings"
	"sync"
	"testing"
	"time"
)

// workersServer serves h through a worker pool whose idle workers end after
// idle.
func workersServer(t *testing.T, h http.Handler, idle time.Duration) (*workers, *httptest.Server) {
	t.Helper()
	p := newWorkers(h)
	p.idle = idle
	srv := httptest.NewUnstartedServer(p)
	srv.Config.ErrorLog = log.New(io.Discard, "", 0) // the panics below are expected
	srv.Start()
	t.Cleanup(srv.Close)
	return p, srv
}

// Requests run on workers, which serve request after request; as many run at
// once as arrive (the pool grows, nothing waits for a worker), and idle
// workers end.
func TestWorkersServeConcurrentRequests(t *testing.T) {
	const n = 20
	gate := make(chan struct{})
	var arrived sync.WaitGroup
	arrived.Add(n)
	var mu sync.Mutex
	goroutines := map[uint64]bool{}
	p, srv := workersServer(t, http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		mu.Lock()
		goroutines[goroutineID()] = true
		mu.Unlock()
		if r.URL.Path == "/block" {
			arrived.Done()
			<-gate
		}
		fmt.Fprintf(w, "hello %s", r.URL.Path)
	}), 50*time.Millisecond)

	var wg sync.WaitGroup
	errs := make(chan error, n)
	for i := 0; i < n; i++ {
		wg.Add(1)
		go func() {
			defer wg.Done()
			body, err := getBody(srv.URL + "/block")
			if err == nil && body != "hello /block" {
				err = fmt.Errorf("body %q", body)
			}
			errs <- err
		}()
	}
	arrived.Wait() // all n handlers run at once
	if live, idle := p.counts(); live != n || idle != 0 {
		t.Fatalf("with %d requests in their handlers: %d workers, %d idle; want %d, 0", n, live, idle, n)
	}
	close(gate)
	wg.Wait()
	close(errs)
	for err := range errs {
		if err != nil {
			t.Fatal(err)
		}
	}
	// Sequential requests reuse a worker: no new goroutine per request.
	mu.Lock()
	before := len(goroutines)
	mu.Unlock()
	for i := 0; i < 50; i++ {
		if _, err := getBody(srv.URL + "/again"); err != nil {
			t.Fatal(err)
		}
	}
	mu.Lock()
	after := len(goroutines)
	mu.Unlock()
	if after != before {
		t.Fatalf("50 sequential requests ran on %d new goroutines; want them on the existing workers", after-before)
	}
	// Idle workers end.
	deadline := time.Now().Add(10 * time.Second)
	for {
		live, idle := p.counts()
		if live == 0 && idle == 0 {
			break
		}
		if time.Now().After(deadline) {
			t.Fatalf("after idling: %d workers, %d idle; want none", live, idle)
		}
		time.Sleep(10 * time.Millisecond)
	}
	// And the pool starts again.
	if body, err := getBody(srv.URL + "/later"); err != nil || body != "hello /later" {
		t.Fatalf("after the workers ended: %q, %v", body, err)
	}
}

// A handler's panic reaches net/http as before (the response is cut, the
// server goes on), and its worker survives; runtime.Goexit in a handler ends
// only that request.
func TestWorkersPanicAndGoexit(t *testing.T) {
	p, srv := workersServer(t, http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		switch r.URL.Path {
		case "/panic":
			panic("boom")
		case "/abort":
			panic(http.ErrAbortHandler)
		case "/goexit":
			runtime.Goexit()
		}
		io.WriteString(w, "ok")
	}), time.Minute)
	for _, path := range []string{"/panic", "/abort", "/goexit"} {
		if body, err := getBody(srv.URL + path); err == nil {
			t.Fatalf("%s: answered %q, want the request cut", path, body)
		}
		if body, err := getBody(srv.URL + "/"); err != nil || body != "ok" {
			t.Fatalf("after %s: %q, %v", path, body, err)
		}
	}
	if live, idle := p.counts(); live != idle || live == 0 {
		t.Fatalf("after the requests: %d workers, %d idle; want all idle", live, idle)
	}
}

// Streaming answers work through a worker: the ResponseWriter's Flusher is
// the server's.
func TestWorkersFlush(t *testing.T) {
	next := make(chan struct{})
	_, srv := workersServer(t, http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		io.WriteString(w, "first\n")
		w.(http.Flusher).Flush()
		<-next
		io.WriteString(w, "second\n")
	}), time.Minute)
	res, err := http.Get(srv.URL)
	if err != nil {
		t.Fatal(err)
	}
	defer res.Body.Close()
	rd := bufio.NewReader(res.Body)
	line, err := rd.ReadString('\n')
	if err != nil || line != "first\n" {
		t.Fatalf("first line %q, %v (before the handler returned)", line, err)
	}
	close(next)
	line, err = rd.ReadString('\n')
	if err != nil || line != "second\n" {
		t.Fatalf("second line %q, %v", line, err)
	}
}

func getBody(url string) (string, error) {
	res, err := http.Get(url)
	if err != nil {
		return "", err
	}
	defer res.Body.Close()
	b, err := io.ReadAll(res.Body)
	if err != nil {
		return "", err
	}
	if res.StatusCode != 200 {
		return "", errors.New(res.Status)
	}
	return string(b), nil
}

// goroutineID is the calling goroutine's id, from its stack header.
func goroutineID() uint64 {
	var buf [64]byte
	s := strings.TrimPrefix(string(buf[:runtime.Stack(buf[:], false)]), "goroutine ")
	var id uint64
	fmt.Sscan(s[:strings.IndexByte(s, ' ')], &id)
	return id
}

// deep recurses n frames with a frame of about 1 KiB each, as a Connect
// handler's call chain does.
//
//go:noinline
func deep(n int) byte {
	var pad [1024]byte
	pad[n%len(pad)] = byte(n)
	if n == 0 {
		return pad[0]
	}
	return deep(n-1) + pad[n%len(pad)]
}

// BenchmarkWorkers compares a handler with a 24 KiB deep call chain on the
// request goroutine (its stack grows every request) and on a worker.
func BenchmarkWorkers(b *testing.B) {
	h := http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) { deep(24) })
	for _, c := range []struct {
		name string
		h    http.Handler
	}{{"goroutine-per-request", h}, {"workers", newWorkers(h)}} {
		b.Run(c.name, func(b *testing.B) {
			w := httptest.NewRecorder()
			r := httptest.NewRequest("GET", "/", nil)
			b.RunParallel(func(pb *testing.PB) {
				for pb.Next() {
					done := make(chan struct{})
					go func() { // as net/http starts one per request
						c.h.ServeHTTP(w, r)
						close(done)
					}()
					<-done
				}
			})
		})
	}
}
