package loadgen

// What a bench run leaves on the server it measured, and --cleanup. A run
// against --addr (or --in-process with --data-dir) leaves the topic it
// produced to, the consumer group of --group and, with --validate, the
// topics and subjects of each level. The run says which; with --cleanup it
// deletes them instead. --cleanup deletes only what the run created: a
// topic, group or subject that existed before is refused up front, so a
// typo in --topic cannot delete someone's data.

import (
	"context"
	"errors"
	"fmt"
	"io"
	"net/http"
	"strings"
	"time"

	"connectrpc.com/connect"

	brokerv1 "github.com/sluicehq/sluice/proto/gen/sluice/broker/v1"
	"github.com/sluicehq/sluice/proto/gen/sluice/broker/v1/brokerv1connect"
	"github.com/sluicehq/sluice/srclient"
)

// benchCleanupTimeout bounds the deletions of --cleanup, which run even
// after an interrupt.
const benchCleanupTimeout = 30 * time.Second

// benchLeftovers is what one run created, or used, on one server.
type benchLeftovers struct {
	cfg      *Config
	base     string // the server
	kept     bool   // the server's data outlives the run
	topics   []string
	group    string
	subjects []string
}

// checkGroupNew refuses --cleanup when group already exists (has members
// or committed offsets).
func checkGroupNew(ctx context.Context, c *Config, base, group string) error {
	admin := brokerv1connect.NewGroupServiceClient(c.httpClient(), base, c.clientOptions(base)...)
	_, err := admin.DescribeGroup(ctx, connect.NewRequest(&brokerv1.DescribeGroupRequest{Group: group}))
	switch {
	case err == nil:
		return existsError("consumer group", group, "sluice group delete "+shellQuote(group))
	case connect.CodeOf(err) == connect.CodeNotFound:
		return nil
	default:
		return fmt.Errorf("describe group %s: %w", group, err)
	}
}

// checkSubjectNew refuses --cleanup when subject already has versions.
func checkSubjectNew(ctx context.Context, reg *srclient.Client, subject string) error {
	var versions []int
	err := reg.Do(ctx, http.MethodGet, "/subjects/"+srclient.SubjectPath(subject)+"/versions", nil, nil, &versions)
	switch {
	case err == nil:
		return existsError("subject", subject, "sluice schema delete "+shellQuote(subject)+", then again with --permanent")
	case srclient.Code(err) == 40401:
		return nil
	default:
		return fmt.Errorf("listing the versions of %s: %w", subject, err)
	}
}

// finish deletes the leftovers (cleanup) or says what is left, on w. It
// runs after the measurement, also when it failed or was interrupted.
func (l *benchLeftovers) finish(ctx context.Context, w io.Writer, cleanup bool, inProcessDir string) error {
	if !l.kept || len(l.topics)+len(l.subjects) == 0 && l.group == "" {
		return nil
	}
	if cleanup {
		ctx, cancel := context.WithTimeout(context.WithoutCancel(ctx), benchCleanupTimeout)
		defer cancel()
		return l.delete(ctx, w)
	}
	var what []string
	for _, t := range l.topics {
		what = append(what, "topic "+t)
	}
	if l.group != "" {
		what = append(what, "consumer group "+l.group)
	}
	for _, s := range l.subjects {
		what = append(what, "subject "+s)
	}
	where := "on " + l.base
	if inProcessDir != "" {
		where = "in --data-dir " + inProcessDir
	}
	fmt.Fprintf(w, "left %s %s; --cleanup deletes what a run creates", joinAnd(what), where)
	if inProcessDir == "" {
		var cmds []string
		addr := " --addr " + shellQuote(l.base)
		for _, t := range l.topics {
			cmds = append(cmds, "sluice topic delete "+shellQuote(t)+addr)
		}
		if l.group != "" {
			cmds = append(cmds, "sluice group delete "+shellQuote(l.group)+addr)
		}
		for _, s := range l.subjects {
			cmds = append(cmds, "sluice schema delete "+shellQuote(s)+addr)
		}
		fmt.Fprintf(w, "; to delete them now: %s", strings.Join(cmds, "; "))
	}
	fmt.Fprintln(w)
	return nil
}

// delete removes the leftovers: the group first (its members may take a
// moment to leave), then the topics, then the subjects (soft, then
// permanently).
func (l *benchLeftovers) delete(ctx context.Context, w io.Writer) error {
	var errs []error
	var done []string
	if l.group != "" {
		if err := deleteGroupWhenEmpty(ctx, l.cfg, l.base, l.group); err != nil {
			errs = append(errs, fmt.Errorf("--cleanup: deleting consumer group %s: %w", l.group, err))
		} else {
			done = append(done, "consumer group "+l.group)
		}
	}
	topics := brokerv1connect.NewTopicServiceClient(l.cfg.httpClient(), l.base, l.cfg.clientOptions(l.base)...)
	for _, t := range l.topics {
		_, err := topics.DeleteTopic(ctx, connect.NewRequest(&brokerv1.DeleteTopicRequest{Name: t}))
		if err != nil && connect.CodeOf(err) != connect.CodeNotFound {
			errs = append(errs, fmt.Errorf("--cleanup: deleting topic %s: %w", t, err))
			continue
		}
		done = append(done, "topic "+t)
	}
	reg := l.cfg.registry(l.base)
	for _, s := range l.subjects {
		path := "/subjects/" + srclient.SubjectPath(s)
		err := reg.Do(ctx, http.MethodDelete, path, nil, nil, nil)
		if srclient.Code(err) == 40401 {
			continue // never registered: the run failed before
		}
		if err == nil || srclient.Code(err) == 40404 {
			err = reg.Do(ctx, http.MethodDelete, path, map[string][]string{"permanent": {"true"}}, nil, nil)
		}
		if err != nil {
			errs = append(errs, fmt.Errorf("--cleanup: deleting subject %s: %w", s, err))
			continue
		}
		done = append(done, "subject "+s)
	}
	if len(done) > 0 {
		fmt.Fprintf(w, "deleted %s (--cleanup)\n", joinAnd(done))
	}
	return errors.Join(errs...)
}

// deleteGroupWhenEmpty deletes group, retrying while members that just
// stopped are still leaving it.
func deleteGroupWhenEmpty(ctx context.Context, c *Config, base, group string) error {
	admin := brokerv1connect.NewGroupServiceClient(c.httpClient(), base, c.clientOptions(base)...)
	wait := 10 * time.Millisecond
	for {
		_, err := admin.DeleteGroup(ctx, connect.NewRequest(&brokerv1.DeleteGroupRequest{Group: group}))
		if err == nil || connect.CodeOf(err) == connect.CodeNotFound {
			return nil
		}
		if connect.CodeOf(err) != connect.CodeFailedPrecondition {
			return err
		}
		select {
		case <-ctx.Done():
			return fmt.Errorf("%w (still has members when the time ran out)", err)
		case <-time.After(wait):
		}
		wait = min(2*wait, 500*time.Millisecond)
	}
}

// existsError refuses --cleanup for something that existed before the run.
func existsError(what, name, remove string) error {
	return fmt.Errorf("--cleanup deletes only what the run creates, and %s %s already exists: remove it first (%s) or choose another --topic or --group", what, name, remove)
}

// plural counts n of noun: "1 record", "2 records".
func plural[N ~int | ~int32 | ~int64](n N, noun string) string {
	if n == 1 {
		return "1 " + noun
	}
	return fmt.Sprintf("%d %ss", n, noun)
}

// shellQuote quotes s for a POSIX shell when it needs quoting.
func shellQuote(s string) string {
	if s != "" && strings.Trim(s, "abcdefghijklmnopqrstuvwxyzABCDEFGHIJKLMNOPQRSTUVWXYZ0123456789-_=./:,+@%") == "" {
		return s
	}
	return "'" + strings.ReplaceAll(s, "'", `'\''`) + "'"
}

// joinAnd joins "a", "a and b", "a, b and c".
func joinAnd(items []string) string {
	if len(items) <= 1 {
		return strings.Join(items, "")
	}
	return strings.Join(items[:len(items)-1], ", ") + " and " + items[len(items)-1]
}
