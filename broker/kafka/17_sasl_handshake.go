package kafka

// SaslHandshake, v0-1: the client names a SASL mechanism (PLAIN,
// SCRAM-SHA-256, SCRAM-SHA-512). An unknown one is
// UNSUPPORTED_SASL_MECHANISM with the list, and the connection closes after
// the answer; a handshake while one is in progress or after authenticating
// is ILLEGAL_SASL_STATE, and closes it too. After v1 the exchange runs in
// SaslAuthenticate requests; after v0 (clients before Kafka 1.0) the SASL
// messages come as bare size-prefixed frames (see Conn.decode). With
// authentication off every mechanism is unsupported.

import (
	"github.com/twmb/franz-go/pkg/kerr"
	"github.com/twmb/franz-go/pkg/kmsg"

	"github.com/sluicehq/sluice/auth"
)

func init() { register(kmsg.SASLHandshake, 0, 1, handleSASLHandshake) }

func handleSASLHandshake(c *Conn, kreq kmsg.Request) (kmsg.Response, func() kmsg.Response, error) {
	req := kreq.(*kmsg.SASLHandshakeRequest)
	resp := req.ResponseKind().(*kmsg.SASLHandshakeResponse)
	a := c.srv.cfg.Auth
	if a == nil {
		resp.ErrorCode = kerr.UnsupportedSaslMechanism.Code
		resp.SupportedMechanisms = []string{}
		c.log.Info("closing Kafka connection: SASL handshake with authentication off (sluice serve --auth-file turns it on)", "mechanism", req.Mechanism)
		c.stopReading()
		return resp, nil, nil
	}
	resp.SupportedMechanisms = auth.Mechanisms()
	if c.auth.sasl != nil || c.auth.ctx.Load() != nil {
		resp.ErrorCode = kerr.IllegalSaslState.Code
		c.log.Info("closing Kafka connection: SASL handshake after authentication or during an exchange", "mechanism", req.Mechanism)
		c.stopReading()
		return resp, nil, nil
	}
	s, err := a.NewSASL(req.Mechanism, c.RemoteAddr().String())
	if err != nil {
		resp.ErrorCode = kerr.UnsupportedSaslMechanism.Code
		c.log.Info("closing Kafka connection: unsupported SASL mechanism", "mechanism", req.Mechanism, "supported", resp.SupportedMechanisms)
		c.stopReading()
		return resp, nil, nil
	}
	c.auth.sasl = s
	c.auth.raw = req.Version == 0
	return resp, nil, nil
}
