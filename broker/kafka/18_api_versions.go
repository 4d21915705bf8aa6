package kafka

// ApiVersions, v0-4: the keys and versions this listener serves, read from
// the registration table. An unknown version (above 4) gets a v0 body with
// UNSUPPORTED_VERSION and the key list, so that the client retries with a
// version it finds there (KIP-511). v3+ requests name the client software;
// a name or version outside [a-zA-Z0-9](?:[a-zA-Z0-9.-]*[a-zA-Z0-9])? is
// INVALID_REQUEST, as Kafka answers. The response header is always v0.

import (
	"github.com/twmb/franz-go/pkg/kerr"
	"github.com/twmb/franz-go/pkg/kmsg"
)

func init() { register(kmsg.ApiVersions, 0, 4, handleApiVersions) }

func handleApiVersions(c *Conn, kreq kmsg.Request) (kmsg.Response, func() kmsg.Response, error) {
	req := kreq.(*kmsg.ApiVersionsRequest)
	resp := req.ResponseKind().(*kmsg.ApiVersionsResponse)
	if _, ok := lookup(int16(kmsg.ApiVersions), req.Version); !ok {
		resp.Version = 0
		resp.ErrorCode = kerr.UnsupportedVersion.Code
		resp.ApiKeys = apiKeys()
		return resp, nil, nil
	}
	if req.Version >= 3 && (!validSoftware(req.ClientSoftwareName) || !validSoftware(req.ClientSoftwareVersion)) {
		resp.ErrorCode = kerr.InvalidRequest.Code
		return resp, nil, nil
	}
	resp.ApiKeys = apiKeys()
	return resp, nil, nil
}

// validSoftware checks a client software name or version against Kafka's
// pattern [a-zA-Z0-9](?:[a-zA-Z0-9\-.]*[a-zA-Z0-9])?.
func validSoftware(s string) bool {
	alnum := func(c byte) bool { return 'a' <= c && c <= 'z' || 'A' <= c && c <= 'Z' || '0' <= c && c <= '9' }
	if s == "" || !alnum(s[0]) || !alnum(s[len(s)-1]) {
		return false
	}
	for i := 1; i < len(s)-1; i++ {
		if c := s[i]; !alnum(c) && c != '-' && c != '.' {
			return false
		}
	}
	return true
}
