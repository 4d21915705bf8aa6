package kafka

// ListTransactions (key 66), versions 0-1 (KIP-664; v1 adds KIP-994's
// duration filter): the transactional ids with their producer id and
// state, filtered by state names and producer ids when given. State names
// that are not Kafka's are returned in UnknownStateFilters.

import (
	"slices"
	"time"

	"github.com/twmb/franz-go/pkg/kmsg"
)

func init() { register(kmsg.ListTransactions, 0, 1, handleListTransactions) }

// txnStateNames are the states ListTransactions may filter on.
var txnStateNames = []string{"Empty", "Ongoing", "PrepareCommit", "PrepareAbort", "CompleteCommit", "CompleteAbort", "Dead", "PrepareEpochFence"}

func handleListTransactions(c *Conn, kreq kmsg.Request) (kmsg.Response, func() kmsg.Response, error) {
	req := kreq.(*kmsg.ListTransactionsRequest)
	resp := req.ResponseKind().(*kmsg.ListTransactionsResponse)
	var states []string
	for _, s := range req.StateFilters {
		if slices.Contains(txnStateNames, s) {
			states = append(states, s)
		} else {
			resp.UnknownStateFilters = append(resp.UnknownStateFilters, s)
		}
	}
	runningFor := time.Duration(-1)
	if req.Version >= 1 && req.DurationFilterMillis >= 0 {
		runningFor = time.Duration(req.DurationFilterMillis) * time.Millisecond
	}
	for _, st := range c.Server().Broker().ListTransactions(runningFor) {
		if len(req.StateFilters) > 0 && !slices.Contains(states, st.State) {
			continue
		}
		if len(req.ProducerIDFilters) > 0 && !slices.Contains(req.ProducerIDFilters, st.ProducerID) {
			continue
		}
		rs := kmsg.NewListTransactionsResponseTransactionState()
		rs.TransactionalID, rs.ProducerID, rs.TransactionState = st.ID, st.ProducerID, st.State
		resp.TransactionStates = append(resp.TransactionStates, rs)
	}
	return resp, nil, nil
}
