package client

import (
	"bytes"
	"encoding/binary"
	"errors"
	"io"
	"net/http"
	"strings"
	"testing"
)

// envelope frames payload as connect-go does: flags, big-endian length.
func envelope(flags byte, payload []byte) []byte {
	b := []byte{flags, 0, 0, 0, 0}
	binary.BigEndian.PutUint32(b[1:], uint32(len(payload)))
	return append(b, payload...)
}

// writeAsConnect writes each message to w as connect-go does: the prefix
// and the payload as two writes.
func writeAsConnect(w *io.PipeWriter, msgs [][]byte, end error) {
	for _, m := range msgs {
		e := envelope(0, m)
		if _, err := w.Write(e[:5]); err != nil {
			return
		}
		if len(m) > 0 {
			if _, err := w.Write(e[5:]); err != nil {
				return
			}
		}
	}
	w.CloseWithError(end)
}

func TestMessageReaderReadsWholeMessages(t *testing.T) {
	msgs := [][]byte{[]byte("hello"), {}, bytes.Repeat([]byte("x"), 70000), []byte("last")}
	var want []byte
	for _, m := range msgs {
		want = append(want, envelope(0, m)...)
	}
	for _, size := range []int{1, 3, 5, 6, 9, 4096, 70005, 1 << 20} {
		pr, pw := io.Pipe()
		go writeAsConnect(pw, msgs, nil)
		m := &messageReader{r: pr}
		var got []byte
		var reads []int
		buf := make([]byte, size)
		for {
			n, err := m.Read(buf)
			got = append(got, buf[:n]...)
			if n > 0 {
				reads = append(reads, n)
			}
			if err == io.EOF {
				break
			}
			if err != nil {
				t.Fatalf("buffer %d: %v", size, err)
			}
		}
		if !bytes.Equal(got, want) {
			t.Fatalf("buffer %d: read %d bytes, want the %d written", size, len(got), len(want))
		}
		if size >= 70005 {
			// Room for every message: each read is one whole message.
			wantReads := []int{5 + 5, 5, 5 + 70000, 5 + 4}
			if len(reads) != len(wantReads) {
				t.Fatalf("buffer %d: reads %v, want %v", size, reads, wantReads)
			}
			for i := range reads {
				if reads[i] != wantReads[i] {
					t.Fatalf("buffer %d: reads %v, want %v", size, reads, wantReads)
				}
			}
		}
	}
}

func TestMessageReaderCutStream(t *testing.T) {
	cut := errors.New("cut")
	for _, tc := range []struct {
		name  string
		write func(w *io.PipeWriter)
		want  error
	}{
		{"inside a prefix", func(w *io.PipeWriter) { w.Write([]byte{0, 0, 0}); w.Close() }, io.ErrUnexpectedEOF},
		{"inside a payload", func(w *io.PipeWriter) { w.Write(envelope(0, []byte("abcdef"))[:8]); w.Close() }, io.ErrUnexpectedEOF},
		{"writer failed", func(w *io.PipeWriter) { w.Write(envelope(0, []byte("ab"))[:6]); w.CloseWithError(cut) }, cut},
	} {
		t.Run(tc.name, func(t *testing.T) {
			pr, pw := io.Pipe()
			go tc.write(pw)
			m := &messageReader{r: pr}
			buf := make([]byte, 64)
			var err error
			for range 4 {
				if _, err = m.Read(buf); err != nil {
					break
				}
			}
			if !errors.Is(err, tc.want) {
				t.Fatalf("err %v, want %v", err, tc.want)
			}
		})
	}
}

type recordingClient struct{ body io.ReadCloser }

func (r *recordingClient) Do(req *http.Request) (*http.Response, error) {
	r.body = req.Body
	return nil, errors.New("not sent")
}

func TestWholeMessagesWrapsOnlyStreams(t *testing.T) {
	for _, tc := range []struct {
		ct     string
		length int64
		wrap   bool
	}{
		{"application/connect+proto", -1, true},
		{"application/grpc", -1, true},
		{"application/grpc-web+proto", -1, true},
		{"application/proto", 12, false},         // Connect unary
		{"application/connect+proto", 12, false}, // a known length: sent as it is
		{"application/json", -1, false},
	} {
		req, _ := http.NewRequest(http.MethodPost, "http://127.0.0.1/", io.NopCloser(strings.NewReader("body")))
		req.ContentLength = tc.length
		req.Header.Set("Content-Type", tc.ct)
		rec := &recordingClient{}
		WholeMessages(rec).Do(req)
		_, wrapped := rec.body.(*messageReader)
		if wrapped != tc.wrap {
			t.Errorf("%s length %d: wrapped %v, want %v", tc.ct, tc.length, wrapped, tc.wrap)
		}
	}
}
