package main

// `sluice group list|describe|reset|delete`, and the --group mode of
// `sluice consume` (consumeGroup), over GroupService.

import (
	"context"
	"errors"
	"fmt"
	"io"
	"strconv"
	"strings"
	"sync"
	"text/tabwriter"
	"time"

	"connectrpc.com/connect"
	"google.golang.org/protobuf/types/known/timestamppb"

	brokerv1 "github.com/sluicehq/sluice/proto/gen/sluice/broker/v1"
	"github.com/sluicehq/sluice/proto/gen/sluice/broker/v1/brokerv1connect"
)

const groupUsage = `Usage: sluice group <subcommand> [flags]

Subcommands:
  list                       list groups with members or committed offsets
  describe GROUP             state, members, and per partition the committed
                             offset, log start, end (high watermark), lag and
                             owner; the total lag last
  reset GROUP --topic T (--to-earliest | --to-latest | --to-datetime TIME | --to-offset N)
                             rewrite committed offsets of T (all partitions, or
                             --partitions 0,2); refused while the group has
                             members unless --force: running members keep their
                             positions and their next commit overwrites the
                             reset, which takes effect where a partition is next
                             assigned
  delete GROUP               delete a group without members and its offsets

Flags:
`

func runGroup(ctx context.Context, e *env, args []string) int {
	fs := newFlagSet(e, "sluice group", groupUsage)
	var cf clientFlags
	cf.register(fs, e)
	topic := fs.String("topic", "", "reset: the `topic` whose offsets to reset")
	parts := fs.String("partitions", "", "reset: comma-separated `partitions`; default all")
	toEarliest := fs.Bool("to-earliest", false, "reset: to the log start offset")
	toLatest := fs.Bool("to-latest", false, "reset: to the high watermark")
	toTime := fs.String("to-datetime", "", "reset: to the first record at or after `TIME` (RFC 3339)")
	toOffset := fs.Int64("to-offset", -1, "reset: to this `offset`")
	force := fs.Bool("force", false, "reset: even while the group has members")
	sub, rest, code, ok := parseSubcommand(fs, &cf, e, args)
	if !ok {
		return code
	}
	want := 1
	switch sub {
	case "list":
		want = 0
	case "describe", "reset", "delete":
	default:
		fmt.Fprintf(e.stderr, "sluice group: unknown subcommand %q; want list, describe, reset or delete\n", sub)
		return 2
	}
	if len(rest) != want {
		if want == 0 {
			fmt.Fprintf(e.stderr, "sluice group %s: takes no arguments\n", sub)
		} else {
			fmt.Fprintf(e.stderr, "sluice group %s: want one GROUP\n", sub)
		}
		return 2
	}
	client := cf.groupClient()
	var err error
	switch sub {
	case "list":
		err = groupList(ctx, e.stdout, client, cf.json())
	case "describe":
		err = groupDescribe(ctx, e.stdout, client, rest[0], cf.json())
	case "delete":
		if _, err = client.DeleteGroup(ctx, connect.NewRequest(&brokerv1.DeleteGroupRequest{Group: rest[0]})); err == nil {
			if cf.json() {
				err = writeJSON(e.stdout, map[string]string{"deleted": rest[0]})
			} else {
				fmt.Fprintf(e.stdout, "deleted group %s\n", rest[0])
			}
		}
	case "reset":
		req := &brokerv1.ResetOffsetsRequest{Group: rest[0], Topic: *topic, Force: *force}
		if *topic == "" {
			fmt.Fprintln(e.stderr, "sluice group reset: --topic is required")
			return 2
		}
		if req.Partitions, err = parsePartitions(*parts); err != nil {
			fmt.Fprintf(e.stderr, "sluice group reset: %v\n", err)
			return 2
		}
		n := 0
		if *toEarliest {
			n++
			req.To = &brokerv1.ResetOffsetsRequest_Spec{Spec: brokerv1.OffsetSpec_OFFSET_SPEC_EARLIEST}
		}
		if *toLatest {
			n++
			req.To = &brokerv1.ResetOffsetsRequest_Spec{Spec: brokerv1.OffsetSpec_OFFSET_SPEC_LATEST}
		}
		if *toTime != "" {
			n++
			ts, perr := time.Parse(time.RFC3339Nano, *toTime)
			if perr != nil {
				fmt.Fprintf(e.stderr, "sluice group reset: --to-datetime %q: want RFC 3339, e.g. 2026-01-02T15:04:05Z\n", *toTime)
				return 2
			}
			req.To = &brokerv1.ResetOffsetsRequest_Timestamp{Timestamp: timestamppb.New(ts)}
		}
		if *toOffset >= 0 {
			n++
			req.To = &brokerv1.ResetOffsetsRequest_Offset{Offset: *toOffset}
		}
		if n != 1 {
			fmt.Fprintln(e.stderr, "sluice group reset: give exactly one of --to-earliest, --to-latest, --to-datetime, --to-offset")
			return 2
		}
		var res *connect.Response[brokerv1.ResetOffsetsResponse]
		if res, err = client.ResetOffsets(ctx, connect.NewRequest(req)); err == nil {
			err = printOffsets(e.stdout, rest[0], res.Msg.GetOffsets(), cf.json())
		}
	}
	if err != nil {
		return printErr(e.stderr, "group "+sub, err)
	}
	return 0
}

// parsePartitions parses "0,2,5"; empty is nil (all).
func parsePartitions(s string) ([]int32, error) {
	if s == "" {
		return nil, nil
	}
	var out []int32
	for _, f := range strings.Split(s, ",") {
		n, err := strconv.ParseInt(strings.TrimSpace(f), 10, 32)
		if err != nil || n < 0 {
			return nil, fmt.Errorf("--partitions %q: %q is not a partition number", s, f)
		}
		out = append(out, int32(n))
	}
	return out, nil
}

func groupList(ctx context.Context, w io.Writer, c brokerv1connect.GroupServiceClient, asJSON bool) error {
	res, err := c.ListGroups(ctx, connect.NewRequest(&brokerv1.ListGroupsRequest{}))
	if err != nil {
		return err
	}
	type listing struct {
		Group   string `json:"group"`
		State   string `json:"state"`
		Members int32  `json:"members"`
	}
	out := []listing{}
	for _, g := range res.Msg.GetGroups() {
		out = append(out, listing{g.GetGroup(), g.GetState(), g.GetMembers()})
	}
	if asJSON {
		return writeJSON(w, map[string]any{"groups": out})
	}
	if len(out) == 0 {
		fmt.Fprintln(w, "no groups")
		return nil
	}
	tw := tabwriter.NewWriter(w, 0, 0, 2, ' ', 0)
	fmt.Fprintln(tw, "GROUP\tSTATE\tMEMBERS")
	for _, g := range out {
		fmt.Fprintf(tw, "%s\t%s\t%d\n", g.Group, g.State, g.Members)
	}
	return tw.Flush()
}

// groupDescribeJSON is `group describe --output json` (DESIGN.md §8).
type groupDescribeJSON struct {
	Group      string               `json:"group"`
	State      string               `json:"state"`
	Epoch      int32                `json:"epoch"`
	Assignor   string               `json:"assignor"`
	Members    []groupMemberJSON    `json:"members"`
	Partitions []groupPartitionJSON `json:"partitions"`
	TotalLag   int64                `json:"total_lag"`
}

type groupMemberJSON struct {
	MemberID   string   `json:"member_id"`
	InstanceID string   `json:"instance_id,omitempty"`
	Epoch      int32    `json:"epoch"`
	Topics     []string `json:"topics,omitempty"`
	TopicRegex string   `json:"topic_regex,omitempty"`
	Assignment []string `json:"assignment"`
	Target     []string `json:"target"`
}

type groupPartitionJSON struct {
	Topic          string `json:"topic"`
	Partition      int32  `json:"partition"`
	Committed      *int64 `json:"committed_offset"`
	LogStartOffset int64  `json:"log_start_offset"`
	HighWatermark  int64  `json:"high_watermark"`
	Lag            int64  `json:"lag"`
	Owner          string `json:"owner,omitempty"`
	Metadata       string `json:"metadata,omitempty"`
}

// tpStrings renders partitions as "topic/p".
func tpStrings(tps []*brokerv1.TopicPartitions) []string {
	out := []string{}
	for _, tp := range tps {
		for _, p := range tp.GetPartitions() {
			out = append(out, fmt.Sprintf("%s/%d", tp.GetTopic(), p))
		}
	}
	return out
}

func groupDescribe(ctx context.Context, w io.Writer, c brokerv1connect.GroupServiceClient, groupID string, asJSON bool) error {
	res, err := c.DescribeGroup(ctx, connect.NewRequest(&brokerv1.DescribeGroupRequest{Group: groupID}))
	if err != nil {
		return err
	}
	d := res.Msg
	if asJSON {
		j := groupDescribeJSON{Group: d.GetGroup(), State: d.GetState(), Epoch: d.GetGroupEpoch(), Assignor: d.GetAssignor(), TotalLag: d.GetTotalLag(), Members: []groupMemberJSON{}, Partitions: []groupPartitionJSON{}}
		for _, m := range d.GetMembers() {
			j.Members = append(j.Members, groupMemberJSON{
				MemberID: m.GetMemberId(), InstanceID: m.GetInstanceId(), Epoch: m.GetMemberEpoch(),
				Topics: m.GetTopics(), TopicRegex: m.GetTopicRegex(),
				Assignment: tpStrings(m.GetAssignment()), Target: tpStrings(m.GetTarget()),
			})
		}
		for _, p := range d.GetPartitions() {
			pj := groupPartitionJSON{Topic: p.GetTopic(), Partition: p.GetPartition(), LogStartOffset: p.GetLogStartOffset(),
				HighWatermark: p.GetHighWatermark(), Lag: p.GetLag(), Owner: p.GetOwner(), Metadata: p.GetMetadata()}
			if p.GetCommittedOffset() >= 0 {
				pj.Committed = new(p.GetCommittedOffset())
			}
			j.Partitions = append(j.Partitions, pj)
		}
		return writeJSON(w, j)
	}
	fmt.Fprintf(w, "group %s: %s, epoch %d, assignor %s, %s\n", d.GetGroup(), d.GetState(), d.GetGroupEpoch(), orDash(d.GetAssignor()), plural(len(d.GetMembers()), "member"))
	if len(d.GetMembers()) > 0 {
		fmt.Fprintln(w)
		tw := tabwriter.NewWriter(w, 0, 0, 2, ' ', 0)
		fmt.Fprintln(tw, "MEMBER\tINSTANCE\tEPOCH\tASSIGNMENT")
		for _, m := range d.GetMembers() {
			fmt.Fprintf(tw, "%s\t%s\t%d\t%s\n", m.GetMemberId(), orDash(m.GetInstanceId()), m.GetMemberEpoch(), orDash(strings.Join(tpStrings(m.GetAssignment()), " ")))
		}
		if err := tw.Flush(); err != nil {
			return err
		}
	}
	fmt.Fprintln(w)
	rows := [][]string{{"TOPIC", "PARTITION", "COMMITTED", "LOG-START", "END", "LAG", "OWNER"}}
	for _, p := range d.GetPartitions() {
		committed := "-"
		if p.GetCommittedOffset() >= 0 {
			committed = strconv.FormatInt(p.GetCommittedOffset(), 10)
		}
		rows = append(rows, []string{p.GetTopic(), strconv.Itoa(int(p.GetPartition())), committed,
			strconv.FormatInt(p.GetLogStartOffset(), 10), strconv.FormatInt(p.GetHighWatermark(), 10),
			strconv.FormatInt(p.GetLag(), 10), orDash(p.GetOwner())})
	}
	rows = append(rows, []string{"TOTAL", "", "", "", "", strconv.FormatInt(d.GetTotalLag(), 10), ""})
	// Text columns left, numbers right.
	_, err = io.WriteString(w, alignTable(rows, []bool{false, true, true, true, true, true, false}))
	return err
}

// alignTable renders rows as columns two spaces apart, right-aligning the
// columns marked in right, without trailing spaces.
func alignTable(rows [][]string, right []bool) string {
	width := make([]int, len(right))
	for _, r := range rows {
		for i, c := range r {
			width[i] = max(width[i], len(c))
		}
	}
	var sb strings.Builder
	for _, r := range rows {
		var line strings.Builder
		for i, c := range r {
			if i > 0 {
				line.WriteString("  ")
			}
			pad := strings.Repeat(" ", width[i]-len(c))
			if right[i] {
				line.WriteString(pad + c)
			} else {
				line.WriteString(c + pad)
			}
		}
		sb.WriteString(strings.TrimRight(line.String(), " ") + "\n")
	}
	return sb.String()
}

func orDash(s string) string {
	if s == "" {
		return "-"
	}
	return s
}

func printOffsets(w io.Writer, groupID string, offs []*brokerv1.OffsetCommit, asJSON bool) error {
	if asJSON {
		type off struct {
			Topic     string `json:"topic"`
			Partition int32  `json:"partition"`
			Offset    int64  `json:"offset"`
		}
		out := []off{}
		for _, o := range offs {
			out = append(out, off{o.GetTopic(), o.GetPartition(), o.GetOffset()})
		}
		return writeJSON(w, map[string]any{"group": groupID, "offsets": out})
	}
	tw := tabwriter.NewWriter(w, 0, 0, 2, ' ', 0)
	fmt.Fprintln(tw, "TOPIC\tPARTITION\tOFFSET")
	for _, o := range offs {
		fmt.Fprintf(tw, "%s\t%d\t%d\n", o.GetTopic(), o.GetPartition(), o.GetOffset())
	}
	return tw.Flush()
}

// consumeGroup is `sluice consume TOPIC --group G`: it joins G through a
// Consume stream, prints records and commits each chunk after printing it.
// On interrupt (ctx done) or --max it returns after the commit of what it
// printed, having left the group: when the command exits the group no
// longer counts it as a member (so `group reset` or `group delete` may
// follow at once).
func (c *consumer) consumeGroup(ctx context.Context, groups brokerv1connect.GroupServiceClient, groupID string, earliest bool, stderr io.Writer) error {
	// The stream outlives ctx by the time it takes to commit the chunk
	// being printed: closing it leaves the group, after which a commit
	// would be refused.
	sctx, cancel := context.WithCancel(context.WithoutCancel(ctx))
	defer cancel()
	var busy sync.Mutex // held while a chunk is printed and committed
	stop := context.AfterFunc(ctx, func() {
		busy.Lock()
		cancel()
		busy.Unlock()
	})
	defer stop()
	req := &brokerv1.ConsumeRequest{Group: groupID, Subscription: &brokerv1.Subscription{Topics: []string{c.topic}}, AutoOffsetReset: brokerv1.OffsetReset_OFFSET_RESET_LATEST}
	if earliest {
		req.AutoOffsetReset = brokerv1.OffsetReset_OFFSET_RESET_EARLIEST
	}
	stream, err := groups.Consume(sctx, connect.NewRequest(req))
	if err != nil {
		return err
	}
	defer stream.Close()
	var memberID string
	var epoch int32
	// Leave explicitly, before the stream closes (defers run last first):
	// the server also removes the member when it sees the stream close,
	// but only after this command has returned, and a proxy between them
	// may keep the stream open upstream for a while.
	defer func() {
		if memberID != "" {
			leaveGroup(groups, groupID, memberID, stderr)
		}
	}()
	for stream.Receive() {
		switch ev := stream.Msg().GetEvent().(type) {
		case *brokerv1.ConsumeResponse_Assignment:
			memberID, epoch = ev.Assignment.GetMemberId(), ev.Assignment.GetMemberEpoch()
		case *brokerv1.ConsumeResponse_Records:
			busy.Lock()
			err := c.printAndCommit(groups, groupID, memberID, epoch, ev.Records, stderr)
			busy.Unlock()
			if err != nil {
				return err
			}
		}
	}
	if ctx.Err() != nil {
		return ctx.Err()
	}
	if err := stream.Err(); err != nil {
		return err
	}
	return errors.New("the server ended the stream")
}

// leaveGroup removes member memberID from groupID, bounded in time; a
// member already gone (a rebalance, the server) is fine, other failures
// are reported but do not fail the command: the member still goes when
// the server sees its stream close.
func leaveGroup(groups brokerv1connect.GroupServiceClient, groupID, memberID string, stderr io.Writer) {
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	defer cancel()
	_, err := groups.LeaveGroup(ctx, connect.NewRequest(&brokerv1.LeaveGroupRequest{Group: groupID, MemberId: memberID}))
	if err != nil && connect.CodeOf(err) != connect.CodeNotFound {
		fmt.Fprintf(stderr, "sluice consume: leaving group %s: %v (the server removes the member when it sees the stream close)\n", groupID, err)
	}
}

// printAndCommit prints a chunk (up to --max) and commits what it printed.
func (c *consumer) printAndCommit(groups brokerv1connect.GroupServiceClient, groupID, memberID string, epoch int32, chunk *brokerv1.ConsumeRecords, stderr io.Writer) error {
	recs := chunk.GetRecords()
	before := c.printed
	perr := c.print(recs)
	n := c.printed - before
	if n == 0 {
		return perr
	}
	// Commit what was printed, even when interrupted: a context of its
	// own, bounded.
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	defer cancel()
	_, err := groups.CommitOffsets(ctx, connect.NewRequest(&brokerv1.CommitOffsetsRequest{
		Group: groupID, MemberId: memberID, MemberEpoch: epoch,
		Offsets: []*brokerv1.OffsetCommit{{Topic: chunk.GetTopic(), Partition: chunk.GetPartition(), Offset: recs[n-1].GetOffset() + 1}},
	}))
	switch code := connect.CodeOf(err); {
	case err == nil:
	case code == connect.CodeFailedPrecondition || code == connect.CodeNotFound:
		// A rebalance moved on: the records are delivered again to the
		// partition's next owner (at least once).
		fmt.Fprintf(stderr, "sluice consume: commit of %s/%d skipped: %v\n", chunk.GetTopic(), chunk.GetPartition(), err)
	default:
		return err
	}
	return perr
}
