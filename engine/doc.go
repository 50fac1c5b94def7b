// Package engine is haywire's HTTP/1.1 server: listeners, connections,
// routing, and the batching of pipelined responses into single writes.
//
// A [Server] serves each connection on its own goroutine over a net.Conn,
// so any transport that yields a net.Conn (TCP today, TLS later) is served
// by the same code. Every complete request found in a read is parsed and
// handled before the connection writes, and all the responses produced by
// that batch leave in one write, in request order. A handler may also
// complete later, from any goroutine (see [Exchange.Hold]); later responses
// on the same connection wait for it.
//
// The engine imports http1 for bytes-level HTTP and nothing above it: no
// cgo, no shared memory. A Server's methods are safe for concurrent use.
package engine
