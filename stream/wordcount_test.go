package stream_test

import (
	"testing"

	"github.com/sluicehq/sluice/client"
	"github.com/sluicehq/sluice/client/primitive"
	"github.com/sluicehq/sluice/sluicetest"
)

// TestWordCount runs the word count with the record cache on (the
// default): each word's updates rise and end at its count, and there is
// at most one per input word.
func TestWordCount(t *testing.T) {
	ctx := testCtx(t)
	s := sluicetest.Start(t)
	s.CreateTopic(t, "lines", 3, nil)
	s.CreateTopic(t, "counts", 3, nil)
	p, err := client.NewProducer(ctx, s.Conn, "lines", primitive.Null(), primitive.String(), client.AutoRegister())
	if err != nil {
		t.Fatal(err)
	}
	for _, l := range []string{"the cat sat", "the dog sat", "The end"} {
		if _, err := p.Produce(ctx, struct{}{}, l); err != nil {
			t.Fatal(err)
		}
	}
	app := wordCount(s.Conn, "wc")
	stop := runApp(t, app)
	want := map[string]int64{"the": 3, "cat": 1, "sat": 2, "dog": 1, "end": 1}
	readUntilLatest(t, s.Conn, "counts", want)
	if err := stop(); err != nil {
		t.Fatal(err)
	}
	got := readAll(t, s.Conn, "counts", primitive.String(), primitive.Int64(), countRecords(t, s.Conn, "counts"))
	seq := map[string][]int64{}
	for _, m := range got {
		seq[m.Key] = append(seq[m.Key], m.Value)
	}
	for k, n := range want {
		ups := seq[k]
		ok := len(ups) > 0 && int64(len(ups)) <= n && ups[len(ups)-1] == n
		for i := 1; i < len(ups); i++ {
			ok = ok && ups[i] > ups[i-1]
		}
		if !ok {
			t.Errorf("%s: updates %v, want rising values ending at %d", k, ups, n)
		}
	}
	if len(seq) != len(want) {
		t.Errorf("counted words %v, want %v", seq, want)
	}
}
