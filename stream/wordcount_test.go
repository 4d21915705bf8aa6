package stream_test

import (
	"testing"

	"github.com/sluicehq/sluice/client"
	"github.com/sluicehq/sluice/client/primitive"
	"github.com/sluicehq/sluice/sluicetest"
)

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
	runApp(t, wordCount(s.Conn, "wc"))
	got := readAll(t, s.Conn, "counts", primitive.String(), primitive.Int64(), 8)
	// Per key the updates come in order: the last is the count.
	final := map[string][]int64{}
	for _, m := range got {
		final[m.Key] = append(final[m.Key], m.Value)
	}
	want := map[string][]int64{"the": {1, 2, 3}, "cat": {1}, "sat": {1, 2}, "dog": {1}, "end": {1}}
	for k, w := range want {
		if g := final[k]; len(g) != len(w) || (len(g) > 0 && g[len(g)-1] != w[len(w)-1]) {
			t.Errorf("%s: updates %v, want %v", k, g, w)
		}
	}
}
