// Command wordcount counts the words of a stream of lines, exactly once:
// topic "lines" (no key, string values) in, topic "word-counts" (the word,
// its running count) out. The words are repartitioned by word through an
// internal topic, counted in a store backed by a compacted changelog, and
// each commit writes the latest count of every word counted since the
// previous one (the record cache), with the input offsets, in one
// transaction.
//
//	sluice serve &
//	go run ./examples/wordcount -demo   # sends three lines, prints the counts of their words, exits
//	go run ./examples/wordcount         # processes until Ctrl-C; run it twice to share the work
package main

import (
	"context"
	"flag"
	"fmt"
	"io"
	"net/http"
	"os"
	"os/signal"
	"slices"
	"strings"

	"github.com/sluicehq/sluice/client"
	"github.com/sluicehq/sluice/client/primitive"
	"github.com/sluicehq/sluice/examples/internal/demoio"
	"github.com/sluicehq/sluice/stream"
)

// The topics.
const (
	linesTopic  = "lines"
	countsTopic = "word-counts"
)

func main() {
	addr := flag.String("addr", "http://localhost:8080", "Sluice server")
	demo := flag.Bool("demo", false, "send three lines, print the counts of their words, exit")
	flag.Parse()
	ctx, stop := signal.NotifyContext(context.Background(), os.Interrupt)
	defer stop()
	var lines []string
	if *demo {
		lines = []string{"the cat sat on the mat", "the dog sat", "The End"}
	}
	if err := run(ctx, client.New(http.DefaultClient, *addr), os.Stdout, lines); err != nil {
		fmt.Fprintln(os.Stderr, "wordcount:", err)
		os.Exit(1)
	}
}

// topology is the processor: lines -> words -> repartition by word ->
// count -> word-counts.
func topology(conn *client.Conn, opts ...stream.Option) *stream.App {
	app := stream.New(conn, "wordcount", opts...)
	lines := stream.From(app, linesTopic, primitive.Null(), primitive.String())
	words := stream.FlatMap(lines, func(_ struct{}, line string) []stream.KV[string, string] {
		var out []stream.KV[string, string]
		for _, w := range strings.Fields(strings.ToLower(line)) {
			out = append(out, stream.KV[string, string]{Key: w, Value: w})
		}
		return out
	})
	byWord := stream.Repartition(words, primitive.String(), primitive.String())
	counts := stream.Count(stream.GroupByKey(byWord))
	stream.To(counts.ToStream(), countsTopic, primitive.String(), primitive.Int64())
	return app
}

// run creates the topics and runs the processor until ctx is done; with
// demo lines, it sends them, waits until the processor has committed
// them, prints each of their words' latest count (sorted) and returns.
func run(ctx context.Context, conn *client.Conn, out io.Writer, demo []string) error {
	if err := demoio.CreateTopic(ctx, conn, linesTopic, 3); err != nil {
		return err
	}
	if err := demoio.CreateTopic(ctx, conn, countsTopic, 3); err != nil {
		return err
	}
	app := topology(conn)
	if len(demo) == 0 {
		return app.Run(ctx)
	}
	ctx, cancel := context.WithCancel(ctx)
	done := make(chan error, 1)
	go func() { done <- app.Run(ctx) }()
	defer func() { cancel(); <-done }()

	from, err := demoio.EndOffsets(ctx, conn, countsTopic)
	if err != nil {
		return err
	}
	p, err := client.NewProducer(ctx, conn, linesTopic, primitive.Null(), primitive.String(), client.AutoRegister())
	if err != nil {
		return err
	}
	for _, l := range demo {
		if _, err := p.Produce(ctx, struct{}{}, l); err != nil {
			return err
		}
	}
	// Once every line (and every word sent through the repartition topic)
	// is committed, so is every count they changed.
	if err := demoio.WaitCommitted(ctx, conn, app.ID(), []string{linesTopic}, done); err != nil {
		return err
	}
	ms, err := demoio.ReadToEnd(ctx, conn, countsTopic, primitive.String(), primitive.Int64(), from)
	if err != nil {
		return err
	}
	latest := map[string]int64{}
	for _, m := range ms {
		latest[m.Key] = m.Value
	}
	var lines []string
	for w, n := range latest {
		lines = append(lines, fmt.Sprintf("%s %d", w, n))
	}
	slices.Sort(lines)
	fmt.Fprintln(out, strings.Join(lines, "\n"))
	return nil
}
