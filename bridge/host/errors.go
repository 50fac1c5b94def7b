package host

import "errors"

// Host errors.
var (
	// ErrDrained is returned by Next and Serve when the engine handed this
	// host's work to a newer host (hot swap) and every request it had was
	// ended: the host should detach.
	ErrDrained = errors.New("host: drained: a newer host took over")
	// ErrLeaveUnanswered is returned by Serve when the engine did not
	// answer a Leave with its drain notice within 10 s (an engine that
	// predates Leave): the host should Close; requests the engine still
	// sends it get 502.
	ErrLeaveUnanswered = errors.New("host: the engine did not answer the request to leave")
	// ErrEnded is returned when a request is answered a second time, or
	// used after it was answered.
	ErrEnded = errors.New("host: request already ended")
	// ErrInFlight is returned by Close while requests Next handed out
	// have not been ended: their views may point into the region.
	ErrInFlight = errors.New("host: requests still in flight")
	// ErrCancelled is returned by a request body read when the engine
	// said the client went away (or its body failed: malformed chunk,
	// too large, too slow) before the body was complete.
	ErrCancelled = errors.New("host: the client went away before the request body was complete")
	// ErrStreaming is returned by Respond and Send after StartResponse:
	// the response has begun; end it with EndResponse or Abort.
	ErrStreaming = errors.New("host: the response is streaming; end it with EndResponse or Abort")
	// ErrNotStreaming is returned by WriteBody and EndResponse before
	// StartResponse.
	ErrNotStreaming = errors.New("host: the response was not started with StartResponse")
	// ErrBodyTooLong is returned by WriteBody when the bytes would exceed
	// the Content-Length announced by StartResponse; nothing is sent.
	ErrBodyTooLong = errors.New("host: response body longer than its Content-Length")
	// ErrBodyTooShort is returned by EndResponse when fewer bytes than the
	// announced Content-Length were written: the response is aborted
	// instead (the client connection is reset) and the request ended.
	ErrBodyTooShort = errors.New("host: response body shorter than its Content-Length: aborted")
)
