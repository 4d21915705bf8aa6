package broker

// SetTxnStepHook sets the hook ProduceAndCommit calls after each of its
// steps ("begun", "written", "prepared", "marked"); nil removes it.
func SetTxnStepHook(f func(step string)) { txnStepHook = f }
