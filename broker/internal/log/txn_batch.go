package log

// Transactional batches the broker encodes itself: a Connect
// ProduceAndCommit (broker/txn_rpc.go) writes its records as Kafka's
// transactional producers do, so that the partition's transaction state,
// the last stable offset, the markers and the aborted index treat them
// exactly like a Kafka client's.

// NewTxnBatch encodes recs as one transactional batch of producer pid at
// epoch, ready for EnqueueBatch, within the partition's record and batch
// limits (EncodeTxnBatch).
func (p *Partition) NewTxnBatch(recs []Record, pid int64, epoch int16, nowMs int64) (*Batch, error) {
	cfg := p.cfg.Load()
	return EncodeTxnBatch(recs, pid, epoch, nowMs, cfg.MaxRecordBytes, cfg.MaxBatchBytes)
}

// EncodeTxnBatch encodes recs as one transactional batch of producer pid
// at epoch. Its base sequence is -1: the broker sends each batch of a
// transaction once, so there is no retry to detect. A zero Timestamp
// becomes nowMs. A record over maxRecordBytes or a batch over
// maxBatchBytes is refused (ErrRecordTooLarge, ErrBatchTooLarge; 0 is no
// limit, as in EncodeBatch). The shared log's partitions encode theirs
// with it too.
func EncodeTxnBatch(recs []Record, pid int64, epoch int16, nowMs int64, maxRecordBytes, maxBatchBytes int) (*Batch, error) {
	like := batchHeader{Attributes: attrTransactional, ProducerID: pid, ProducerEpoch: epoch, BaseSequence: -1}
	raw, _, err := appendBatchAs(nil, 0, recs, true, 0, nowMs, limits{maxRecord: maxRecordBytes, maxBatch: maxBatchBytes}, &like)
	if err != nil {
		return nil, err
	}
	return batchOf(raw)
}
