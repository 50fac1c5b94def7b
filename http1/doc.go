// Package http1 parses HTTP/1.x requests and writes HTTP/1.x responses over
// byte slices, strictly per RFC 9112. It holds no sockets, goroutines or
// global mutable state: the engine feeds it bytes and writes what it returns.
//
// The request parser does not allocate in the steady state: a parsed
// [Request] is a set of views into the caller's buffer, valid until the
// caller reuses that buffer. Input that RFC 9112 says to reject, or that
// could let a second request be smuggled past an intermediary, yields an
// [*Error] carrying the HTTP status the server must answer with; after any
// parse error the connection must be closed.
//
// Values of this package's types are not safe for concurrent use; the
// engine keeps one parser per connection.
package http1
