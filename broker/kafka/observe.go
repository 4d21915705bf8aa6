package kafka

import "time"

// RequestObserver is told how long each answered request took, from the
// moment its handler started (stage 1) to its response being written
// (stage 2 waits, such as a produce's fsync, included). It runs on the
// connection's writer goroutine and must not block. Requests that close
// the connection are observed too; requests cut short by the connection
// closing are not.
type RequestObserver interface {
	ObserveKafkaRequest(apiKey int16, elapsed time.Duration)
}

// observe reports p to the server's observer, if any.
func (c *Conn) observe(p *pending) {
	if o := c.srv.cfg.Observer; o != nil && !p.start.IsZero() {
		o.ObserveKafkaRequest(p.hdr.key, time.Since(p.start))
	}
}

// InFlight is the number of requests read and not yet answered, over every
// connection.
func (s *Server) InFlight() int {
	s.mu.Lock()
	defer s.mu.Unlock()
	n := 0
	for c := range s.conns {
		n += len(c.slots)
	}
	return n
}
