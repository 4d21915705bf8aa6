package console

import (
	"context"
	"fmt"
	"io"
	"net/http"
	"sync"
)

// This file is the console's way to the node's APIs: an http.RoundTripper
// that serves each request with the node's own API handler in this process.
// The console's data comes through the same Connect and REST handlers that
// every client uses, so their checks (limits, authorization by the
// principal in the request's context) apply to it alike, without a network
// hop or a second authentication.

// credentialsKey carries the browser request's Authorization header and
// address to the API requests it causes (see withCredentials).
type credentialsKey struct{}

type credentials struct{ authorization, remoteAddr string }

// withCredentials returns ctx carrying the Authorization header and the
// remote address of r, so that API calls made for r present the same
// credentials (an API handler that authenticates by itself sees the user
// of the page, never the node) and log the browser's address.
func withCredentials(ctx context.Context, r *http.Request) context.Context {
	return context.WithValue(ctx, credentialsKey{}, credentials{r.Header.Get("Authorization"), r.RemoteAddr})
}

// inProcess serves requests with h in this process. The response body is
// a pipe fed while the handler runs, so server streams (Subscribe) arrive
// message by message. Cancelling the request's context ends the handler's
// context; closing the response body makes its next write fail.
type inProcess struct{ h http.Handler }

// RoundTrip implements http.RoundTripper.
func (t inProcess) RoundTrip(req *http.Request) (*http.Response, error) {
	ctx := req.Context()
	sr := req.Clone(ctx)
	sr.RemoteAddr = "127.0.0.1:0"
	if c, ok := ctx.Value(credentialsKey{}).(credentials); ok {
		if c.authorization != "" && sr.Header.Get("Authorization") == "" {
			sr.Header.Set("Authorization", c.authorization)
		}
		if c.remoteAddr != "" {
			sr.RemoteAddr = c.remoteAddr
		}
	}
	sr.RequestURI = req.URL.RequestURI()
	sr.Proto, sr.ProtoMajor, sr.ProtoMinor = "HTTP/1.1", 1, 1
	sr.Host = req.URL.Host
	if sr.Body == nil {
		sr.Body = http.NoBody
	}
	pr, pw := io.Pipe()
	w := &pipeWriter{header: http.Header{}, body: pw, ready: make(chan struct{})}
	go func() {
		defer func() {
			if p := recover(); p != nil {
				// The API's handlers recover their own panics; this one is
				// outside them (routing). Answer 500 if nothing was sent.
				w.WriteHeader(http.StatusInternalServerError)
				pw.CloseWithError(fmt.Errorf("console: API handler panicked: %v", p))
				return
			}
			w.WriteHeader(http.StatusOK)
			pw.Close()
		}()
		defer sr.Body.Close()
		t.h.ServeHTTP(w, sr)
	}()
	<-w.ready
	return &http.Response{
		Status:     fmt.Sprintf("%d %s", w.status, http.StatusText(w.status)),
		StatusCode: w.status,
		Proto:      "HTTP/1.1", ProtoMajor: 1, ProtoMinor: 1,
		Header:        w.sent,
		Body:          pr,
		ContentLength: -1,
		Request:       req,
	}, nil
}

// pipeWriter is the handler's side of an inProcess exchange.
type pipeWriter struct {
	header http.Header
	body   *io.PipeWriter
	once   sync.Once
	ready  chan struct{} // closed once the status and headers are fixed
	status int
	sent   http.Header
}

func (w *pipeWriter) Header() http.Header { return w.header }

func (w *pipeWriter) WriteHeader(code int) {
	w.once.Do(func() {
		w.status, w.sent = code, w.header.Clone()
		close(w.ready)
	})
}

func (w *pipeWriter) Write(b []byte) (int, error) {
	w.WriteHeader(http.StatusOK)
	return w.body.Write(b)
}

// Flush sends the headers; written bytes reach the reader at once anyway
// (the pipe has no buffer).
func (w *pipeWriter) Flush() { w.WriteHeader(http.StatusOK) }
