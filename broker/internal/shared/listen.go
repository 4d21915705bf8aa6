package shared

import (
	"context"
	"errors"
	"strconv"
	"strings"
	"time"

	"github.com/jackc/pgx/v5"

	"github.com/sluicehq/sluice/internal/pgnotify"
	"github.com/sluicehq/sluice/objstore"
)

func isNotFound(err error) bool { return errors.Is(err, objstore.ErrNotFound) }

// listenLoop keeps the node's high watermarks current: the commits'
// notifications (sub, on the node's notification hub), a poll of every
// open partition whenever notifications may have been missed (the hub
// (re)connected or the queue overflowed) and every PollInterval. It also
// runs the garbage collector now and then.
func (l *Log) listenLoop(sub *pgnotify.Subscription) {
	defer l.wg.Done()
	defer sub.Close()
	gcEvery := l.cfg.GCInterval
	lastGC := time.Now()
	var lastPoll time.Time
	poll := func() {
		lastPoll = time.Now()
		if err := l.pollAll(l.ctx); err != nil && l.ctx.Err() == nil {
			l.log.Warn("shared log: high watermark poll failed", "err", err)
		}
		l.pruneKeys()
		if gcEvery > 0 && time.Since(lastGC) >= gcEvery {
			lastGC = time.Now()
			if _, _, err := l.CollectGarbage(l.ctx); err != nil && l.ctx.Err() == nil {
				l.log.Warn("shared log: garbage collection failed; retried later", "err", err)
			}
		}
	}
	tick := time.NewTicker(l.cfg.PollInterval)
	defer tick.Stop()
	var buf []string
	for {
		select {
		case <-l.ctx.Done():
			return
		case <-tick.C:
			// Under a steady stream of notifications too: sizes and
			// start offsets come with polls, and so does GC.
			if time.Since(lastPoll) >= l.cfg.PollInterval/2 {
				poll()
			}
		case <-sub.Ready():
			payloads, missed := sub.Take(buf[:0])
			l.stats.Notification.Add(int64(len(payloads)))
			again := missed
			for _, p := range payloads {
				if !l.applyNotification(p) {
					again = true
				}
			}
			clear(payloads)
			buf = payloads
			if again {
				poll()
			}
		}
	}
}

// applyNotification applies "<partition> <next_offset> <topic_id>" lines,
// transactional commits' "txn <partition> <next_offset> <open_first|-> <abort_max|-> <topic_id>"
// (each before the plain line of its partition) and key compaction's
// "compacted <partition> <topic_id>"; false means the payload asks for a
// poll ("*", or unreadable).
func (l *Log) applyNotification(payload string) bool {
	if payload == "*" || payload == "" {
		return false
	}
	for line := range strings.SplitSeq(payload, "\n") {
		if what, ok := strings.CutPrefix(line, compactedNotice); ok {
			l.forgetCompacted(what) // compact_keys.go
			continue
		}
		if what, ok := strings.CutPrefix(line, txnNotice); ok {
			if !l.applyTxnNotice(what) {
				return false
			}
			continue
		}
		ps, rest, ok1 := strings.Cut(line, " ")
		ns, topic, ok2 := strings.Cut(rest, " ")
		part, err1 := strconv.ParseInt(ps, 10, 32)
		next, err2 := strconv.ParseInt(ns, 10, 64)
		if !ok1 || !ok2 || err1 != nil || err2 != nil {
			return false
		}
		l.mu.Lock()
		p := l.parts[pkey{topic, int32(part)}]
		l.mu.Unlock()
		if p != nil {
			p.advance(next, -1, -1)
		}
	}
	return true
}

// txnNotice starts a NOTIFY line of a partition's transaction state.
const txnNotice = "txn "

// applyTxnNotice applies "<partition> <next_offset> <open_first|-> <abort_max|-> <topic_id>";
// false when it cannot be read.
func (l *Log) applyTxnNotice(what string) bool {
	f := strings.SplitN(what, " ", 5)
	if len(f) != 5 {
		return false
	}
	part, err1 := strconv.ParseInt(f[0], 10, 32)
	next, err2 := strconv.ParseInt(f[1], 10, 64)
	openFirst, ok3 := parseOrNone(f[2])
	abortMax, ok4 := parseOrNone(f[3])
	if err1 != nil || err2 != nil || !ok3 || !ok4 {
		return false
	}
	l.mu.Lock()
	p := l.parts[pkey{f[4], int32(part)}]
	l.mu.Unlock()
	if p != nil {
		p.advanceTxn(next, openFirst, abortMax)
	}
	return true
}

// parseOrNone reads an offset, or "-" as -1 (none).
func parseOrNone(s string) (int64, bool) {
	if s == "-" {
		return -1, true
	}
	v, err := strconv.ParseInt(s, 10, 64)
	return v, err == nil && v >= 0
}

// pollAll reads the rows of every partition open on this node.
func (l *Log) pollAll(ctx context.Context) error {
	l.stats.Polls.Add(1)
	l.mu.Lock()
	topics := make([]string, 0, len(l.parts))
	parts := make([]int32, 0, len(l.parts))
	for k := range l.parts {
		topics = append(topics, k.topic)
		parts = append(parts, k.part)
	}
	l.mu.Unlock()
	if len(topics) == 0 {
		return nil
	}
	rows, err := l.pool.Query(ctx, `SELECT p.topic_id, p.partition, p.next_offset, p.log_start_offset, p.bytes, p.open_first, p.abort_max
		FROM sharedlog_partitions p JOIN unnest($1::text[], $2::int[]) AS x(t, q) ON p.topic_id = x.t AND p.partition = x.q`, topics, parts)
	if err != nil {
		return err
	}
	type row struct {
		k                   pkey
		next, start, bytes_ int64
		openFirst, abortMax *int64
	}
	got, err := pgx.CollectRows(rows, func(r pgx.CollectableRow) (row, error) {
		var x row
		err := r.Scan(&x.k.topic, &x.k.part, &x.next, &x.start, &x.bytes_, &x.openFirst, &x.abortMax)
		return x, err
	})
	if err != nil {
		return err
	}
	for _, x := range got {
		l.mu.Lock()
		p := l.parts[x.k]
		l.mu.Unlock()
		if p != nil {
			p.advanceTxn(x.next, orNone(x.openFirst), orNone(x.abortMax))
			p.advance(x.next, x.start, x.bytes_)
		}
	}
	return nil
}
