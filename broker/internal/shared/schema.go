package shared

// The tables of the shared log on PostgreSQL (component "sharedlog" of
// pgmeta.Migrate). A released migration never changes: add a new one.
//
//	sharedlog_partitions  one row per partition: the sequencer. next_offset
//	                      is the high watermark (the offset the next
//	                      committed record gets), log_start_offset the
//	                      first readable offset, bytes the stored batch
//	                      bytes at or above it (for retention.bytes).
//	sharedlog_objects     one row per committed object: its key, size and
//	                      live_bytes (bytes of batches still referenced);
//	                      dead_since is set when live_bytes reaches 0, and
//	                      GC deletes the object a grace period later.
//	sharedlog_batches     one row per committed run of record batches
//	                      with consecutive offsets lying back to back in
//	                      one object (a partition's section of an intake
//	                      object since migration 3, one batch before it; a
//	                      run of up to MergeRunBytes in a segment): where
//	                      its bytes are (object, byte range) and which
//	                      offsets it holds. Index (topic_id, partition,
//	                      last_offset) answers "the row holding offset N".
//	sharedlog_producer_batches  idempotent producers' recent batches per
//	                      partition (the last five per producer id):
//	                      epoch, sequence range, base offset.
//	sharedlog_uploads     one row per object PUT but not yet committed; a
//	                      row older than the orphan age whose key never
//	                      reached sharedlog_objects is an orphan: GC
//	                      deletes the row, then the object.
//	sharedlog_txn_open, sharedlog_txn_aborted  each partition's open
//	                      transactions and aborted index (migration 5).
//	sharedlog_txn_producers, sharedlog_txn_members  the transaction gate
//	                      the coordinator sets (migration 6, txn.go).
//
// sharedlog_commit is the commit of one object, one round trip: see the
// function's comments. Every commit (with p_notify, migration 4) NOTIFYs
// channel sluice_sharedlog with
// one line per touched partition, "<partition> <next_offset> <topic_id>",
// or "*" when that would not fit a notification (readers then poll every
// partition they serve).

// migrationComponent is this package's name in pgmeta's migrations table.
const migrationComponent = "sharedlog"

// notifyChannel is the LISTEN/NOTIFY channel of committed high watermarks.
const notifyChannel = "sluice_sharedlog"

var migrations = []string{
	// 1: tables and the commit function.
	`CREATE TABLE sharedlog_partitions (
		topic_id         TEXT    NOT NULL,
		partition        INTEGER NOT NULL,
		next_offset      BIGINT  NOT NULL DEFAULT 0,
		log_start_offset BIGINT  NOT NULL DEFAULT 0,
		bytes            BIGINT  NOT NULL DEFAULT 0,
		PRIMARY KEY (topic_id, partition),
		CHECK (partition >= 0 AND next_offset >= log_start_offset AND log_start_offset >= 0)
	);
	CREATE TABLE sharedlog_objects (
		object_id  BIGINT GENERATED ALWAYS AS IDENTITY PRIMARY KEY,
		key        TEXT        NOT NULL UNIQUE,
		node       TEXT        NOT NULL,
		size       BIGINT      NOT NULL,
		live_bytes BIGINT      NOT NULL,
		created_at TIMESTAMPTZ NOT NULL DEFAULT now(),
		dead_since TIMESTAMPTZ,
		-- the commit's answer, returned again to a retry: per batch in
		-- object order, the base offset and the status (sharedlog_commit)
		answer_base   BIGINT[],
		answer_status SMALLINT[]
	);
	CREATE INDEX sharedlog_objects_dead ON sharedlog_objects (dead_since) WHERE dead_since IS NOT NULL;
	CREATE TABLE sharedlog_batches (
		topic_id    TEXT    NOT NULL,
		partition   INTEGER NOT NULL,
		base_offset BIGINT  NOT NULL,
		last_offset BIGINT  NOT NULL,
		object_id   BIGINT  NOT NULL REFERENCES sharedlog_objects (object_id),
		byte_off    BIGINT  NOT NULL,
		byte_len    BIGINT  NOT NULL,
		max_ts      BIGINT  NOT NULL,
		PRIMARY KEY (topic_id, partition, base_offset)
	);
	CREATE INDEX sharedlog_batches_last ON sharedlog_batches (topic_id, partition, last_offset);
	CREATE INDEX sharedlog_batches_object ON sharedlog_batches (object_id);
	CREATE TABLE sharedlog_uploads (
		key        TEXT        PRIMARY KEY,
		node       TEXT        NOT NULL,
		started_at TIMESTAMPTZ NOT NULL DEFAULT now()
	);

	CREATE TABLE sharedlog_producer_batches (
		seqno       BIGINT GENERATED ALWAYS AS IDENTITY PRIMARY KEY,
		topic_id    TEXT     NOT NULL,
		partition   INTEGER  NOT NULL,
		producer_id BIGINT   NOT NULL,
		epoch       SMALLINT NOT NULL,
		first_seq   INTEGER  NOT NULL,
		last_seq    INTEGER  NOT NULL,
		object_id   BIGINT   NOT NULL,
		base_offset BIGINT
	);
	CREATE INDEX sharedlog_producer_batches_producer ON sharedlog_producer_batches (topic_id, partition, producer_id, seqno);
	CREATE INDEX sharedlog_producer_batches_offset ON sharedlog_producer_batches (topic_id, partition, base_offset);
	CREATE INDEX sharedlog_producer_batches_pending ON sharedlog_producer_batches (object_id) WHERE base_offset IS NULL;

	-- sharedlog_commit records object p_key (already PUT) and assigns offsets
	-- to its batches, given one array element per batch in object order:
	-- topic id, partition, byte range in the object, record count, max
	-- timestamp, and the idempotent-producer fields (producer id, epoch,
	-- base sequence; -1 when not idempotent). It returns per batch (ord,
	-- base_offset, status, replayed), ord counting from 0 in that order.
	-- status: 0 appended at base_offset; 1 a duplicate of a batch the
	-- producer sent before (base_offset is the original's; nothing is
	-- appended); 2 out of order sequence; 3 producer epoch older than the
	-- latest seen; 4 the partition does not exist (its topic was deleted);
	-- 2, 3 and 4 append nothing. replayed is true when the object
	-- had been committed before (the answer to that commit was lost).
	--
	-- Idempotent producers (KIP-98, as broker/internal/log/producers.go):
	-- per partition and producer id, the epoch and the sequence ranges of
	-- its last five batches, kept in sharedlog_producer_batches for batches
	-- at or above the log start offset. A producer with no state is accepted
	-- at any sequence. Checked under the partition row locks, so two nodes
	-- cannot both accept one sequence.
	--
	-- It is idempotent per key: the upload row is the fence. A commit whose
	-- caller lost the answer (connection cut during COMMIT) is retried with
	-- the same arguments and returns the answer stored the first time; a
	-- commit racing the orphan collector (which deletes the upload row
	-- first) fails rather than refer to an object about to be deleted.
	CREATE FUNCTION sharedlog_commit(p_key TEXT, p_node TEXT, p_size BIGINT,
		b_topic TEXT[], b_part INTEGER[], b_off BIGINT[], b_len BIGINT[], b_count BIGINT[], b_maxts BIGINT[],
		b_pid BIGINT[], b_epoch SMALLINT[], b_seq INTEGER[])
	RETURNS TABLE (ord INTEGER, base_offset BIGINT, status SMALLINT, replayed BOOLEAN)
	LANGUAGE plpgsql AS $fn$
	DECLARE
		v_object  BIGINT;
		v_n       INTEGER := COALESCE(cardinality(b_topic), 0);
		v_want    INTEGER;
		v_locked  INTEGER;
		v_payload TEXT;
		v_ords    INTEGER[];
		v_bases   BIGINT[];
		v_status  SMALLINT[];
		v_answer  BIGINT[];
		v_live    BIGINT;
		v_epoch   SMALLINT;
		v_lastseq INTEGER;
		v_last    INTEGER;
		k         INTEGER;
		v_dup     BIGINT;
		v_idem    BOOLEAN := false;
	BEGIN
		DELETE FROM sharedlog_uploads u WHERE u.key = p_key;
		IF NOT FOUND THEN
			-- Committed before (each statement sees what committed before it
			-- started, including a first attempt we waited for above), or
			-- collected as an orphan.
			SELECT o.object_id, o.answer_base, o.answer_status INTO v_object, v_answer, v_status
				FROM sharedlog_objects o WHERE o.key = p_key;
			IF v_object IS NULL THEN
				RAISE EXCEPTION 'sharedlog: object % has no pending upload (collected as an orphan, or never announced)', p_key
					USING ERRCODE = 'P0002';
			END IF;
			RETURN QUERY SELECT (u.i - 1)::INTEGER, u.b, u.s, true
				FROM unnest(v_answer, v_status) WITH ORDINALITY AS u(b, s, i) ORDER BY u.i;
			RETURN;
		END IF;
		IF v_n = 0 THEN
			RAISE EXCEPTION 'sharedlog: object % holds no batches', p_key;
		END IF;

		-- Lock the touched partitions in one global order: two nodes whose
		-- objects touch the same partitions never deadlock.
		SELECT count(DISTINCT (t, q)) INTO v_want FROM unnest(b_topic, b_part) AS x(t, q);
		WITH l AS (
			SELECT 1 FROM sharedlog_partitions p
			WHERE (p.topic_id, p.partition) IN (SELECT t, q FROM unnest(b_topic, b_part) AS x(t, q))
			ORDER BY p.topic_id COLLATE "C", p.partition
			FOR UPDATE)
		SELECT count(*) INTO v_locked FROM l;
		v_status := array_fill(0::SMALLINT, ARRAY[v_n]);
		IF v_locked <> v_want THEN
			-- Partitions deleted meanwhile (their topic was): their batches
			-- get status 4, the others are committed as usual.
			FOR k IN 1..v_n LOOP
				PERFORM 1 FROM sharedlog_partitions p WHERE p.topic_id = b_topic[k] AND p.partition = b_part[k];
				IF NOT FOUND THEN
					v_status[k] := 4;
				END IF;
			END LOOP;
		END IF;

		INSERT INTO sharedlog_objects (key, node, size, live_bytes) VALUES (p_key, p_node, p_size, 0)
			RETURNING object_id INTO v_object;

		-- Idempotent producers, in object order.
		FOR k IN 1..v_n LOOP
			CONTINUE WHEN v_status[k] <> 0 OR b_pid[k] < 0 OR b_seq[k] < 0;
			v_last := ((b_seq[k]::BIGINT + b_count[k] - 1) % 2147483648)::INTEGER; -- sequences wrap to 0
			SELECT max(pb.epoch) INTO v_epoch FROM sharedlog_producer_batches pb
				WHERE pb.topic_id = b_topic[k] AND pb.partition = b_part[k] AND pb.producer_id = b_pid[k];
			IF v_epoch IS NOT NULL THEN
				IF b_epoch[k] < v_epoch THEN
					v_status[k] := 3;
					CONTINUE;
				ELSIF b_epoch[k] > v_epoch THEN
					IF b_seq[k] <> 0 THEN
						v_status[k] := 2;
						CONTINUE;
					END IF;
					DELETE FROM sharedlog_producer_batches pb
						WHERE pb.topic_id = b_topic[k] AND pb.partition = b_part[k] AND pb.producer_id = b_pid[k];
				ELSE
					PERFORM 1 FROM sharedlog_producer_batches pb
						WHERE pb.topic_id = b_topic[k] AND pb.partition = b_part[k] AND pb.producer_id = b_pid[k]
						AND pb.epoch = b_epoch[k] AND pb.first_seq = b_seq[k] AND pb.last_seq = v_last;
					IF FOUND THEN
						v_status[k] := 1;
						CONTINUE;
					END IF;
					SELECT pb.last_seq INTO v_lastseq FROM sharedlog_producer_batches pb
						WHERE pb.topic_id = b_topic[k] AND pb.partition = b_part[k] AND pb.producer_id = b_pid[k]
						ORDER BY pb.seqno DESC LIMIT 1;
					IF b_seq[k] <> (v_lastseq::BIGINT + 1) % 2147483648 THEN
						v_status[k] := 2;
						CONTINUE;
					END IF;
				END IF;
			END IF;
			INSERT INTO sharedlog_producer_batches (topic_id, partition, producer_id, epoch, first_seq, last_seq, object_id)
				VALUES (b_topic[k], b_part[k], b_pid[k], b_epoch[k], b_seq[k], v_last, v_object);
			v_idem := true;
			DELETE FROM sharedlog_producer_batches pb
				WHERE pb.topic_id = b_topic[k] AND pb.partition = b_part[k] AND pb.producer_id = b_pid[k]
				AND pb.seqno NOT IN (SELECT p2.seqno FROM sharedlog_producer_batches p2
					WHERE p2.topic_id = b_topic[k] AND p2.partition = b_part[k] AND p2.producer_id = b_pid[k]
					ORDER BY p2.seqno DESC LIMIT 5);
		END LOOP;

		-- Offsets for the accepted batches.
		WITH x AS (
			SELECT (i - 1)::INTEGER AS ord, b_topic[i] AS t, b_part[i] AS q, b_off[i] AS off, b_len[i] AS len, b_count[i] AS cnt, b_maxts[i] AS mts
			FROM generate_subscripts(b_topic, 1) AS i WHERE v_status[i] = 0
		), per AS (
			SELECT x.t, x.q, sum(x.cnt) AS cnt, sum(x.len) AS len FROM x GROUP BY x.t, x.q
		), bumped AS (
			UPDATE sharedlog_partitions p SET next_offset = p.next_offset + per.cnt, bytes = p.bytes + per.len
			FROM per WHERE p.topic_id = per.t AND p.partition = per.q
			RETURNING p.topic_id AS t, p.partition AS q, p.next_offset - per.cnt AS first
		), placed AS (
			SELECT x.ord, x.t, x.q, bumped.first + sum(x.cnt) OVER (PARTITION BY x.t, x.q ORDER BY x.ord) - x.cnt AS base,
				x.cnt, x.off, x.len, x.mts
			FROM x JOIN bumped ON bumped.t = x.t AND bumped.q = x.q
		), ins AS (
			INSERT INTO sharedlog_batches (topic_id, partition, base_offset, last_offset, object_id, byte_off, byte_len, max_ts)
				SELECT s.t, s.q, s.base, s.base + s.cnt - 1, v_object, s.off, s.len, s.mts FROM placed s
		)
		SELECT array_agg(s.ord ORDER BY s.ord), array_agg(s.base ORDER BY s.ord), COALESCE(sum(s.len), 0),
			(SELECT string_agg(format('%s %s %s', m.q, m.next, m.t), E'\n')
				FROM (SELECT s2.t, s2.q, max(s2.base + s2.cnt) AS next FROM placed s2 GROUP BY s2.t, s2.q) m)
			INTO v_ords, v_bases, v_live, v_payload
			FROM placed s;

		v_answer := array_fill(NULL::BIGINT, ARRAY[v_n]);
		FOR k IN 1..COALESCE(cardinality(v_ords), 0) LOOP
			v_answer[v_ords[k] + 1] := v_bases[k];
		END LOOP;
		IF v_idem THEN
			UPDATE sharedlog_producer_batches pb SET base_offset = v_answer[
					(SELECT min(j) FROM generate_subscripts(b_topic, 1) AS j
					 WHERE b_pid[j] = pb.producer_id AND b_epoch[j] = pb.epoch AND b_seq[j] = pb.first_seq AND b_topic[j] = pb.topic_id AND b_part[j] = pb.partition AND v_status[j] = 0)]
				WHERE pb.object_id = v_object AND pb.base_offset IS NULL;
		END IF;
		FOR k IN 1..v_n LOOP
			CONTINUE WHEN v_status[k] <> 1;
			SELECT pb.base_offset INTO v_dup FROM sharedlog_producer_batches pb
				WHERE pb.topic_id = b_topic[k] AND pb.partition = b_part[k] AND pb.producer_id = b_pid[k]
				AND pb.epoch = b_epoch[k] AND pb.first_seq = b_seq[k] ORDER BY pb.seqno DESC LIMIT 1;
			v_answer[k] := v_dup;
			IF v_dup IS NULL THEN
				v_status[k] := 2; -- its original is no longer known
			END IF;
		END LOOP;

		UPDATE sharedlog_objects o SET live_bytes = v_live, answer_base = v_answer, answer_status = v_status,
			dead_since = CASE WHEN v_live = 0 THEN now() END
			WHERE o.object_id = v_object;

		IF v_payload IS NOT NULL THEN
			IF length(v_payload) > 7900 THEN
				v_payload := '*';
			END IF;
			PERFORM pg_notify('sluice_sharedlog', v_payload);
		END IF;
		RETURN QUERY SELECT (u.i - 1)::INTEGER, u.b, u.s, false
			FROM unnest(v_answer, v_status) WITH ORDINALITY AS u(b, s, i) ORDER BY u.i;
	END
	$fn$;

	-- sharedlog_merge replaces the coordinates of batches p_old_base (each in
	-- object p_old_object, as the compactor planned) of one partition with
	-- rows r_* in segment object p_key (already PUT and announced): one row
	-- per run of consecutive batches. The source objects lose those bytes
	-- from live_bytes (dead at 0). It returns false, changing nothing, when
	-- the planned rows are not all there any more (retention, or another
	-- compactor, got there first): the segment is then an orphan.
	CREATE FUNCTION sharedlog_merge(p_key TEXT, p_node TEXT, p_size BIGINT, p_topic TEXT, p_part INTEGER,
		p_old_base BIGINT[], p_old_object BIGINT[],
		r_base BIGINT[], r_last BIGINT[], r_off BIGINT[], r_len BIGINT[], r_maxts BIGINT[])
	RETURNS BOOLEAN
	LANGUAGE plpgsql AS $fn$
	DECLARE
		v_object BIGINT;
		v_found  INTEGER;
	BEGIN
		PERFORM 1 FROM sharedlog_partitions p WHERE p.topic_id = p_topic AND p.partition = p_part FOR UPDATE;
		IF NOT FOUND THEN
			RETURN false;
		END IF;
		SELECT count(*) INTO v_found FROM sharedlog_batches b
			JOIN unnest(p_old_base, p_old_object) AS x(base, obj) ON b.base_offset = x.base AND b.object_id = x.obj
			WHERE b.topic_id = p_topic AND b.partition = p_part;
		IF v_found <> cardinality(p_old_base) THEN
			RETURN false;
		END IF;
		DELETE FROM sharedlog_uploads u WHERE u.key = p_key;
		IF NOT FOUND THEN
			RAISE EXCEPTION 'sharedlog: segment % has no pending upload (collected as an orphan?)', p_key USING ERRCODE = 'P0002';
		END IF;
		INSERT INTO sharedlog_objects (key, node, size, live_bytes)
			VALUES (p_key, p_node, p_size, (SELECT COALESCE(sum(l), 0) FROM unnest(r_len) AS l))
			RETURNING object_id INTO v_object;
		WITH gone AS (
			DELETE FROM sharedlog_batches b USING unnest(p_old_base) AS x(base)
			WHERE b.topic_id = p_topic AND b.partition = p_part AND b.base_offset = x.base
			RETURNING b.object_id, b.byte_len
		), per AS (
			SELECT g.object_id, sum(g.byte_len) AS len FROM gone g GROUP BY g.object_id
		)
		UPDATE sharedlog_objects o SET live_bytes = o.live_bytes - per.len,
			dead_since = CASE WHEN o.live_bytes - per.len <= 0 THEN now() ELSE NULL END
			FROM per WHERE o.object_id = per.object_id;
		INSERT INTO sharedlog_batches (topic_id, partition, base_offset, last_offset, object_id, byte_off, byte_len, max_ts)
			SELECT p_topic, p_part, r.b, r.l, v_object, r.o, r.n, r.m
			FROM unnest(r_base, r_last, r_off, r_len, r_maxts) AS r(b, l, o, n, m);
		RETURN true;
	END
	$fn$;

	-- sharedlog_delete_topic deletes every partition of a topic: its rows,
	-- its batches' coordinates (their bytes leave their objects' live
	-- bytes; objects left with none die) and its producer state. Commits
	-- naming it afterwards get status 4 for its batches. It returns the
	-- number of partitions deleted.
	CREATE FUNCTION sharedlog_delete_topic(p_topic TEXT)
	RETURNS INTEGER
	LANGUAGE plpgsql AS $fn$
	DECLARE
		v_parts INTEGER;
	BEGIN
		WITH l AS (
			SELECT 1 FROM sharedlog_partitions p WHERE p.topic_id = p_topic ORDER BY p.partition FOR UPDATE)
		SELECT count(*) INTO v_parts FROM l;
		WITH gone AS (
			DELETE FROM sharedlog_batches b WHERE b.topic_id = p_topic RETURNING b.object_id, b.byte_len
		), per AS (
			SELECT g.object_id, sum(g.byte_len) AS len FROM gone g GROUP BY g.object_id
		)
		UPDATE sharedlog_objects o SET live_bytes = o.live_bytes - per.len,
			dead_since = CASE WHEN o.live_bytes - per.len <= 0 THEN now() ELSE NULL END
			FROM per WHERE o.object_id = per.object_id;
		DELETE FROM sharedlog_producer_batches pb WHERE pb.topic_id = p_topic;
		DELETE FROM sharedlog_partitions p WHERE p.topic_id = p_topic;
		PERFORM pg_notify('sluice_sharedlog', '*');
		RETURN v_parts;
	END
	$fn$;

	-- sharedlog_advance_start moves a partition's log start offset up to
	-- p_start (never past next_offset, never down), deletes the batches
	-- wholly below it and takes their bytes off their objects' live_bytes;
	-- an object left with none is marked dead for GC. It returns the log
	-- start offset after the call.
	CREATE FUNCTION sharedlog_advance_start(p_topic TEXT, p_part INTEGER, p_start BIGINT)
	RETURNS BIGINT
	LANGUAGE plpgsql AS $fn$
	DECLARE
		v_start BIGINT;
		v_next  BIGINT;
		v_freed BIGINT;
	BEGIN
		SELECT p.log_start_offset, p.next_offset INTO v_start, v_next
			FROM sharedlog_partitions p WHERE p.topic_id = p_topic AND p.partition = p_part FOR UPDATE;
		IF NOT FOUND THEN
			RAISE EXCEPTION 'sharedlog: partition %/% does not exist', p_topic, p_part USING ERRCODE = 'P0002';
		END IF;
		IF p_start <= v_start THEN
			RETURN v_start;
		END IF;
		v_start := least(p_start, v_next);
		WITH gone AS (
			DELETE FROM sharedlog_batches b
			WHERE b.topic_id = p_topic AND b.partition = p_part AND b.last_offset < v_start
			RETURNING b.object_id, b.byte_len
		), per AS (
			SELECT g.object_id, sum(g.byte_len) AS len FROM gone g GROUP BY g.object_id
		), upd AS (
			UPDATE sharedlog_objects o SET live_bytes = o.live_bytes - per.len,
				dead_since = CASE WHEN o.live_bytes - per.len <= 0 THEN now() ELSE NULL END
			FROM per WHERE o.object_id = per.object_id
			RETURNING per.len
		)
		SELECT COALESCE(sum(upd.len), 0) INTO v_freed FROM upd;
		UPDATE sharedlog_partitions p SET log_start_offset = v_start, bytes = greatest(p.bytes - v_freed, 0)
			WHERE p.topic_id = p_topic AND p.partition = p_part;
		-- Producer state lives as long as its batches (as the local log
		-- rebuilds it from the batches it still has).
		DELETE FROM sharedlog_producer_batches pb
			WHERE pb.topic_id = p_topic AND pb.partition = p_part AND pb.base_offset < v_start;
		PERFORM pg_notify('sluice_sharedlog', '*');
		RETURN v_start;
	END
	$fn$;`,
	// 2: sharedlog_commit also returns, per batch, its partition's row after
	// the commit (hw_after = next_offset, start_after = log_start_offset,
	// bytes_after = bytes; NULL when the batch appended nothing to it, and
	// on a replayed commit), so that a node's Size is the committed row's
	// and never its own addition on top of a row it already polled. The
	// arguments, statuses and idempotence are migration 1's.
	`DROP FUNCTION sharedlog_commit(TEXT, TEXT, BIGINT, TEXT[], INTEGER[], BIGINT[], BIGINT[], BIGINT[], BIGINT[], BIGINT[], SMALLINT[], INTEGER[]);

	CREATE FUNCTION sharedlog_commit(p_key TEXT, p_node TEXT, p_size BIGINT,
		b_topic TEXT[], b_part INTEGER[], b_off BIGINT[], b_len BIGINT[], b_count BIGINT[], b_maxts BIGINT[],
		b_pid BIGINT[], b_epoch SMALLINT[], b_seq INTEGER[])
	RETURNS TABLE (ord INTEGER, base_offset BIGINT, status SMALLINT, replayed BOOLEAN,
		hw_after BIGINT, start_after BIGINT, bytes_after BIGINT)
	LANGUAGE plpgsql AS $fn$
	DECLARE
		v_object  BIGINT;
		v_n       INTEGER := COALESCE(cardinality(b_topic), 0);
		v_want    INTEGER;
		v_locked  INTEGER;
		v_payload TEXT;
		v_ords    INTEGER[];
		v_bases   BIGINT[];
		v_status  SMALLINT[];
		v_answer  BIGINT[];
		v_live    BIGINT;
		v_epoch   SMALLINT;
		v_lastseq INTEGER;
		v_last    INTEGER;
		k         INTEGER;
		v_dup     BIGINT;
		v_idem    BOOLEAN := false;
		v_pt      TEXT[];
		v_pq      INTEGER[];
		v_pnext   BIGINT[];
		v_pstart  BIGINT[];
		v_pbytes  BIGINT[];
	BEGIN
		DELETE FROM sharedlog_uploads u WHERE u.key = p_key;
		IF NOT FOUND THEN
			-- Committed before (each statement sees what committed before it
			-- started, including a first attempt we waited for above), or
			-- collected as an orphan.
			SELECT o.object_id, o.answer_base, o.answer_status INTO v_object, v_answer, v_status
				FROM sharedlog_objects o WHERE o.key = p_key;
			IF v_object IS NULL THEN
				RAISE EXCEPTION 'sharedlog: object % has no pending upload (collected as an orphan, or never announced)', p_key
					USING ERRCODE = 'P0002';
			END IF;
			RETURN QUERY SELECT (u.i - 1)::INTEGER, u.b, u.s, true, NULL::BIGINT, NULL::BIGINT, NULL::BIGINT
				FROM unnest(v_answer, v_status) WITH ORDINALITY AS u(b, s, i) ORDER BY u.i;
			RETURN;
		END IF;
		IF v_n = 0 THEN
			RAISE EXCEPTION 'sharedlog: object % holds no batches', p_key;
		END IF;

		-- Lock the touched partitions in one global order: two nodes whose
		-- objects touch the same partitions never deadlock.
		SELECT count(DISTINCT (t, q)) INTO v_want FROM unnest(b_topic, b_part) AS x(t, q);
		WITH l AS (
			SELECT 1 FROM sharedlog_partitions p
			WHERE (p.topic_id, p.partition) IN (SELECT t, q FROM unnest(b_topic, b_part) AS x(t, q))
			ORDER BY p.topic_id COLLATE "C", p.partition
			FOR UPDATE)
		SELECT count(*) INTO v_locked FROM l;
		v_status := array_fill(0::SMALLINT, ARRAY[v_n]);
		IF v_locked <> v_want THEN
			-- Partitions deleted meanwhile (their topic was): their batches
			-- get status 4, the others are committed as usual.
			FOR k IN 1..v_n LOOP
				PERFORM 1 FROM sharedlog_partitions p WHERE p.topic_id = b_topic[k] AND p.partition = b_part[k];
				IF NOT FOUND THEN
					v_status[k] := 4;
				END IF;
			END LOOP;
		END IF;

		INSERT INTO sharedlog_objects (key, node, size, live_bytes) VALUES (p_key, p_node, p_size, 0)
			RETURNING object_id INTO v_object;

		-- Idempotent producers, in object order.
		FOR k IN 1..v_n LOOP
			CONTINUE WHEN v_status[k] <> 0 OR b_pid[k] < 0 OR b_seq[k] < 0;
			v_last := ((b_seq[k]::BIGINT + b_count[k] - 1) % 2147483648)::INTEGER; -- sequences wrap to 0
			SELECT max(pb.epoch) INTO v_epoch FROM sharedlog_producer_batches pb
				WHERE pb.topic_id = b_topic[k] AND pb.partition = b_part[k] AND pb.producer_id = b_pid[k];
			IF v_epoch IS NOT NULL THEN
				IF b_epoch[k] < v_epoch THEN
					v_status[k] := 3;
					CONTINUE;
				ELSIF b_epoch[k] > v_epoch THEN
					IF b_seq[k] <> 0 THEN
						v_status[k] := 2;
						CONTINUE;
					END IF;
					DELETE FROM sharedlog_producer_batches pb
						WHERE pb.topic_id = b_topic[k] AND pb.partition = b_part[k] AND pb.producer_id = b_pid[k];
				ELSE
					PERFORM 1 FROM sharedlog_producer_batches pb
						WHERE pb.topic_id = b_topic[k] AND pb.partition = b_part[k] AND pb.producer_id = b_pid[k]
						AND pb.epoch = b_epoch[k] AND pb.first_seq = b_seq[k] AND pb.last_seq = v_last;
					IF FOUND THEN
						v_status[k] := 1;
						CONTINUE;
					END IF;
					SELECT pb.last_seq INTO v_lastseq FROM sharedlog_producer_batches pb
						WHERE pb.topic_id = b_topic[k] AND pb.partition = b_part[k] AND pb.producer_id = b_pid[k]
						ORDER BY pb.seqno DESC LIMIT 1;
					IF b_seq[k] <> (v_lastseq::BIGINT + 1) % 2147483648 THEN
						v_status[k] := 2;
						CONTINUE;
					END IF;
				END IF;
			END IF;
			INSERT INTO sharedlog_producer_batches (topic_id, partition, producer_id, epoch, first_seq, last_seq, object_id)
				VALUES (b_topic[k], b_part[k], b_pid[k], b_epoch[k], b_seq[k], v_last, v_object);
			v_idem := true;
			DELETE FROM sharedlog_producer_batches pb
				WHERE pb.topic_id = b_topic[k] AND pb.partition = b_part[k] AND pb.producer_id = b_pid[k]
				AND pb.seqno NOT IN (SELECT p2.seqno FROM sharedlog_producer_batches p2
					WHERE p2.topic_id = b_topic[k] AND p2.partition = b_part[k] AND p2.producer_id = b_pid[k]
					ORDER BY p2.seqno DESC LIMIT 5);
		END LOOP;

		-- Offsets for the accepted batches.
		WITH x AS (
			SELECT (i - 1)::INTEGER AS ord, b_topic[i] AS t, b_part[i] AS q, b_off[i] AS off, b_len[i] AS len, b_count[i] AS cnt, b_maxts[i] AS mts
			FROM generate_subscripts(b_topic, 1) AS i WHERE v_status[i] = 0
		), per AS (
			SELECT x.t, x.q, sum(x.cnt) AS cnt, sum(x.len) AS len FROM x GROUP BY x.t, x.q
		), bumped AS (
			UPDATE sharedlog_partitions p SET next_offset = p.next_offset + per.cnt, bytes = p.bytes + per.len
			FROM per WHERE p.topic_id = per.t AND p.partition = per.q
			RETURNING p.topic_id AS t, p.partition AS q, p.next_offset - per.cnt AS first,
				p.next_offset AS next, p.log_start_offset AS start, p.bytes AS bytes
		), placed AS (
			SELECT x.ord, x.t, x.q, bumped.first + sum(x.cnt) OVER (PARTITION BY x.t, x.q ORDER BY x.ord) - x.cnt AS base,
				x.cnt, x.off, x.len, x.mts
			FROM x JOIN bumped ON bumped.t = x.t AND bumped.q = x.q
		), ins AS (
			INSERT INTO sharedlog_batches (topic_id, partition, base_offset, last_offset, object_id, byte_off, byte_len, max_ts)
				SELECT s.t, s.q, s.base, s.base + s.cnt - 1, v_object, s.off, s.len, s.mts FROM placed s
		)
		SELECT array_agg(s.ord ORDER BY s.ord), array_agg(s.base ORDER BY s.ord), COALESCE(sum(s.len), 0),
			(SELECT string_agg(format('%s %s %s', m.q, m.next, m.t), E'\n') FROM bumped m),
			(SELECT array_agg(m.t ORDER BY m.t, m.q) FROM bumped m), (SELECT array_agg(m.q ORDER BY m.t, m.q) FROM bumped m),
			(SELECT array_agg(m.next ORDER BY m.t, m.q) FROM bumped m), (SELECT array_agg(m.start ORDER BY m.t, m.q) FROM bumped m),
			(SELECT array_agg(m.bytes ORDER BY m.t, m.q) FROM bumped m)
			INTO v_ords, v_bases, v_live, v_payload, v_pt, v_pq, v_pnext, v_pstart, v_pbytes
			FROM placed s;

		v_answer := array_fill(NULL::BIGINT, ARRAY[v_n]);
		FOR k IN 1..COALESCE(cardinality(v_ords), 0) LOOP
			v_answer[v_ords[k] + 1] := v_bases[k];
		END LOOP;
		IF v_idem THEN
			UPDATE sharedlog_producer_batches pb SET base_offset = v_answer[
					(SELECT min(j) FROM generate_subscripts(b_topic, 1) AS j
					 WHERE b_pid[j] = pb.producer_id AND b_epoch[j] = pb.epoch AND b_seq[j] = pb.first_seq AND b_topic[j] = pb.topic_id AND b_part[j] = pb.partition AND v_status[j] = 0)]
				WHERE pb.object_id = v_object AND pb.base_offset IS NULL;
		END IF;
		FOR k IN 1..v_n LOOP
			CONTINUE WHEN v_status[k] <> 1;
			SELECT pb.base_offset INTO v_dup FROM sharedlog_producer_batches pb
				WHERE pb.topic_id = b_topic[k] AND pb.partition = b_part[k] AND pb.producer_id = b_pid[k]
				AND pb.epoch = b_epoch[k] AND pb.first_seq = b_seq[k] ORDER BY pb.seqno DESC LIMIT 1;
			v_answer[k] := v_dup;
			IF v_dup IS NULL THEN
				v_status[k] := 2; -- its original is no longer known
			END IF;
		END LOOP;

		UPDATE sharedlog_objects o SET live_bytes = v_live, answer_base = v_answer, answer_status = v_status,
			dead_since = CASE WHEN v_live = 0 THEN now() END
			WHERE o.object_id = v_object;

		IF v_payload IS NOT NULL THEN
			IF length(v_payload) > 7900 THEN
				v_payload := '*';
			END IF;
			PERFORM pg_notify('sluice_sharedlog', v_payload);
		END IF;
		RETURN QUERY SELECT (u.i - 1)::INTEGER, u.b, u.s, false, pp.n, pp.st, pp.bt
			FROM unnest(v_answer, v_status) WITH ORDINALITY AS u(b, s, i)
			LEFT JOIN unnest(v_pt, v_pq, v_pnext, v_pstart, v_pbytes) AS pp(t, q, n, st, bt)
				ON pp.t = b_topic[u.i] AND pp.q = b_part[u.i]
			ORDER BY u.i;
	END
	$fn$;`,
	// 3: a cheaper sharedlog_commit (same arguments, answers and
	// idempotence as migration 2): one coordinate row per run of accepted
	// batches of a partition lying back to back in the object (its
	// section, unless a refused batch splits it) instead of one per batch,
	// as the merge compactor's segments already have (readers walk a
	// row's batches); the offsets, answers and each partition's row after
	// the commit come from one statement instead of loops; the idempotent
	// producer loops run only when the object holds such batches; the
	// object's row is inserted before the partition rows are locked. Fewer
	// rows and statements under the partition row locks shorten the time
	// a hot partition is held. hw_after, start_after and bytes_after are
	// NULL for a batch that appended nothing (migration 2 gave them the
	// partition's row when another batch of it did).
	`	CREATE OR REPLACE FUNCTION sharedlog_commit(p_key TEXT, p_node TEXT, p_size BIGINT,
		b_topic TEXT[], b_part INTEGER[], b_off BIGINT[], b_len BIGINT[], b_count BIGINT[], b_maxts BIGINT[],
		b_pid BIGINT[], b_epoch SMALLINT[], b_seq INTEGER[])
	RETURNS TABLE (ord INTEGER, base_offset BIGINT, status SMALLINT, replayed BOOLEAN,
		hw_after BIGINT, start_after BIGINT, bytes_after BIGINT)
	LANGUAGE plpgsql AS $fn$
	DECLARE
		v_object  BIGINT;
		v_n       INTEGER := COALESCE(cardinality(b_topic), 0);
		v_want    INTEGER;
		v_locked  INTEGER;
		v_payload TEXT;
		v_status  SMALLINT[];
		v_answer  BIGINT[];
		v_live    BIGINT;
		v_epoch   SMALLINT;
		v_lastseq INTEGER;
		v_last    INTEGER;
		k         INTEGER;
		v_dup     BIGINT;
		v_idem    BOOLEAN := false;
		v_hw      BIGINT[];
		v_start   BIGINT[];
		v_bytes   BIGINT[];
	BEGIN
		DELETE FROM sharedlog_uploads u WHERE u.key = p_key;
		IF NOT FOUND THEN
			SELECT o.object_id, o.answer_base, o.answer_status INTO v_object, v_answer, v_status
				FROM sharedlog_objects o WHERE o.key = p_key;
			-- Committed before, or collected as an orphan (see migration 1).
			IF v_object IS NULL THEN
				RAISE EXCEPTION 'sharedlog: object % has no pending upload (collected as an orphan, or never announced)', p_key
					USING ERRCODE = 'P0002';
			END IF;
			RETURN QUERY SELECT (u.i - 1)::INTEGER, u.b, u.s, true, NULL::BIGINT, NULL::BIGINT, NULL::BIGINT
				FROM unnest(v_answer, v_status) WITH ORDINALITY AS u(b, s, i) ORDER BY u.i;
			RETURN;
		END IF;
		IF v_n = 0 THEN
			RAISE EXCEPTION 'sharedlog: object % holds no batches', p_key;
		END IF;

		-- The object's row first: it needs no partition lock, which every
		-- commit touching a partition waits for.
		INSERT INTO sharedlog_objects (key, node, size, live_bytes) VALUES (p_key, p_node, p_size, 0)
			RETURNING object_id INTO v_object;

		-- Lock the touched partitions in one global order: two nodes whose
		-- objects touch the same partitions never deadlock.
		WITH l AS (
			SELECT 1 FROM sharedlog_partitions p
			WHERE (p.topic_id, p.partition) IN (SELECT t, q FROM unnest(b_topic, b_part) AS x(t, q))
			ORDER BY p.topic_id COLLATE "C", p.partition
			FOR UPDATE)
		SELECT count(*), (SELECT count(DISTINCT (t, q)) FROM unnest(b_topic, b_part) AS x(t, q)) INTO v_locked, v_want FROM l;
		v_status := array_fill(0::SMALLINT, ARRAY[v_n]);
		IF v_locked <> v_want THEN
			FOR k IN 1..v_n LOOP
				PERFORM 1 FROM sharedlog_partitions p WHERE p.topic_id = b_topic[k] AND p.partition = b_part[k];
				IF NOT FOUND THEN
					v_status[k] := 4;
				END IF;
			END LOOP;
		END IF;

		-- Idempotent producers, in object order (migration 1's rules); the
		-- loop runs only when the object holds an idempotent batch.
		IF EXISTS (SELECT 1 FROM unnest(b_pid, b_seq) AS x(pid, seq) WHERE x.pid >= 0 AND x.seq >= 0) THEN
		FOR k IN 1..v_n LOOP
			CONTINUE WHEN v_status[k] <> 0 OR b_pid[k] < 0 OR b_seq[k] < 0;
			v_last := ((b_seq[k]::BIGINT + b_count[k] - 1) % 2147483648)::INTEGER; -- sequences wrap to 0
			SELECT max(pb.epoch) INTO v_epoch FROM sharedlog_producer_batches pb
				WHERE pb.topic_id = b_topic[k] AND pb.partition = b_part[k] AND pb.producer_id = b_pid[k];
			IF v_epoch IS NOT NULL THEN
				IF b_epoch[k] < v_epoch THEN
					v_status[k] := 3;
					CONTINUE;
				ELSIF b_epoch[k] > v_epoch THEN
					IF b_seq[k] <> 0 THEN
						v_status[k] := 2;
						CONTINUE;
					END IF;
					DELETE FROM sharedlog_producer_batches pb
						WHERE pb.topic_id = b_topic[k] AND pb.partition = b_part[k] AND pb.producer_id = b_pid[k];
				ELSE
					PERFORM 1 FROM sharedlog_producer_batches pb
						WHERE pb.topic_id = b_topic[k] AND pb.partition = b_part[k] AND pb.producer_id = b_pid[k]
						AND pb.epoch = b_epoch[k] AND pb.first_seq = b_seq[k] AND pb.last_seq = v_last;
					IF FOUND THEN
						v_status[k] := 1;
						CONTINUE;
					END IF;
					SELECT pb.last_seq INTO v_lastseq FROM sharedlog_producer_batches pb
						WHERE pb.topic_id = b_topic[k] AND pb.partition = b_part[k] AND pb.producer_id = b_pid[k]
						ORDER BY pb.seqno DESC LIMIT 1;
					IF b_seq[k] <> (v_lastseq::BIGINT + 1) % 2147483648 THEN
						v_status[k] := 2;
						CONTINUE;
					END IF;
				END IF;
			END IF;
			INSERT INTO sharedlog_producer_batches (topic_id, partition, producer_id, epoch, first_seq, last_seq, object_id)
				VALUES (b_topic[k], b_part[k], b_pid[k], b_epoch[k], b_seq[k], v_last, v_object);
			v_idem := true;
			DELETE FROM sharedlog_producer_batches pb
				WHERE pb.topic_id = b_topic[k] AND pb.partition = b_part[k] AND pb.producer_id = b_pid[k]
				AND pb.seqno NOT IN (SELECT p2.seqno FROM sharedlog_producer_batches p2
					WHERE p2.topic_id = b_topic[k] AND p2.partition = b_part[k] AND p2.producer_id = b_pid[k]
					ORDER BY p2.seqno DESC LIMIT 5);
		END LOOP;
		END IF;

		-- Offsets for the accepted batches; one coordinate row per run of
		-- accepted batches of a partition that lie back to back in the
		-- object (a partition's section, unless a refused batch splits it).
		WITH x AS (
			SELECT (u.i - 1)::INTEGER AS ord, u.t, u.q, u.off, u.len, u.cnt, u.mts
			FROM unnest(b_topic, b_part, b_off, b_len, b_count, b_maxts, v_status) WITH ORDINALITY AS u(t, q, off, len, cnt, mts, st, i)
			WHERE u.st = 0
		), per AS (
			SELECT x.t, x.q, sum(x.cnt) AS cnt, sum(x.len) AS len FROM x GROUP BY x.t, x.q
		), bumped AS (
			UPDATE sharedlog_partitions p SET next_offset = p.next_offset + per.cnt, bytes = p.bytes + per.len
			FROM per WHERE p.topic_id = per.t AND p.partition = per.q
			RETURNING p.topic_id AS t, p.partition AS q, p.next_offset - per.cnt AS first,
				p.next_offset AS next, p.log_start_offset AS start, p.bytes AS bytes
		), placed AS (
			SELECT x.ord, x.t, x.q, bumped.first + sum(x.cnt) OVER w - x.cnt AS base,
				x.ord - row_number() OVER w AS run, x.cnt, x.off, x.len, x.mts, bumped.next, bumped.start, bumped.bytes
			FROM x JOIN bumped ON bumped.t = x.t AND bumped.q = x.q
			WINDOW w AS (PARTITION BY x.t, x.q ORDER BY x.ord)
		), ins AS (
			INSERT INTO sharedlog_batches (topic_id, partition, base_offset, last_offset, object_id, byte_off, byte_len, max_ts)
				SELECT s.t, s.q, min(s.base), max(s.base + s.cnt) - 1, v_object, min(s.off), sum(s.len), max(s.mts)
				FROM placed s GROUP BY s.t, s.q, s.run
		), ans AS (
			SELECT (u.i - 1)::INTEGER AS ord, s.base, s.next, s.start, s.bytes
			FROM generate_series(1, v_n) AS u(i) LEFT JOIN placed s ON s.ord = u.i - 1
		)
		SELECT array_agg(a.base ORDER BY a.ord), array_agg(a.next ORDER BY a.ord), array_agg(a.start ORDER BY a.ord),
			array_agg(a.bytes ORDER BY a.ord), (SELECT COALESCE(sum(s.len), 0) FROM placed s),
			(SELECT string_agg(format('%s %s %s', m.q, m.next, m.t), E'\n') FROM bumped m)
			INTO v_answer, v_hw, v_start, v_bytes, v_live, v_payload
			FROM ans a;

		IF v_idem THEN
			UPDATE sharedlog_producer_batches pb SET base_offset = v_answer[
					(SELECT min(j) FROM generate_subscripts(b_topic, 1) AS j
					 WHERE b_pid[j] = pb.producer_id AND b_epoch[j] = pb.epoch AND b_seq[j] = pb.first_seq AND b_topic[j] = pb.topic_id AND b_part[j] = pb.partition AND v_status[j] = 0)]
				WHERE pb.object_id = v_object AND pb.base_offset IS NULL;
		END IF;
		IF 1 = ANY (v_status) THEN
		FOR k IN 1..v_n LOOP
			CONTINUE WHEN v_status[k] <> 1;
			SELECT pb.base_offset INTO v_dup FROM sharedlog_producer_batches pb
				WHERE pb.topic_id = b_topic[k] AND pb.partition = b_part[k] AND pb.producer_id = b_pid[k]
				AND pb.epoch = b_epoch[k] AND pb.first_seq = b_seq[k] ORDER BY pb.seqno DESC LIMIT 1;
			v_answer[k] := v_dup;
			IF v_dup IS NULL THEN
				v_status[k] := 2; -- its original is no longer known
			END IF;
		END LOOP;
		END IF;

		UPDATE sharedlog_objects o SET live_bytes = v_live, answer_base = v_answer, answer_status = v_status,
			dead_since = CASE WHEN v_live = 0 THEN now() END
			WHERE o.object_id = v_object;

		IF v_payload IS NOT NULL THEN
			IF length(v_payload) > 7900 THEN
				v_payload := '*';
			END IF;
			PERFORM pg_notify('sluice_sharedlog', v_payload);
		END IF;
		RETURN QUERY SELECT (u.i - 1)::INTEGER, u.b, u.s, false, u.n, u.st, u.bt
			FROM unnest(v_answer, v_status, v_hw, v_start, v_bytes) WITH ORDINALITY AS u(b, s, n, st, bt, i)
			ORDER BY u.i;
	END
	$fn$;`,
	// 4: sharedlog_commit with a last argument p_notify: the same commit,
	// which NOTIFYs only when p_notify is true. A node passes false when the
	// object it commits next, already sealed, holds batches of every
	// partition this one touches: that commit's notification carries the
	// later high watermarks, and each NOTIFY wakes every listening
	// connection of the database. The 12-argument function of migration 3
	// is replaced, not kept beside it (one body to maintain): p_notify
	// defaults to true, so older binaries' 12-argument calls still resolve.
	// The body is migration 3's but for the signature and the notify
	// condition.
	`	DROP FUNCTION sharedlog_commit(TEXT, TEXT, BIGINT, TEXT[], INTEGER[], BIGINT[], BIGINT[], BIGINT[], BIGINT[], BIGINT[], SMALLINT[], INTEGER[]);
	CREATE FUNCTION sharedlog_commit(p_key TEXT, p_node TEXT, p_size BIGINT,
		b_topic TEXT[], b_part INTEGER[], b_off BIGINT[], b_len BIGINT[], b_count BIGINT[], b_maxts BIGINT[],
		b_pid BIGINT[], b_epoch SMALLINT[], b_seq INTEGER[], p_notify BOOLEAN DEFAULT true)
	RETURNS TABLE (ord INTEGER, base_offset BIGINT, status SMALLINT, replayed BOOLEAN,
		hw_after BIGINT, start_after BIGINT, bytes_after BIGINT)
	LANGUAGE plpgsql AS $fn$
	DECLARE
		v_object  BIGINT;
		v_n       INTEGER := COALESCE(cardinality(b_topic), 0);
		v_want    INTEGER;
		v_locked  INTEGER;
		v_payload TEXT;
		v_status  SMALLINT[];
		v_answer  BIGINT[];
		v_live    BIGINT;
		v_epoch   SMALLINT;
		v_lastseq INTEGER;
		v_last    INTEGER;
		k         INTEGER;
		v_dup     BIGINT;
		v_idem    BOOLEAN := false;
		v_hw      BIGINT[];
		v_start   BIGINT[];
		v_bytes   BIGINT[];
	BEGIN
		DELETE FROM sharedlog_uploads u WHERE u.key = p_key;
		IF NOT FOUND THEN
			SELECT o.object_id, o.answer_base, o.answer_status INTO v_object, v_answer, v_status
				FROM sharedlog_objects o WHERE o.key = p_key;
			-- Committed before, or collected as an orphan (see migration 1).
			IF v_object IS NULL THEN
				RAISE EXCEPTION 'sharedlog: object % has no pending upload (collected as an orphan, or never announced)', p_key
					USING ERRCODE = 'P0002';
			END IF;
			RETURN QUERY SELECT (u.i - 1)::INTEGER, u.b, u.s, true, NULL::BIGINT, NULL::BIGINT, NULL::BIGINT
				FROM unnest(v_answer, v_status) WITH ORDINALITY AS u(b, s, i) ORDER BY u.i;
			RETURN;
		END IF;
		IF v_n = 0 THEN
			RAISE EXCEPTION 'sharedlog: object % holds no batches', p_key;
		END IF;

		-- The object's row first: it needs no partition lock, which every
		-- commit touching a partition waits for.
		INSERT INTO sharedlog_objects (key, node, size, live_bytes) VALUES (p_key, p_node, p_size, 0)
			RETURNING object_id INTO v_object;

		-- Lock the touched partitions in one global order: two nodes whose
		-- objects touch the same partitions never deadlock.
		WITH l AS (
			SELECT 1 FROM sharedlog_partitions p
			WHERE (p.topic_id, p.partition) IN (SELECT t, q FROM unnest(b_topic, b_part) AS x(t, q))
			ORDER BY p.topic_id COLLATE "C", p.partition
			FOR UPDATE)
		SELECT count(*), (SELECT count(DISTINCT (t, q)) FROM unnest(b_topic, b_part) AS x(t, q)) INTO v_locked, v_want FROM l;
		v_status := array_fill(0::SMALLINT, ARRAY[v_n]);
		IF v_locked <> v_want THEN
			FOR k IN 1..v_n LOOP
				PERFORM 1 FROM sharedlog_partitions p WHERE p.topic_id = b_topic[k] AND p.partition = b_part[k];
				IF NOT FOUND THEN
					v_status[k] := 4;
				END IF;
			END LOOP;
		END IF;

		-- Idempotent producers, in object order (migration 1's rules); the
		-- loop runs only when the object holds an idempotent batch.
		IF EXISTS (SELECT 1 FROM unnest(b_pid, b_seq) AS x(pid, seq) WHERE x.pid >= 0 AND x.seq >= 0) THEN
		FOR k IN 1..v_n LOOP
			CONTINUE WHEN v_status[k] <> 0 OR b_pid[k] < 0 OR b_seq[k] < 0;
			v_last := ((b_seq[k]::BIGINT + b_count[k] - 1) % 2147483648)::INTEGER; -- sequences wrap to 0
			SELECT max(pb.epoch) INTO v_epoch FROM sharedlog_producer_batches pb
				WHERE pb.topic_id = b_topic[k] AND pb.partition = b_part[k] AND pb.producer_id = b_pid[k];
			IF v_epoch IS NOT NULL THEN
				IF b_epoch[k] < v_epoch THEN
					v_status[k] := 3;
					CONTINUE;
				ELSIF b_epoch[k] > v_epoch THEN
					IF b_seq[k] <> 0 THEN
						v_status[k] := 2;
						CONTINUE;
					END IF;
					DELETE FROM sharedlog_producer_batches pb
						WHERE pb.topic_id = b_topic[k] AND pb.partition = b_part[k] AND pb.producer_id = b_pid[k];
				ELSE
					PERFORM 1 FROM sharedlog_producer_batches pb
						WHERE pb.topic_id = b_topic[k] AND pb.partition = b_part[k] AND pb.producer_id = b_pid[k]
						AND pb.epoch = b_epoch[k] AND pb.first_seq = b_seq[k] AND pb.last_seq = v_last;
					IF FOUND THEN
						v_status[k] := 1;
						CONTINUE;
					END IF;
					SELECT pb.last_seq INTO v_lastseq FROM sharedlog_producer_batches pb
						WHERE pb.topic_id = b_topic[k] AND pb.partition = b_part[k] AND pb.producer_id = b_pid[k]
						ORDER BY pb.seqno DESC LIMIT 1;
					IF b_seq[k] <> (v_lastseq::BIGINT + 1) % 2147483648 THEN
						v_status[k] := 2;
						CONTINUE;
					END IF;
				END IF;
			END IF;
			INSERT INTO sharedlog_producer_batches (topic_id, partition, producer_id, epoch, first_seq, last_seq, object_id)
				VALUES (b_topic[k], b_part[k], b_pid[k], b_epoch[k], b_seq[k], v_last, v_object);
			v_idem := true;
			DELETE FROM sharedlog_producer_batches pb
				WHERE pb.topic_id = b_topic[k] AND pb.partition = b_part[k] AND pb.producer_id = b_pid[k]
				AND pb.seqno NOT IN (SELECT p2.seqno FROM sharedlog_producer_batches p2
					WHERE p2.topic_id = b_topic[k] AND p2.partition = b_part[k] AND p2.producer_id = b_pid[k]
					ORDER BY p2.seqno DESC LIMIT 5);
		END LOOP;
		END IF;

		-- Offsets for the accepted batches; one coordinate row per run of
		-- accepted batches of a partition that lie back to back in the
		-- object (a partition's section, unless a refused batch splits it).
		WITH x AS (
			SELECT (u.i - 1)::INTEGER AS ord, u.t, u.q, u.off, u.len, u.cnt, u.mts
			FROM unnest(b_topic, b_part, b_off, b_len, b_count, b_maxts, v_status) WITH ORDINALITY AS u(t, q, off, len, cnt, mts, st, i)
			WHERE u.st = 0
		), per AS (
			SELECT x.t, x.q, sum(x.cnt) AS cnt, sum(x.len) AS len FROM x GROUP BY x.t, x.q
		), bumped AS (
			UPDATE sharedlog_partitions p SET next_offset = p.next_offset + per.cnt, bytes = p.bytes + per.len
			FROM per WHERE p.topic_id = per.t AND p.partition = per.q
			RETURNING p.topic_id AS t, p.partition AS q, p.next_offset - per.cnt AS first,
				p.next_offset AS next, p.log_start_offset AS start, p.bytes AS bytes
		), placed AS (
			SELECT x.ord, x.t, x.q, bumped.first + sum(x.cnt) OVER w - x.cnt AS base,
				x.ord - row_number() OVER w AS run, x.cnt, x.off, x.len, x.mts, bumped.next, bumped.start, bumped.bytes
			FROM x JOIN bumped ON bumped.t = x.t AND bumped.q = x.q
			WINDOW w AS (PARTITION BY x.t, x.q ORDER BY x.ord)
		), ins AS (
			INSERT INTO sharedlog_batches (topic_id, partition, base_offset, last_offset, object_id, byte_off, byte_len, max_ts)
				SELECT s.t, s.q, min(s.base), max(s.base + s.cnt) - 1, v_object, min(s.off), sum(s.len), max(s.mts)
				FROM placed s GROUP BY s.t, s.q, s.run
		), ans AS (
			SELECT (u.i - 1)::INTEGER AS ord, s.base, s.next, s.start, s.bytes
			FROM generate_series(1, v_n) AS u(i) LEFT JOIN placed s ON s.ord = u.i - 1
		)
		SELECT array_agg(a.base ORDER BY a.ord), array_agg(a.next ORDER BY a.ord), array_agg(a.start ORDER BY a.ord),
			array_agg(a.bytes ORDER BY a.ord), (SELECT COALESCE(sum(s.len), 0) FROM placed s),
			(SELECT string_agg(format('%s %s %s', m.q, m.next, m.t), E'\n') FROM bumped m)
			INTO v_answer, v_hw, v_start, v_bytes, v_live, v_payload
			FROM ans a;

		IF v_idem THEN
			UPDATE sharedlog_producer_batches pb SET base_offset = v_answer[
					(SELECT min(j) FROM generate_subscripts(b_topic, 1) AS j
					 WHERE b_pid[j] = pb.producer_id AND b_epoch[j] = pb.epoch AND b_seq[j] = pb.first_seq AND b_topic[j] = pb.topic_id AND b_part[j] = pb.partition AND v_status[j] = 0)]
				WHERE pb.object_id = v_object AND pb.base_offset IS NULL;
		END IF;
		IF 1 = ANY (v_status) THEN
		FOR k IN 1..v_n LOOP
			CONTINUE WHEN v_status[k] <> 1;
			SELECT pb.base_offset INTO v_dup FROM sharedlog_producer_batches pb
				WHERE pb.topic_id = b_topic[k] AND pb.partition = b_part[k] AND pb.producer_id = b_pid[k]
				AND pb.epoch = b_epoch[k] AND pb.first_seq = b_seq[k] ORDER BY pb.seqno DESC LIMIT 1;
			v_answer[k] := v_dup;
			IF v_dup IS NULL THEN
				v_status[k] := 2; -- its original is no longer known
			END IF;
		END LOOP;
		END IF;

		UPDATE sharedlog_objects o SET live_bytes = v_live, answer_base = v_answer, answer_status = v_status,
			dead_since = CASE WHEN v_live = 0 THEN now() END
			WHERE o.object_id = v_object;

		IF v_payload IS NOT NULL AND p_notify THEN
			IF length(v_payload) > 7900 THEN
				v_payload := '*';
			END IF;
			PERFORM pg_notify('sluice_sharedlog', v_payload);
		END IF;
		RETURN QUERY SELECT (u.i - 1)::INTEGER, u.b, u.s, false, u.n, u.st, u.bt
			FROM unnest(v_answer, v_status, v_hw, v_start, v_bytes) WITH ORDINALITY AS u(b, s, n, st, bt, i)
			ORDER BY u.i;
	END
	$fn$;`,
	// 5: transactions. Per partition, the open transactions (producer,
	// first offset) and the aborted index (producer, first offset, marker
	// offset), with their summary on the partition's row: open_first (the
	// oldest open transaction's first offset, NULL when none; the last
	// stable offset is it, else the high watermark) and abort_max (the
	// last aborted marker's offset, NULL when none). A sharedlog_commit
	// with a kind per entry (b_kind: 0 plain, 1 transactional batch, 2
	// commit marker, 3 abort marker) keeps them, and answers them with the
	// high watermark: no node learns a high watermark without the
	// transaction state of the same commit (TRANSACTIONS.md). Migration
	// 4's function stays for older binaries (they write no transactions).
	// The body is migration 4's but for the signature, the answers' two
	// columns (read after the offsets are assigned), the transaction block
	// and the NOTIFY's txn lines.
	`	ALTER TABLE sharedlog_partitions ADD COLUMN open_first BIGINT, ADD COLUMN abort_max BIGINT;
	CREATE TABLE sharedlog_txn_open (
		topic_id     TEXT    NOT NULL,
		partition    INTEGER NOT NULL,
		producer_id  BIGINT  NOT NULL,
		first_offset BIGINT  NOT NULL,
		PRIMARY KEY (topic_id, partition, producer_id)
	);
	CREATE TABLE sharedlog_txn_aborted (
		topic_id     TEXT    NOT NULL,
		partition    INTEGER NOT NULL,
		last_offset  BIGINT  NOT NULL,
		producer_id  BIGINT  NOT NULL,
		first_offset BIGINT  NOT NULL,
		PRIMARY KEY (topic_id, partition, last_offset)
	);
	CREATE FUNCTION sharedlog_commit(p_key TEXT, p_node TEXT, p_size BIGINT,
		b_topic TEXT[], b_part INTEGER[], b_off BIGINT[], b_len BIGINT[], b_count BIGINT[], b_maxts BIGINT[],
		b_pid BIGINT[], b_epoch SMALLINT[], b_seq INTEGER[], b_kind SMALLINT[], p_notify BOOLEAN)
	RETURNS TABLE (ord INTEGER, base_offset BIGINT, status SMALLINT, replayed BOOLEAN,
		hw_after BIGINT, start_after BIGINT, bytes_after BIGINT, open_first_after BIGINT, abort_max_after BIGINT)
	LANGUAGE plpgsql AS $fn$
	DECLARE
		v_object  BIGINT;
		v_n       INTEGER := COALESCE(cardinality(b_topic), 0);
		v_want    INTEGER;
		v_locked  INTEGER;
		v_payload TEXT;
		v_status  SMALLINT[];
		v_answer  BIGINT[];
		v_live    BIGINT;
		v_epoch   SMALLINT;
		v_lastseq INTEGER;
		v_last    INTEGER;
		k         INTEGER;
		v_dup     BIGINT;
		v_idem    BOOLEAN := false;
		v_hw      BIGINT[];
		v_start   BIGINT[];
		v_bytes   BIGINT[];
		v_of      BIGINT[];
		v_am      BIGINT[];
		v_first   BIGINT;
		v_txn     TEXT;
	BEGIN
		DELETE FROM sharedlog_uploads u WHERE u.key = p_key;
		IF NOT FOUND THEN
			SELECT o.object_id, o.answer_base, o.answer_status INTO v_object, v_answer, v_status
				FROM sharedlog_objects o WHERE o.key = p_key;
			-- Committed before, or collected as an orphan (see migration 1).
			IF v_object IS NULL THEN
				RAISE EXCEPTION 'sharedlog: object % has no pending upload (collected as an orphan, or never announced)', p_key
					USING ERRCODE = 'P0002';
			END IF;
			RETURN QUERY SELECT (u.i - 1)::INTEGER, u.b, u.s, true, NULL::BIGINT, NULL::BIGINT, NULL::BIGINT, NULL::BIGINT, NULL::BIGINT
				FROM unnest(v_answer, v_status) WITH ORDINALITY AS u(b, s, i) ORDER BY u.i;
			RETURN;
		END IF;
		IF v_n = 0 THEN
			RAISE EXCEPTION 'sharedlog: object % holds no batches', p_key;
		END IF;

		-- The object's row first: it needs no partition lock, which every
		-- commit touching a partition waits for.
		INSERT INTO sharedlog_objects (key, node, size, live_bytes) VALUES (p_key, p_node, p_size, 0)
			RETURNING object_id INTO v_object;

		-- Lock the touched partitions in one global order: two nodes whose
		-- objects touch the same partitions never deadlock.
		WITH l AS (
			SELECT 1 FROM sharedlog_partitions p
			WHERE (p.topic_id, p.partition) IN (SELECT t, q FROM unnest(b_topic, b_part) AS x(t, q))
			ORDER BY p.topic_id COLLATE "C", p.partition
			FOR UPDATE)
		SELECT count(*), (SELECT count(DISTINCT (t, q)) FROM unnest(b_topic, b_part) AS x(t, q)) INTO v_locked, v_want FROM l;
		v_status := array_fill(0::SMALLINT, ARRAY[v_n]);
		IF v_locked <> v_want THEN
			FOR k IN 1..v_n LOOP
				PERFORM 1 FROM sharedlog_partitions p WHERE p.topic_id = b_topic[k] AND p.partition = b_part[k];
				IF NOT FOUND THEN
					v_status[k] := 4;
				END IF;
			END LOOP;
		END IF;

		-- Idempotent producers, in object order (migration 1's rules); the
		-- loop runs only when the object holds an idempotent batch.
		IF EXISTS (SELECT 1 FROM unnest(b_pid, b_seq) AS x(pid, seq) WHERE x.pid >= 0 AND x.seq >= 0) THEN
		FOR k IN 1..v_n LOOP
			CONTINUE WHEN v_status[k] <> 0 OR b_pid[k] < 0 OR b_seq[k] < 0;
			v_last := ((b_seq[k]::BIGINT + b_count[k] - 1) % 2147483648)::INTEGER; -- sequences wrap to 0
			SELECT max(pb.epoch) INTO v_epoch FROM sharedlog_producer_batches pb
				WHERE pb.topic_id = b_topic[k] AND pb.partition = b_part[k] AND pb.producer_id = b_pid[k];
			IF v_epoch IS NOT NULL THEN
				IF b_epoch[k] < v_epoch THEN
					v_status[k] := 3;
					CONTINUE;
				ELSIF b_epoch[k] > v_epoch THEN
					IF b_seq[k] <> 0 THEN
						v_status[k] := 2;
						CONTINUE;
					END IF;
					DELETE FROM sharedlog_producer_batches pb
						WHERE pb.topic_id = b_topic[k] AND pb.partition = b_part[k] AND pb.producer_id = b_pid[k];
				ELSE
					PERFORM 1 FROM sharedlog_producer_batches pb
						WHERE pb.topic_id = b_topic[k] AND pb.partition = b_part[k] AND pb.producer_id = b_pid[k]
						AND pb.epoch = b_epoch[k] AND pb.first_seq = b_seq[k] AND pb.last_seq = v_last;
					IF FOUND THEN
						v_status[k] := 1;
						CONTINUE;
					END IF;
					SELECT pb.last_seq INTO v_lastseq FROM sharedlog_producer_batches pb
						WHERE pb.topic_id = b_topic[k] AND pb.partition = b_part[k] AND pb.producer_id = b_pid[k]
						ORDER BY pb.seqno DESC LIMIT 1;
					IF b_seq[k] <> (v_lastseq::BIGINT + 1) % 2147483648 THEN
						v_status[k] := 2;
						CONTINUE;
					END IF;
				END IF;
			END IF;
			INSERT INTO sharedlog_producer_batches (topic_id, partition, producer_id, epoch, first_seq, last_seq, object_id)
				VALUES (b_topic[k], b_part[k], b_pid[k], b_epoch[k], b_seq[k], v_last, v_object);
			v_idem := true;
			DELETE FROM sharedlog_producer_batches pb
				WHERE pb.topic_id = b_topic[k] AND pb.partition = b_part[k] AND pb.producer_id = b_pid[k]
				AND pb.seqno NOT IN (SELECT p2.seqno FROM sharedlog_producer_batches p2
					WHERE p2.topic_id = b_topic[k] AND p2.partition = b_part[k] AND p2.producer_id = b_pid[k]
					ORDER BY p2.seqno DESC LIMIT 5);
		END LOOP;
		END IF;

		-- Offsets for the accepted batches; one coordinate row per run of
		-- accepted batches of a partition that lie back to back in the
		-- object (a partition's section, unless a refused batch splits it).
		WITH x AS (
			SELECT (u.i - 1)::INTEGER AS ord, u.t, u.q, u.off, u.len, u.cnt, u.mts
			FROM unnest(b_topic, b_part, b_off, b_len, b_count, b_maxts, v_status) WITH ORDINALITY AS u(t, q, off, len, cnt, mts, st, i)
			WHERE u.st = 0
		), per AS (
			SELECT x.t, x.q, sum(x.cnt) AS cnt, sum(x.len) AS len FROM x GROUP BY x.t, x.q
		), bumped AS (
			UPDATE sharedlog_partitions p SET next_offset = p.next_offset + per.cnt, bytes = p.bytes + per.len
			FROM per WHERE p.topic_id = per.t AND p.partition = per.q
			RETURNING p.topic_id AS t, p.partition AS q, p.next_offset - per.cnt AS first,
				p.next_offset AS next, p.log_start_offset AS start, p.bytes AS bytes
		), placed AS (
			SELECT x.ord, x.t, x.q, bumped.first + sum(x.cnt) OVER w - x.cnt AS base,
				x.ord - row_number() OVER w AS run, x.cnt, x.off, x.len, x.mts, bumped.next, bumped.start, bumped.bytes
			FROM x JOIN bumped ON bumped.t = x.t AND bumped.q = x.q
			WINDOW w AS (PARTITION BY x.t, x.q ORDER BY x.ord)
		), ins AS (
			INSERT INTO sharedlog_batches (topic_id, partition, base_offset, last_offset, object_id, byte_off, byte_len, max_ts)
				SELECT s.t, s.q, min(s.base), max(s.base + s.cnt) - 1, v_object, min(s.off), sum(s.len), max(s.mts)
				FROM placed s GROUP BY s.t, s.q, s.run
		), ans AS (
			SELECT (u.i - 1)::INTEGER AS ord, s.base, s.next, s.start, s.bytes
			FROM generate_series(1, v_n) AS u(i) LEFT JOIN placed s ON s.ord = u.i - 1
		)
		SELECT array_agg(a.base ORDER BY a.ord), array_agg(a.next ORDER BY a.ord), array_agg(a.start ORDER BY a.ord),
			array_agg(a.bytes ORDER BY a.ord), (SELECT COALESCE(sum(s.len), 0) FROM placed s),
			(SELECT string_agg(format('%s %s %s', m.q, m.next, m.t), E'\n') FROM bumped m)
			INTO v_answer, v_hw, v_start, v_bytes, v_live, v_payload
			FROM ans a;

		IF v_idem THEN
			UPDATE sharedlog_producer_batches pb SET base_offset = v_answer[
					(SELECT min(j) FROM generate_subscripts(b_topic, 1) AS j
					 WHERE b_pid[j] = pb.producer_id AND b_epoch[j] = pb.epoch AND b_seq[j] = pb.first_seq AND b_topic[j] = pb.topic_id AND b_part[j] = pb.partition AND v_status[j] = 0)]
				WHERE pb.object_id = v_object AND pb.base_offset IS NULL;
		END IF;
		IF 1 = ANY (v_status) THEN
		FOR k IN 1..v_n LOOP
			CONTINUE WHEN v_status[k] <> 1;
			SELECT pb.base_offset INTO v_dup FROM sharedlog_producer_batches pb
				WHERE pb.topic_id = b_topic[k] AND pb.partition = b_part[k] AND pb.producer_id = b_pid[k]
				AND pb.epoch = b_epoch[k] AND pb.first_seq = b_seq[k] ORDER BY pb.seqno DESC LIMIT 1;
			v_answer[k] := v_dup;
			IF v_dup IS NULL THEN
				v_status[k] := 2; -- its original is no longer known
			END IF;
		END LOOP;
		END IF;

		-- Transactions (kinds 1: a transactional batch, 2: a commit marker,
		-- 3: an abort marker), in object order, for appended entries: a
		-- batch opens its producer's transaction here unless one is open; a
		-- marker closes it, an abort adding it to the aborted index. Then
		-- the partitions' open_first and abort_max, which every answer and
		-- the NOTIFY carry with the high watermark.
		IF EXISTS (SELECT 1 FROM unnest(b_kind) AS x(k) WHERE x.k > 0) THEN
			FOR k IN 1..v_n LOOP
				CONTINUE WHEN v_status[k] <> 0 OR b_kind[k] = 0;
				IF b_kind[k] = 1 THEN
					INSERT INTO sharedlog_txn_open (topic_id, partition, producer_id, first_offset)
						VALUES (b_topic[k], b_part[k], b_pid[k], v_answer[k]) ON CONFLICT DO NOTHING;
				ELSE
					DELETE FROM sharedlog_txn_open o
						WHERE o.topic_id = b_topic[k] AND o.partition = b_part[k] AND o.producer_id = b_pid[k]
						RETURNING o.first_offset INTO v_first;
					IF FOUND AND b_kind[k] = 3 THEN
						INSERT INTO sharedlog_txn_aborted (topic_id, partition, last_offset, producer_id, first_offset)
							VALUES (b_topic[k], b_part[k], v_answer[k], b_pid[k], v_first);
					END IF;
				END IF;
			END LOOP;
			WITH t AS (
				SELECT DISTINCT x.t, x.q FROM unnest(b_topic, b_part, b_kind) AS x(t, q, k) WHERE x.k > 0
			), upd AS (
				UPDATE sharedlog_partitions p SET
					open_first = (SELECT min(o.first_offset) FROM sharedlog_txn_open o
						WHERE o.topic_id = p.topic_id AND o.partition = p.partition),
					abort_max = (SELECT max(a.last_offset) FROM sharedlog_txn_aborted a
						WHERE a.topic_id = p.topic_id AND a.partition = p.partition)
				FROM t WHERE p.topic_id = t.t AND p.partition = t.q
				RETURNING p.topic_id, p.partition, p.next_offset, p.open_first, p.abort_max
			)
			SELECT string_agg(format('txn %s %s %s %s %s', u.partition, u.next_offset,
					COALESCE(u.open_first::TEXT, '-'), COALESCE(u.abort_max::TEXT, '-'), u.topic_id), E'\n')
				INTO v_txn FROM upd u;
		END IF;
		-- Every answer's transaction state, as the rows are now. (Read
		-- here rather than returned by the offsets' CTE above: two more
		-- columns there made every commit 60% slower.)
		SELECT array_agg(CASE WHEN v_hw[u.i] IS NULL THEN NULL ELSE p.open_first END ORDER BY u.i),
			array_agg(CASE WHEN v_hw[u.i] IS NULL THEN NULL ELSE p.abort_max END ORDER BY u.i)
			INTO v_of, v_am
			FROM unnest(b_topic, b_part) WITH ORDINALITY AS u(t, q, i)
			LEFT JOIN sharedlog_partitions p ON p.topic_id = u.t AND p.partition = u.q;

		UPDATE sharedlog_objects o SET live_bytes = v_live, answer_base = v_answer, answer_status = v_status,
			dead_since = CASE WHEN v_live = 0 THEN now() END
			WHERE o.object_id = v_object;

		-- A commit of transactional entries always NOTIFYs, its txn lines
		-- first: a listener learns a partition's transaction state before,
		-- or with, a high watermark that covers it.
		IF v_txn IS NOT NULL THEN
			v_payload := v_txn || E'\n' || v_payload;
		END IF;
		IF v_payload IS NOT NULL AND (p_notify OR v_txn IS NOT NULL) THEN
			IF length(v_payload) > 7900 THEN
				v_payload := '*';
			END IF;
			PERFORM pg_notify('sluice_sharedlog', v_payload);
		END IF;
		RETURN QUERY SELECT (u.i - 1)::INTEGER, u.b, u.s, false, u.n, u.st, u.bt, u.f, u.m
			FROM unnest(v_answer, v_status, v_hw, v_start, v_bytes, v_of, v_am) WITH ORDINALITY AS u(b, s, n, st, bt, f, m, i)
			ORDER BY u.i;
	END
	$fn$;`,
	// 6: the transaction gate. The coordinator's state (on a cluster in
	// PostgreSQL, kept by the broker) admits a producer's transactional
	// batches and markers through two tables it writes in the transaction
	// that changes its state (GateTxn, AddTxnMembers):
	// sharedlog_txn_producers, a producer's epoch and gate state (0
	// closed: nothing, its epoch still fencing older ones; 1 Ongoing: its
	// transactional batches; 2 PrepareCommit: commit markers; 3
	// PrepareAbort: abort markers), and sharedlog_txn_members, the
	// partitions added to its transaction. sharedlog_commit checks each
	// transactional entry under its partition's lock and refuses what the
	// gate does not admit (status 5, or 6 for an older epoch): a batch is
	// appended before its transaction's marker on the partition or not at
	// all, and a marker only while its transaction is prepared with that
	// outcome, so a late completer's marker cannot end the producer's next
	// transaction. The
	// function keeps migration 5's signature and body but for the gate
	// block and the statuses it merges (replaced in place: older binaries
	// write no transactional entries).
	`	CREATE TABLE sharedlog_txn_producers (
		producer_id BIGINT   PRIMARY KEY,
		epoch       SMALLINT NOT NULL,
		state       SMALLINT NOT NULL
	);
	CREATE TABLE sharedlog_txn_members (
		producer_id BIGINT  NOT NULL,
		topic_id    TEXT    NOT NULL,
		partition   INTEGER NOT NULL,
		PRIMARY KEY (producer_id, topic_id, partition)
	);
	CREATE OR REPLACE FUNCTION sharedlog_commit(p_key TEXT, p_node TEXT, p_size BIGINT,
		b_topic TEXT[], b_part INTEGER[], b_off BIGINT[], b_len BIGINT[], b_count BIGINT[], b_maxts BIGINT[],
		b_pid BIGINT[], b_epoch SMALLINT[], b_seq INTEGER[], b_kind SMALLINT[], p_notify BOOLEAN)
	RETURNS TABLE (ord INTEGER, base_offset BIGINT, status SMALLINT, replayed BOOLEAN,
		hw_after BIGINT, start_after BIGINT, bytes_after BIGINT, open_first_after BIGINT, abort_max_after BIGINT)
	LANGUAGE plpgsql AS $fn$
	DECLARE
		v_object  BIGINT;
		v_n       INTEGER := COALESCE(cardinality(b_topic), 0);
		v_want    INTEGER;
		v_locked  INTEGER;
		v_payload TEXT;
		v_status  SMALLINT[];
		v_answer  BIGINT[];
		v_live    BIGINT;
		v_epoch   SMALLINT;
		v_lastseq INTEGER;
		v_last    INTEGER;
		k         INTEGER;
		v_dup     BIGINT;
		v_idem    BOOLEAN := false;
		v_hw      BIGINT[];
		v_start   BIGINT[];
		v_bytes   BIGINT[];
		v_of      BIGINT[];
		v_am      BIGINT[];
		v_first   BIGINT;
		v_txn     TEXT;
		v_gepoch  SMALLINT;
		v_gstate  SMALLINT;
	BEGIN
		DELETE FROM sharedlog_uploads u WHERE u.key = p_key;
		IF NOT FOUND THEN
			SELECT o.object_id, o.answer_base, o.answer_status INTO v_object, v_answer, v_status
				FROM sharedlog_objects o WHERE o.key = p_key;
			-- Committed before, or collected as an orphan (see migration 1).
			IF v_object IS NULL THEN
				RAISE EXCEPTION 'sharedlog: object % has no pending upload (collected as an orphan, or never announced)', p_key
					USING ERRCODE = 'P0002';
			END IF;
			RETURN QUERY SELECT (u.i - 1)::INTEGER, u.b, u.s, true, NULL::BIGINT, NULL::BIGINT, NULL::BIGINT, NULL::BIGINT, NULL::BIGINT
				FROM unnest(v_answer, v_status) WITH ORDINALITY AS u(b, s, i) ORDER BY u.i;
			RETURN;
		END IF;
		IF v_n = 0 THEN
			RAISE EXCEPTION 'sharedlog: object % holds no batches', p_key;
		END IF;

		-- The object's row first: it needs no partition lock, which every
		-- commit touching a partition waits for.
		INSERT INTO sharedlog_objects (key, node, size, live_bytes) VALUES (p_key, p_node, p_size, 0)
			RETURNING object_id INTO v_object;

		-- Lock the touched partitions in one global order: two nodes whose
		-- objects touch the same partitions never deadlock.
		WITH l AS (
			SELECT 1 FROM sharedlog_partitions p
			WHERE (p.topic_id, p.partition) IN (SELECT t, q FROM unnest(b_topic, b_part) AS x(t, q))
			ORDER BY p.topic_id COLLATE "C", p.partition
			FOR UPDATE)
		SELECT count(*), (SELECT count(DISTINCT (t, q)) FROM unnest(b_topic, b_part) AS x(t, q)) INTO v_locked, v_want FROM l;
		v_status := array_fill(0::SMALLINT, ARRAY[v_n]);
		IF v_locked <> v_want THEN
			FOR k IN 1..v_n LOOP
				PERFORM 1 FROM sharedlog_partitions p WHERE p.topic_id = b_topic[k] AND p.partition = b_part[k];
				IF NOT FOUND THEN
					v_status[k] := 4;
				END IF;
			END LOOP;
		END IF;

		-- The transaction gate (migration 6), under the partitions' locks:
		-- a transactional batch needs its producer's transaction Ongoing
		-- (gate state 1) with the partition a member, a commit marker
		-- PrepareCommit (2), an abort marker PrepareAbort (3), all at the
		-- gate's epoch; an older epoch is status 6 (fenced), anything else
		-- status 5. The coordinator stores a Prepare state before it writes
		-- a marker, and a marker needs this lock too: a batch admitted here
		-- is appended before any marker of its transaction on the
		-- partition, and one checked after it is refused.
		IF EXISTS (SELECT 1 FROM unnest(b_kind) AS x(k) WHERE x.k > 0) THEN
			FOR k IN 1..v_n LOOP
				CONTINUE WHEN v_status[k] <> 0 OR b_kind[k] = 0;
				v_gepoch := NULL;
				SELECT g.epoch, g.state INTO v_gepoch, v_gstate FROM sharedlog_txn_producers g WHERE g.producer_id = b_pid[k];
				IF v_gepoch IS NOT NULL AND b_epoch[k] < v_gepoch THEN
					v_status[k] := 6;
				ELSIF v_gepoch IS NULL OR b_epoch[k] <> v_gepoch OR v_gstate <> b_kind[k]
					OR NOT EXISTS (SELECT 1 FROM sharedlog_txn_members m
						WHERE m.producer_id = b_pid[k] AND m.topic_id = b_topic[k] AND m.partition = b_part[k]) THEN
					v_status[k] := 5;
				END IF;
			END LOOP;
		END IF;

		-- Idempotent producers, in object order (migration 1's rules); the
		-- loop runs only when the object holds an idempotent batch.
		IF EXISTS (SELECT 1 FROM unnest(b_pid, b_seq) AS x(pid, seq) WHERE x.pid >= 0 AND x.seq >= 0) THEN
		FOR k IN 1..v_n LOOP
			CONTINUE WHEN v_status[k] <> 0 OR b_pid[k] < 0 OR b_seq[k] < 0;
			v_last := ((b_seq[k]::BIGINT + b_count[k] - 1) % 2147483648)::INTEGER; -- sequences wrap to 0
			SELECT max(pb.epoch) INTO v_epoch FROM sharedlog_producer_batches pb
				WHERE pb.topic_id = b_topic[k] AND pb.partition = b_part[k] AND pb.producer_id = b_pid[k];
			IF v_epoch IS NOT NULL THEN
				IF b_epoch[k] < v_epoch THEN
					v_status[k] := 3;
					CONTINUE;
				ELSIF b_epoch[k] > v_epoch THEN
					IF b_seq[k] <> 0 THEN
						v_status[k] := 2;
						CONTINUE;
					END IF;
					DELETE FROM sharedlog_producer_batches pb
						WHERE pb.topic_id = b_topic[k] AND pb.partition = b_part[k] AND pb.producer_id = b_pid[k];
				ELSE
					PERFORM 1 FROM sharedlog_producer_batches pb
						WHERE pb.topic_id = b_topic[k] AND pb.partition = b_part[k] AND pb.producer_id = b_pid[k]
						AND pb.epoch = b_epoch[k] AND pb.first_seq = b_seq[k] AND pb.last_seq = v_last;
					IF FOUND THEN
						v_status[k] := 1;
						CONTINUE;
					END IF;
					SELECT pb.last_seq INTO v_lastseq FROM sharedlog_producer_batches pb
						WHERE pb.topic_id = b_topic[k] AND pb.partition = b_part[k] AND pb.producer_id = b_pid[k]
						ORDER BY pb.seqno DESC LIMIT 1;
					IF b_seq[k] <> (v_lastseq::BIGINT + 1) % 2147483648 THEN
						v_status[k] := 2;
						CONTINUE;
					END IF;
				END IF;
			END IF;
			INSERT INTO sharedlog_producer_batches (topic_id, partition, producer_id, epoch, first_seq, last_seq, object_id)
				VALUES (b_topic[k], b_part[k], b_pid[k], b_epoch[k], b_seq[k], v_last, v_object);
			v_idem := true;
			DELETE FROM sharedlog_producer_batches pb
				WHERE pb.topic_id = b_topic[k] AND pb.partition = b_part[k] AND pb.producer_id = b_pid[k]
				AND pb.seqno NOT IN (SELECT p2.seqno FROM sharedlog_producer_batches p2
					WHERE p2.topic_id = b_topic[k] AND p2.partition = b_part[k] AND p2.producer_id = b_pid[k]
					ORDER BY p2.seqno DESC LIMIT 5);
		END LOOP;
		END IF;

		-- Offsets for the accepted batches; one coordinate row per run of
		-- accepted batches of a partition that lie back to back in the
		-- object (a partition's section, unless a refused batch splits it).
		WITH x AS (
			SELECT (u.i - 1)::INTEGER AS ord, u.t, u.q, u.off, u.len, u.cnt, u.mts
			FROM unnest(b_topic, b_part, b_off, b_len, b_count, b_maxts, v_status) WITH ORDINALITY AS u(t, q, off, len, cnt, mts, st, i)
			WHERE u.st = 0
		), per AS (
			SELECT x.t, x.q, sum(x.cnt) AS cnt, sum(x.len) AS len FROM x GROUP BY x.t, x.q
		), bumped AS (
			UPDATE sharedlog_partitions p SET next_offset = p.next_offset + per.cnt, bytes = p.bytes + per.len
			FROM per WHERE p.topic_id = per.t AND p.partition = per.q
			RETURNING p.topic_id AS t, p.partition AS q, p.next_offset - per.cnt AS first,
				p.next_offset AS next, p.log_start_offset AS start, p.bytes AS bytes
		), placed AS (
			SELECT x.ord, x.t, x.q, bumped.first + sum(x.cnt) OVER w - x.cnt AS base,
				x.ord - row_number() OVER w AS run, x.cnt, x.off, x.len, x.mts, bumped.next, bumped.start, bumped.bytes
			FROM x JOIN bumped ON bumped.t = x.t AND bumped.q = x.q
			WINDOW w AS (PARTITION BY x.t, x.q ORDER BY x.ord)
		), ins AS (
			INSERT INTO sharedlog_batches (topic_id, partition, base_offset, last_offset, object_id, byte_off, byte_len, max_ts)
				SELECT s.t, s.q, min(s.base), max(s.base + s.cnt) - 1, v_object, min(s.off), sum(s.len), max(s.mts)
				FROM placed s GROUP BY s.t, s.q, s.run
		), ans AS (
			SELECT (u.i - 1)::INTEGER AS ord, s.base, s.next, s.start, s.bytes
			FROM generate_series(1, v_n) AS u(i) LEFT JOIN placed s ON s.ord = u.i - 1
		)
		SELECT array_agg(a.base ORDER BY a.ord), array_agg(a.next ORDER BY a.ord), array_agg(a.start ORDER BY a.ord),
			array_agg(a.bytes ORDER BY a.ord), (SELECT COALESCE(sum(s.len), 0) FROM placed s),
			(SELECT string_agg(format('%s %s %s', m.q, m.next, m.t), E'\n') FROM bumped m)
			INTO v_answer, v_hw, v_start, v_bytes, v_live, v_payload
			FROM ans a;

		IF v_idem THEN
			UPDATE sharedlog_producer_batches pb SET base_offset = v_answer[
					(SELECT min(j) FROM generate_subscripts(b_topic, 1) AS j
					 WHERE b_pid[j] = pb.producer_id AND b_epoch[j] = pb.epoch AND b_seq[j] = pb.first_seq AND b_topic[j] = pb.topic_id AND b_part[j] = pb.partition AND v_status[j] = 0)]
				WHERE pb.object_id = v_object AND pb.base_offset IS NULL;
		END IF;
		IF 1 = ANY (v_status) THEN
		FOR k IN 1..v_n LOOP
			CONTINUE WHEN v_status[k] <> 1;
			SELECT pb.base_offset INTO v_dup FROM sharedlog_producer_batches pb
				WHERE pb.topic_id = b_topic[k] AND pb.partition = b_part[k] AND pb.producer_id = b_pid[k]
				AND pb.epoch = b_epoch[k] AND pb.first_seq = b_seq[k] ORDER BY pb.seqno DESC LIMIT 1;
			v_answer[k] := v_dup;
			IF v_dup IS NULL THEN
				v_status[k] := 2; -- its original is no longer known
			END IF;
		END LOOP;
		END IF;

		-- Transactions (kinds 1: a transactional batch, 2: a commit marker,
		-- 3: an abort marker), in object order, for appended entries: a
		-- batch opens its producer's transaction here unless one is open; a
		-- marker closes it, an abort adding it to the aborted index. Then
		-- the partitions' open_first and abort_max, which every answer and
		-- the NOTIFY carry with the high watermark.
		IF EXISTS (SELECT 1 FROM unnest(b_kind) AS x(k) WHERE x.k > 0) THEN
			FOR k IN 1..v_n LOOP
				CONTINUE WHEN v_status[k] <> 0 OR b_kind[k] = 0;
				IF b_kind[k] = 1 THEN
					INSERT INTO sharedlog_txn_open (topic_id, partition, producer_id, first_offset)
						VALUES (b_topic[k], b_part[k], b_pid[k], v_answer[k]) ON CONFLICT DO NOTHING;
				ELSE
					DELETE FROM sharedlog_txn_open o
						WHERE o.topic_id = b_topic[k] AND o.partition = b_part[k] AND o.producer_id = b_pid[k]
						RETURNING o.first_offset INTO v_first;
					IF FOUND AND b_kind[k] = 3 THEN
						INSERT INTO sharedlog_txn_aborted (topic_id, partition, last_offset, producer_id, first_offset)
							VALUES (b_topic[k], b_part[k], v_answer[k], b_pid[k], v_first);
					END IF;
				END IF;
			END LOOP;
			WITH t AS (
				SELECT DISTINCT x.t, x.q FROM unnest(b_topic, b_part, b_kind) AS x(t, q, k) WHERE x.k > 0
			), upd AS (
				UPDATE sharedlog_partitions p SET
					open_first = (SELECT min(o.first_offset) FROM sharedlog_txn_open o
						WHERE o.topic_id = p.topic_id AND o.partition = p.partition),
					abort_max = (SELECT max(a.last_offset) FROM sharedlog_txn_aborted a
						WHERE a.topic_id = p.topic_id AND a.partition = p.partition)
				FROM t WHERE p.topic_id = t.t AND p.partition = t.q
				RETURNING p.topic_id, p.partition, p.next_offset, p.open_first, p.abort_max
			)
			SELECT string_agg(format('txn %s %s %s %s %s', u.partition, u.next_offset,
					COALESCE(u.open_first::TEXT, '-'), COALESCE(u.abort_max::TEXT, '-'), u.topic_id), E'\n')
				INTO v_txn FROM upd u;
		END IF;
		-- Every answer's transaction state, as the rows are now. (Read
		-- here rather than returned by the offsets' CTE above: two more
		-- columns there made every commit 60% slower.)
		SELECT array_agg(CASE WHEN v_hw[u.i] IS NULL THEN NULL ELSE p.open_first END ORDER BY u.i),
			array_agg(CASE WHEN v_hw[u.i] IS NULL THEN NULL ELSE p.abort_max END ORDER BY u.i)
			INTO v_of, v_am
			FROM unnest(b_topic, b_part) WITH ORDINALITY AS u(t, q, i)
			LEFT JOIN sharedlog_partitions p ON p.topic_id = u.t AND p.partition = u.q;

		UPDATE sharedlog_objects o SET live_bytes = v_live, answer_base = v_answer, answer_status = v_status,
			dead_since = CASE WHEN v_live = 0 THEN now() END
			WHERE o.object_id = v_object;

		-- A commit of transactional entries always NOTIFYs, its txn lines
		-- first: a listener learns a partition's transaction state before,
		-- or with, a high watermark that covers it.
		IF v_txn IS NOT NULL THEN
			v_payload := v_txn || E'\n' || v_payload;
		END IF;
		IF v_payload IS NOT NULL AND (p_notify OR v_txn IS NOT NULL) THEN
			IF length(v_payload) > 7900 THEN
				v_payload := '*';
			END IF;
			PERFORM pg_notify('sluice_sharedlog', v_payload);
		END IF;
		RETURN QUERY SELECT (u.i - 1)::INTEGER, u.b, u.s, false, u.n, u.st, u.bt, u.f, u.m
			FROM unnest(v_answer, v_status, v_hw, v_start, v_bytes, v_of, v_am) WITH ORDINALITY AS u(b, s, n, st, bt, f, m, i)
			ORDER BY u.i;
	END
	$fn$;`,
}
