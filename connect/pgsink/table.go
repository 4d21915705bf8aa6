package pgsink

import (
	"context"
	"errors"
	"fmt"
	"slices"
	"strings"

	"github.com/jackc/pgx/v5"
	"github.com/jackc/pgx/v5/pgconn"
)

// querier is what both a connection and a transaction offer.
type querier interface {
	Exec(ctx context.Context, sql string, args ...any) (pgconn.CommandTag, error)
	Query(ctx context.Context, sql string, args ...any) (pgx.Rows, error)
}

// ensureStateTables creates the sink's bookkeeping tables: the offsets
// committed with the rows, and the connector status that `sluice connect
// status` reads.
func ensureStateTables(ctx context.Context, q querier) error {
	_, err := q.Exec(ctx, `CREATE TABLE IF NOT EXISTS sluice_connect_offsets (
		connector text NOT NULL,
		topic text NOT NULL,
		partition integer NOT NULL,
		next_offset bigint NOT NULL,
		PRIMARY KEY (connector, topic, partition))`)
	if err == nil {
		err = ensureStatusTable(ctx, q)
	}
	if err != nil {
		return fmt.Errorf("create the sink's state tables: %w", err)
	}
	return nil
}

// ensureStatusTable creates sluice_connect_status, where connectors
// record their state (package pgsource keeps the same table).
func ensureStatusTable(ctx context.Context, q interface {
	Exec(ctx context.Context, sql string, args ...any) (pgconn.CommandTag, error)
}) error {
	_, err := q.Exec(ctx, `CREATE TABLE IF NOT EXISTS sluice_connect_status (
		connector text PRIMARY KEY,
		kind text NOT NULL,
		state text NOT NULL,
		detail text NOT NULL DEFAULT '',
		updated_at timestamptz NOT NULL DEFAULT now())`)
	return err
}

func setStatus(ctx context.Context, q querier, name, kind, state, detail string) error {
	_, err := q.Exec(ctx, `INSERT INTO sluice_connect_status (connector, kind, state, detail, updated_at)
		VALUES ($1, $2, $3, $4, now())
		ON CONFLICT (connector) DO UPDATE SET kind = EXCLUDED.kind, state = EXCLUDED.state,
			detail = EXCLUDED.detail, updated_at = EXCLUDED.updated_at`, name, kind, state, detail)
	if err != nil {
		return fmt.Errorf("record status: %w", err)
	}
	return nil
}

// storedOffsets reads the next offset of each partition the connector
// committed for topic.
func storedOffsets(ctx context.Context, q querier, connector, topic string) (map[int32]int64, error) {
	rows, err := q.Query(ctx, `SELECT partition, next_offset FROM sluice_connect_offsets WHERE connector = $1 AND topic = $2`, connector, topic)
	if err != nil {
		return nil, fmt.Errorf("read stored offsets: %w", err)
	}
	out := map[int32]int64{}
	for rows.Next() {
		var p int32
		var off int64
		if err := rows.Scan(&p, &off); err != nil {
			return nil, err
		}
		out[p] = off
	}
	return out, rows.Err()
}

// tableState is what the sink knows of its target table.
type tableState struct {
	schema, name, nested string
	exists               bool
	cols                 map[string]string   // column name -> data type
	uniques              map[string]bool     // column sets of unique indexes, sorted, joined by NUL
	ensured              map[[2]*column]bool // (key columns, value columns) already in the table
	layouts              map[[2]*column]*layout
	stages               map[string]string // column set -> staging table

	// The last pair ensure and layoutOf were asked about (the rows of a
	// batch nearly always share one): asked again, they answer without a
	// map lookup per row.
	lastEnsured   [2]*column
	lastEnsuredOK bool
	lastLayoutID  [2]*column
	lastLayout    *layout

	// copyBuf and rowBuf are memory the writer reuses from batch to
	// batch: the binary COPY stream, the rows of a batch's first group.
	copyBuf []byte
	rowBuf  []row

	// upsertMisses counts the last consecutive batches whose optimistic
	// COPY met a key already in the table (see copyUpsert); upsertSkip is
	// how many batches go on to the staging table before the next try;
	// stageOnly is set while such a batch is written.
	upsertMisses, upsertSkip int
	stageOnly                bool
}

func (t *tableState) ident() string { return pgx.Identifier{t.schema, t.name}.Sanitize() }

// load reads the table's columns, if it exists.
func (t *tableState) load(ctx context.Context, q querier) error {
	t.cols, t.ensured, t.stages = map[string]string{}, map[[2]*column]bool{}, map[string]string{}
	t.lastEnsuredOK = false
	if t.layouts == nil {
		t.layouts = map[[2]*column]*layout{}
	}
	// pg_catalog rather than information_schema: the same answer, read
	// in a fraction of the time (the sink starts faster).
	rows, err := q.Query(ctx, `SELECT a.attname, format_type(a.atttypid, a.atttypmod)
		FROM pg_attribute a JOIN pg_class c ON c.oid = a.attrelid JOIN pg_namespace n ON n.oid = c.relnamespace
		WHERE n.nspname = $1 AND c.relname = $2 AND a.attnum > 0 AND NOT a.attisdropped`, t.schema, t.name)
	if err != nil {
		return fmt.Errorf("read table %s: %w", t.ident(), err)
	}
	for rows.Next() {
		var n, typ string
		if err := rows.Scan(&n, &typ); err != nil {
			return err
		}
		t.cols[n] = typ
	}
	if err := rows.Err(); err != nil {
		return err
	}
	t.exists = len(t.cols) > 0
	t.uniques = map[string]bool{}
	if !t.exists {
		return nil
	}
	// The column sets of the table's unique indexes (no expression, no
	// predicate): an upsert may COPY straight into the table only when
	// its key is one of them (copyUpsert).
	rows, err = q.Query(ctx, `SELECT array_agg(a.attname::text ORDER BY a.attname)
		FROM pg_index i JOIN pg_attribute a ON a.attrelid = i.indrelid AND a.attnum = ANY(i.indkey)
		WHERE i.indrelid = $1::regclass AND i.indisunique AND i.indexprs IS NULL AND i.indpred IS NULL
		GROUP BY i.indexrelid`, t.ident())
	if err != nil {
		return fmt.Errorf("read the unique indexes of %s: %w", t.ident(), err)
	}
	for rows.Next() {
		var cols []string
		if err := rows.Scan(&cols); err != nil {
			return err
		}
		t.uniques[strings.Join(cols, "\x00")] = true
	}
	return rows.Err()
}

// uniqueKey reports whether the table has a unique index on exactly the
// columns key.
func (t *tableState) uniqueKey(key []string) bool {
	sorted := slices.Clone(key)
	slices.Sort(sorted)
	return t.uniques[strings.Join(sorted, "\x00")]
}

// colsID identifies a datum's column list: the decoders build one list per
// writer schema (and Protobuf message) and share it among their datums, so
// its address names the schema's columns without comparing them.
func colsID(d *datum) *column {
	if d == nil || len(d.cols) == 0 {
		return nil
	}
	return &d.cols[0]
}

// layout is how the rows of one pair of key and value column lists are
// written: the columns (the key's, then the value's that the key does not
// name) and where each column's value comes from.
type layout struct {
	cols []column
	sig  string   // the column names, the grouping of rows into statements
	key  []string // the key's column names
	from []int    // per column: i >= 0 is the key's value i, i < 0 the value's value -i-1
	// identity: the columns are the value's, in order (no key columns).
	identity bool
}

// layoutOf returns the layout of a record's key and value, computed once
// per pair of column lists.
func (t *tableState) layoutOf(key, val *datum) *layout {
	id := [2]*column{colsID(key), colsID(val)}
	if t.lastLayout != nil && id == t.lastLayoutID {
		return t.lastLayout
	}
	if l, ok := t.layouts[id]; ok {
		t.lastLayoutID, t.lastLayout = id, l
		return l
	}
	l := &layout{}
	seen := map[string]bool{}
	var sig strings.Builder
	if key != nil {
		for i, c := range key.cols {
			if !seen[c.name] {
				seen[c.name] = true
				l.cols, l.from = append(l.cols, c), append(l.from, i)
				l.key = append(l.key, c.name)
			}
		}
	}
	if val != nil {
		for i, c := range val.cols {
			if !seen[c.name] {
				seen[c.name] = true
				l.cols, l.from = append(l.cols, c), append(l.from, -i-1)
			}
		}
	}
	for _, c := range l.cols {
		sig.WriteString(c.name)
		sig.WriteByte(0)
	}
	l.sig = sig.String()
	l.identity = val != nil && len(l.from) == len(val.cols)
	for i, f := range l.from {
		l.identity = l.identity && f == -i-1
	}
	t.layouts[id] = l
	return l
}

// values appends the row's column values to dst.
func (l *layout) values(dst []any, key, val *datum) ([]any, error) {
	var kv, vv []any
	var err error
	if key != nil {
		if kv, err = key.values(); err != nil {
			return nil, err
		}
	}
	if val != nil {
		if vv, err = val.values(); err != nil {
			return nil, err
		}
	}
	for _, f := range l.from {
		if f >= 0 {
			dst = append(dst, kv[f])
		} else {
			dst = append(dst, vv[-f-1])
		}
	}
	return dst, nil
}

// ensure creates the table, or adds the columns it lacks, for a record of
// these key and value schemas. Added columns are nullable; a column whose
// type differs is left alone (the write then fails on a value it cannot
// take, which makes the record bad).
func (t *tableState) ensure(ctx context.Context, q querier, key, val *datum) error {
	id := [2]*column{colsID(key), colsID(val)}
	if t.lastEnsuredOK && id == t.lastEnsured {
		return nil
	}
	if t.ensured[id] {
		t.lastEnsured, t.lastEnsuredOK = id, true
		return nil
	}
	cols := t.layoutOf(key, val).cols
	if !t.exists {
		var defs []string
		for _, c := range cols {
			d := pgx.Identifier{c.name}.Sanitize() + " " + c.pgType
			defs = append(defs, d)
		}
		if key != nil {
			var pk []string
			for _, c := range key.cols {
				pk = append(pk, pgx.Identifier{c.name}.Sanitize())
			}
			defs = append(defs, "PRIMARY KEY ("+strings.Join(pk, ", ")+")")
		}
		if _, err := q.Exec(ctx, "CREATE TABLE IF NOT EXISTS "+t.ident()+" ("+strings.Join(defs, ", ")+")"); err != nil {
			return fmt.Errorf("create table %s: %w", t.ident(), err)
		}
		if err := t.load(ctx, q); err != nil {
			return err
		}
	}
	for _, c := range cols {
		if _, ok := t.cols[c.name]; ok {
			continue
		}
		if _, err := q.Exec(ctx, "ALTER TABLE "+t.ident()+" ADD COLUMN IF NOT EXISTS "+pgx.Identifier{c.name}.Sanitize()+" "+c.pgType); err != nil {
			return fmt.Errorf("table %s: add column %s %s: %w", t.ident(), c.name, c.pgType, err)
		}
		t.cols[c.name] = c.pgType
		t.stages = map[string]string{} // staging tables are rebuilt with the new columns
	}
	t.ensured[id] = true
	return nil
}

// group is the rows of one column set: a statement (or a COPY) each.
type group struct {
	*layout // the first row's; every row's has the same columns
	rows    []row
}

// row is one record's key and value, written through its layout.
type row struct {
	l        *layout
	key, val *datum
}

func (r row) values(dst []any) ([]any, error) { return r.l.values(dst, r.key, r.val) }

// apply writes ops in tx: deletes first, then upserts or inserts grouped
// by column set. Ops never touch the same key twice (plan keeps the last).
func (t *tableState) apply(ctx context.Context, tx pgx.Tx, ops []op, mode, write string) error {
	deletes := map[string]*group{}
	writes := map[string]*group{}
	var dorder, worder []string
	var last *layout
	var lastG *group
	for _, o := range ops {
		if o.delete {
			l := t.layoutOf(o.m.Key, nil)
			g := deletes[l.sig]
			if g == nil {
				g = &group{layout: l}
				deletes[l.sig] = g
				dorder = append(dorder, l.sig)
			}
			g.rows = append(g.rows, row{l: l, key: o.m.Key})
			continue
		}
		l := t.layoutOf(o.m.Key, o.m.Value)
		g := lastG
		if l != last {
			if g = writes[l.sig]; g == nil {
				g = &group{layout: l}
				if len(writes) == 0 && cap(t.rowBuf) >= len(ops) {
					g.rows, t.rowBuf = t.rowBuf[:0], nil
				} else {
					g.rows = make([]row, 0, len(ops))
				}
				writes[l.sig] = g
				worder = append(worder, l.sig)
			}
			last, lastG = l, g
		}
		g.rows = append(g.rows, row{l: l, key: o.m.Key, val: o.m.Value})
	}
	if len(worder) > 0 {
		defer func() { // the first group's rows are the next batch's
			rows := writes[worder[0]].rows
			clear(rows)
			t.rowBuf = rows[:0]
		}()
	}
	for _, sig := range dorder {
		if err := t.delete(ctx, tx, deletes[sig]); err != nil {
			return err
		}
	}
	for _, sig := range worder {
		g := writes[sig]
		var err error
		switch {
		case mode == ModeInsert && write == WriteCopy:
			err = t.copyRows(ctx, tx, t.ident(), g, t.cols)
		case write == WriteCopy:
			err = t.copyUpsert(ctx, tx, g)
		default:
			err = t.valuesWrite(ctx, tx, g, mode)
		}
		if err != nil {
			return fmt.Errorf("write %s: %w", t.ident(), err)
		}
	}
	return nil
}

// rowSource feeds rows to pgx's COPY, one reused value slice at a time
// (pgx encodes a row before asking for the next).
type rowSource struct {
	rows []row
	i    int
	buf  []any
}

func (s *rowSource) Next() bool {
	s.i++
	return s.i <= len(s.rows)
}

func (s *rowSource) Values() (vals []any, err error) {
	s.buf, err = s.rows[s.i-1].values(s.buf[:0])
	return s.buf, err
}

func (s *rowSource) Err() error { return nil }

func names(cols []column) []string {
	out := make([]string, len(cols))
	for i, c := range cols {
		out[i] = c.name
	}
	return out
}

func quoted(ns []string) string {
	q := make([]string, len(ns))
	for i, n := range ns {
		q[i] = pgx.Identifier{n}.Sanitize()
	}
	return strings.Join(q, ", ")
}

// maxParams is PostgreSQL's limit of bind parameters per statement.
const maxParams = 65535

// execTuples runs head, the rows of g as parenthesised tuples of bind
// parameters, then tail, in as many statements as the parameter limit
// needs.
func execTuples(ctx context.Context, tx pgx.Tx, g *group, head, tail string) error {
	per := len(g.cols)
	chunk := maxParams / per
	for start := 0; start < len(g.rows); start += chunk {
		end := min(start+chunk, len(g.rows))
		var sb strings.Builder
		var err error
		args := make([]any, 0, (end-start)*per)
		sb.WriteString(head)
		for i, r := range g.rows[start:end] {
			if i > 0 {
				sb.WriteString(", ")
			}
			sb.WriteByte('(')
			for j := range per {
				if j > 0 {
					sb.WriteString(", ")
				}
				fmt.Fprintf(&sb, "$%d", len(args)+j+1)
			}
			if args, err = r.values(args); err != nil {
				return err
			}
			sb.WriteByte(')')
		}
		sb.WriteString(tail)
		if _, err := tx.Exec(ctx, sb.String(), args...); err != nil {
			return err
		}
	}
	return nil
}

func (t *tableState) delete(ctx context.Context, tx pgx.Tx, g *group) error {
	head := fmt.Sprintf("DELETE FROM %s WHERE (%s) IN (", t.ident(), quoted(names(g.cols)))
	if err := execTuples(ctx, tx, g, head, ")"); err != nil {
		return fmt.Errorf("delete from %s: %w", t.ident(), err)
	}
	return nil
}

// conflictClause is the ON CONFLICT clause of an upsert of g.
func conflictClause(g *group) string {
	if len(g.key) == 0 {
		return ""
	}
	isKey := map[string]bool{}
	for _, k := range g.key {
		isKey[k] = true
	}
	var sets []string
	for _, c := range g.cols {
		if !isKey[c.name] {
			n := pgx.Identifier{c.name}.Sanitize()
			sets = append(sets, n+" = EXCLUDED."+n)
		}
	}
	if len(sets) == 0 {
		return " ON CONFLICT (" + quoted(g.key) + ") DO NOTHING"
	}
	return " ON CONFLICT (" + quoted(g.key) + ") DO UPDATE SET " + strings.Join(sets, ", ")
}

// valuesWrite writes g with multi-row INSERT … VALUES statements.
func (t *tableState) valuesWrite(ctx context.Context, tx pgx.Tx, g *group, mode string) error {
	tail := ""
	if mode == ModeUpsert {
		tail = conflictClause(g)
	}
	return execTuples(ctx, tx, g, fmt.Sprintf("INSERT INTO %s (%s) VALUES ", t.ident(), quoted(names(g.cols))), tail)
}

// copyUpsert writes g in upsert mode. When the rows' keys are new to the
// table, as they mostly are in a stream of new entities, a plain COPY into
// the table does it, at the cost of an insert: that is tried first. When a
// key is there already the COPY fails on the primary key, copyUpsert
// returns a *keysExistError, and the sink writes the batch again in a new
// transaction, where it goes through a temporary staging table and one
// INSERT … SELECT … ON CONFLICT … DO UPDATE. After such a failure the next
// 1, 3, 7 … 63 batches go straight to the staging table, so a stream of
// updates wastes at most a failed COPY now and then. (A savepoint around
// the COPY would save the second transaction, but puts every upserted row
// in a subtransaction.)
func (t *tableState) copyUpsert(ctx context.Context, tx pgx.Tx, g *group) error {
	// Without a unique index on the key a COPY would add a second row of
	// a key rather than fail (and ON CONFLICT names no constraint: the
	// staging path reports it).
	if t.stageOnly || len(g.key) == 0 || !t.uniqueKey(g.key) {
		return t.stageUpsert(ctx, tx, g)
	}
	err := t.copyRows(ctx, tx, t.ident(), g, t.cols)
	if err == nil {
		t.upsertMisses = 0
		return nil
	}
	if pgErr := (*pgconn.PgError)(nil); !errors.As(err, &pgErr) || pgErr.Code != uniqueViolation {
		return err // a failure of the data or the connection, not a key already there
	}
	t.upsertMisses = min(2*t.upsertMisses+1, 63)
	t.upsertSkip = t.upsertMisses
	return &keysExistError{err: err}
}

// keysExistError is an upsert's COPY that met a key already in the table:
// its transaction is lost, and the batch is to be written again (through
// the staging table).
type keysExistError struct{ err error }

func (e *keysExistError) Error() string {
	return "upsert by COPY met a key already in the table: " + e.err.Error()
}
func (e *keysExistError) Unwrap() error { return e.err }

// uniqueViolation is PostgreSQL's SQLSTATE unique_violation.
const uniqueViolation = "23505"

// stageUpsert COPYs g into a temporary staging table and merges it into
// the table with one INSERT … SELECT … ON CONFLICT.
func (t *tableState) stageUpsert(ctx context.Context, tx pgx.Tx, g *group) error {
	stage, ok := t.stages[g.sig]
	if !ok {
		stage = fmt.Sprintf("sluice_stage_%d", len(t.stages)+1)
		t.stages[g.sig] = stage
	}
	var defs []string
	for _, c := range g.cols {
		defs = append(defs, pgx.Identifier{c.name}.Sanitize()+" "+c.pgType)
	}
	// A staging table lives as long as the session; DROP first when the
	// column set's table was rebuilt after the target gained columns.
	if !ok {
		if _, err := tx.Exec(ctx, "DROP TABLE IF EXISTS pg_temp."+stage); err != nil {
			return err
		}
	}
	if _, err := tx.Exec(ctx, "CREATE TEMP TABLE IF NOT EXISTS "+stage+" ("+strings.Join(defs, ", ")+") ON COMMIT DELETE ROWS"); err != nil {
		return err
	}
	stageCols := map[string]string{}
	for _, c := range g.cols {
		stageCols[c.name] = c.pgType
	}
	if err := t.copyRows(ctx, tx, stage, g, stageCols); err != nil {
		return err
	}
	cols := quoted(names(g.cols))
	// ON COMMIT DELETE ROWS empties the staging table (a column set is
	// staged once per transaction: apply groups by column set).
	_, err := tx.Exec(ctx, "INSERT INTO "+t.ident()+" ("+cols+") SELECT "+cols+" FROM "+stage+conflictClause(g))
	return err
}
