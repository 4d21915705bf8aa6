package kafka

import (
	"context"
	"crypto/tls"
	"encoding/binary"
	"errors"
	"net"
	"sync/atomic"
	"time"

	"github.com/twmb/franz-go/pkg/kmsg"

	"github.com/sluicehq/sluice/auth"
	"github.com/sluicehq/sluice/internal/reqid"
)

// connAuth is a connection's authentication state. With Config.Auth set,
// a connection is unauthenticated until a verified client certificate
// (TLS) or a SASL exchange names its principal; until then only
// ApiVersions, SaslHandshake and SaslAuthenticate are served, and any other
// request closes the connection, as Kafka does.
type connAuth struct {
	// sasl is the exchange begun by SaslHandshake; raw is set after a v0
	// handshake, whose SASL messages come as bare size-prefixed frames
	// rather than SaslAuthenticate requests. Both belong to the reader's
	// goroutine (stage 1).
	sasl auth.SASL
	raw  bool
	// ctx is the connection's context with the principal, once
	// authenticated.
	ctx atomic.Pointer[context.Context]
}

// errUnauthenticated closes a connection that sends a request other than
// ApiVersions or SASL before authenticating.
var errUnauthenticated = errors.New("request before authentication")

// tlsHandshakeTimeout bounds a TLS handshake on the Kafka listener.
const tlsHandshakeTimeout = 10 * time.Second

// authenticated reports whether the connection has a principal (always
// true with authentication off).
func (c *Conn) authenticated() bool {
	return c.srv.cfg.Auth == nil || c.auth.ctx.Load() != nil
}

// setPrincipal records the connection's principal: handlers see it in
// Context.
func (c *Conn) setPrincipal(p auth.Principal) {
	ctx := auth.NewContext(c.ctx, p)
	c.auth.ctx.Store(&ctx)
}

// startTLS runs the TLS handshake of a TLS connection and takes the
// principal of a verified client certificate; false closes the connection.
func (c *Conn) startTLS() bool {
	tc, ok := c.nc.(*tls.Conn)
	if !ok {
		return true
	}
	tc.SetDeadline(time.Now().Add(tlsHandshakeTimeout))
	if err := tc.HandshakeContext(c.ctx); err != nil {
		if a := c.srv.cfg.Auth; a != nil && auth.IsCertificateRefusal(err) {
			ctx := reqid.WithKafka(c.ctx, reqid.Kafka{ConnID: c.id, NoRequest: true}) // no request yet: the connection
			a.CertificateRefused(ctx, c.nc.RemoteAddr().String(), err)
		} else {
			c.log.Debug("Kafka TLS handshake failed", "err", err)
		}
		return false
	}
	tc.SetDeadline(time.Time{})
	if a := c.srv.cfg.Auth; a != nil {
		cs := tc.ConnectionState()
		if p, ok := a.Certificate(&cs); ok {
			c.setPrincipal(p)
		}
	}
	return true
}

// decode decodes a request frame, or takes a bare SASL message after a v0
// SaslHandshake, and refuses what an unauthenticated connection may not
// send.
func (c *Conn) decode(frame []byte) (requestHeader, registration, kmsg.Request, error) {
	if c.auth.raw {
		hdr := requestHeader{key: int16(kmsg.SASLAuthenticate), clientID: c.ClientID()}
		msg := frame
		return hdr, registration{key: hdr.key, h: func(c *Conn, _ kmsg.Request) (kmsg.Response, func() kmsg.Response, error) {
			return c.rawSASL(msg)
		}}, nil, nil
	}
	hdr, reg, req, err := decodeRequest(frame)
	if err == nil && !c.authenticated() {
		switch kmsg.Key(hdr.key) {
		case kmsg.ApiVersions, kmsg.SASLHandshake, kmsg.SASLAuthenticate:
		default:
			return hdr, registration{}, nil, errUnauthenticated
		}
	}
	return hdr, reg, req, err
}

// saslStep runs one step of the connection's SASL exchange; on success it
// records the principal.
func (c *Conn) saslStep(msg []byte) (reply []byte, done bool, err error) {
	reply, p, err := c.auth.sasl.Step(c.requestContext(), msg) // a failure's log line names the request
	if err != nil {
		c.auth.sasl = nil
		return nil, false, err
	}
	if p != nil {
		c.log.Debug("Kafka client authenticated", "principal", p.Name, "method", p.Method)
		c.auth.sasl = nil
		c.setPrincipal(*p)
		return reply, true, nil
	}
	return reply, false, nil
}

// rawSASL serves a bare SASL message after a v0 SaslHandshake. Success or
// not, the reply is a bare frame; a failure closes the connection (v0 has
// no way to say why).
func (c *Conn) rawSASL(msg []byte) (kmsg.Response, func() kmsg.Response, error) {
	reply, done, err := c.saslStep(msg)
	if err != nil {
		c.auth.raw = false
		return nil, nil, err
	}
	if done {
		c.auth.raw = false
	}
	return &rawSASLResponse{SASLAuthenticateResponse: kmsg.NewSASLAuthenticateResponse(), msg: reply}, nil, nil
}

// rawSASLResponse is a bare SASL message: a 4-byte size and the bytes, no
// response header (the kmsg type only fills the Response interface).
type rawSASLResponse struct {
	kmsg.SASLAuthenticateResponse
	msg []byte
}

// WriteFrame writes the bare message, ignoring the response header.
func (r *rawSASLResponse) WriteFrame(nc net.Conn, _ []byte) error {
	out := binary.BigEndian.AppendUint32(make([]byte, 0, 4+len(r.msg)), uint32(len(r.msg)))
	_, err := nc.Write(append(out, r.msg...))
	return err
}
