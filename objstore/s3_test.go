package objstore_test

import (
	"context"
	"errors"
	"io"
	"net"
	"net/http"
	"net/http/httptest"
	"strings"
	"sync"
	"testing"

	"github.com/johannesboyne/gofakes3"
	"github.com/johannesboyne/gofakes3/backend/s3mem"

	"github.com/sluicehq/sluice/objstore"
	"github.com/sluicehq/sluice/objstore/objstoretest"
)

// fakeS3 is an in-process S3 service on loopback (gofakes3) that records
// the requests it serves.
type fakeS3 struct {
	srv     *httptest.Server
	backend *s3mem.Backend

	mu   sync.Mutex
	reqs []recorded
}

type recorded struct {
	method, path, query string
	header              http.Header
}

func newFakeS3(t *testing.T, buckets ...string) *fakeS3 {
	t.Helper()
	f := &fakeS3{backend: s3mem.New()}
	for _, b := range buckets {
		if err := f.backend.CreateBucket(b); err != nil {
			t.Fatal(err)
		}
	}
	h := gofakes3.New(f.backend, gofakes3.WithLogger(gofakes3.DiscardLog())).Server()
	f.srv = httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		f.mu.Lock()
		f.reqs = append(f.reqs, recorded{r.Method, r.URL.Path, r.URL.RawQuery, r.Header.Clone()})
		f.mu.Unlock()
		h.ServeHTTP(w, r)
	}))
	t.Cleanup(f.srv.Close)
	return f
}

// take returns the requests recorded since the last call.
func (f *fakeS3) take() []recorded {
	f.mu.Lock()
	defer f.mu.Unlock()
	r := f.reqs
	f.reqs = nil
	return r
}

func (f *fakeS3) url(bucketAndPrefix string) string {
	return "s3://" + bucketAndPrefix + "?endpoint=" + f.srv.URL + "&region=us-east-1&path-style=true&access-key-id=AKID&secret-access-key=SECRET"
}

func openS3(t *testing.T, rawURL string) objstore.Store {
	t.Helper()
	s, err := objstore.Open(rawURL)
	if err != nil {
		t.Fatal(err)
	}
	return s
}

func TestS3Conformance(t *testing.T) {
	f := newFakeS3(t)
	n := 0
	objstoretest.Run(t, func(t *testing.T) objstore.Store {
		n++
		bucket := "conf-" + strings.Repeat("x", n%3) + string(rune('a'+n))
		if err := f.backend.CreateBucket(bucket); err != nil {
			t.Fatal(err)
		}
		return openS3(t, f.url(bucket))
	})
}

func TestS3ConformanceUnderPrefix(t *testing.T) {
	f := newFakeS3(t, "shared")
	n := 0
	objstoretest.Run(t, func(t *testing.T) objstore.Store {
		n++
		return openS3(t, f.url("shared/cluster-"+string(rune('a'+n))+"/objects"))
	})
}

// The requests the S3 store sends: one PUT with the whole body and a
// signature, ranged GETs, ListObjectsV2 with the prefix, DELETE; keys
// under the URL's prefix; path-style addressing.
func TestS3RequestShape(t *testing.T) {
	f := newFakeS3(t, "bucket")
	s := openS3(t, f.url("bucket/pre/fix"))
	ctx := context.Background()
	f.take()

	data := make([]byte, 100)
	if err := s.Put(ctx, "wal/n1/0001", data); err != nil {
		t.Fatal(err)
	}
	reqs := f.take()
	if len(reqs) != 1 {
		t.Fatalf("Put sent %d requests, want one PUT: %+v", len(reqs), reqs)
	}
	put := reqs[0]
	if put.method != http.MethodPut || put.path != "/bucket/pre/fix/wal/n1/0001" || put.query != "" {
		t.Errorf("Put sent %s %s?%s, want PUT /bucket/pre/fix/wal/n1/0001 (one PUT, not multipart)", put.method, put.path, put.query)
	}
	if got := put.header.Get("Content-Length"); got != "100" && put.header.Get("X-Amz-Decoded-Content-Length") != "100" {
		t.Errorf("Put Content-Length %q, want 100", got)
	}
	if a := put.header.Get("Authorization"); !strings.HasPrefix(a, "AWS4-HMAC-SHA256 Credential=AKID/") {
		t.Errorf("Put Authorization %q, want a SigV4 signature with the URL's access key", a)
	}

	for _, c := range []struct {
		off, n int64
		rng    string
	}{
		{10, 20, "bytes=10-29"},
		{50, -1, "bytes=50-"},
		{0, -1, ""},
	} {
		if _, err := s.GetRange(ctx, "wal/n1/0001", c.off, c.n); err != nil {
			t.Fatal(err)
		}
		reqs := f.take()
		if len(reqs) != 1 || reqs[0].method != http.MethodGet || reqs[0].path != "/bucket/pre/fix/wal/n1/0001" || reqs[0].header.Get("Range") != c.rng {
			t.Errorf("GetRange(%d, %d) sent %+v, want one GET with Range %q", c.off, c.n, reqs, c.rng)
		}
	}

	if _, err := s.List(ctx, "wal/"); err != nil {
		t.Fatal(err)
	}
	reqs = f.take()
	if len(reqs) != 1 || reqs[0].method != http.MethodGet || reqs[0].path != "/bucket/" ||
		!strings.Contains(reqs[0].query, "list-type=2") || !strings.Contains(reqs[0].query, "prefix=pre%2Ffix%2Fwal%2F") {
		t.Errorf("List sent %+v, want one ListObjectsV2 of prefix pre/fix/wal/", reqs)
	}

	if err := s.Delete(ctx, "wal/n1/0001"); err != nil {
		t.Fatal(err)
	}
	reqs = f.take()
	if len(reqs) != 1 || reqs[0].method != http.MethodDelete || reqs[0].path != "/bucket/pre/fix/wal/n1/0001" {
		t.Errorf("Delete sent %+v, want one DELETE", reqs)
	}
}

func TestS3MissingBucket(t *testing.T) {
	f := newFakeS3(t)
	s := openS3(t, f.url("nobucket"))
	err := s.Put(context.Background(), "k", []byte("v"))
	if err == nil || !strings.Contains(err.Error(), `bucket "nobucket" does not exist`) {
		t.Fatalf("Put to a missing bucket: %v, want an error naming the bucket", err)
	}
	if _, err := s.GetRange(context.Background(), "k", 0, -1); err == nil || errors.Is(err, objstore.ErrNotFound) {
		t.Fatalf("GetRange in a missing bucket: %v, want an error that is not ErrNotFound", err)
	}
}

func TestS3CredentialsFromEnvironment(t *testing.T) {
	f := newFakeS3(t, "envbucket")
	raw := "s3://envbucket?endpoint=" + f.srv.URL + "&region=us-east-1&path-style=true"
	t.Setenv("AWS_ACCESS_KEY_ID", "")
	t.Setenv("AWS_SECRET_ACCESS_KEY", "")
	if _, err := objstore.Open(raw); err == nil || !strings.Contains(err.Error(), "AWS_ACCESS_KEY_ID") {
		t.Fatalf("Open without credentials: %v, want an error naming the variables", err)
	}
	t.Setenv("AWS_ACCESS_KEY_ID", "ENVKEY")
	t.Setenv("AWS_SECRET_ACCESS_KEY", "ENVSECRET")
	s := openS3(t, raw)
	f.take()
	if err := s.Put(context.Background(), "k", []byte("v")); err != nil {
		t.Fatal(err)
	}
	reqs := f.take()
	if len(reqs) == 0 || !strings.Contains(reqs[0].header.Get("Authorization"), "Credential=ENVKEY/") {
		t.Fatalf("Put with environment credentials sent %+v", reqs)
	}
}

// A service that ignores Range headers (and sends the whole object with
// 200) still gives the right bytes.
func TestS3ServiceIgnoringRanges(t *testing.T) {
	backend := s3mem.New()
	if err := backend.CreateBucket("bucket"); err != nil {
		t.Fatal(err)
	}
	h := gofakes3.New(backend, gofakes3.WithLogger(gofakes3.DiscardLog())).Server()
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		r.Header.Del("Range")
		h.ServeHTTP(w, r)
	}))
	defer srv.Close()
	s := openS3(t, "s3://bucket?endpoint="+srv.URL+"&region=us-east-1&path-style=true&access-key-id=AKID&secret-access-key=SECRET")
	ctx := context.Background()
	data := []byte("0123456789")
	if err := s.Put(ctx, "k", data); err != nil {
		t.Fatal(err)
	}
	for _, c := range []struct {
		off, n int64
		want   string
	}{{2, 3, "234"}, {8, 10, "89"}, {5, -1, "56789"}, {10, 4, ""}} {
		got, err := s.GetRange(ctx, "k", c.off, c.n)
		if err != nil || string(got) != c.want {
			t.Errorf("GetRange(%d, %d) = %q, %v; want %q", c.off, c.n, got, err, c.want)
		}
	}
	var re *objstore.RangeError
	if _, err := s.GetRange(ctx, "k", 11, 1); !errors.As(err, &re) {
		t.Errorf("GetRange beyond the end: %v, want a *RangeError", err)
	}
}

// path-style=false addresses the bucket in the host name
// (http://BUCKET.HOST/KEY), as AWS wants.
func TestS3VirtualHostStyle(t *testing.T) {
	backend := s3mem.New()
	if err := backend.CreateBucket("vbucket"); err != nil {
		t.Fatal(err)
	}
	h := gofakes3.New(backend, gofakes3.WithLogger(gofakes3.DiscardLog()), gofakes3.WithHostBucketBase("s3.test")).Server()
	var mu sync.Mutex
	var hosts, paths []string
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		mu.Lock()
		hosts, paths = append(hosts, r.Host), append(paths, r.URL.Path)
		mu.Unlock()
		h.ServeHTTP(w, r)
	}))
	defer srv.Close()
	// Every host name reaches the test server.
	tr := &http.Transport{DialContext: func(ctx context.Context, network, _ string) (net.Conn, error) {
		return (&net.Dialer{}).DialContext(ctx, network, srv.Listener.Addr().String())
	}}
	defer tr.CloseIdleConnections()
	no := false
	s, err := objstore.NewS3(objstore.S3Config{Endpoint: "http://s3.test", Bucket: "vbucket", Region: "us-east-1", PathStyle: &no,
		AccessKeyID: "AKID", SecretAccessKey: "SECRET", Transport: tr})
	if err != nil {
		t.Fatal(err)
	}
	ctx := context.Background()
	if err := s.Put(ctx, "wal/1", []byte("virtual")); err != nil {
		t.Fatal(err)
	}
	got, err := s.GetRange(ctx, "wal/1", 0, -1)
	if err != nil || string(got) != "virtual" {
		t.Fatalf("GetRange = %q, %v", got, err)
	}
	mu.Lock()
	defer mu.Unlock()
	for i := range hosts {
		if hosts[i] != "vbucket.s3.test" || paths[i] != "/wal/1" {
			t.Errorf("request %d: host %q path %q, want vbucket.s3.test and /wal/1", i, hosts[i], paths[i])
		}
	}
	if len(hosts) != 2 {
		t.Errorf("%d requests, want a PUT and a GET", len(hosts))
	}
}

// A service that keeps failing with 503 SlowDown: the store tries a few
// times, then returns the error to the caller, whose deadline and retries
// decide what happens next.
func TestS3GivesUpAfterAFewAttempts(t *testing.T) {
	var mu sync.Mutex
	puts := 0
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		if r.Method == http.MethodPut {
			mu.Lock()
			puts++
			mu.Unlock()
		}
		w.Header().Set("Content-Type", "application/xml")
		w.WriteHeader(http.StatusServiceUnavailable)
		io.WriteString(w, `<?xml version="1.0" encoding="UTF-8"?><Error><Code>SlowDown</Code><Message>Please reduce your request rate.</Message></Error>`)
	}))
	defer srv.Close()
	s := openS3(t, "s3://bucket?endpoint="+srv.URL+"&region=us-east-1&path-style=true&access-key-id=AKID&secret-access-key=SECRET")
	err := s.Put(context.Background(), "k", []byte("v"))
	if err == nil || !strings.Contains(err.Error(), "reduce your request rate") {
		t.Fatalf("Put against a failing service: %v", err)
	}
	mu.Lock()
	defer mu.Unlock()
	if puts != 3 {
		t.Fatalf("%d PUT attempts, want 3", puts)
	}
}
