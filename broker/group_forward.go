package broker

// Forwarding of GroupService calls to a group's coordinator (cluster mode,
// Config.GroupPeers). A Connect client talks to any node; when that node
// does not coordinate the group (group_lease.go) it forwards the call to the
// node that does, at the HTTP address that node advertises in the cluster,
// and relays the answer (for Consume, the whole stream). So `sluice group
// describe`, the client library's consumers and Consume streams work on
// every node, and see the group as its coordinator does.
//
// Security: the forwarding node passes on the caller's own credentials
// (the Authorization header) and nothing else; the coordinator
// authenticates and authorizes the call again, against the same users and
// ACLs (they live in the cluster's database), so forwarding grants nothing
// the caller could not do at the coordinator directly, and no node-to-node
// credential exists to leak. A caller authenticated by a TLS client
// certificate has no header to pass on: the coordinator refuses the
// forwarded call (Unauthenticated) and that caller must connect to the
// coordinator (the error names it). A forwarded call is never forwarded
// again (header Sluice-Forwarded-By): if the lease moved meanwhile the
// caller gets Unavailable and retries.

import (
	"context"
	"errors"
	"net/http"
	"slices"
	"strings"

	"connectrpc.com/connect"

	brokerv1 "github.com/sluicehq/sluice/proto/gen/sluice/broker/v1"
	"github.com/sluicehq/sluice/proto/gen/sluice/broker/v1/brokerv1connect"
)

// GroupPeers finds the other nodes of the cluster for forwarded GroupService
// calls (Config.GroupPeers).
type GroupPeers interface {
	// PeerURL returns the HTTP base URL (http://host:port) the node with
	// cluster id node advertises; ok is false when it is not alive.
	PeerURL(ctx context.Context, node string) (url string, ok bool)
	// PeerURLs returns the HTTP base URLs of the other live nodes.
	PeerURLs(ctx context.Context) []string
	// PeerClient is the HTTP client for calls to other nodes.
	PeerClient() connect.HTTPClient
}

// forwardedHeader marks a forwarded call with the forwarding node's id.
const forwardedHeader = "Sluice-Forwarded-By"

// peerFor returns a GroupService client on the coordinator named by err,
// when err is a NotCoordinatorError and the call may be forwarded there.
func (b *Broker) peerFor(ctx context.Context, header http.Header, err error) (brokerv1connect.GroupServiceClient, bool) {
	var nc *NotCoordinatorError
	if b.cfg.GroupPeers == nil || !errors.As(err, &nc) || header.Get(forwardedHeader) != "" {
		return nil, false
	}
	url, ok := b.cfg.GroupPeers.PeerURL(ctx, nc.Holder)
	if !ok {
		return nil, false
	}
	return brokerv1connect.NewGroupServiceClient(b.cfg.GroupPeers.PeerClient(), url), true
}

// forwardRequest returns the headers of a call forwarded to the
// coordinator: the caller's credentials and the forwarding mark.
func (b *Broker) forwardRequest(in http.Header) http.Header {
	out := http.Header{}
	if a := in.Get("Authorization"); a != "" {
		out.Set("Authorization", a)
	}
	out.Set(forwardedHeader, b.cfg.NodeID)
	return out
}

// forwardUnary answers a unary GroupService call that failed with err on
// this node: at the coordinator when err says another node coordinates the
// group; else err, mapped.
func forwardUnary[Req, Res any](s groupService, ctx context.Context, req *connect.Request[Req], err error,
	call func(brokerv1connect.GroupServiceClient) func(context.Context, *connect.Request[Req]) (*connect.Response[Res], error)) (*connect.Response[Res], error) {
	peer, ok := s.b.peerFor(ctx, req.Header(), err)
	if !ok {
		return nil, s.b.groupError(req.Spec().Procedure, err)
	}
	out := connect.NewRequest(req.Msg)
	for k, v := range s.b.forwardRequest(req.Header()) {
		out.Header()[k] = v
	}
	resp, ferr := call(peer)(ctx, out)
	if ferr != nil {
		return nil, ferr
	}
	return connect.NewResponse(resp.Msg), nil
}

// listEverywhere adds to a node's ListGroups answer those of the other
// live nodes (each lists the groups it coordinates): the cluster's groups.
// A node that does not answer is left out, logged.
func (s groupService) listEverywhere(ctx context.Context, req *connect.Request[brokerv1.ListGroupsRequest], out *brokerv1.ListGroupsResponse) {
	if s.b.cfg.GroupPeers == nil || req.Header().Get(forwardedHeader) != "" {
		return
	}
	seen := map[string]bool{}
	for _, g := range out.Groups {
		seen[g.GetGroup()] = true
	}
	for _, url := range s.b.cfg.GroupPeers.PeerURLs(ctx) {
		fwd := connect.NewRequest(req.Msg)
		for k, v := range s.b.forwardRequest(req.Header()) {
			fwd.Header()[k] = v
		}
		resp, err := brokerv1connect.NewGroupServiceClient(s.b.cfg.GroupPeers.PeerClient(), url).ListGroups(ctx, fwd)
		if err != nil {
			s.b.log.Warn("listing the groups of another node", "node", url, "err", err)
			continue
		}
		for _, g := range resp.Msg.GetGroups() {
			if !seen[g.GetGroup()] {
				seen[g.GetGroup()] = true
				out.Groups = append(out.Groups, g)
			}
		}
	}
	slices.SortFunc(out.Groups, func(x, y *brokerv1.GroupListing) int { return strings.Compare(x.GetGroup(), y.GetGroup()) })
}

// forwardConsume relays a Consume stream from the coordinator.
func (s groupService) forwardConsume(ctx context.Context, req *connect.Request[brokerv1.ConsumeRequest], stream *connect.ServerStream[brokerv1.ConsumeResponse], err error) error {
	peer, ok := s.b.peerFor(ctx, req.Header(), err)
	if !ok {
		return s.b.groupError(req.Spec().Procedure, err)
	}
	out := connect.NewRequest(req.Msg)
	for k, v := range s.b.forwardRequest(req.Header()) {
		out.Header()[k] = v
	}
	in, ferr := peer.Consume(ctx, out)
	if ferr != nil {
		return ferr
	}
	defer in.Close()
	for in.Receive() {
		if err := stream.Send(in.Msg()); err != nil {
			return err
		}
	}
	if ctx.Err() != nil {
		return nil // the client went away
	}
	return in.Err()
}
