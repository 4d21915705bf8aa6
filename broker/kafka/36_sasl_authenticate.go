package kafka

// SaslAuthenticate, v0-2: one message of the SASL exchange begun by a v1
// SaslHandshake, answered with the server's message. Wrong credentials or a
// malformed message are SASL_AUTHENTICATION_FAILED with a message (never
// the secret), and the connection closes after the answer, as Kafka does;
// a SaslAuthenticate without a handshake is ILLEGAL_SASL_STATE, and closes
// it too. Sessions do not expire (session_lifetime_ms 0).

import (
	"github.com/twmb/franz-go/pkg/kerr"
	"github.com/twmb/franz-go/pkg/kmsg"
)

func init() { register(kmsg.SASLAuthenticate, 0, 2, handleSASLAuthenticate) }

func handleSASLAuthenticate(c *Conn, kreq kmsg.Request) (kmsg.Response, func() kmsg.Response, error) {
	req := kreq.(*kmsg.SASLAuthenticateRequest)
	resp := req.ResponseKind().(*kmsg.SASLAuthenticateResponse)
	if c.auth.sasl == nil {
		resp.ErrorCode = kerr.IllegalSaslState.Code
		msg := "SaslAuthenticate without a SaslHandshake naming the mechanism first"
		if c.srv.cfg.Auth == nil {
			msg = "SASL authentication is off on this listener"
		} else if c.auth.ctx.Load() != nil {
			msg = "already authenticated"
		}
		resp.ErrorMessage = &msg
		c.log.Info("closing Kafka connection: "+msg, "client_id", c.ClientID())
		c.stopReading()
		return resp, nil, nil
	}
	mech := c.auth.sasl.Mechanism()
	reply, _, err := c.saslStep(req.SASLAuthBytes)
	if err != nil {
		resp.ErrorCode = kerr.SaslAuthenticationFailed.Code
		msg := err.Error() + " (" + mech + ")"
		resp.ErrorMessage = &msg
		c.stopReading()
		return resp, nil, nil
	}
	resp.SASLAuthBytes = reply
	return resp, nil, nil
}
