// Package kafka is Sluice's Kafka wire-protocol listener: a transport over
// the broker core, like registry/rest and the Connect handlers. Existing
// Kafka clients (librdkafka/kcat, franz-go, the Java client, kafkajs) talk to
// it unchanged. Messages are franz-go's kmsg types; no broker logic lives
// here: handlers translate kmsg requests into calls on package broker and map
// domain errors to Kafka error codes (kerr).
//
// # Contract between handler files
//
// One file per API key, named like franz-go's kfake (00_produce.go,
// 01_fetch.go, 03_metadata.go, 11_join_group.go, ...). Each file registers
// its handler and the versions it serves in an init function:
//
//	func init() { register(kmsg.Produce, 3, 11, handleProduce) }
//
// A handler has the type
//
//	func(c *Conn, req kmsg.Request) (resp kmsg.Response, wait func() kmsg.Response, err error)
//
// and runs in arrival order on its connection (stage 1). It returns the
// response, or a non-nil wait func that the connection runs concurrently
// with later requests (stage 2: waiting for an fsync, a long poll). Either
// way responses are written in request order. A nil response with a nil
// wait sends nothing (acks=0 produce); so does a wait returning nil. An
// error closes the connection, as Kafka does for malformed requests.
// Build the response with req.(*kmsg.XRequest).ResponseKind(), which carries
// the request's version.
//
// A Conn gives the handler its context (c.Context(), done when the
// connection closes), the server (c.Server(): Broker, Logger,
// AdvertisedAddr, ClusterID, Draining), the client id (c.ClientID()) and a
// logger. A long poll also ends when c.Server().Draining() is closed:
// Shutdown closes it before waiting for stage 2 to finish.
//
// ApiVersions answers from the registration table, so a key is advertised
// exactly when a file registers it, with the versions it registers. A
// request for an unregistered key or version closes the connection (kfake
// and Kafka do the same), except ApiVersions, which answers an unknown
// version with a v0 body, UNSUPPORTED_VERSION and the key list (KIP-511).
//
// A response whose bytes are not in memory (Fetch sending segment ranges
// with sendfile) implements FrameWriter and writes its own frame.
//
// # Connections
//
// Each connection has a reader goroutine (framing, header, dispatch, stage 1)
// and a writer goroutine (responses in order). Frames above
// Config.MaxRequestBytes are refused before anything is allocated. At most
// Config.MaxInFlight requests and Config.ConnBudgetBytes request bytes are
// in flight per connection, and Config.ServerBudgetBytes over the server,
// so a client pipelining large produces waits instead of growing memory. A
// connection with nothing in flight and no request for Config.IdleTimeout
// is closed. A panic in a handler is recovered, logged with the request's
// key and version, and closes only that connection.
//
// Shutdown stops accepting, ends long polls (Broker.Drain and Draining),
// stops reading new requests, lets every request already read finish and
// its response be written, then closes the connections.
//
// # One node
//
// Sluice is one Kafka broker: node 0, controller 0, every partition led by
// node 0 at leader epoch 0 with replicas and ISR [0]. The cluster id and the
// topic ids are persistent (broker.ClusterID, broker.TopicInfo.ID).
package kafka
