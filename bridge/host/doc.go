// Package host is the Go side of an application host: a process that
// attaches to a lane of the region an engine created (package bridge on
// the engine's side), takes the requests the engine sends it and answers
// them through its own arena. cmd/libhaywire builds the C host API on it.
//
// [Attach] returns a [Host]. Pull requests one at a time with
// [Host.Next] and answer each [Request] with Respond or Send (whole
// responses) or StartResponse, WriteBody and EndResponse (streamed), or
// let [Host.Serve] run a [Handler] for each with a [ResponseWriter].
// Request views are read in place (package bridge/wire); their bytes are
// valid until the request is ended.
//
// Trust: everything read from the engine is validated — a view that does
// not decode is answered 500 with the reason, a descriptor out of bounds
// is counted and skipped by the region; nothing the engine sends crashes
// the host.
//
// Imports: region for the transport and bridge/wire for the messages;
// never bridge or engine, so a Go host does not link the HTTP server.
// Host is safe for concurrent use, except that Next and Serve run on one
// goroutine at a time and Close must not overlap Next (see Host); a
// Request from any goroutine, one at a time per request.
package host
