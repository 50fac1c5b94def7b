package wire

// Cancel codes (Descriptor.Aux of KindCancel).
const (
	// CancelDrain, on stream 0, tells a host that the engine sends it no
	// more requests (a newer host took over, or the host asked to leave):
	// it finishes what it has, sends the responses, and detaches. Every
	// request the engine sent before it precedes it on the ring. From a
	// host, it asks to leave: the engine stops routing to the host's lane
	// at once and answers with its own CancelDrain.
	CancelDrain = 1
	// CancelClientGone, on a request's stream, says its client went away
	// (closed the connection, or only its sending side: a half-closed
	// client still reads), its request body failed, or a streamed response
	// could not be written. The host may stop working on it but still
	// answers: the engine writes the response if it can (to a half-closed
	// client) and discards it otherwise.
	CancelClientGone = 2
	// CancelHostAbort, from a host on a request's stream, abandons the
	// response: 500 if none of it was written, else the client connection
	// is aborted.
	CancelHostAbort = 3
)
