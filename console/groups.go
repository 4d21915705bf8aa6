package console

import (
	"fmt"
	"net/http"
	"sort"
	"strconv"
	"strings"

	"connectrpc.com/connect"
	"google.golang.org/protobuf/types/known/timestamppb"

	brokerv1 "github.com/sluicehq/sluice/proto/gen/sluice/broker/v1"
)

// This file is the consumer-group pages, over GroupService: the list; a
// group's members with their assignment, per-partition committed offsets
// and lag, and the total; and an offset reset (to the earliest or latest
// offset, a time, or an offset) that first shows what it will do and
// happens only when confirmed. `sluice group reset-offsets` is the same
// call.

func (c *Console) groupList(w http.ResponseWriter, r *http.Request) {
	res, err := c.groups.ListGroups(r.Context(), connect.NewRequest(&brokerv1.ListGroupsRequest{}))
	if err != nil {
		c.apiFail(w, r, "groups", err)
		return
	}
	gs := res.Msg.GetGroups()
	sort.Slice(gs, func(i, j int) bool { return gs[i].GetGroup() < gs[j].GetGroup() })
	c.render(w, r, http.StatusOK, "groups", page{Title: "Consumer groups", Section: "groups", Data: gs})
}

type groupData struct {
	G *brokerv1.DescribeGroupResponse
	// Topics are the topics the group has offsets for, for the reset form.
	Topics []string
	// Reset is a reset waiting for confirmation, or done.
	Reset *resetData
}

type resetData struct {
	Topic, To, Value string
	Partitions       string
	Force            bool
	// Done lists the offsets a confirmed reset committed.
	Done []*brokerv1.OffsetCommit
	// Describe words the reset for the confirmation.
	Describe string
}

func (c *Console) group(w http.ResponseWriter, r *http.Request) {
	c.renderGroup(w, r, http.StatusOK, nil, "")
}

func (c *Console) renderGroup(w http.ResponseWriter, r *http.Request, status int, reset *resetData, errText string) {
	name := r.PathValue("group")
	res, err := c.groups.DescribeGroup(r.Context(), connect.NewRequest(&brokerv1.DescribeGroupRequest{Group: name}))
	if err != nil {
		c.apiFail(w, r, "group "+name, err)
		return
	}
	d := groupData{G: res.Msg, Reset: reset}
	seen := map[string]bool{}
	for _, p := range res.Msg.GetPartitions() {
		if !seen[p.GetTopic()] {
			seen[p.GetTopic()] = true
			d.Topics = append(d.Topics, p.GetTopic())
		}
	}
	sort.Strings(d.Topics)
	flash := ""
	if reset != nil && reset.Done != nil {
		flash = fmt.Sprintf("Reset %d partition offset(s) of %s.", len(reset.Done), reset.Topic)
	}
	c.render(w, r, status, "group", page{Title: "Group " + name, Section: "groups", Data: d, Flash: flash, Err: errText})
}

// reset resets the group's committed offsets of one topic. Without
// confirm=yes it only shows the confirmation.
func (c *Console) reset(w http.ResponseWriter, r *http.Request) {
	name := r.PathValue("group")
	rd := &resetData{Topic: strings.TrimSpace(r.FormValue("topic")), To: r.FormValue("to"),
		Value: strings.TrimSpace(r.FormValue("value")), Partitions: strings.TrimSpace(r.FormValue("partitions")),
		Force: r.FormValue("force") != ""}
	req := &brokerv1.ResetOffsetsRequest{Group: name, Topic: rd.Topic, Force: rd.Force}
	if rd.Topic == "" {
		c.renderGroup(w, r, http.StatusBadRequest, nil, "reset: choose a topic")
		return
	}
	where := "every partition"
	if rd.Partitions != "" {
		for _, f := range strings.Split(rd.Partitions, ",") {
			p, err := parsePartition(f)
			if err != nil {
				c.renderGroup(w, r, http.StatusBadRequest, nil, fmt.Sprintf("reset: partitions %q: want numbers separated by commas", rd.Partitions))
				return
			}
			req.Partitions = append(req.Partitions, p)
		}
		where = "partitions " + rd.Partitions
	}
	switch rd.To {
	case "earliest":
		req.To = &brokerv1.ResetOffsetsRequest_Spec{Spec: brokerv1.OffsetSpec_OFFSET_SPEC_EARLIEST}
		rd.Describe = "the earliest offset"
	case "latest":
		req.To = &brokerv1.ResetOffsetsRequest_Spec{Spec: brokerv1.OffsetSpec_OFFSET_SPEC_LATEST}
		rd.Describe = "the latest offset (skip everything not yet read)"
	case "offset":
		n, err := strconv.ParseInt(rd.Value, 10, 64)
		if err != nil || n < 0 {
			c.renderGroup(w, r, http.StatusBadRequest, nil, fmt.Sprintf("reset: offset %q: want a number, 0 or more", rd.Value))
			return
		}
		req.To = &brokerv1.ResetOffsetsRequest_Offset{Offset: n}
		rd.Describe = "offset " + rd.Value
	case "time":
		ts, err := parseTime(rd.Value)
		if err != nil {
			c.renderGroup(w, r, http.StatusBadRequest, nil, "reset: "+err.Error())
			return
		}
		req.To = &brokerv1.ResetOffsetsRequest_Timestamp{Timestamp: timestamppb.New(ts)}
		rd.Describe = "the first offset at or after " + ts.UTC().Format("2006-01-02 15:04:05Z")
	default:
		c.renderGroup(w, r, http.StatusBadRequest, nil, fmt.Sprintf("reset: to %q: want earliest, latest, offset or time", rd.To))
		return
	}
	rd.Describe = fmt.Sprintf("Reset the committed offsets of group %s on topic %s, %s, to %s?", name, rd.Topic, where, rd.Describe)
	if r.FormValue("confirm") != "yes" {
		c.renderGroup(w, r, http.StatusOK, rd, "")
		return
	}
	res, err := c.groups.ResetOffsets(r.Context(), connect.NewRequest(req))
	if err != nil {
		c.renderGroup(w, r, statusOf(err), nil, "reset refused: "+message(err))
		return
	}
	rd.Done = res.Msg.GetOffsets()
	if rd.Done == nil {
		rd.Done = []*brokerv1.OffsetCommit{}
	}
	c.renderGroup(w, r, http.StatusOK, rd, "")
}
