package shared

import (
	"context"
	"errors"
	"fmt"

	"github.com/jackc/pgx/v5"
)

// CollectGarbage deletes, in the object store and then in PostgreSQL, the
// objects whose bytes have all been dead (retention) for Config.GCGrace,
// and the orphaned uploads: objects announced in sharedlog_uploads more
// than Config.OrphanAge ago and never committed (their node died or gave
// up between PUT and commit). Any node may run it, several at once. It
// returns how many of each it deleted.
func (l *Log) CollectGarbage(ctx context.Context) (dead, orphans int, err error) {
	var errs []error
	// Dead objects: nothing refers to them any more, and nothing will
	// (live bytes only fall), so deleting the bytes first is safe; the row
	// goes after, so a failed delete is retried on the next run.
	rows, err := l.pool.Query(ctx, `SELECT key FROM sharedlog_objects
		WHERE dead_since IS NOT NULL AND dead_since < now() - make_interval(secs => $1) ORDER BY dead_since LIMIT 1000`,
		l.cfg.GCGrace.Seconds())
	if err != nil {
		return 0, 0, fmt.Errorf("%w: list dead objects: %w", ErrUnavailable, err)
	}
	keys, err := pgx.CollectRows(rows, pgx.RowTo[string])
	if err != nil {
		return 0, 0, fmt.Errorf("%w: list dead objects: %w", ErrUnavailable, err)
	}
	for _, k := range keys {
		if err := l.objs.Delete(ctx, k); err != nil {
			errs = append(errs, fmt.Errorf("delete dead object %s: %w", k, err))
			continue
		}
		if _, err := l.pool.Exec(ctx, `DELETE FROM sharedlog_objects WHERE key = $1 AND live_bytes <= 0`, k); err != nil {
			errs = append(errs, fmt.Errorf("forget dead object %s: %w", k, err))
			continue
		}
		dead++
	}
	// Orphans: deleting the upload row is the fence against a late commit
	// (sharedlog_commit deletes it first and fails without it), so the row
	// goes first and the bytes after.
	rows, err = l.pool.Query(ctx, `SELECT key FROM sharedlog_uploads
		WHERE started_at < now() - make_interval(secs => $1) ORDER BY started_at LIMIT 1000`, l.cfg.OrphanAge.Seconds())
	if err != nil {
		return dead, 0, errors.Join(append(errs, fmt.Errorf("%w: list uploads: %w", ErrUnavailable, err))...)
	}
	keys, err = pgx.CollectRows(rows, pgx.RowTo[string])
	if err != nil {
		return dead, 0, errors.Join(append(errs, fmt.Errorf("%w: list uploads: %w", ErrUnavailable, err))...)
	}
	for _, k := range keys {
		tag, err := l.pool.Exec(ctx, `DELETE FROM sharedlog_uploads WHERE key = $1`, k)
		if err != nil {
			errs = append(errs, fmt.Errorf("forget upload %s: %w", k, err))
			continue
		}
		if tag.RowsAffected() == 0 {
			continue // committed or collected meanwhile
		}
		if err := l.objs.Delete(ctx, k); err != nil {
			errs = append(errs, fmt.Errorf("delete orphan object %s (its upload row is gone; the bytes leak): %w", k, err))
			continue
		}
		orphans++
	}
	return dead, orphans, errors.Join(errs...)
}
