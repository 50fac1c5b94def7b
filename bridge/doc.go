// Package bridge is the engine side of the bridge: it serves HTTP
// requests through a shared region to application hosts in other
// processes.
//
// [New] creates the region's lanes and returns a [Bridge], which is an
// engine.Handler. For each request it writes a request view (package
// bridge/wire) into its arena, publishes it on the lane of the newest
// attached host, holds the exchange, and completes it when that host's
// response arrives. Hosts are other processes: the Go host of package
// bridge/host, the C host API built on it (cmd/libhaywire), the C# OWIN
// host, or any program that follows include/haywire_bridge.h.
//
// Messages, per stream (one request; Descriptor.Stream is the request id):
//
//	engine → host  KindRequest   the request view (FlagEnd on the last part): the whole body
//	                             inline, or its first bytes (ViewBodyStream)
//	engine → host  KindBody      a piece of a streamed request body; then KindEnd, or FlagEnd on the last
//	host → engine  KindContinue  send the body (the view is flagged ViewExpectContinue)
//	host → engine  KindResponse  the response message (FlagEnd on the last part): the whole
//	                             response, or its head and first bytes (ResponseStream)
//	host → engine  KindBody      a piece of a streamed response body; then KindEnd, or FlagEnd on the last
//	host → engine  KindCancel    Aux CancelHostAbort: the host gives up on the response
//	engine → host  KindCancel    the client went away (Aux CancelClientGone): still answer it
//	engine → host  KindCancel    on stream 0, Aux CancelDrain: a newer host takes over
//	host → engine  KindCancel    on stream 0, Aux CancelDrain: the host leaves (host.Host.Leave);
//	                             the engine answers with its own, after the requests it sent
//
// A view or response message larger than a chunk comes as consecutive
// parts flagged FlagMore (region.Sender.SendBytes); include/haywire_bridge.h
// is the protocol in full.
//
// Trust: everything read from a host is validated — a response that does
// not decode, or a descriptor out of bounds, fails that stream (502) and
// is counted; it never crashes the engine.
//
// Imports: engine for the handler side, region for the transport,
// bridge/wire for the messages; no sockets of its own. Package bridge/host
// never imports it. Bridge is safe for concurrent use.
package bridge
