// Package bridge serves HTTP requests through a shared region to
// application hosts in other processes, and is the Go side of such hosts.
//
// Engine side: [Bridge] creates the region's lanes and is an
// engine.Handler. For each request it writes a request view (see
// [EncodeView]) into its arena, publishes it on the lane of the newest
// attached host, holds the exchange, and completes it when that host's
// response arrives. Host side: [Host] attaches to a lane by name, hands
// out each request ([Host.Next], or [Host.Serve] with a handler) with its
// view read in place, and sends each [HostRequest]'s answer through its
// own arena; cmd/libhaywire makes it the C host API.
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
//	host → engine  KindCancel    on stream 0, Aux CancelDrain: the host leaves (Host.Leave);
//	                             the engine answers with its own, after the requests it sent
//
// A view or response message larger than a chunk comes as consecutive
// parts flagged FlagMore (region.Sender.SendBytes); include/haywire_bridge.h
// is the protocol in full.
//
// Trust: everything read from the peer is validated — a view or response
// that does not decode fails that stream (502 on the engine side) and is
// counted; it never crashes the reader.
//
// Imports: engine for the handler side, region for the transport; no
// sockets. Bridge is safe for concurrent use; Host is too, except that
// Next and Serve run on one goroutine at a time (see Host).
package bridge
