package main

// `sluice cluster status` over the node's ClusterService (docs/cluster.md).

import (
	"context"
	"fmt"
	"io"
	"strconv"
	"text/tabwriter"
	"time"

	"connectrpc.com/connect"
	"google.golang.org/protobuf/encoding/protojson"

	clusterv1 "github.com/sluicehq/sluice/proto/gen/sluice/cluster/v1"
	"github.com/sluicehq/sluice/proto/gen/sluice/cluster/v1/clusterv1connect"
)

const clusterUsage = `Usage: sluice cluster status [flags]

Asks a node (--addr) for the status of its cluster: the nodes with their
addresses and last heartbeat, the metadata database (reachable, PostgreSQL
version, the round trip of one query), the object store (a probe that puts,
reads back and deletes a small object), whether the shared log is enabled,
and per partition its high watermark and object count. On an embedded node
it says so and lists the node's partitions.

Exit status: 0 when everything answers; 1 when the database is unreachable,
the object store fails its probe or a node is not responding (its heartbeat
is old and it did not stop cleanly), or the node cannot be asked. Describing
the cluster needs describe on the cluster.

Flags:
`

func runCluster(ctx context.Context, e *env, args []string) int {
	fs := newFlagSet(e, "sluice cluster", clusterUsage)
	var cf clientFlags
	cf.register(fs, e)
	pos, code, ok := parseArgs(fs, args)
	if !ok {
		return code
	}
	if err := cf.validate(); err != nil {
		fmt.Fprintf(e.stderr, "sluice cluster: %v\n", err)
		return 2
	}
	if len(pos) == 0 {
		fs.Usage()
		return 2
	}
	sub, rest := pos[0], pos[1:]
	if sub == "help" && len(rest) == 0 {
		showHelp(fs)
		return 0
	}
	if sub != "status" {
		fmt.Fprintf(e.stderr, "sluice cluster: unknown subcommand %q; want status\n", sub)
		return 2
	}
	if len(rest) != 0 {
		fmt.Fprintf(e.stderr, "sluice cluster status: takes flags only, not %q\n", rest[0])
		return 2
	}
	client := clusterv1connect.NewClusterServiceClient(cf.httpClient(), cf.baseURL(), cf.connectOptions()...)
	res, err := client.Status(ctx, connect.NewRequest(&clusterv1.StatusRequest{}))
	if err != nil {
		return printErr(e.stderr, "cluster status", err)
	}
	st := res.Msg
	if cf.json() {
		b, err := protojson.MarshalOptions{Multiline: true, Indent: "  ", UseProtoNames: true, EmitUnpopulated: true}.Marshal(st)
		if err != nil {
			fmt.Fprintf(e.stderr, "sluice cluster status: %v\n", err)
			return 1
		}
		fmt.Fprintln(e.stdout, string(b))
	} else {
		printClusterStatus(e.stdout, st)
	}
	if !clusterHealthy(st) {
		return 1
	}
	return 0
}

// clusterHealthy: the database answers, the store passes its probe, and no
// node is lost.
func clusterHealthy(st *clusterv1.StatusResponse) bool {
	if st.GetDatabase() != nil && !st.GetDatabase().GetReachable() {
		return false
	}
	if o := st.GetObjectStore(); o.GetConfigured() && !o.GetHealthy() {
		return false
	}
	for _, n := range st.GetNodes() {
		if n.GetState() == clusterv1.NodeState_NODE_STATE_NOT_RESPONDING {
			return false
		}
	}
	return true
}

func printClusterStatus(w io.Writer, st *clusterv1.StatusResponse) {
	if !st.GetCluster() {
		fmt.Fprintf(w, "Embedded node, not a cluster (Kafka cluster id %s).\n", st.GetClusterId())
	} else {
		fmt.Fprintf(w, "Cluster %s, as node %s sees it.\n", st.GetClusterId(), st.GetNodeId())
		fmt.Fprintln(w)
		fmt.Fprintln(w, "Nodes:")
		tw := tabwriter.NewWriter(w, 0, 4, 2, ' ', 0)
		fmt.Fprintln(tw, "  NODE\tSTATE\tLAST HEARTBEAT\tHTTP\tKAFKA")
		for _, n := range st.GetNodes() {
			id := n.GetId()
			if n.GetSelf() {
				id += " (this node)"
			}
			state := nodeStateText(n.GetState())
			if n.GetState() == clusterv1.NodeState_NODE_STATE_NOT_RESPONDING && n.GetLease() {
				state += " (lease held)"
			}
			fmt.Fprintf(tw, "  %s\t%s\t%s ago\t%s\t%s\n", id, state, roundAge(n.GetHeartbeatAge().AsDuration()), orDash(n.GetHttpAddr()), orDash(n.GetKafkaAddr()))
		}
		tw.Flush()
		fmt.Fprintln(w)
		if d := st.GetDatabase(); d != nil {
			fmt.Fprintf(w, "Metadata database %s: ", d.GetUrl())
			if d.GetReachable() {
				fmt.Fprintf(w, "reachable, PostgreSQL %s, round trip %s\n", d.GetServerVersion(), roundDur(d.GetRoundTrip().AsDuration()))
			} else {
				fmt.Fprintf(w, "NOT REACHABLE: %s\n", d.GetError())
			}
		}
	}
	if o := st.GetObjectStore(); o.GetConfigured() {
		fmt.Fprintf(w, "Object store %s: ", o.GetUrl())
		if o.GetHealthy() {
			fmt.Fprintf(w, "healthy, probe (put, get, delete) %s\n", roundDur(o.GetProbeTime().AsDuration()))
		} else {
			fmt.Fprintf(w, "PROBE FAILED: %s\n", o.GetError())
		}
	} else if st.GetCluster() {
		fmt.Fprintln(w, "Object store: none (--objects not given)")
	}
	if note := st.GetSharedLog().GetNote(); note != "" && st.GetCluster() {
		fmt.Fprintf(w, "Shared log: %s.\n", note)
	}
	fmt.Fprintln(w)
	if len(st.GetPartitions()) == 0 {
		fmt.Fprintln(w, "No topics.")
		return
	}
	fmt.Fprintln(w, "Partitions:")
	tw := tabwriter.NewWriter(w, 0, 4, 2, ' ', 0)
	fmt.Fprintln(tw, "  TOPIC\tPARTITION\tHIGH WATERMARK\tLOG START\tOBJECTS")
	for _, p := range st.GetPartitions() {
		fmt.Fprintf(tw, "  %s\t%d\t%s\t%s\t%s\n", p.GetTopic(), p.GetPartition(), optInt(p.HighWatermark), optInt(p.LogStartOffset), optInt(p.ObjectCount))
	}
	tw.Flush()
	unknown := false
	for _, p := range st.GetPartitions() {
		unknown = unknown || p.HighWatermark == nil
	}
	if unknown && st.GetCluster() && !st.GetSharedLog().GetEnabled() {
		fmt.Fprintf(w, "(offsets are known on the data node %s only; object counts need the shared log)\n", orDash(st.GetDataNode()))
	}
}

func nodeStateText(s clusterv1.NodeState) string {
	switch s {
	case clusterv1.NodeState_NODE_STATE_ALIVE:
		return "alive"
	case clusterv1.NodeState_NODE_STATE_STOPPED:
		return "stopped"
	case clusterv1.NodeState_NODE_STATE_NOT_RESPONDING:
		return "NOT RESPONDING"
	}
	return "unknown"
}

func optInt(v *int64) string {
	if v == nil {
		return "-"
	}
	return strconv.FormatInt(*v, 10)
}

func roundAge(d time.Duration) time.Duration {
	if d < 0 {
		return 0
	}
	return d.Round(100 * time.Millisecond)
}

func roundDur(d time.Duration) time.Duration {
	switch {
	case d >= time.Second:
		return d.Round(time.Millisecond)
	case d >= time.Millisecond:
		return d.Round(10 * time.Microsecond)
	}
	return d.Round(time.Microsecond)
}
