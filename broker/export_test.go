package broker

// SetWaitHook makes b call f whenever a Fetch long poll or an idle
// subscription is about to wait, so tests know a waiter is parked without
// sleeping. Set it before the broker serves requests.
func SetWaitHook(b *Broker, f func()) { b.waitHook = f }

// SetTxnInsertHook makes cluster node b call f just before it stores a
// transactional id's first state (a row another node may be inserting at
// once). Set it before the broker serves requests.
func SetTxnInsertHook(b *Broker, f func(id string)) { b.txnInsertHook = f }

// Murmur2 exposes the partitioner's hash to black-box tests.
var Murmur2 = murmur2

// PoisonReleasedRequests makes the Connect produce handlers overwrite each
// request copy they give back to its pool, so that a record still pointing
// into one reads garbage; RequestCopiesReleased counts the copies given
// back.
var (
	PoisonReleasedRequests = &poisonReleasedRequests
	RequestCopiesReleased  = &requestCopiesReleased
)
