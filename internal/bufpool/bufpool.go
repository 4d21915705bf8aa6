// Package bufpool pools byte buffers in power-of-two size classes, for
// the request and batch buffers of the produce paths: a producer's requests
// are about the same size, and a fresh buffer per request is both garbage
// for the collector and a page fault per 4 KiB as it is first written.
//
// A buffer goes back with Put only when nothing refers to its bytes any
// more; a buffer never put back is simply collected. sync.Pool drops idle
// buffers at garbage collections, so an idle process keeps none.
package bufpool

import (
	"math/bits"
	"sync"
)

// Min is the smallest buffer Get pools: a smaller one is an ordinary small
// allocation, cheaper than a buffer of the smallest class it would mostly
// not use.
const Min = 4 << 10

// classes[c] holds buffers of capacity 1<<c, each in a holder; holders
// keeps the empty holders, so that neither Get nor Put allocates one.
var (
	classes [bits.UintSize]sync.Pool // *[]byte
	holders sync.Pool                // *[]byte, nil
)

// class is the size class of a buffer of n > 0 bytes: the exponent of the
// smallest power of two at least n.
func class(n int) int { return bits.Len(uint(n - 1)) }

// Get returns a buffer of length n, its contents undefined. For n of at
// least Min its capacity is the next power of two, and it comes from that
// class's pool when one is there; a smaller n gets an unpooled buffer of
// capacity n.
func Get(n int) []byte {
	if n < Min {
		return make([]byte, n)
	}
	c := class(n)
	if v := classes[c].Get(); v != nil {
		h := v.(*[]byte)
		b := (*h)[:n]
		*h = nil
		holders.Put(h)
		return b
	}
	return make([]byte, n, 1<<c)
}

// Put gives b back to its class's pool. Nothing may use its bytes any more.
// A buffer whose capacity is not a pooled class's (smaller than Min, or
// grown by append past its class) is left to the collector.
func Put(b []byte) {
	n := cap(b)
	if n < Min || n&(n-1) != 0 {
		return
	}
	h, _ := holders.Get().(*[]byte)
	if h == nil {
		h = new([]byte)
	}
	*h = b[:0]
	classes[class(n)].Put(h)
}
