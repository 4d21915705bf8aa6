package pgsink

import (
	"context"
	"fmt"
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
	cols                 map[string]string // column name -> data type
	ensured              map[[2]int32]bool // (key schema id, value schema id)
	stages               map[string]string // column set -> staging table
}

func (t *tableState) ident() string { return pgx.Identifier{t.schema, t.name}.Sanitize() }

// load reads the table's columns, if it exists.
func (t *tableState) load(ctx context.Context, q querier) error {
	t.cols, t.ensured, t.stages = map[string]string{}, map[[2]int32]bool{}, map[string]string{}
	rows, err := q.Query(ctx, `SELECT column_name, data_type FROM information_schema.columns
		WHERE table_schema = $1 AND table_name = $2`, t.schema, t.name)
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
	return nil
}

// rowColumns is the columns a record writes: the key's, then the value's
// that the key does not name.
func rowColumns(key, val *datum) []column {
	var out []column
	seen := map[string]bool{}
	for _, d := range []*datum{key, val} {
		if d == nil {
			continue
		}
		for _, c := range d.cols {
			if !seen[c.name] {
				seen[c.name] = true
				out = append(out, c)
			}
		}
	}
	return out
}

func rowValues(key, val *datum) []any {
	var out []any
	seen := map[string]bool{}
	for _, d := range []*datum{key, val} {
		if d == nil {
			continue
		}
		vs := d.values()
		for i, c := range d.cols {
			if !seen[c.name] {
				seen[c.name] = true
				out = append(out, vs[i])
			}
		}
	}
	return out
}

// ensure creates the table, or adds the columns it lacks, for a record of
// these key and value schemas. Added columns are nullable; a column whose
// type differs is left alone (the write then fails on a value it cannot
// take, which makes the record bad).
func (t *tableState) ensure(ctx context.Context, q querier, key, val *datum) error {
	var id [2]int32
	if key != nil {
		id[0] = key.schemaID
	}
	if val != nil {
		id[1] = val.schemaID
	} else {
		id[1] = -1
	}
	if t.ensured[id] {
		return nil
	}
	cols := rowColumns(key, val)
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

// group is the rows of one column set.
type group struct {
	cols []column
	key  []string // the key's column names
	rows [][]any
}

// apply writes ops in tx: deletes first, then upserts or inserts grouped
// by column set. Ops never touch the same key twice (plan keeps the last).
func (t *tableState) apply(ctx context.Context, tx pgx.Tx, ops []op, mode, write string) error {
	deletes := map[string]*group{}
	writes := map[string]*group{}
	var dorder, worder []string
	for _, o := range ops {
		if o.delete {
			sig := colSig(o.m.Key.cols)
			g := deletes[sig]
			if g == nil {
				g = &group{cols: o.m.Key.cols}
				deletes[sig] = g
				dorder = append(dorder, sig)
			}
			g.rows = append(g.rows, o.m.Key.values())
			continue
		}
		cols := rowColumns(o.m.Key, o.m.Value)
		sig := colSig(cols)
		g := writes[sig]
		if g == nil {
			g = &group{cols: cols}
			if o.m.Key != nil {
				for _, c := range o.m.Key.cols {
					g.key = append(g.key, c.name)
				}
			}
			writes[sig] = g
			worder = append(worder, sig)
		}
		g.rows = append(g.rows, rowValues(o.m.Key, o.m.Value))
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
			_, err = tx.CopyFrom(ctx, pgx.Identifier{t.schema, t.name}, names(g.cols), pgx.CopyFromRows(g.rows))
		case write == WriteCopy:
			err = t.copyUpsert(ctx, tx, sig, g)
		default:
			err = t.valuesWrite(ctx, tx, g, mode)
		}
		if err != nil {
			return fmt.Errorf("write %s: %w", t.ident(), err)
		}
	}
	return nil
}

func colSig(cols []column) string {
	var b strings.Builder
	for _, c := range cols {
		b.WriteString(c.name)
		b.WriteByte(0)
	}
	return b.String()
}

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

func (t *tableState) delete(ctx context.Context, tx pgx.Tx, g *group) error {
	per := len(g.cols)
	chunk := maxParams / per
	for start := 0; start < len(g.rows); start += chunk {
		end := min(start+chunk, len(g.rows))
		var sb strings.Builder
		args := make([]any, 0, (end-start)*per)
		fmt.Fprintf(&sb, "DELETE FROM %s WHERE (%s) IN (", t.ident(), quoted(names(g.cols)))
		for i, r := range g.rows[start:end] {
			if i > 0 {
				sb.WriteString(", ")
			}
			sb.WriteByte('(')
			for j, v := range r {
				if j > 0 {
					sb.WriteString(", ")
				}
				args = append(args, v)
				fmt.Fprintf(&sb, "$%d", len(args))
			}
			sb.WriteByte(')')
		}
		sb.WriteByte(')')
		if _, err := tx.Exec(ctx, sb.String(), args...); err != nil {
			return fmt.Errorf("delete from %s: %w", t.ident(), err)
		}
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
	per := len(g.cols)
	chunk := maxParams / per
	onConflict := ""
	if mode == ModeUpsert {
		onConflict = conflictClause(g)
	}
	for start := 0; start < len(g.rows); start += chunk {
		end := min(start+chunk, len(g.rows))
		var sb strings.Builder
		args := make([]any, 0, (end-start)*per)
		fmt.Fprintf(&sb, "INSERT INTO %s (%s) VALUES ", t.ident(), quoted(names(g.cols)))
		for i, r := range g.rows[start:end] {
			if i > 0 {
				sb.WriteString(", ")
			}
			sb.WriteByte('(')
			for j, v := range r {
				if j > 0 {
					sb.WriteString(", ")
				}
				args = append(args, v)
				fmt.Fprintf(&sb, "$%d", len(args))
			}
			sb.WriteByte(')')
		}
		sb.WriteString(onConflict)
		if _, err := tx.Exec(ctx, sb.String(), args...); err != nil {
			return err
		}
	}
	return nil
}

// copyUpsert COPYs g into a temporary staging table and merges it into the
// table with one INSERT … SELECT … ON CONFLICT.
func (t *tableState) copyUpsert(ctx context.Context, tx pgx.Tx, sig string, g *group) error {
	stage, ok := t.stages[sig]
	if !ok {
		stage = fmt.Sprintf("sluice_stage_%d", len(t.stages)+1)
		t.stages[sig] = stage
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
	if _, err := tx.CopyFrom(ctx, pgx.Identifier{stage}, names(g.cols), pgx.CopyFromRows(g.rows)); err != nil {
		return err
	}
	cols := quoted(names(g.cols))
	// ON COMMIT DELETE ROWS empties the staging table (a column set is
	// staged once per transaction: apply groups by column set).
	_, err := tx.Exec(ctx, "INSERT INTO "+t.ident()+" ("+cols+") SELECT "+cols+" FROM "+stage+conflictClause(g))
	return err
}
