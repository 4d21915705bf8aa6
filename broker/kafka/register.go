package kafka

import (
	"fmt"
	"slices"

	"github.com/twmb/franz-go/pkg/kmsg"
)

// handler serves one request. It runs in arrival order on its connection
// (stage 1). It returns the response, or a non-nil wait func that the
// connection runs concurrently (stage 2: e.g. waiting for fsync, or a long
// poll); responses are written in request order either way. A nil response
// with a nil wait sends nothing (acks=0). An error closes the connection (as
// Kafka does for malformed requests).
type handler func(c *Conn, req kmsg.Request) (resp kmsg.Response, wait func() kmsg.Response, err error)

// registration is one API key's versions and handler.
type registration struct {
	key      int16
	min, max int16
	h        handler
}

// handlers is the registration table, filled by init functions and read-only
// afterwards, indexed by API key.
var handlers = map[int16]registration{}

// register adds the handler of key for versions min to max. It panics on a
// bad or repeated registration: that is a programming error caught by any
// test.
func register(key kmsg.Key, min, max int16, h handler) {
	k := int16(key)
	if min < 0 || max < min || h == nil {
		panic(fmt.Sprintf("kafka: bad registration of %s: versions %d-%d", key.Name(), min, max))
	}
	if max > kmsg.RequestForKey(k).MaxVersion() {
		panic(fmt.Sprintf("kafka: %s v%d is beyond what kmsg encodes (v%d)", key.Name(), max, kmsg.RequestForKey(k).MaxVersion()))
	}
	if _, ok := handlers[k]; ok {
		panic(fmt.Sprintf("kafka: %s registered twice", key.Name()))
	}
	// Every handler runs behind its ACL guard (authorize.go).
	handlers[k] = registration{key: k, min: min, max: max, h: guarded(key, h)}
}

// lookup returns the registration serving key at version.
func lookup(key, version int16) (registration, bool) {
	r, ok := handlers[key]
	if !ok || version < r.min || version > r.max {
		return registration{}, false
	}
	return r, true
}

// apiKeys lists every registered key with its versions, by key: the body of
// ApiVersions.
func apiKeys() []kmsg.ApiVersionsResponseApiKey {
	out := make([]kmsg.ApiVersionsResponseApiKey, 0, len(handlers))
	for _, r := range handlers {
		k := kmsg.NewApiVersionsResponseApiKey()
		k.ApiKey, k.MinVersion, k.MaxVersion = r.key, r.min, r.max
		out = append(out, k)
	}
	slices.SortFunc(out, func(a, b kmsg.ApiVersionsResponseApiKey) int { return int(a.ApiKey) - int(b.ApiKey) })
	return out
}
