package main

import (
	"context"
	"flag"
	"fmt"
	"io"
	"strconv"
	"text/tabwriter"

	"connectrpc.com/connect"

	brokerv1 "github.com/sluicehq/sluice/proto/gen/sluice/broker/v1"
)

const topicUsage = `Usage:
  sluice topic create NAME [--partitions N] [--config key=value ...]
  sluice topic list
  sluice topic describe NAME
  sluice topic alter NAME [--set key=value ...] [--delete key ...]
  sluice topic delete NAME

Topic configs: cleanup.policy (delete|compact), delete.retention.ms,
max.message.bytes, retention.bytes, retention.ms, segment.bytes, segment.ms.
Output is a table; --output json prints one JSON document.

Flags:
`

// runTopic manages topics over the TopicService.
func runTopic(ctx context.Context, e *env, args []string) int {
	fs := flag.NewFlagSet("topic", flag.ContinueOnError)
	fs.SetOutput(e.stderr)
	var cf clientFlags
	cf.register(fs, e)
	partitions := fs.Int("partitions", 1, "create: number of partitions, 1 to 1024")
	var configs, set kvFlag
	var del listFlag
	fs.Var(&configs, "config", "create: config override `key=value` (repeatable)")
	fs.Var(&set, "set", "alter: set config `key=value` (repeatable)")
	fs.Var(&del, "delete", "alter: remove the override of config `key` (repeatable)")
	fs.Usage = func() {
		fmt.Fprint(e.stderr, topicUsage)
		fs.PrintDefaults()
	}
	pos, code, ok := parseArgs(fs, args)
	if !ok {
		return code
	}
	if err := cf.validate(); err != nil {
		fmt.Fprintf(e.stderr, "sluice topic: %v\n", err)
		return 2
	}
	if len(pos) == 0 {
		fs.Usage()
		return 2
	}
	sub, pos := pos[0], pos[1:]
	want := 1
	if sub == "list" {
		want = 0
	}
	if len(pos) != want {
		if want == 0 {
			fmt.Fprintf(e.stderr, "sluice topic %s: unexpected argument %q\n", sub, pos[0])
		} else {
			fmt.Fprintf(e.stderr, "sluice topic %s: want one topic NAME\n", sub)
		}
		return 2
	}
	topics, _ := cf.brokerClients()
	var (
		desc *brokerv1.TopicDescription
		err  error
	)
	switch sub {
	case "create":
		var res *connect.Response[brokerv1.CreateTopicResponse]
		res, err = topics.CreateTopic(ctx, connect.NewRequest(&brokerv1.CreateTopicRequest{
			Name: pos[0], Partitions: int32(*partitions), Configs: configs.asMap(),
		}))
		if err == nil {
			desc = res.Msg.GetTopic()
			if !cf.json() {
				fmt.Fprintf(e.stdout, "created topic %s with %d partitions\n", desc.GetName(), len(desc.GetPartitions()))
				return 0
			}
		}
	case "describe":
		var res *connect.Response[brokerv1.DescribeTopicResponse]
		res, err = topics.DescribeTopic(ctx, connect.NewRequest(&brokerv1.DescribeTopicRequest{Name: pos[0]}))
		if err == nil {
			desc = res.Msg.GetTopic()
		}
	case "alter":
		if len(set.keys) == 0 && len(del) == 0 {
			fmt.Fprintln(e.stderr, "sluice topic alter: nothing to do: give --set key=value or --delete key")
			return 2
		}
		var res *connect.Response[brokerv1.AlterTopicConfigsResponse]
		res, err = topics.AlterTopicConfigs(ctx, connect.NewRequest(&brokerv1.AlterTopicConfigsRequest{
			Name: pos[0], Set: set.asMap(), Delete: del,
		}))
		if err == nil {
			desc = res.Msg.GetTopic()
		}
	case "delete":
		_, err = topics.DeleteTopic(ctx, connect.NewRequest(&brokerv1.DeleteTopicRequest{Name: pos[0]}))
		if err == nil {
			if cf.json() {
				writeJSON(e.stdout, map[string]string{"deleted": pos[0]})
			} else {
				fmt.Fprintf(e.stdout, "deleted topic %s\n", pos[0])
			}
			return 0
		}
	case "list":
		var res *connect.Response[brokerv1.ListTopicsResponse]
		res, err = topics.ListTopics(ctx, connect.NewRequest(&brokerv1.ListTopicsRequest{}))
		if err == nil {
			printTopicList(e.stdout, res.Msg.GetTopics(), cf.json())
			return 0
		}
	default:
		fmt.Fprintf(e.stderr, "sluice topic: unknown subcommand %q; want create, list, describe, alter or delete\n", sub)
		return 2
	}
	if err != nil {
		printErr(e.stderr, "topic "+sub, err)
		return 1
	}
	if cf.json() {
		writeJSON(e.stdout, topicJSONOf(desc))
	} else {
		printTopic(e.stdout, desc)
	}
	return 0
}

// topicJSON is the --output json shape of a topic: offsets as JSON numbers
// (protojson would quote int64s and varies its spacing on purpose).
type topicJSON struct {
	Name       string            `json:"name"`
	Partitions []partitionJSON   `json:"partitions"`
	Configs    map[string]string `json:"configs"`
}

type partitionJSON struct {
	Partition      int32 `json:"partition"`
	LogStartOffset int64 `json:"log_start_offset"`
	HighWatermark  int64 `json:"high_watermark"`
	SizeBytes      int64 `json:"size_bytes"`
}

func topicJSONOf(d *brokerv1.TopicDescription) topicJSON {
	t := topicJSON{Name: d.GetName(), Configs: d.GetConfigs(), Partitions: []partitionJSON{}}
	for _, p := range d.GetPartitions() {
		t.Partitions = append(t.Partitions, partitionJSON{p.GetPartition(), p.GetLogStartOffset(), p.GetHighWatermark(), p.GetSizeBytes()})
	}
	return t
}

// printTopic prints one topic as a human table.
func printTopic(w io.Writer, d *brokerv1.TopicDescription) {
	fmt.Fprintf(w, "Topic: %s\nPartitions: %d\n\n", d.GetName(), len(d.GetPartitions()))
	tw := tabwriter.NewWriter(w, 0, 4, 2, ' ', 0)
	fmt.Fprintln(tw, "PARTITION\tLOG START\tHIGH WATERMARK\tSIZE BYTES")
	for _, p := range d.GetPartitions() {
		fmt.Fprintf(tw, "%d\t%d\t%d\t%d\n", p.GetPartition(), p.GetLogStartOffset(), p.GetHighWatermark(), p.GetSizeBytes())
	}
	tw.Flush()
	fmt.Fprintln(w)
	tw = tabwriter.NewWriter(w, 0, 4, 2, ' ', 0)
	fmt.Fprintln(tw, "CONFIG\tVALUE")
	for _, k := range sortedKeys(d.GetConfigs()) {
		fmt.Fprintf(tw, "%s\t%s\n", k, d.GetConfigs()[k])
	}
	tw.Flush()
}

// printTopicList prints topics as a table (records = high watermark minus
// log start, summed over partitions) or as {"topics": [...]}.
func printTopicList(w io.Writer, ts []*brokerv1.TopicDescription, asJSON bool) {
	if asJSON {
		out := struct {
			Topics []topicJSON `json:"topics"`
		}{Topics: []topicJSON{}}
		for _, d := range ts {
			out.Topics = append(out.Topics, topicJSONOf(d))
		}
		writeJSON(w, out)
		return
	}
	tw := tabwriter.NewWriter(w, 0, 4, 2, ' ', 0)
	fmt.Fprintln(tw, "NAME\tPARTITIONS\tRECORDS\tSIZE BYTES\tCLEANUP")
	for _, d := range ts {
		var recs, size int64
		for _, p := range d.GetPartitions() {
			recs += p.GetHighWatermark() - p.GetLogStartOffset()
			size += p.GetSizeBytes()
		}
		fmt.Fprintf(tw, "%s\t%d\t%s\t%d\t%s\n", d.GetName(), len(d.GetPartitions()), strconv.FormatInt(recs, 10), size, d.GetConfigs()["cleanup.policy"])
	}
	tw.Flush()
}
