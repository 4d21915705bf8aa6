package kafka

// DescribeTransactions (key 65), version 0 (KIP-664, for admin tools such
// as kafka-transactions.sh and kadm): each transactional id's producer id
// and epoch, state, timeout, start time and partitions. An unknown id is
// TRANSACTIONAL_ID_NOT_FOUND (105).

import (
	"github.com/twmb/franz-go/pkg/kerr"
	"github.com/twmb/franz-go/pkg/kmsg"
)

func init() { register(kmsg.DescribeTransactions, 0, 0, handleDescribeTransactions) }

func handleDescribeTransactions(c *Conn, kreq kmsg.Request) (kmsg.Response, func() kmsg.Response, error) {
	req := kreq.(*kmsg.DescribeTransactionsRequest)
	resp := req.ResponseKind().(*kmsg.DescribeTransactionsResponse)
	b := c.Server().Broker()
	for _, id := range req.TransactionalIDs {
		rs := kmsg.NewDescribeTransactionsResponseTransactionState()
		rs.TransactionalID, rs.ProducerID, rs.ProducerEpoch, rs.StartTimestamp = id, -1, -1, -1
		st, ok := b.DescribeTransaction(id)
		if !ok {
			rs.ErrorCode = kerr.TransactionalIDNotFound.Code
			resp.TransactionStates = append(resp.TransactionStates, rs)
			continue
		}
		rs.State, rs.ProducerID, rs.ProducerEpoch = st.State, st.ProducerID, st.Epoch
		rs.TimeoutMillis = int32(st.Timeout.Milliseconds())
		if active := st.State == "Ongoing" || st.State == "PrepareCommit" || st.State == "PrepareAbort"; active && !st.Start.IsZero() {
			rs.StartTimestamp = st.Start.UnixMilli()
		}
		for _, tp := range st.Partitions {
			if n := len(rs.Topics); n == 0 || rs.Topics[n-1].Topic != tp.Topic {
				rt := kmsg.NewDescribeTransactionsResponseTransactionStateTopic()
				rt.Topic = tp.Topic
				rs.Topics = append(rs.Topics, rt)
			}
			rt := &rs.Topics[len(rs.Topics)-1]
			rt.Partitions = append(rt.Partitions, tp.Partition)
		}
		resp.TransactionStates = append(resp.TransactionStates, rs)
	}
	return resp, nil, nil
}
