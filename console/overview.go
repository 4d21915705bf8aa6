package console

import (
	"fmt"
	"net/http"
	"sort"
	"time"

	"connectrpc.com/connect"

	brokerv1 "github.com/sluicehq/sluice/proto/gen/sluice/broker/v1"
)

// This file is the overview page: the node's topics (partitions, records,
// bytes), subjects and consumer groups, its version and uptime. A section
// the API refuses (authorization) shows its error; the others still show.

type overviewData struct {
	Version, Uptime string
	Topics          []topicRow
	TopicsErr       string
	Records, Bytes  int64
	Subjects        []string
	SubjectsErr     string
	Groups          []*brokerv1.GroupListing
	GroupsErr       string
	// Metrics says the node serves metrics; Window is the rates' window
	// (0: totals only, until the next view).
	Metrics bool
	Window  string
}

type topicRow struct {
	Name       string
	Partitions int
	Records    int64
	Bytes      int64
	// Rates are nil when the node serves no metrics.
	Rates *topicRates
}

func (c *Console) overview(w http.ResponseWriter, r *http.Request) {
	ctx := r.Context()
	d := overviewData{Version: c.cfg.Version, Uptime: uptime(c.cfg.Now().Sub(c.cfg.Started))}
	// Metrics first: ListTopics names the topics this user may see, and
	// only those rows show rates.
	rates := c.rates(ctx)
	d.Metrics = rates != nil
	if res, err := c.topics.ListTopics(ctx, connect.NewRequest(&brokerv1.ListTopicsRequest{})); err != nil {
		d.TopicsErr = message(err)
	} else {
		for _, t := range res.Msg.GetTopics() {
			row := topicRow{Name: t.GetName(), Partitions: len(t.GetPartitions())}
			for _, p := range t.GetPartitions() {
				row.Records += p.GetHighWatermark() - p.GetLogStartOffset()
				row.Bytes += p.GetSizeBytes()
			}
			d.Records += row.Records
			d.Bytes += row.Bytes
			if tr, ok := rates[row.Name]; ok {
				row.Rates = &tr
				if tr.Window > 0 {
					d.Window = tr.Window.Round(time.Second).String()
				}
			} else if rates != nil {
				row.Rates = &topicRates{}
			}
			d.Topics = append(d.Topics, row)
		}
		sort.Slice(d.Topics, func(i, j int) bool { return d.Topics[i].Name < d.Topics[j].Name })
	}
	if err := c.sr.Do(ctx, http.MethodGet, "/subjects", nil, nil, &d.Subjects); err != nil {
		d.SubjectsErr = message(err)
	}
	sort.Strings(d.Subjects)
	if res, err := c.groups.ListGroups(ctx, connect.NewRequest(&brokerv1.ListGroupsRequest{})); err != nil {
		d.GroupsErr = message(err)
	} else {
		d.Groups = res.Msg.GetGroups()
		sort.Slice(d.Groups, func(i, j int) bool { return d.Groups[i].GetGroup() < d.Groups[j].GetGroup() })
	}
	c.render(w, r, http.StatusOK, "overview", page{Title: "Overview", Section: "overview", Data: d})
}

// uptime words a duration to the second, largest units first: 2d 3h 4m 5s.
func uptime(d time.Duration) string {
	d = d.Truncate(time.Second)
	if d < 0 {
		d = 0
	}
	days := int64(d / (24 * time.Hour))
	d -= time.Duration(days) * 24 * time.Hour
	h, m, s := int64(d/time.Hour), int64(d/time.Minute)%60, int64(d/time.Second)%60
	switch {
	case days > 0:
		return fmt.Sprintf("%dd %dh %dm %ds", days, h, m, s)
	case h > 0:
		return fmt.Sprintf("%dh %dm %ds", h, m, s)
	case m > 0:
		return fmt.Sprintf("%dm %ds", m, s)
	}
	return fmt.Sprintf("%ds", s)
}
